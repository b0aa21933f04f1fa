"""Duplicates: one asset seen at several paths (exact), and assets that show the same picture
in different bytes (near: resized, re-compressed, converted, slightly cropped or brightened).

``near_groups(rows, distance)`` finds pairs of fingerprints within ``distance`` bits with the
index of ``nearindex`` (never all pairs), keeps those the second check of ``phash.alike``
agrees with, and builds groups around their best copy: the best remaining asset (most
pixels, then the oldest) takes every remaining asset linked to it, and only those, so that
every member is a near-duplicate of the group's first one and unrelated pictures are never
chained into one giant group. Each group lists its best copy first (most pixels, then the
original format, that is the oldest member's, then the oldest), with the reason, and every
other member with its distance to it.

``backfill`` computes the fingerprints the catalogue lacks from the stored renditions
(no source file needed), in worker processes; the catalogue is written in this thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .catalogue import Catalogue, FingerprintRow
from .nearindex import pairs_within
from .phash import Fingerprint, alike, distance, of_bytes
from .policies import DEFAULT_POLICY
from .renditions import load_bytes
from .store import RenditionStore
from .workers import WorkerPool

BACKFILL_CHUNK = 200
PARALLEL_FROM = 64  # fewer fingerprints to make are made in this process


@dataclass
class Member:
    sha256: str
    format: str
    width: int
    height: int
    distance: int  # bits from the group's best copy; 0 for the best copy itself
    reason: str  # why it is the best copy, or how far it is from it

    def to_json(self) -> dict:
        return {"asset": self.sha256, "format": self.format, "width": self.width,
                "height": self.height, "distance": self.distance, "reason": self.reason}  # fmt: skip


@dataclass
class NearGroup:
    members: list[Member]  # the best copy first

    def to_json(self) -> dict:
        return {"best": self.members[0].sha256, "members": [m.to_json() for m in self.members]}


def near_groups(
    rows: Sequence[FingerprintRow],
    max_distance: int,
    decisions: dict[frozenset[str], str] | None = None,
) -> list[NearGroup]:
    """Groups of near-duplicates among ``rows`` (oldest first), each around its best copy.
    ``decisions`` (two sha256s: ``same`` or ``different``) overrule the fingerprints: two
    assets decided different are never in one group, two decided the same are linked."""
    decisions = decisions or {}
    links: dict[int, set[int]] = {}
    hashes = [row.fingerprint.hash for row in rows]
    for a, b, _ in pairs_within(hashes, max_distance):
        if alike(rows[a].fingerprint, rows[b].fingerprint, _aspect(rows[a]), _aspect(rows[b])):
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
    apart = _apply(decisions, rows, links)
    taken: set[int] = set()
    groups = []
    for leader in sorted(links, key=lambda i: (-_pixels(rows[i]), i)):
        if leader in taken:
            continue
        members = [leader]
        for m in sorted(links[leader] - taken):
            if not any(frozenset((m, kept)) in apart for kept in members):
                members.append(m)
        if len(members) < 2:
            continue
        taken.update(members)
        groups.append(_group(rows, members))
    return groups


def _apply(decisions, rows, links: dict[int, set[int]]) -> set[frozenset[int]]:
    """Links made or broken by decisions; the pairs (of row indexes) decided different."""
    index = {row.sha256: i for i, row in enumerate(rows)}
    apart: set[frozenset[int]] = set()
    for pair, decision in decisions.items():
        a, b = (index.get(sha) for sha in pair)
        if a is None or b is None:
            continue
        if decision == "same":
            links.setdefault(a, set()).add(b)
            links.setdefault(b, set()).add(a)
        else:
            apart.add(frozenset((a, b)))
            links.get(a, set()).discard(b)
            links.get(b, set()).discard(a)
    return apart


def _group(rows: Sequence[FingerprintRow], members: list[int]) -> NearGroup:
    original = rows[min(members)].format  # the oldest member's format
    ranked = sorted(members, key=lambda i: (-_pixels(rows[i]), rows[i].format != original, i))
    best, second = rows[ranked[0]], rows[ranked[1]]
    if _pixels(best) > _pixels(second):
        reason = f"best copy: most pixels ({best.width}x{best.height})"
    elif best.format == original and second.format != original:
        reason = f"best copy: as many pixels, in the original format ({original})"
    else:
        reason = "best copy: as many pixels, same format, catalogued first"
    out = [Member(best.sha256, best.format, best.width, best.height, 0, reason)]
    for i in ranked[1:]:
        row = rows[i]
        d = distance(best.fingerprint.hash, row.fingerprint.hash)
        out.append(Member(row.sha256, row.format, row.width, row.height, d, f"distance {d}"))
    return NearGroup(out)


def _pixels(row: FingerprintRow) -> int:
    return row.width * row.height


def _aspect(row: FingerprintRow) -> float:
    return row.width / max(1, row.height)


def backfill(
    catalogue: Catalogue,
    store: RenditionStore,
    shas: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
    jobs: int | None = None,
) -> tuple[int, list[str]]:
    """Fingerprints of ``shas`` from their stored renditions (the default policy's first):
    how many were computed, and the sha256s whose rendition bytes are nowhere to be had.
    Decoding is done by ``jobs`` worker processes (default: one per core) when there are
    enough to share; the fingerprints come back here, to the thread that writes the
    catalogue, and are written every ``BACKFILL_CHUNK``. ``progress(done, total)`` follows."""
    jobs = jobs or os.cpu_count() or 1
    records = (r for start in range(0, len(shas), BACKFILL_CHUNK)
               for r in catalogue.records(shas[start : start + BACKFILL_CHUNK]))  # fmt: skip
    tasks = ((record, store) for record in records)
    if jobs > 1 and len(shas) >= PARALLEL_FROM:
        pool = WorkerPool(_fingerprint_task, jobs, on_failure=_no_fingerprint, hard_limit=120)
        results = pool.map(tasks)
    else:
        results = map(_fingerprint_task, tasks)
    done, seen, lost, found = 0, 0, [], []
    for sha, fingerprint in results:
        seen += 1
        if fingerprint is None:
            lost.append(sha)
        else:
            found.append((sha, fingerprint))
        if len(found) >= BACKFILL_CHUNK:
            catalogue.record_fingerprints(found)
            done += len(found)
            found = []
        if progress is not None:
            progress(seen, len(shas))
    catalogue.record_fingerprints(found)
    return done + len(found), lost


def _fingerprint_task(task) -> tuple[str, Fingerprint | None]:
    record, store = task
    return record.sha256, _from_rendition(record, store)


def _no_fingerprint(task, reason: str) -> tuple[str, None]:
    """A rendition whose decoding crashed or hung its worker: no fingerprint, as if lost."""
    return task[0].sha256, None


def _from_rendition(record, store: RenditionStore) -> Fingerprint | None:
    renditions = sorted(record.renditions, key=lambda r: r.policy != DEFAULT_POLICY)
    for rendition in renditions:
        data = load_bytes(record, rendition, store)
        if data is None:
            continue
        try:
            return of_bytes(data)
        except Exception:  # bytes that no longer decode: another rendition, or none
            continue
    return None
