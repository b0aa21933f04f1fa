"""Renditions: the exact bytes uploaded for an asset under a policy, and their facts.

A policy turns a source's bytes (already probed) into a ``RenditionRecord``:

- ``vision`` (the default) follows the vision guidance (see ``vision.py``) for the
  standard tier, and ``vision-hd`` for the high tier; a source that needs no change is
  its own rendition, byte for byte.
- ``original`` uploads the source bytes unchanged, when the API takes them.

``make`` returns the facts and, when they differ from the source's, the bytes; the
caller keeps those in the ``RenditionStore`` once the file has passed every check.
"""

from __future__ import annotations

import warnings as python_warnings
from dataclasses import dataclass

from .hashing import sha256_bytes
from .limits import (
    MAX_IMAGE_BYTES,
    MAX_SIDE,
    MEDIA_TYPES,
    SMALL_SIDE,
    fit_size,
    human_bytes,
    served_tokens,
)
from .phash import Fingerprint
from .policies import ORIGINAL, POLICIES, POLICY_TIER
from .probe import ImageInfo, Rejected, not_sent
from .records import RenditionRecord
from .sourcefile import SourceFile
from .store import RenditionStore

EXTREME_ASPECT = 10  # long side over short side, beyond which detail is lost when downscaled
MORE_FRAMES = {  # the warning for a source of several frames, by format
    "TIFF": "multi-page TIFF: first page only",
    "HEIF": "several images: the primary one only",
}


@dataclass(frozen=True)
class Made:
    """A rendition just made: its facts, and its bytes when they differ from the source's."""

    record: RenditionRecord
    data: bytes | None
    decoded: bool  # the first frame's pixels were decoded to make it (an integrity check)
    fingerprint: Fingerprint | None = None  # of the new pixels, when they were made


def make(
    policy: str, source: SourceFile, info: ImageInfo, *, size: tuple[int, int] | None = None
) -> Made:
    """The rendition of a probed source under ``policy``; ``Rejected`` if there is none.

    ``size`` (upright width and height) forces a vision rendition's size instead of the
    tier's fit: a rendition recorded at a size an earlier rule chose is made again at it."""
    if policy == ORIGINAL:
        return Made(_original(source, info), None, decoded=False)
    if policy in POLICY_TIER:
        return _vision(policy, source, info, size)
    raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")


def render_bytes(
    policy: str,
    data: bytes,
    info: ImageInfo,
    sha256: str,
    *,
    size: tuple[int, int] | None = None,
) -> tuple[RenditionRecord, bytes]:
    """The rendition's facts and its bytes, derived again from the source's bytes (at
    ``size``, when given: see ``make``)."""
    made = make(policy, SourceFile.of(data, sha256), info, size=size)
    return made.record, data if made.data is None else made.data


def _vision(policy: str, source: SourceFile, info: ImageInfo, size) -> Made:
    from PIL import Image

    from .vision import normalise, reencode  # Pillow's pixel work: only where renditions are made

    tier = POLICY_TIER[policy]
    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")  # Pillow's notes about files it copes with
        if source.data is not None:
            encoded = normalise(source.data, info, tier, size)
        else:  # too large to be uploaded as it is, or to hold in memory: new pixels
            with source.open() as stream:
                encoded = reencode(Image.open(stream, formats=[info.format]), info, tier, size)
    if encoded is None:
        tokens = served_tokens(info.width, info.height)
        warnings = pixel_warnings(info.width, info.height, info.frames, info.format)
        record = RenditionRecord(
            policy, source.sha256, info.media_type, info.width, info.height, source.size,
            tokens, warnings,
        )  # fmt: skip
        return Made(record, None, decoded=False)
    record = RenditionRecord(
        policy, sha256_bytes(encoded.data), encoded.media_type, encoded.width, encoded.height,
        len(encoded.data), served_tokens(encoded.width, encoded.height),
        pixel_warnings(encoded.width, encoded.height, info.frames, info.format),
    )  # fmt: skip
    return Made(record, encoded.data, decoded=encoded.decoded, fingerprint=encoded.fingerprint)


