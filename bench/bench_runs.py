"""Re-analysis runs: concurrency without batches, and the cost of planning.

- ``run`` without ``--batch``, one image per request, ``--requests`` requests at 300 ms injected
  latency (the emulator's): the default ``--jobs`` against ``--jobs 1``; goal >= 6x faster.
- ``run --dry-run`` of ``--images`` images against ``request`` printing the same bodies (every
  image uploaded already); goal < 2x the time of ``request``.

    .venv/bin/python bench/bench_runs.py [--requests 500] [--images 10000]
"""

from __future__ import annotations

import argparse
import json
import os

import _common
from _common import assetmgr, bench_dirs, small_pngs

from assetmgr.emulator import running

RUN_ALL_ARGS = ["--requests", "200", "--images", "3000"]
LATENCY_MS = 300
SPEEDUP_GOAL = 6.0
PLAN_GOAL = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--images", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load: {_common.load()}")
    with bench_dirs("bench-runs-") as (_, folder, db), running() as emulator:
        env = {"ANTHROPIC_BASE_URL": emulator.base_url, "ANTHROPIC_API_KEY": "bench"}
        os.environ.update(env)
        small_pngs(folder, max(args.requests, args.images), (40, 30), folders=10)
        assetmgr("--db", db, "add", folder, "--no-upload", "--tag", "all")
        assetmgr("--db", db, "push", "--tag", "all")
        listing = assetmgr("--db", db, "ls", "--json")[1].stdout.splitlines()
        refs = [json.loads(line)["sha256"] for line in listing]
        asked = "\n".join(refs[: args.requests])
        emulator.set_faults(latency_ms=LATENCY_MS)
        one = _timed_run(db, asked, "one at a time", "--jobs", "1")
        many = _timed_run(db, asked, "concurrently")
        emulator.set_faults(latency_ms=0)
        speedup = one / many
        print(f"{args.requests} requests at {LATENCY_MS} ms: --jobs 1 {one:.1f}s, "
              f"default --jobs {many:.1f}s: {speedup:.1f}x")  # fmt: skip
        _common.result(f"run_jobs_{args.requests}", f"{speedup:.2f}x", f">={SPEEDUP_GOAL:g}x",
                       speedup >= SPEEDUP_GOAL)  # fmt: skip
        plans = "\n".join(refs[: args.images])
        ratios = []
        for repeat in range(3):
            dry, request = _common.alternately(
                repeat,
                lambda: _stdin_run(db, plans, "run", "--stdin", "--prompt", "x", "--dry-run"),
                lambda: _stdin_run(db, plans, "request", "--stdin", "--prompt", "x"),
            )
            ratios.append(dry / request)
        ratio = _common.median(ratios)
        print(f"--dry-run of {args.images} images: {ratio:.2f}x the time of request")
        _common.result(f"run_dry_run_{args.images}", f"{ratio:.2f}x", f"<{PLAN_GOAL:g}x",
                       ratio < PLAN_GOAL)  # fmt: skip


def _timed_run(db: str, refs: str, prompt: str, *options: str) -> float:
    return _stdin_run(db, refs, "run", "--stdin", "--prompt", prompt, "--per-request", "1",
                      *options)  # fmt: skip


def _stdin_run(db: str, refs: str, *args: str) -> float:
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "assetmgr", "--db", db, *args], input=refs,
                          capture_output=True, text=True, env=_common.subprocess_env())  # fmt: skip
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} exited with {done.returncode}: {done.stderr[-1000:]}")
    return elapsed


if __name__ == "__main__":
    main()
