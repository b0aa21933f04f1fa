"""The size the server reads an image at, per tier (``limits.fit_size``): the vectors of
vision-2026.md, the rule's properties over every shape up to 12000x12000, and agreement with
the emulator's own copy of the rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetmgr.emulator.images import fitted
from assetmgr.limits import HIGH, STANDARD, TIERS, Tier, fit_size, served_tokens, visual_tokens

# input -> (standard size, tokens), (high size, tokens): vision-2026.md, checked by hand
VECTORS = [
    ((1920, 1080), ((1456, 819), 1560), ((1920, 1080), 2691)),
    ((3840, 2160), ((1456, 819), 1560), ((2576, 1449), 4784)),
    ((1000, 1000), ((1000, 1000), 1296), ((1000, 1000), 1296)),
    ((4032, 3024), ((1270, 952), 1564), ((2212, 1659), 4740)),
    ((8192, 5464), ((1344, 896), 1536), ((2351, 1568), 4704)),
    ((12000, 3000), ((1568, 392), 784), ((2576, 644), 2116)),
    ((1098, 1098), ((1092, 1092), 1521), ((1098, 1098), 1600)),
]
SIDES = st.integers(min_value=1, max_value=12000)


@pytest.mark.parametrize(("size", "standard", "high"), VECTORS)
def test_the_documented_vectors(size, standard, high):
    for tier, (expected, tokens) in ((STANDARD, standard), (HIGH, high)):
        assert fit_size(*size, tier) == expected
        assert served_tokens(*size, tier) == visual_tokens(*expected) == tokens
        portrait = (size[1], size[0])
        assert fit_size(*portrait, tier) == (expected[1], expected[0])


def fits(size: tuple[int, int], tier: Tier) -> bool:
    return max(size) <= tier.max_edge and visual_tokens(*size) <= tier.max_tokens


def one_more(size: tuple[int, int], source: tuple[int, int]) -> tuple[int, int]:
    """The next size up on the long side, the short side by the same rounding."""
    long, short = max(source), min(source)
    side = max(size) + 1
    quotient, remainder = divmod(side * short, long)
    if 2 * remainder > long or (2 * remainder == long and quotient % 2):
        quotient += 1
    return (side, max(1, quotient))


def check_rule(width: int, height: int, tier: Tier) -> None:
    out = fit_size(width, height, tier)
    assert fits(out, tier)
    if fits((width, height), tier):
        assert out == (width, height)
        return
    assert max(out) < max(width, height) or max(out) == tier.max_edge
    assert not fits(one_more(out, (width, height)), tier) or max(out) == tier.max_edge
    long, short = max(width, height), min(width, height)
    exact = max(out) * short / long
    assert abs(min(out) - exact) <= 0.5 or min(out) == 1  # the aspect kept, to half a pixel
    assert (out[0] >= out[1]) == (width >= height) or out[0] == out[1]


@settings(max_examples=400, deadline=None)
@given(SIDES, SIDES, st.sampled_from(list(TIERS.values())))
def test_every_shape_fits_its_tier_exactly(width, height, tier):
    check_rule(width, height, tier)


@pytest.mark.parametrize("tier", list(TIERS.values()), ids=list(TIERS))
@pytest.mark.parametrize("aspect", [(1, 1), (4, 3), (3, 2), (16, 9), (21, 9), (4, 1), (12, 1)])
def test_every_long_side_at_fixed_aspects(aspect, tier):
    for long in range(1, 12001, 7):
        short = max(1, round(long * aspect[1] / aspect[0]))
        check_rule(long, short, tier)


@settings(max_examples=300, deadline=None)
@given(SIDES, SIDES, st.sampled_from(sorted(TIERS)))
def test_the_emulator_reads_images_at_the_same_size(width, height, tier_name):
    assert fitted(width, height, tier_name) == fit_size(width, height, TIERS[tier_name])


def test_the_emulator_agrees_on_the_vectors():
    for size, (standard, _), (high, _) in VECTORS:
        assert fitted(*size, "standard") == standard and fitted(*size, "high") == high
