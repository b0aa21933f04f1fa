"""Renditions: the exact bytes uploaded for an asset under a policy, and their facts.

A policy turns a source's bytes (already probed) into a ``RenditionFacts``. The
``original`` policy uploads the source bytes unchanged, so it only checks that
the API will take them and says what the model will make of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .limits import MAX_IMAGE_BYTES, SMALL_SIDE, estimate_tokens, human_bytes
from .probe import ImageInfo, Rejected

ORIGINAL = "original"
POLICIES = (ORIGINAL,)
EXTREME_ASPECT = 10  # long side over short side, beyond which detail is lost when downscaled


@dataclass
class RenditionFacts:
    policy: str
    sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    tokens: int
    warnings: list[str] = field(default_factory=list)


def render(policy: str, data: bytes, info: ImageInfo, sha256: str) -> RenditionFacts:
    """The rendition of a probed source under ``policy``; ``Rejected`` if there is none."""
    if policy != ORIGINAL:
        raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    return _original(data, info, sha256)


def _original(data: bytes, info: ImageInfo, sha256: str) -> RenditionFacts:
    if len(data) > MAX_IMAGE_BYTES:
        raise Rejected(
            f"file is {human_bytes(len(data))}; the API accepts at most "
            f"{human_bytes(MAX_IMAGE_BYTES)} per image"
        )
    warnings = pixel_warnings(info.width, info.height, info.frames)
    if info.orientation not in (None, 1):
        warnings.append(f"EXIF orientation {info.orientation} not applied: the model sees it unrotated")
    return RenditionFacts(
        ORIGINAL, sha256, info.media_type, info.width, info.height, len(data),
        estimate_tokens(info.width, info.height), warnings,
    )


def pixel_warnings(width: int, height: int, frames: int) -> list[str]:
    """What the vision guidance warns about an image of this size and frame count."""
    warnings = []
    if min(width, height) < SMALL_SIDE:
        warnings.append(f"smaller than {SMALL_SIDE} px")
    if frames > 1:
        warnings.append("animated: first frame only")
    if max(width, height) > EXTREME_ASPECT * min(width, height):
        warnings.append("extreme aspect ratio")
    return warnings
