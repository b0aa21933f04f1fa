"""The API's image limits and the vision guidance, as numbers and pure functions.

Sources: ../shared/DESIGN.md (Limits) and ../shared/files-api.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from .errors import UsageError

MEDIA_TYPES = {  # Pillow format name -> media type the API accepts
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # multi-picture JPEG: a JPEG stream as far as the API is concerned
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
ACCEPTED_NAMES = "JPEG, PNG, GIF and WebP"
CONVERTED_TYPES = {  # formats the API does not take, which the vision policies convert
    "TIFF": "image/tiff",
    "BMP": "image/bmp",
    "AVIF": "image/avif",
    "HEIF": "image/heic",  # HEIC/HEIF, decoded by pillow-heif (an optional extra)
}
MAX_SIDE = 8000  # px per side, any request
MAX_SIDE_MANY = 2000  # px per side when a request carries more than MANY_IMAGES
MANY_IMAGES = 20
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # per image; for a base64 source, of its base64 text
RENDITION_BYTES = MAX_IMAGE_BYTES // 4 * 3  # a vision rendition: its base64 is within 5 MB too
SMALL_SIDE = 200  # below this on a side, answers degrade
PATCH = 28  # px: Claude reads an image as PATCH x PATCH squares, one visual token each
EXPIRY_SAFETY = timedelta(minutes=1)  # an upload expiring sooner is treated as expired already
MIN_EXPIRY, MAX_EXPIRY = 3600, 7_776_000  # seconds: what expires_in_seconds may ask for
RECHECK_AFTER = timedelta(days=1)  # an active upload unchecked this long is looked up again
EXPIRY_MARGIN = timedelta(hours=1)  # and so is one that expires this soon
# A file a Message Batch refers to must outlive the batch: 24 h, and a margin for collecting.
BATCH_WINDOW = timedelta(hours=24)
BATCH_HORIZON = BATCH_WINDOW + timedelta(hours=2)
IDS_PER_LOOKUP = 100  # file ids per GET /v1/files?ids[]= request


MIB = 1024 * 1024
RULES_VERSION = "r2"  # raise it when a file rejected before might be accepted now


@dataclass(frozen=True)
class Limits:
    """What one input file may cost to look at. Each is an option of ``add``; a file over a
    limit is rejected with the reason, and the rest of the run goes on."""

    max_file_bytes: int = 512 * MIB  # --max-file-size: bytes read and hashed
    # --max-pixels: the decompression-bomb limit, decoded pixels of one frame (8000x8000; a
    # 45 MP camera frame or a 12000x3000 panorama is within it). A 64 MP RGBA frame is 256 MB
    # in a worker's memory, and up to twice that while its mode is converted.
    max_pixels: int = 64_000_000
    max_total_pixels: int = 400_000_000  # --max-total-pixels: frames x canvas, per file
    time_limit: float = 60.0  # --time-limit: seconds to read, check and render one file

    def rules(self, policy: str) -> str:
        """The rules a rejection was made under: under other rules the file is judged again.
        ``RULES_VERSION`` leads: rejections made by earlier versions (a TIFF, a side over
        8000 px under a vision policy) do not stand under today's rules."""
        return (
            f"{RULES_VERSION};{policy};{self.max_file_bytes};{self.max_pixels};{self.max_total_pixels};"
            f"{self.time_limit:g}"
        )


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Tier:
    """A resolution tier: the server reads no image larger than ``max_edge`` on its long side
    or costing more than ``max_tokens`` visual tokens; it resizes anything over either."""

    name: str
    max_edge: int
    max_tokens: int


STANDARD = Tier("standard", 1568, 1568)  # models before Claude Opus 4.7; valid for every model
HIGH = Tier("high", 2576, 4784)  # Claude Opus 4.7 and every later model
TIERS = {tier.name: tier for tier in (STANDARD, HIGH)}


def visual_tokens(width: int, height: int) -> int:
    """The patches an image of this size is read as: ``ceil(w/28) * ceil(h/28)``."""
    return -(-width // PATCH) * -(-height // PATCH)


def _scaled_side(side: int, short: int, long: int) -> int:
    """``side * short / long`` rounded half to even, in integers, at least 1."""
    quotient, remainder = divmod(side * short, long)
    if 2 * remainder > long or (2 * remainder == long and quotient % 2):
        quotient += 1
    return max(1, quotient)


@lru_cache(maxsize=4096)
def fit_size(width: int, height: int, tier: Tier = STANDARD) -> tuple[int, int]:
    """The size the server reads an image at under ``tier``: unchanged when it fits both the
    tier's long edge and its token budget, else the largest aspect-preserving size that does
    (the long side searched down from the edge limit, the short side rounded half to even).
    Also the vision policies' target, so the server never resamples a rendition."""
    if max(width, height) <= tier.max_edge and visual_tokens(width, height) <= tier.max_tokens:
        return width, height
    long, short = max(width, height), min(width, height)
    for side in range(min(long, tier.max_edge), 0, -1):
        other = _scaled_side(side, short, long)
        if visual_tokens(side, other) <= tier.max_tokens:
            return (side, other) if width >= height else (other, side)
    return (1, 1)  # unreachable: a 1x1 image is one patch


def served_tokens(width: int, height: int, tier: Tier = STANDARD) -> int:
    """The visual tokens an image of this size costs under ``tier``, after the server's resize."""
    return visual_tokens(*fit_size(width, height, tier))


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


# Near-duplicates: bits of 64 two perceptual hashes may differ by. The default is measured
# (bench/bench_near_quality.py, README); beyond the most, unrelated pictures match.
NEAR_DISTANCE = 10
MOST_NEAR_DISTANCE = 16


def near_distance(bits: int | None) -> int:
    """``bits`` (None: the default) checked: a ``UsageError`` outside 0..16."""
    if bits is None:
        return NEAR_DISTANCE
    if not 0 <= bits <= MOST_NEAR_DISTANCE:
        raise UsageError(
            f"the near-duplicate distance must be between 0 and "
            f"{MOST_NEAR_DISTANCE} bits (of 64); {NEAR_DISTANCE} is the default"
        )
    return bits


def expiry_seconds(text: str | None) -> int | None:
    """``90m``, ``12h``, ``7d`` or seconds -> seconds, within the API's 1 hour..90 days."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"--expires-in {text!r}: give a number with s, m, h or d, e.g. 7d")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise UsageError(f"--expires-in {text!r}: the API takes 1h to 90d")
    return seconds
