"""A pool of worker processes that streams results back in order, and never outlives its use.

``concurrent.futures`` cannot kill one stuck task, and its workers may outlive a parent
killed with ``kill -9``. This pool can:

- each worker runs one task at a time, with the next ones already sent (as many as take
  about ``COVER`` seconds, so it never waits for a parent busy with its own work); results come back in the order the items were given, as soon
  as each is ready, with at most ``window`` items in flight or waiting (so memory stays
  bounded however many items there are);
- a task that runs past ``hard_limit`` seconds has its worker killed and replaced, and
  ``on_failure(item, reason)`` gives its result; so does a worker that dies (a crash in
  a decoder), so one bad item never costs the others;
- workers die with their parent: ``PR_SET_PDEATHSIG`` on Linux, and a thread that
  watches the parent's pid everywhere;
- ``close()`` (also on an exception or Ctrl-C in the parent) kills what is still running.

Workers ignore SIGINT: Ctrl-C is the parent's to handle. They are forked where the
platform allows (no start-up imports), before any other thread of the parent runs.
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any

PARENT_CHECK_SECONDS = 1.0
POLL_SECONDS = 0.5  # how often a wait for results looks at the clock for overruns
# Tasks sent ahead to a worker: enough to keep it busy for COVER seconds while the parent
# is busy itself (recording a batch), between 2 and 16 by how long tasks take.
COVER, FEWEST_QUEUED, MOST_QUEUED = 0.1, 2, 16


class WorkerPool:
    """``map(items)`` runs ``function`` over ``items`` in ``jobs`` processes."""

    def __init__(
        self,
        function: Callable[[Any], Any],
        jobs: int,
        *,
        on_failure: Callable[[Any, str], Any],
        hard_limit: float | None = None,
        window: int | None = None,
        initializer: Callable[[], None] | None = None,
    ):
        self.function, self.on_failure, self.hard_limit = function, on_failure, hard_limit
        self.initializer = initializer
        self.jobs = max(1, jobs)
        self.window = window or self.jobs * MOST_QUEUED * 2
        self.task_seconds = COVER  # a running average of how long a task takes
        self.context = _context()
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()  # one for the pool: cheaper than one a wait

    def map(self, items: Iterable[Any], idle: Any = None) -> Iterator[Any]:
        """Results for ``items``, in order; ``idle`` (when given) each time about
        ``POLL_SECONDS`` pass with no new result, so the caller can do its own work."""
        source = enumerate(items)
        ready: dict[int, Any] = {}
        waiting: deque[tuple[int, Any]] = deque()
        next_out, exhausted = 0, False
        try:
            while True:
                exhausted = self._fill(source, waiting, len(ready), exhausted)
                self._dispatch(waiting)
                while next_out in ready:
                    yield ready.pop(next_out)
                    next_out += 1
                if exhausted and not waiting and not any(w.queue for w in self.workers):
                    if not ready:
                        return
                    continue
                collected = self._collect(waiting)
                ready.update(collected)
                if not collected and idle is not None:
                    yield idle
        finally:
            self.close()

    def close(self) -> None:
        """Stop every worker now (tasks still running are abandoned)."""
        for worker in self.workers:
            self.selector.unregister(worker.conn)
            worker.kill()
        self.workers = []

    def _fill(self, source, waiting: deque, held: int, exhausted: bool) -> bool:
        """Take items until ``window`` are waiting, running or held back for order."""
        held += sum(len(w.queue) for w in self.workers)
        while not exhausted and len(waiting) + held < self.window:
            item = next(source, None)
            if item is None:
                return True
            waiting.append(item)
        return exhausted

    def _dispatch(self, waiting: deque[tuple[int, Any]]) -> None:
        while len(self.workers) < self.jobs and waiting:
            worker = _Worker(self)
            self.workers.append(worker)
            self.selector.register(worker.conn, selectors.EVENT_READ, worker)
        queued = min(MOST_QUEUED, max(FEWEST_QUEUED, round(COVER / self.task_seconds)))
        for depth in range(1, queued + 1):  # one task each first, then a second...
            for worker in self.workers:
                if len(worker.queue) < depth and waiting:
                    worker.send(*waiting.popleft())

    def _collect(self, waiting: deque[tuple[int, Any]]) -> dict[int, Any]:
        busy = [w for w in self.workers if w.queue]
        results: dict[int, Any] = {}
        for key, _ in self.selector.select(timeout=POLL_SECONDS):
            worker = key.data
            conn = worker.conn
            if not worker.queue:
                continue
            try:
                while True:  # this answer, and any other already here
                    index, result, took = conn.recv()
                    results[index] = result
                    worker.done()
                    self.task_seconds = 0.8 * self.task_seconds + 0.2 * max(took, 1e-4)
                    if not (worker.queue and conn.poll()):
                        break
            except (EOFError, OSError):
                index = worker.queue[0][0]
                results[index] = self._failed(worker, worker.death(), waiting)
        if self.hard_limit is not None:
            for worker in busy:
                if (
                    worker in self.workers
                    and worker.queue
                    and worker.running_for() > self.hard_limit
                ):
                    index = worker.queue[0][0]
                    reason = f"took over {self.hard_limit:g} s"
                    results[index] = self._failed(worker, reason, waiting)
        return results

    def _failed(self, worker: _Worker, reason: str, waiting: deque[tuple[int, Any]]) -> Any:
        """Replace a dead or stuck worker; the result its item gets instead. Items queued
        behind it go back to wait for another worker."""
        (_, item), *behind = worker.queue
        self.selector.unregister(worker.conn)
        worker.kill()
        self.workers.remove(worker)
        waiting.extendleft(reversed(behind))
        return self.on_failure(item, reason)


class _Worker:
    def __init__(self, pool: WorkerPool):
        self.conn, child = pool.context.Pipe(duplex=True)
        self.process = pool.context.Process(
            target=_serve,
            args=(child, pool.function, pool.initializer, os.getpid()),
            daemon=True,
            name="assetmgr-worker",
        )
        self.process.start()
        child.close()
        self.queue: deque[tuple[int, Any]] = deque()  # sent, not answered; the first runs
        self.started = 0.0  # when the first of ``queue`` began

    def send(self, index: int, item: Any) -> None:
        if not self.queue:
            self.started = time.monotonic()
        self.queue.append((index, item))
        self.conn.send((index, item))

    def done(self) -> None:
        """The first task answered: the next one began just now."""
        self.queue.popleft()
        self.started = time.monotonic()

    def running_for(self) -> float:
        return time.monotonic() - self.started

    def death(self) -> str:
        self.process.join(timeout=1)
        code = self.process.exitcode
        if code is not None and code < 0:
            return f"the worker died of signal {-code} ({_signal_name(-code)})"
        return f"the worker died (exit code {code})"

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


def _serve(conn: Connection, function, initializer, parent_pid: int) -> None:
    """A worker's loop: one task at a time until the parent closes the pipe or dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent_pid)
    if initializer is not None:
        initializer()
    while True:
        try:
            index, item = conn.recv()
        except (EOFError, OSError):
            return
        started = time.monotonic()
        result = function(item)
        conn.send((index, result, time.monotonic() - started))


def _die_with_parent(parent_pid: int) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel kills us with the parent
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"
