"""Pairs of 64-bit hashes within a Hamming distance, found with an index, never all pairs.

Multi-index hashing: the hash is cut into ``BANDS`` bands of 16 bits, and the distinct hashes
are sorted by each band's value, so that a band value's hashes form one run (a bucket). Two
hashes within ``k`` bits of each other differ by at most its radius in at least one band
(pigeonhole, ``radii``: 2, 2, 2 and 1 bits at distance 10), so pairing each bucket with the
buckets whose band value differs from its own by at most that radius finds every pair; a pair
is told by the first band where it differs by at most the radius (so once), and each candidate
is checked on the whole hash.

The work is done in NumPy, a mask at a time for every bucket at once (``_bucket_pairs``): in
Python, the tens of millions of candidates 100,000 hashes give at distance 10 take 18 s;
here, about a second (bench/bench_dupes.py). ``brute_force`` is the plain all-pairs scan, in
pure Python, that the index must agree with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations

import numpy as np

BANDS = 4
BAND_BITS = 16
BAND_MASK = (1 << BAND_BITS) - 1


def _masks(radius: int) -> list[int]:
    """Every 16-bit mask of at most ``radius`` bits set, the empty mask first."""
    masks = [0]
    for bits in range(1, radius + 1):
        for chosen in combinations(range(BAND_BITS), bits):
            masks.append(sum(1 << bit for bit in chosen))
    return masks


def pairs_within(hashes: Sequence[int], k: int) -> Iterator[tuple[int, int, int]]:
    """(i, j, distance) with i < j for every two of ``hashes`` within ``k`` bits."""
    if len(hashes) < 2:
        return
    values, inverse = np.unique(np.array(hashes, dtype=np.uint64), return_inverse=True)
    members = _members(inverse, len(values))
    for same in members:  # identical hashes: distance 0
        for i, j in combinations(same, 2):
            yield i, j, 0
    for a, b, d in _distinct_pairs(values, k):
        for i in members[a]:
            for j in members[b]:
                yield (i, j, d) if i < j else (j, i, d)


def _members(inverse: np.ndarray, count: int) -> list[list[int]]:
    """For each distinct value, the positions of ``hashes`` that hold it."""
    members: list[list[int]] = [[] for _ in range(count)]
    for position, value in enumerate(inverse.tolist()):
        members[value].append(position)
    return members


def radii(k: int) -> list[int]:
    """Each band's radius: as even as can be, summing to ``k - BANDS + 1``. If every band
    differed by more than its radius, two hashes would differ by at least that sum plus
    ``BANDS``, that is more than ``k``: so hashes within ``k`` bits meet in some band."""
    total = max(0, k - BANDS + 1)
    return [total // BANDS + (band < total % BANDS) for band in range(BANDS)]


def _distinct_pairs(values: np.ndarray, k: int) -> Iterator[tuple[int, int, int]]:
    """(a, b, distance) for the distinct ``values`` within ``k`` bits, each pair once."""
    radius = radii(k)
    for band in range(BANDS):
        keys = ((values >> np.uint64(band * BAND_BITS)) & np.uint64(BAND_MASK)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        occupied, starts, counts = np.unique(keys[order], return_index=True, return_counts=True)
        for mask in _masks(radius[band]):
            a, b = _bucket_pairs(occupied, starts, counts, order, mask)
            if a.size == 0:
                continue
            x = values[a] ^ values[b]
            d = np.bitwise_count(x)
            keep = d <= k
            for earlier in range(band):  # told by an earlier band already
                part = (x >> np.uint64(earlier * BAND_BITS)) & np.uint64(BAND_MASK)
                keep &= np.bitwise_count(part) > radius[earlier]
            yield from zip(a[keep].tolist(), b[keep].tolist(), d[keep].tolist())


def _bucket_pairs(occupied, starts, counts, order, mask: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (a, b) of positions into the values, a from a bucket of band value ``v`` and b
    from the bucket of ``v ^ mask`` (with mask 0: two of one bucket, a before b), each
    unordered pair of buckets once."""
    if mask == 0:
        left = right = np.flatnonzero(counts > 1)
    else:
        partner = occupied ^ mask
        found = np.searchsorted(occupied, partner).clip(max=len(occupied) - 1)
        left = np.flatnonzero((occupied[found] == partner) & (occupied < partner))
        right = found[left]
    sizes = counts[left] * counts[right]
    total = int(sizes.sum())
    if total == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    pair = np.repeat(np.arange(len(left)), sizes)
    offset = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    width = counts[right][pair]
    a = order[starts[left][pair] + offset // width]
    b = order[starts[right][pair] + offset % width]
    if mask == 0:
        keep = offset // width < offset % width
        a, b = a[keep], b[keep]
    return a, b


def brute_force(hashes: Sequence[int], k: int) -> Iterator[tuple[int, int, int]]:
    """The same pairs as ``pairs_within``, by comparing every two hashes."""
    for i in range(len(hashes)):
        hi = hashes[i]
        for j in range(i + 1, len(hashes)):
            d = (hi ^ hashes[j]).bit_count()
            if d <= k:
                yield i, j, d
