"""Perceptual fingerprints: what a picture looks like, in 64 bits and a 4x4 thumbnail.

``fingerprint(image)`` takes pixels already decoded (the rendition's, at ingest) and
returns a ``Fingerprint``: a DCT perceptual hash (the picture shrunk to 32x32 grey, its
2-D DCT, the 8x8 lowest frequencies, each bit set when above their median), a 4x4 RGB
thumbnail and the spread (standard deviation) of the grey pixels. Pure Python on a 32x32
image: no numpy, about a millisecond. ``ALGORITHM`` and ``VERSION`` are stored with each
hash, so that a later rule computes new ones instead of comparing unlike hashes.

Two fingerprints match (``alike``) when their hashes are within the distance asked for
and the second check agrees: the aspect ratios are close, and so are the thumbnails' colours
once their overall brightness is evened out. A near-uniform picture (a flat colour, a black frame, a blank page: ``LOW_SPREAD``)
has a hash made of noise, so it matches only a picture that is near-uniform too and
whose thumbnail is closer still: never on the hash alone.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

ALGORITHM = "dct-phash"
VERSION = 1
SIDE = 32  # the picture is shrunk to SIDE x SIDE grey pixels
LOW = 8  # the LOW x LOW lowest frequencies make the 64-bit hash
THUMB = 4  # the thumbnail's side, in pixels
LOW_SPREAD = 6.0  # grey standard deviation below which a picture is near-uniform
THUMB_TOLERANCE = 8.0  # mean absolute difference of thumbnails' channels, out of 255, once
GAIN_LIMIT = 1.25  # their overall brightness is evened out, by at most this factor
FLAT_TOLERANCE = 4  # largest difference of any thumbnail channel, for two near-uniform ones
ASPECT_TOLERANCE = 0.12  # relative difference of aspect ratios

_COS = [[math.cos(math.pi * (2 * x + 1) * u / (2 * SIDE)) for x in range(SIDE)] for u in range(LOW)]


@dataclass(frozen=True)
class Fingerprint:
    hash: int  # 64 bits
    thumb: bytes  # THUMB x THUMB RGB pixels
    spread: float  # standard deviation of the SIDE x SIDE grey pixels

    @property
    def flat(self) -> bool:
        return self.spread < LOW_SPREAD

    def hex(self) -> str:
        return f"{self.hash:016x}"

    @classmethod
    def from_row(cls, hash_hex: str, thumb_hex: str, spread: float) -> Fingerprint:
        return cls(int(hash_hex, 16), bytes.fromhex(thumb_hex), spread)


def fingerprint(image) -> Fingerprint:
    """The fingerprint of a decoded, upright Pillow image (any size, any mode)."""
    from PIL import Image

    if image.mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    factor = min(image.width, image.height) // (2 * SIDE)
    if factor >= 2:  # a whole-factor box shrink first: the same average, at half the cost
        image = image.reduce(factor)
    small = image.resize((SIDE, SIDE), Image.Resampling.BOX).convert("RGB")
    grey = small.convert("L").tobytes()
    thumb = small.resize((THUMB, THUMB), Image.Resampling.BOX).tobytes()
    return Fingerprint(dct_hash(grey), thumb, _spread(grey))


def of_bytes(data: bytes) -> Fingerprint:
    """The fingerprint of an encoded image (a stored rendition, upright already), decoded
    at reduced scale where the format allows it (JPEG: 1/8)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", (SIDE * 2, SIDE * 2))
    image.seek(0)
    image.load()
    return fingerprint(image)


def dct_hash(grey: bytes) -> int:
    """64 bits from SIDE*SIDE grey values, row by row: the LOW x LOW lowest frequencies of
    the 2-D DCT-II, each compared with their median."""
    rows = []
    for y in range(SIDE):
        line = grey[y * SIDE : (y + 1) * SIDE]
        rows.append([sum(p * c for p, c in zip(line, basis)) for basis in _COS])
    coefficients = []
    for v in range(LOW):
        basis = _COS[v]
        for u in range(LOW):
            coefficients.append(sum(basis[y] * rows[y][u] for y in range(SIDE)))
    median = sorted(coefficients)[len(coefficients) // 2 - 1 : len(coefficients) // 2 + 1]
    middle = (median[0] + median[1]) / 2
    bits = 0
    for value in coefficients:
        bits = (bits << 1) | (value > middle)
    return bits


def _spread(grey: bytes) -> float:
    mean = sum(grey) / len(grey)
    return math.sqrt(sum((p - mean) ** 2 for p in grey) / len(grey))


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def thumb_difference(a: bytes, b: bytes) -> float:
    """Mean absolute difference of two thumbnails' channels once ``b``'s overall brightness
    is scaled to ``a``'s (a brighter copy is the same picture; other colours are not);
    infinite when that takes more than ``GAIN_LIMIT``."""
    gain = (sum(a) or 1) / (sum(b) or 1)
    if not 1 / GAIN_LIMIT <= gain <= GAIN_LIMIT:
        return math.inf
    return sum(abs(x - y * gain) for x, y in zip(a, b)) / max(1, len(a))


def alike(a: Fingerprint, b: Fingerprint, aspect_a: float, aspect_b: float) -> bool:
    """The second check: true when the two pictures' colours and shapes agree (their hashes
    were found close already). Near-uniform pictures must both be so and nearly equal."""
    if abs(aspect_a - aspect_b) > ASPECT_TOLERANCE * max(aspect_a, aspect_b):
        return False
    if a.flat or b.flat:
        widest = max(abs(x - y) for x, y in zip(a.thumb, b.thumb))
        return a.flat and b.flat and widest <= FLAT_TOLERANCE
    return thumb_difference(a.thumb, b.thumb) <= THUMB_TOLERANCE
