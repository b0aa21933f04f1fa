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


def key(path: str) -> str:
    """The form a path is stored (and cached) under."""
    return path if path.isascii() else shown(path)


def same_stat(cached: CachedSource | CachedRejection, found: Found) -> bool:
    return (
        cached.size == found.size
        and cached.mtime_ns == found.mtime_ns
        and cached.inode in (None, found.inode)
    )


def without_reading(
    item: Found | Unreadable,
    sources: dict[str, CachedSource],
    rejections: dict[str, CachedRejection],
) -> Outcome | None:
    """The outcome of ``item`` when it needs no reading, else None."""
    if isinstance(item, Unreadable):
        return Outcome(item.path, "rejected", reason=item.reason)
    path_key = key(item.path)
    cached = sources.get(path_key)
    if cached and cached.has_policy and same_stat(cached, item):
        return Outcome(item.path, "unchanged", cached.sha256, width=cached.width,
                       height=cached.height, format=cached.format)  # fmt: skip
    rejected = rejections.get(path_key)
    if rejected and same_stat(rejected, item):
        return Outcome(item.path, "rejected", rejected.sha256, reason=rejected.reason,
                       known=True)  # fmt: skip
    return None


@contextmanager
def gc_paused() -> Iterator[None]:
    """No garbage collection while building objects that live on anyway: it would find nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
