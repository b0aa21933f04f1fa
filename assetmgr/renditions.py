"""Renditions: the exact bytes uploaded for an asset under a policy, and their facts.

A policy turns a source's bytes (already probed) into a ``RenditionRecord``:

- ``vision`` (the default) follows the vision guidance (see ``vision.py``);
  a source that needs no change is its own rendition, byte for byte.
- ``original`` uploads the source bytes unchanged, when the API takes them.

Rendition bytes that differ from the source go to the ``RenditionStore``.
"""

from __future__ import annotations

import warnings as python_warnings

from .hashing import sha256_bytes
from .limits import MAX_IMAGE_BYTES, SMALL_SIDE, estimate_tokens, human_bytes
from .policies import ORIGINAL, POLICIES, VISION
from .probe import ImageInfo, Rejected
from .records import RenditionRecord
from .store import RenditionStore

EXTREME_ASPECT = 10  # long side over short side, beyond which detail is lost when downscaled


def render(
    policy: str, data: bytes, info: ImageInfo, sha256: str, store: RenditionStore | None = None
) -> RenditionRecord:
    """The rendition of a probed source under ``policy``; ``Rejected`` if there is none.

    With ``store``, rendition bytes that differ from the source are kept there.
    """
    if policy == ORIGINAL:
        return _original(data, info, sha256)
    if policy == VISION:
        facts, rendered = vision_rendition(data, info, sha256)
        if rendered is not None and store is not None:
            store.put(facts.sha256, rendered)
        return facts
    raise ValueError(f"unknown policy {policy!r}; choose from {', '.join(POLICIES)}")


def render_bytes(
    policy: str, data: bytes, info: ImageInfo, sha256: str
) -> tuple[RenditionRecord, bytes]:
    """The rendition's facts and its bytes (derived again, never read from a store)."""
    if policy == VISION:
        facts, rendered = vision_rendition(data, info, sha256)
        return facts, data if rendered is None else rendered
    return render(policy, data, info, sha256), data


def vision_rendition(
    data: bytes, info: ImageInfo, sha256: str
) -> tuple[RenditionRecord, bytes | None]:
    from .vision import normalise  # Pillow's pixel work: only where renditions are made

    with python_warnings.catch_warnings():
        python_warnings.simplefilter("ignore")  # Pillow's notes about files it copes with
        encoded = normalise(data, info)
    warnings = pixel_warnings(info.width, info.height, info.frames)
    if encoded is None:
        facts = RenditionRecord(
            VISION,
            sha256,
            info.media_type,
            info.width,
            info.height,
            len(data),
            estimate_tokens(info.width, info.height),
            warnings,
        )
        return facts, None
    warnings = pixel_warnings(encoded.width, encoded.height, info.frames)
    facts = RenditionRecord(
        VISION,
        sha256_bytes(encoded.data),
        encoded.media_type,
        encoded.width,
        encoded.height,
        len(encoded.data),
        estimate_tokens(encoded.width, encoded.height),
        warnings,
    )
    return facts, encoded.data


def _original(data: bytes, info: ImageInfo, sha256: str) -> RenditionRecord:
    if len(data) > MAX_IMAGE_BYTES:
        raise Rejected(
            f"file is {human_bytes(len(data))}; the API accepts at most "
            f"{human_bytes(MAX_IMAGE_BYTES)} per image"
        )
    warnings = pixel_warnings(info.width, info.height, info.frames)
    if info.orientation not in (None, 1):
        warnings.append(
            f"EXIF orientation {info.orientation} not applied: the model sees it unrotated"
        )
    return RenditionRecord(
        ORIGINAL,
        sha256,
        info.media_type,
        info.width,
        info.height,
        len(data),
        estimate_tokens(info.width, info.height),
        warnings,
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


def load_bytes(asset, rendition, store: RenditionStore) -> bytes | None:
    """The bytes of ``rendition`` (of the catalogued ``asset``), or None when none are left.

    From the store, else derived again from a source file that still holds the
    asset's bytes; every answer is checked against the rendition's sha256.
    """
    if rendition.sha256 != asset.sha256:
        stored = store.get(rendition.sha256)
        if stored is not None:
            return stored
    from .probe import probe

    for source in asset.sources:
        data = _read_if_unchanged(source.path, asset.sha256)
        if data is None:
            continue
        if rendition.sha256 == asset.sha256:
            return data
        facts, rendered = render_bytes(rendition.policy, data, probe(data), asset.sha256)
        if facts.sha256 == rendition.sha256:
            store.put(facts.sha256, rendered)
            return rendered
    return None


def _read_if_unchanged(path: str, sha256: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data if sha256_bytes(data) == sha256 else None
