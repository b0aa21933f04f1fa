"""The ``add`` flow: walk, stat-cache check, hash + probe + render, decide, record.

Work on file contents (read, hash, probe, render) runs in a process pool and
returns small ``Inspection`` values; only this module's main thread talks to
the catalogue, in batches. A path whose size, mtime and inode match what the
catalogue recorded is ``unchanged`` and is not read at all.

Every input file yields exactly one ``Outcome``, in walk order.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from .catalogue import CachedSource, Catalogue, IngestBatch
from .hashing import sha256_bytes
from .policies import DEFAULT_POLICY
from .probe import ImageInfo, Rejected, probe
from .records import AddSummary, Outcome, RenditionRecord
from .renditions import render
from .store import RenditionStore
from .walk import Found, Unreadable, describe_os_error, walk

BATCH = 200  # results per catalogue transaction


@dataclass(slots=True)
class Inspection:
    """What a worker learnt from one file's bytes."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0
    sha256: str | None = None
    info: ImageInfo | None = None
    rendition: RenditionRecord | None = None
    reason: str | None = None


def inspect(
    path: str, policy: str = DEFAULT_POLICY, store: RenditionStore | None = None
) -> Inspection:
    """Read, hash, probe and render one file. Runs in a worker process."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())  # the stat of the very bytes read
            data = f.read()
    except OSError as e:
        return Inspection(path, reason=describe_os_error(e))
    result = Inspection(path, st.st_size, st.st_mtime_ns, st.st_ino, sha256_bytes(data))
    try:
        result.info = probe(data)
        result.rendition = render(policy, data, result.info, result.sha256, store)
    except Rejected as e:
        result.info, result.reason = None, e.reason
    return result


class Ingest:
    """One ``add`` run. ``total`` is known on creation; iterate for the outcomes."""

    def __init__(
        self,
        catalogue: Catalogue,
        paths: Iterable[str | os.PathLike[str]],
        *,
        exclude: Iterable[str] = (),
        policy: str = DEFAULT_POLICY,
        jobs: int | None = None,
        store: RenditionStore | None = None,
    ):
        self.catalogue = catalogue
        self.policy = policy
        self.store = store or RenditionStore()
        self.jobs = jobs or os.cpu_count() or 1
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        folders = [r for r in roots if os.path.isdir(r)]
        named = [r for r in roots if not os.path.isdir(r)]
        with gc_paused():  # tens of thousands of small objects that all stay alive
            self.found = walk(roots, exclude)
            self.cache = catalogue.cached_sources(folders, named, policy)
        self.summary = AddSummary()

    @property
    def total(self) -> int:
        return len(self.found)

    def __iter__(self) -> Iterator[Outcome]:
        with gc_paused():  # one outcome per unchanged file, all kept: nothing to collect
            ready = [self._without_reading(item) for item in self.found]
        todo = [item.path for item, outcome in zip(self.found, ready) if outcome is None]
        decided = self._decide(
            _inspect_all(todo, partial(inspect, policy=self.policy, store=self.store), self.jobs)
        )
        for outcome in ready:
            outcome = outcome or next(decided)
            self.summary.count(outcome)
            yield outcome

    def _without_reading(self, item: Found | Unreadable) -> Outcome | None:
        if isinstance(item, Unreadable):
            return Outcome(item.path, "rejected", reason=item.reason)
        cached = self.cache.get(item.path)
        if cached and cached.has_policy and _same_stat(cached, item):
            return Outcome(
                item.path,
                "unchanged",
                cached.sha256,
                width=cached.width,
                height=cached.height,
                format=cached.format,
            )
        return None

    def _decide(self, inspections: Iterator[Inspection]) -> Iterator[Outcome]:
        first_in_run: dict[str, str] = {}
        while batch := _take(inspections, BATCH):
            known = self.catalogue.known_assets({i.sha256 for i in batch if i.reason is None})
            rows = IngestBatch.new()
            outcomes = [self._decide_one(i, known, first_in_run, rows) for i in batch]
            self.catalogue.record(rows)
            yield from outcomes

    def _decide_one(
        self, i: Inspection, known, first_in_run: dict[str, str], rows: IngestBatch
    ) -> Outcome:
        if i.reason is not None:
            return Outcome(i.path, "rejected", i.sha256, reason=i.reason)
        info, r = i.info, i.rendition
        outcome = Outcome(
            i.path,
            "new",
            i.sha256,
            width=info.width,
            height=info.height,
            format=info.format,
            warnings=r.warnings,
        )
        rows.sources.append((i.path, i.sha256, i.size, i.mtime_ns, i.inode))
        cached = self.cache.get(i.path)
        if cached is not None and cached.sha256 == i.sha256:
            outcome.outcome = "unchanged"  # touched, but the same bytes
        elif i.sha256 in first_in_run or i.sha256 in known:
            outcome.outcome = "duplicate"
            outcome.duplicate_of = first_in_run.get(i.sha256) or known[i.sha256].first_path
        else:
            first_in_run[i.sha256] = i.path
            rows.assets.append(_asset_row(i.sha256, info, i.size))
        rows.renditions.append(_rendition_row(r))  # a known asset may lack this policy's
        rows.links.append((i.sha256, r.policy, r.sha256, r.warnings))
        return outcome


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


def _same_stat(cached: CachedSource, found: Found) -> bool:
    return (
        cached.size == found.size
        and cached.mtime_ns == found.mtime_ns
        and cached.inode in (None, found.inode)
    )


def _take(iterator: Iterator[Inspection], n: int) -> list[Inspection]:
    batch = []
    for item in iterator:
        batch.append(item)
        if len(batch) == n:
            break
    return batch


def _inspect_all(paths: Sequence[str], work, jobs: int) -> Iterator[Inspection]:
    """``work`` applied to ``paths``, in order; in a process pool when that pays."""
    if jobs <= 1 or len(paths) < 4 * jobs:
        yield from map(work, paths)
        return
    chunksize = max(1, min(32, len(paths) // (jobs * 8)))
    with ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_ignore_sigint) as pool:
        try:
            yield from pool.map(work, paths, chunksize=chunksize)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _ignore_sigint() -> None:
    # Ctrl-C is the parent's to handle: it stops the pool and reports once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _asset_row(sha256: str, info: ImageInfo, size: int) -> dict:
    return {
        "sha256": sha256,
        "format": info.format,
        "media_type": info.media_type,
        "width": info.width,
        "height": info.height,
        "mode": info.mode,
        "frames": info.frames,
        "orientation": info.orientation,
        "size_bytes": size,
    }


def _rendition_row(r: RenditionRecord) -> dict:
    return {
        "sha256": r.sha256,
        "media_type": r.media_type,
        "width": r.width,
        "height": r.height,
        "size_bytes": r.size_bytes,
        "tokens": r.tokens,
    }
