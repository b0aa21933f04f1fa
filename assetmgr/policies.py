"""Policy names, and the one rule for which of an asset's renditions to use.

The pixel work of each policy is in ``renditions``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from .errors import NotFound, UsageError
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

# Which rendition a model of each tier reads, by preference. A vision-hd rendition is never
# sent to a standard-tier model: the server would only resample it.
PREFERENCE: dict[str, tuple[str, ...]] = {
    HIGH.name: (VISION_HD, VISION, ORIGINAL),
    STANDARD.name: (VISION, ORIGINAL),
}

T = TypeVar("T")


def check(asked: str | None, tier: Tier) -> None:
    """Refuse, before any work, a policy whose renditions a model of ``tier`` must not get."""
    if asked is not None and asked not in POLICIES:
        raise UsageError(f"unknown policy {asked!r}; choose from {', '.join(POLICIES)}")
    if asked is not None and asked not in PREFERENCE[tier.name]:
        raise UsageError(
            f"--policy {asked} renditions are made for the {POLICY_TIER[asked].name} tier, and "
            f"this model reads images at the {tier.name} tier (the server would only resample "
            "them): choose --policy vision, or a model of that tier with --model"
        )


def choose(sha256: str, asked: str | None, by_policy: Mapping[str, T], tier: Tier = STANDARD) -> T:
    """Of one asset's renditions (keyed by policy), the one a model of ``tier`` gets: under the
    policy asked for, else the first it has of ``PREFERENCE[tier]``. ``NotFound`` when the asset
    has none of them (with the ``add`` that makes one); ``UsageError`` when the policy asked for
    is not for this tier (``check``)."""
    check(asked, tier)
    wanted = asked or next((p for p in PREFERENCE[tier.name] if p in by_policy), None)
    if wanted in by_policy:
        return by_policy[wanted]
    held = f" (it has {', '.join(sorted(by_policy))})" if by_policy else ""
    needed = asked or DEFAULT_POLICY
    what = f"no {asked} rendition" if asked else f"no rendition for the {tier.name} tier"
    raise NotFound(
        f"asset {sha256[:12]} has {what}{held}; run: assetmgr add PATH --policy {needed}"
    )
