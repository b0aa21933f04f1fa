"""Pairs of 64-bit hashes within a Hamming distance, found with an index, never all pairs.

Multi-index hashing: the hash is cut into ``BANDS`` bands of 16 bits, and each band is a
dictionary from its value to the hashes that hold it. Two hashes within ``k`` bits of each
other differ in at most ``k // BANDS`` bits in at least one band (pigeonhole), so probing
each band's buckets against their neighbours within that radius finds every pair (a pair
is told by the first band that finds it); each candidate is then checked on the whole hash. ``brute_force`` is the plain all-pairs scan the index
must agree with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations

BANDS = 4
BAND_BITS = 16
BAND_MASK = (1 << BAND_BITS) - 1


def _masks(radius: int) -> list[int]:
    """Every 16-bit mask of at most ``radius`` bits set."""
    masks = [0]
    for bits in range(1, radius + 1):
        for chosen in combinations(range(BAND_BITS), bits):
            mask = 0
            for bit in chosen:
                mask |= 1 << bit
            masks.append(mask)
    return masks


def pairs_within(hashes: Sequence[int], k: int) -> Iterator[tuple[int, int, int]]:
    """(i, j, distance) with i < j for every two of ``hashes`` within ``k`` bits."""
    distinct: dict[int, list[int]] = {}
    for index, value in enumerate(hashes):
        distinct.setdefault(value, []).append(index)
    for same in distinct.values():  # identical hashes: distance 0
        for a, b in combinations(same, 2):
            yield a, b, 0
    values = list(distinct)
    for i, j, d in _distinct_pairs(values, k):
        yield from _expand(distinct[values[i]], distinct[values[j]], d)


def _distinct_pairs(values: list[int], k: int) -> Iterator[tuple[int, int, int]]:
    """Pairs of distinct values within ``k`` bits, each found in the first band where it
    differs by at most the radius (so told once): bucket against neighbouring bucket."""
    radius = k // BANDS
    masks = _masks(radius)
    for band in range(BANDS):
        table: dict[int, list[int]] = {}
        shift = band * BAND_BITS
        for position, value in enumerate(values):
            table.setdefault((value >> shift) & BAND_MASK, []).append(position)
        earlier = [BAND_MASK << (b * BAND_BITS) for b in range(band)]
        for key, bucket in table.items():
            for mask in masks:
                near = table.get(key ^ mask)
                if near is None:
                    continue
                for i in bucket:
                    value = values[i]
                    for j in near:
                        if j <= i:
                            continue
                        x = value ^ values[j]
                        d = x.bit_count()
                        if d <= k and not any((x & m).bit_count() <= radius for m in earlier):
                            yield i, j, d


def _expand(left: list[int], right: list[int], d: int) -> Iterator[tuple[int, int, int]]:
    for a in left:
        for b in right:
            yield min(a, b), max(a, b), d


def brute_force(hashes: Sequence[int], k: int) -> Iterator[tuple[int, int, int]]:
    """The same pairs as ``pairs_within``, by comparing every two hashes."""
    for i in range(len(hashes)):
        hi = hashes[i]
        for j in range(i + 1, len(hashes)):
            d = (hi ^ hashes[j]).bit_count()
            if d <= k:
                yield i, j, d
