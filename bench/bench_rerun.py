"""Re-running ``add`` over unchanged files: the whole command, and in-process against a walk.

A second ``add`` of a folder whose files have not changed reads no file contents: it walks,
stats, and compares with the stat cache in the catalogue. Both ``add`` runs use
``policy="original"``. For each number of files (``--files``, default 10,000 and 100,000):

- whole process: ``python -m assetmgr --db DB add FOLDER --policy original --no-upload``,
  start to exit, as a user runs it. Goal: at most 0.35 s for 10,000 files and 1 s for
  100,000 (in between and beyond, the line through those two points). The same command over
  an empty folder shows its fixed cost (start-up and exit);
- in-process, after imports: what the command runs on a re-run, ``rerun.settle`` (the
  standard library's ``sqlite3`` against the stat cache, as a plain ``add`` prints it),
  takes at most 3x a bare recursive ``os.scandir`` walk that stats the same files. The
  library's own path, ``Library.open`` + ``list(lib.add(...))`` (what a program using
  assetmgr as a library runs, and what ``add`` falls back on when a file changed), is
  reported beside it, against the same goal.

Medians of alternate runs.

    .venv/bin/python bench/bench_rerun.py [--files 10000 100000] [--repeats 5] [--profile FILE]
"""

from __future__ import annotations

import os
import subprocess
import sys

import _common
from _common import bench_dirs, median, small_pngs, timed, verdict
from _loops import walk as bare_walk

from assetmgr import Library
from assetmgr.limits import Limits
from assetmgr.rerun import settle

RUN_ALL_ARGS = ["--files", "10000", "100000", "--repeats", "3"]  # what bench/run_all passes
TARGET = 3.0
FOLDERS = 50
CLI_GOALS = ((10_000, 0.35), (100_000, 1.0))  # (files, seconds) for the whole process


def cli_goal(files: int) -> float:
    """Seconds the whole re-run may take: the line through the two goals above."""
    (n0, t0), (n1, t1) = CLI_GOALS
    return t0 + (files - n0) * (t1 - t0) / (n1 - n0)


def rerun(db: str, folder: str) -> tuple[float, float, list]:
    """(seconds to open the catalogue, seconds for the add, outcomes)."""
    t_open, lib = timed(Library.open, db)
    try:
        t_add, outcomes = timed(lambda: list(lib.add([folder], policy="original")))
    finally:
        lib.close()
    return t_open, t_add, outcomes


def fast(db: str, folder: str):
    """``add``'s re-run path in-process: what a plain ``add`` (no ``--json``) computes."""
    settled = settle(db, [folder], policy="original", limits=Limits(), details=False)
    assert settled is not None, "the fast path could not settle an unchanged folder"
    return settled


def cli_args(db: str, folder: str) -> list[str]:
    return ["--db", db, "add", folder, "--policy", "original", "--no-upload"]


def cli_rerun(db: str, folder: str, files: int) -> float:
    seconds, done = _common.assetmgr(*cli_args(db, folder))
    expected = f"0 new, 0 duplicates, {files} unchanged, 0 rejected"
    assert expected in done.stderr, done.stderr[-500:]
    return seconds


def profile_cli(path: str, db: str, folder: str) -> None:
    """The top 40 cumulative cProfile entries of one whole-process re-run, imports included."""
    command = [sys.executable, "-m", "cProfile", "-s", "cumulative", "-m", "assetmgr"]
    done = subprocess.run(
        [*command, *cli_args(db, folder)],
        env=_common.subprocess_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "function calls" in line)
    with open(path, "w") as f:
        f.write("\n".join(lines[start : start + 48]) + "\n")


def measure(files: int, repeats: int, profile: str | None) -> None:
    with bench_dirs("assetmgr-bench-rerun-") as (tmp, folder, db):
        small_pngs(folder, files, (8, 8), folders=FOLDERS)
        with Library.open(db) as lib:
            first = lib.add([folder], policy="original")
            list(first)
            print(f"first add: {first.summary}")

        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        walks, opens, adds, clis, bare_clis, empties, fasts = [], [], [], [], [], [], []
        for _ in range(repeats):
            t_walk, count = timed(bare_walk, folder)
            t_fast, settled = timed(fast, db, folder)
            assert settled.summary.unchanged == files, settled.summary
            fasts.append(t_fast)
            t_open, t_add, outcomes = rerun(db, folder)
            assert count == files, count
            assert len(outcomes) == files, len(outcomes)
            assert all(o.outcome == "unchanged" for o in outcomes), "rerun found changed files"
            clis.append(cli_rerun(db, folder, files))
            bare_clis.append(_common.bare("walk", folder)[0])
            empties.append(_common.assetmgr(*cli_args(db, empty))[0])
            walks.append(t_walk), opens.append(t_open), adds.append(t_add)

        totals = [o + a for o, a in zip(opens, adds)]
        walk, total, add, quick = median(walks), median(totals), median(adds), median(fasts)
        cli, goal = median(clis), cli_goal(files)
        print(f"files: {files}, repeats: {repeats}, load average: {_common.load()}")
        print("whole process, start to exit (medians):")
        print(f"  python -m assetmgr add (re-run): {cli * 1000:8.1f} ms")
        print(f"  python bench/_loops.py walk:     {median(bare_clis) * 1000:8.1f} ms")
        print(
            f"  the same add over an empty folder: {median(empties) * 1000:6.1f} ms  "
            "(start-up and exit alone)"
        )
        print("in-process, after imports (medians):")
        print(f"  bare scandir walk + stat:     {walk * 1000:8.1f} ms")
        print(f"  rerun.settle (add's path):    {quick * 1000:8.1f} ms  ({quick / walk:.2f}x walk)")
        print(f"  Library open + add:           {total * 1000:8.1f} ms  ({total / walk:.2f}x walk)")
        print(f"    catalogue open (Library.open): {median(opens) * 1000:5.1f} ms")
        print(f"    add only (excluding open):  {add * 1000:8.1f} ms  ({add / walk:.2f}x walk)")
        print(f"{verdict(cli <= goal)}: the whole re-run takes {cli:.3f} s (goal <= {goal:.2f} s)")
        for name, seconds in (("rerun.settle", quick), ("Library.add", total)):
            ratio = seconds / walk
            print(
                f"{verdict(ratio <= TARGET)}: in-process {name} is {ratio:.2f}x the bare walk "
                f"(target <= {TARGET:.0f}x)"
            )
        _common.result(f"rerun_cli_{files}", f"{cli:.3f}s", f"<={goal:.2f}s", cli <= goal)
        _common.result(
            f"rerun_inprocess_{files}",
            f"{quick / walk:.2f}x",
            f"<={TARGET:g}x",
            quick / walk <= TARGET,
        )
        _common.result(
            f"rerun_library_{files}",
            f"{total / walk:.2f}x",
            f"<={TARGET:g}x",
            total / walk <= TARGET,
        )
        if profile:
            stem, ext = os.path.splitext(profile)
            _common.profile_to(profile, rerun, db, folder)
            profile_cli(f"{stem}-cli{ext}", db, folder)
            print(f"profiles written to {profile} (in-process) and {stem}-cli{ext} (whole process)")


def main() -> None:
    args = _common.arguments(__doc__, files=[10_000, 100_000], repeats=5)
    for files in args.files:
        profile = args.profile
        if profile and len(args.files) > 1:
            stem, ext = os.path.splitext(profile)
            profile = f"{stem}-{files}{ext}"
        measure(files, args.repeats, profile)


if __name__ == "__main__":
    main()
