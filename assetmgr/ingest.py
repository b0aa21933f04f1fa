"""The ``add`` flow: walk, stat caches, inspect in worker processes, decide, record in batches.

A path whose size, mtime and inode match what the catalogue recorded is ``unchanged``, or,
when it was rejected before under the same rules, a known rejection; neither is read. The
other files go to worker processes (``inspection.py``), which return small values; only
this module's thread writes the catalogue.

Outcomes are recorded as workers finish, in batches of at most ``BATCH`` files and at
least every ``FLUSH_SECONDS``, and each outcome is yielded only once recorded: whatever
has been yielded is in the catalogue. An interrupted run (Ctrl-C, an error of the run as a
whole) records what its workers had finished before it stops, and a killed one loses at
most its last second of work; staged renditions it leaves behind are swept by the next
run. Every input file yields exactly one ``Outcome``, in walk order.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import suppress
from functools import partial

from . import config
from .catalogue import Catalogue, IngestBatch
from .errors import LocalError
from .inspection import Inspection, Settings, failed, inspect, start_worker
from .limits import DEFAULT_LIMITS, Limits
from .policies import DEFAULT_POLICY
from .probe import ImageInfo
from .records import AddSummary, Outcome, RenditionRecord
from .statcache import gc_paused, key, without_reading
from .store import RenditionStore
from .walk import Found, walk
from .workers import WorkerPool

BATCH = 500  # inspections per catalogue transaction, at most
FLUSH_SECONDS = 1.0  # how long a finished inspection may wait to be recorded
KILL_GRACE = 10.0  # seconds past the time limit before a worker is killed
IDLE = object()


class Ingest:
    """One ``add`` run: the walk and the stat caches are read on creation (``total``,
    ``bytes_to_read``); iterate for one ``Outcome`` per file as each is recorded."""

    def __init__(
        self,
        catalogue: Catalogue,
        paths: Iterable[str | os.PathLike[str]],
        *,
        exclude: Iterable[str] = (),
        policy: str = DEFAULT_POLICY,
        jobs: int | None = None,
        store: RenditionStore | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ):
        self.catalogue, self.policy, self.limits = catalogue, policy, limits
        self.store = store or RenditionStore()
        self.jobs = jobs or os.cpu_count() or 1
        roots = [os.path.abspath(os.fspath(p)) for p in paths]
        folders = [r for r in roots if os.path.isdir(r)]
        named = [r for r in roots if not os.path.isdir(r)]
        with gc_paused():  # tens of thousands of small objects that all stay alive
            own = config.own_paths(catalogue.file, self.store.root)
            self.found = walk(roots, exclude, skip=own)
            rules = limits.rules(policy)
            self.cache, self.rejections = catalogue.stat_caches(folders, named, policy, rules)
            self.ready = [without_reading(f, self.cache, self.rejections) for f in self.found]
        self.to_read = [f for f, o in zip(self.found, self.ready) if o is None]
        self.bytes_to_read = sum(f.size for f in self.to_read)
        self.files_read = self.bytes_read = 0  # progress, for a bar drawn from another thread
        self.summary = AddSummary()
        self.first_in_run: dict[str, str] = {}  # sha256 -> the path this run met it at first

    @property
    def total(self) -> int:
        return len(self.found)

    def __iter__(self) -> Iterator[Outcome]:
        decided = self._decided(self.to_read)
        try:
            for outcome in self.ready:
                outcome = outcome or next(decided)
                self.summary.count(outcome)
                yield outcome
        finally:
            decided.close()  # records what workers finished; stops them

    # -- reading, in workers -------------------------------------------------

    def _decided(self, todo: list[Found]) -> Iterator[Outcome]:
        """Outcomes of ``todo``, in order, each yielded once recorded."""
        if not todo:
            return
        self._prepare_store()
        settings = Settings(self.policy, self.limits, self.store)
        pool = WorkerPool(
            partial(inspect, settings=settings),
            min(self.jobs, len(todo)),
            on_failure=failed,
            hard_limit=self.limits.time_limit + KILL_GRACE,
            initializer=partial(start_worker, settings),
        )
        stats = {f.path: f for f in todo}
        batch: list[Inspection] = []
        since = time.monotonic()
        try:
            for result in pool.map([f.path for f in todo], idle=IDLE):
                if result is not IDLE:
                    self._count_read(result, stats)
                    if result.fatal:  # the run stops; what finished before is kept and told
                        outcomes, batch = self._record(batch), []
                        yield from outcomes
                        raise LocalError(result.fatal)
                    batch.append(result)
                if batch and (len(batch) >= BATCH or time.monotonic() - since >= FLUSH_SECONDS):
                    outcomes, batch, since = self._record(batch), [], time.monotonic()
                    yield from outcomes
            outcomes, batch = self._record(batch), []
            yield from outcomes
        finally:
            pool.close()
            if batch:  # interrupted: keep what was finished, if the catalogue still can
                with suppress(Exception):
                    self._record(batch)
            self.store.close()

    def _prepare_store(self) -> None:
        try:
            self.store.prepare()
        except OSError as e:
            raise LocalError(
                f"cannot write the rendition store at {self.store.root} ({e.strerror}); "
                "free some space, or set ASSETMGR_STORE to a writable folder"
            ) from None
        with suppress(OSError):
            self.store.sweep(self.catalogue.known_renditions)

    def _count_read(self, result: Inspection, stats: dict[str, Found]) -> None:
        found = stats[result.path]
        self.files_read += 1
        self.bytes_read += found.size
        if not result.stat_known:  # its worker died: the walk's stat stands for the file
            result.size, result.mtime_ns, result.inode = found.size, found.mtime_ns, found.inode

    # -- deciding and recording ------------------------------------------------

    def _record(self, batch: list[Inspection]) -> list[Outcome]:
        if not batch:
            return []
        known = self.catalogue.known_assets({i.sha256 for i in batch if i.reason is None})
        rows = IngestBatch.new()
        outcomes = [self._decide(i, known, rows) for i in batch]
        self.catalogue.record(rows)
        self.store.publish({i.rendition.sha256 for i in batch if i.staged})
        return outcomes

    def _decide(self, i: Inspection, known, rows: IngestBatch) -> Outcome:
        if i.reason is not None:
            return self._rejected(i, rows)
        info, r = i.info, i.rendition
        outcome = Outcome(i.path, "new", i.sha256, width=info.width, height=info.height,
                          format=info.format, warnings=r.warnings)  # fmt: skip
        rows.sources.append((i.path, i.sha256, i.size, i.mtime_ns, i.inode))
        rows.accepted_paths.append(i.path)
        cached = self.cache.get(key(i.path))
        first = self.first_in_run
        if cached is not None and cached.sha256 == i.sha256:
            outcome.outcome = "unchanged"  # touched, but the same bytes
        elif i.sha256 in first or i.sha256 in known:
            outcome.outcome = "duplicate"
            outcome.duplicate_of = first.get(i.sha256) or known[i.sha256].first_path
        else:
            first[i.sha256] = i.path
            rows.assets.append(_asset_row(i.sha256, info, i.size))
            if i.fingerprint is not None:
                rows.fingerprints.append((i.sha256, i.fingerprint))
        rows.renditions.append(_rendition_row(r))  # a known asset may lack this policy's
        rows.links.append((i.sha256, r.policy, r.sha256, r.warnings))
        return outcome

    def _rejected(self, i: Inspection, rows: IngestBatch) -> Outcome:
        if i.lasting:
            rules = self.limits.rules(self.policy)
            rows.rejections.append((i.path, i.size, i.mtime_ns, i.inode, rules, i.reason, i.sha256))
        if key(i.path) in self.cache:
            rows.rejected_paths.append(i.path)  # the asset it held is not there any more
        warnings = [f"unexpected error: {i.warning}"] if i.warning else []
        return Outcome(i.path, "rejected", i.sha256, reason=i.reason, warnings=warnings)


def _asset_row(sha256: str, info: ImageInfo, size: int) -> dict:
    return {
        "sha256": sha256, "format": info.format, "media_type": info.media_type,
        "width": info.width, "height": info.height, "mode": info.mode,
        "frames": info.frames, "orientation": info.orientation, "size_bytes": size,
    }  # fmt: skip


def _rendition_row(r: RenditionRecord) -> dict:
    return {
        "sha256": r.sha256, "media_type": r.media_type, "width": r.width,
        "height": r.height, "size_bytes": r.size_bytes, "tokens": r.tokens,
    }  # fmt: skip
