"""Reuse of near-duplicates (``add --reuse-near``, ``push --reuse-near``, ``dupes unlink``).

A near-duplicate is linked to the best copy of its group (``dupes.near_groups``: best copy
first; decisions honoured): under every policy both have a rendition under, its
``asset_renditions`` row names the best copy's rendition, and its own rendition and warnings
are kept in ``near_links`` (``Catalogue.link_near``). Blocks, requests and uploads read
``asset_renditions``, so a linked asset sends the best copy's upload and needs none of its
own; ``dupes unlink`` gives its own rendition back (``Catalogue.unlink_near``), and the next
``push`` or ``block`` uploads it. An asset is linked only when the best copy's rendition
bytes can be had (the store, else a source), since whatever uploads it next may be the
linked asset, whose own source cannot make them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalogue import Catalogue
from .renditions import load_bytes
from .store import RenditionStore


@dataclass
class ReuseReport:
    """What ``Library.reuse_near`` did."""

    distance: int
    linked: dict[str, str] = field(default_factory=dict)  # asset sha256 -> best copy's
    unreachable: list[str] = field(default_factory=list)  # best copy's bytes nowhere to be had
    computed: int = 0  # fingerprints computed first, from stored renditions

    def lines(self) -> list[str]:
        """What ``add`` and ``push`` say of it on stderr."""
        text = [
            f"{len(self.linked)} near-duplicates reuse their best copy's rendition "
            "(dupes unlink undoes it)"
        ]
        if self.unreachable:
            text.append(
                f"{len(self.unreachable)} near-duplicates not linked: their best copy's "
                "rendition bytes are nowhere to be had (add its file again)"
            )
        return text


def candidates(groups: Iterable, targets: Iterable[str]) -> list[tuple[str, str, int]]:
    """(asset, best copy, distance) of every target that is in a group and not its best copy."""
    wanted = set(targets)
    return [
        (member.sha256, group.members[0].sha256, member.distance)
        for group in groups
        for member in group.members[1:]
        if member.sha256 in wanted
    ]


def link(
    catalogue: Catalogue, store: RenditionStore, pairs: list[tuple[str, str, int]], report
) -> ReuseReport:
    """Link the ``pairs`` whose best copy's rendition bytes can be had; ``report`` filled."""
    bests = {
        record.sha256: record for record in catalogue.records(sorted({b for _, b, _ in pairs}))
    }
    reachable = {sha for sha, record in bests.items() if _bytes_at_hand(record, store)}
    chosen = [pair for pair in pairs if pair[1] in reachable]
    report.unreachable = sorted(a for a, b, _ in pairs if b not in reachable)
    best_of = {a: b for a, b, _ in chosen}
    report.linked = {a: best_of[a] for a in catalogue.link_near(chosen)}
    return report


def _bytes_at_hand(record, store: RenditionStore) -> bool:
    """Whether every rendition of the best copy ``record`` can be read (kept in the store)."""
    return all(load_bytes(record, r, store, keep=True) is not None for r in record.renditions)
