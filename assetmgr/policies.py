"""Policy names, and the one rule for which of an asset's renditions to use.

The pixel work of each policy is in ``renditions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .errors import NotFound
from .limits import CONVERTED_TYPES, HIGH, MEDIA_TYPES, STANDARD, Tier

VISION = "vision"  # what Claude reads best, cheapest and safest, at the standard tier (vision.py)
VISION_HD = "vision-hd"  # the same, at the high tier: for models from Claude Opus 4.7 on
ORIGINAL = "original"  # the source bytes, when the API takes them
POLICIES = (VISION, VISION_HD, ORIGINAL)
DEFAULT_POLICY = VISION
POLICY_TIER: dict[str, Tier] = {VISION: STANDARD, VISION_HD: HIGH}  # the tier each one targets
# The source formats each policy takes (Pillow's names): ``original`` sends the file as it
# is, so only what the API accepts; the vision policies convert the others.
SOURCE_FORMATS: dict[str, frozenset[str]] = {
    ORIGINAL: frozenset(MEDIA_TYPES),
    VISION: frozenset(MEDIA_TYPES) | frozenset(CONVERTED_TYPES),
    VISION_HD: frozenset(MEDIA_TYPES) | frozenset(CONVERTED_TYPES),
}

T = TypeVar("T")


def choose(sha256: str, asked: str | None, by_policy: Mapping[str, T]) -> T:
    """Of one asset's renditions (keyed by policy), the one to use: under the policy asked
    for, else the default policy when the asset has it, else any it has (by name).
    ``NotFound`` when the asset has no such rendition."""
    wanted = asked or (
        DEFAULT_POLICY if DEFAULT_POLICY in by_policy else min(by_policy, default=None)
    )
    if wanted not in by_policy:
        raise NotFound(
            f"asset {sha256[:12]} has no {asked or 'rendition'} rendition; "
            f"run: assetmgr add PATH --policy {asked or DEFAULT_POLICY}"
        )
    return by_policy[wanted]
