"""The stat cache: what the catalogue remembers of each path, and the one rule that says a
file need not be read again.

A path whose size, mtime and inode are those recorded is ``unchanged`` (if its asset has a
rendition under the policy asked for) or a known rejection (if it was rejected under the
same rules). The catalogue (through SQLAlchemy) and the re-run fast path (``rerun.py``,
through the standard library's ``sqlite3``) read the same rows into these tuples, and
``without_reading`` decides for both. Paths are keyed by their stored form
(``pathnames.shown``). No SQLAlchemy here.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from .pathnames import shown
from .records import Outcome
from .walk import Found, Unreadable


class CachedSource(NamedTuple):
    """What the catalogue remembers of a path: its stat, and the asset it held.

    A tuple, not a dataclass: a re-run builds one per file, and that shows.
    """

    path: str
    size: int
    mtime_ns: int
    inode: int | None
    sha256: str
    width: int
    height: int
    format: str
    rendition_id: int | None  # the asset's rendition under the policy asked about

    @property
    def has_policy(self) -> bool:
        return self.rendition_id is not None


class CachedRejection(NamedTuple):
    """A path whose file was rejected, with the stat it had then, and why."""

    path: str
    size: int
    mtime_ns: int
    inode: int | None
    reason: str
    sha256: str | None


UNCHANGED, KNOWN, UNREADABLE = "unchanged", "known rejection", "unreadable"


def key(path: str) -> str:
    """The form a path is stored (and cached) under."""
    return path if path.isascii() else shown(path)


def verdict(
    item: Found | Unreadable,
    sources: dict[str, CachedSource],
    rejections: dict[str, CachedRejection],
) -> tuple[str | None, CachedSource | CachedRejection | None]:
    """What is known of ``item`` without reading it, and the cache entry that says so:
    ``UNCHANGED`` (its size, mtime and inode are those recorded, and its asset has a
    rendition under the policy asked about), ``KNOWN`` (a rejection under the same rules,
    same stat), ``UNREADABLE`` (the walk says why); ``(None, None)``: it must be read.

    The hot loop of a re-run, one call a file: indexes, not attribute names."""
    if item.__class__ is Unreadable:
        return UNREADABLE, None
    path = item.path
    path_key = path if path.isascii() else shown(path)
    c = sources.get(path_key)
    if (
        c is not None
        and c[8] is not None  # rendition_id: the asset has this policy's rendition
        and c[1] == item.size
        and c[2] == item.mtime_ns
        and (c[3] is None or c[3] == item.inode)
    ):
        return UNCHANGED, c
    r = rejections.get(path_key)
    if r is not None and r[1] == item.size and r[2] == item.mtime_ns and r[3] in (None, item.inode):
        return KNOWN, r
    return None, None


def without_reading(
    item: Found | Unreadable,
    sources: dict[str, CachedSource],
    rejections: dict[str, CachedRejection],
) -> Outcome | None:
    """The outcome of ``item`` when it needs no reading (``verdict``), else None."""
    return outcome_of(item, *verdict(item, sources, rejections))


def outcome_of(item: Found | Unreadable, kind: str | None, entry) -> Outcome | None:
    """The ``Outcome`` a ``verdict`` stands for."""
    if kind is UNCHANGED:
        return Outcome(item.path, "unchanged", entry.sha256, width=entry.width,
                       height=entry.height, format=entry.format)  # fmt: skip
    if kind is KNOWN:
        return Outcome(item.path, "rejected", entry.sha256, reason=entry.reason, known=True)
    if kind is UNREADABLE:
        return Outcome(item.path, "rejected", reason=item.reason)
    return None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while building objects that live on anyway: it would find nothing.

    On the way out the objects built go straight to the oldest generation (``gc.freeze`` then
    ``gc.unfreeze``), so that the first young collection after ``gc.enable`` does not walk
    over all of them: at 100,000 files that walk cost a quarter of a second. They are
    collected as usual from there on (``unfreeze`` keeps them tracked)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