def _original(source: SourceFile, info: ImageInfo) -> RenditionRecord:
    """The source as it is, when the API takes it: checked before any pixel is decoded."""
    if info.format not in MEDIA_TYPES:
        raise Rejected(not_sent(info.format))
    if max(info.width, info.height) > MAX_SIDE:
        raise Rejected(
            f"image is {info.width}x{info.height} px; the API accepts at most {MAX_SIDE} px "
            "per side; --policy vision downscales it"
        )
    if source.size > MAX_IMAGE_BYTES:
        raise Rejected(
            f"file is {human_bytes(source.size)}; the API accepts at most "
            f"{human_bytes(MAX_IMAGE_BYTES)} per image"
        )
    warnings = pixel_warnings(info.width, info.height, info.frames, info.format)
    if info.orientation not in (None, 1):
        warnings.append(
            f"EXIF orientation {info.orientation} not applied: the model sees it unrotated"
        )
    tokens = served_tokens(info.width, info.height)
    return RenditionRecord(
        ORIGINAL, source.sha256, info.media_type, info.width, info.height, source.size, tokens,
        warnings,
    )  # fmt: skip


def pixel_warnings(width: int, height: int, frames: int, format: str = "") -> list[str]:
    """What the vision guidance warns about an image of this size and frame count."""
    warnings = []
    if min(width, height) < SMALL_SIDE:
        warnings.append(f"smaller than {SMALL_SIDE} px")
    if frames > 1:
        warnings.append(MORE_FRAMES.get(format, "animated: first frame only"))
    if max(width, height) > EXTREME_ASPECT * min(width, height):
        warnings.append("extreme aspect ratio")
    return warnings


def load_bytes(asset, rendition, store: RenditionStore, *, keep: bool = False) -> bytes | None:
    """The bytes of ``rendition`` (of the catalogued ``asset``), or None when none are left.

    From the store (which may be shared: a teammate's uploads are there), else derived
    again from a source file that still holds the asset's bytes; every answer is checked
    against the rendition's sha256. Bytes derived again are kept in the store when they
    differ from the source's, or with ``keep`` (what is uploaded is kept, for whoever
    shares the store without the source); a store that cannot be written is no reason to
    fail a read.
    """
    stored = store.get(rendition.sha256)
    if stored is not None:
        return stored
    for source in asset.sources:
        data = _derive(source.path, asset.sha256, rendition)
        if data is not None:
            if keep or rendition.sha256 != asset.sha256:
                try:
                    store.put(rendition.sha256, data)
                except OSError:
                    pass
            return data
    return None


def _derive(path: str, sha256: str, rendition) -> bytes | None:
    """The rendition made again from the file at ``path``, if it still holds the asset."""
    from . import sourcefile
    from .limits import DEFAULT_LIMITS
    from .probe import probe

    try:
        source = sourcefile.read(path, DEFAULT_LIMITS.max_file_bytes)
        if source.sha256 != sha256:
            return None
        if rendition.sha256 == sha256:
            return source.data
        with source.open() as stream:
            info = probe(stream)
        # At the recorded size first: an earlier rule may have chosen another size than
        # today's (the 1.15 MP rule made 1429x804 of 1920x1080, today's 1456x819). A
        # rendition shrunk to fit the byte budget is not made at its recorded size in one
        # step: the current rule then makes it again.
        for size in _sizes_to_try(rendition, info):
            made = make(rendition.policy, source, info, size=size)
            if made.record.sha256 == rendition.sha256:
                return source.data if made.data is None else made.data
    except (sourcefile.Unusable, Rejected, OSError, MemoryError):
        return None
    return None


def _sizes_to_try(rendition, info: ImageInfo) -> tuple[tuple[int, int] | None, ...]:
    """The sizes ``_derive`` makes a rendition at: the recorded one, then today's rule (None)
    when that would give another size; ``original`` has no size to choose."""
    tier = POLICY_TIER.get(rendition.policy)
    if tier is None:
        return (None,)
    recorded = (rendition.width, rendition.height)
    return (recorded,) if fit_size(*info.upright, tier) == recorded else (recorded, None)
