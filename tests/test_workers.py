"""The worker pool on its own: order, bounded memory, a stuck task killed, a crashed worker
replaced, and nothing left running once it is closed."""

from __future__ import annotations

import faulthandler
import os
import signal
import time

from assetmgr.workers import WorkerPool


def work(item):
    """Doubles numbers; 'sleep' hangs, 'crash' dies of SIGSEGV, 'pid' reports its process."""
    if item == "sleep":
        time.sleep(600)
    if item == "crash":
        faulthandler.disable()  # pytest's, inherited: it would print the crash
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "pid":
        return os.getpid()
    return item * 2


def failed(item, reason):
    return ("failed", item, reason)


def test_results_come_in_order_and_one_bad_item_costs_only_itself():
    pool = WorkerPool(work, 2, on_failure=failed, hard_limit=1.0)
    results = list(pool.map([1, 2, "sleep", 3, "crash", 4]))
    assert results == [2, 4, ("failed", "sleep", "took over 1 s"), 6,
                       ("failed", "crash", "the worker died of signal 11 (SIGSEGV)"), 8]  # fmt: skip


def test_items_are_taken_as_room_frees_up():
    taken = []

    def items():
        for i in range(1000):
            taken.append(i)
            yield i

    pool = WorkerPool(work, 2, on_failure=failed, window=8)
    results = pool.map(items())
    assert next(results) == 0
    assert len(taken) <= 9  # the window, and one more looked at
    pool.close()


def test_close_kills_what_is_still_running():
    pool = WorkerPool(work, 1, on_failure=failed)
    results = pool.map(["pid", "sleep"])
    pid = next(results)
    os.kill(pid, 0)  # alive while the pool works
    results.close()  # the caller stops early (an exception, Ctrl-C): the pool closes
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError("the worker outlived the pool")


def test_idle_ticks_while_waiting():
    pool = WorkerPool(lambda x: time.sleep(x) or x, 1, on_failure=failed)
    tick = object()
    seen = list(pool.map([1.2], idle=tick))
    assert seen[-1] == 1.2 and tick in seen
