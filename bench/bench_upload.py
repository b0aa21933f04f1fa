"""Parallel uploads: ``push`` with the default ``jobs`` against ``jobs=1``, 100 ms latency.

Against the emulator (in this process, on loopback) with 100 ms added to every request,
uploading 200 renditions with the default ``--jobs`` must be at least 6x faster than with
``--jobs 1``, timed as whole processes (``python -m assetmgr push`` against
``python -m assetmgr push --jobs 1``, start to exit, pairwise), and in-process after
imports (``Library.push``). The catalogue is filled once by ``Library.add`` (which never
uploads); before each timed push the workspace is emptied and the catalogue's uploads are
forgotten, so every rendition is uploaded.

    .venv/bin/python bench/bench_upload.py [--files 200] [--repeats 2]
"""

from __future__ import annotations

import os
import sqlite3
from functools import partial

import _common
from _common import bench_dirs, median, pair_ratios, small_pngs, timed, verdict

from assetmgr import Library
from assetmgr.emulator import running
from assetmgr.remote import RemoteSpec
from assetmgr.uploads import DEFAULT_JOBS

RUN_ALL_ARGS = ["--files", "200", "--repeats", "1"]  # what bench/run_all passes
TARGET = 6.0
LATENCY_MS = 100


def fresh_workspace(db: str, emulator) -> None:
    """Empty the emulator's workspace and forget the catalogue's uploads, so that every
    rendition is uploaded again (a new workspace name would not do: names are labels, and
    two that reach one workspace share its uploads)."""
    emulator.reset()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM uploads")
    conn.close()


def push(db: str, emulator, workspace: str, jobs: int | None):
    """One push of every asset to a fresh workspace; checks that all of them were uploaded."""
    fresh_workspace(db, emulator)
    with Library.open(db) as lib:
        summary = lib.push(remote=RemoteSpec.from_env(workspace), jobs=jobs)
    return summary


def check(summary, emulator, files: int) -> None:
    uploaded = summary.count("uploaded")
    assert uploaded == files, f"{uploaded} of {files} uploaded: {summary}"
    assert len(emulator.files()) == files, len(emulator.files())


def cli_push(db: str, emulator, workspace: str, jobs: int | None, files: int) -> float:
    """``push`` as a user runs it, to a fresh workspace; checked like ``push``."""
    fresh_workspace(db, emulator)
    options = ["--jobs", str(jobs)] if jobs else []
    seconds, done = _common.assetmgr("--db", db, "push", "--workspace", workspace, *options)
    assert f"{files} uploaded" in done.stderr, done.stderr[-500:]
    assert len(emulator.files()) == files, len(emulator.files())
    return seconds


def main() -> None:
    args = _common.arguments(__doc__, files=200, repeats=2)
    with bench_dirs("assetmgr-bench-upload-") as (tmp, folder, db):
        small_pngs(folder, args.files, (64, 48))
        with Library.open(db) as lib:
            run = lib.add([folder])
            list(run)
            print(f"add (no upload): {run.summary}")

        with running(latency_ms=LATENCY_MS) as emulator:
            os.environ["ANTHROPIC_BASE_URL"] = emulator.base_url
            os.environ["ANTHROPIC_API_KEY"] = "bench-key"
            serial, parallel, cli_serial, cli_parallel = [], [], [], []
            for r in range(args.repeats):
                t, summary = timed(push, db, emulator, f"w-jobs1-r{r}", 1)
                check(summary, emulator, args.files)
                serial.append(t)
                t, summary = timed(push, db, emulator, f"w-default-r{r}", None)
                check(summary, emulator, args.files)
                parallel.append(t)
                t_one, t_default = _common.alternately(
                    r,
                    partial(cli_push, db, emulator, f"w-cli-jobs1-r{r}", 1, args.files),
                    partial(cli_push, db, emulator, f"w-cli-default-r{r}", None, args.files),
                )
                cli_serial.append(t_one), cli_parallel.append(t_default)

            ratio, whole = pair_ratios(serial, parallel), pair_ratios(cli_serial, cli_parallel)
            print(
                f"files: {args.files}, repeats: {args.repeats}, emulator latency: {LATENCY_MS} ms, "
                f"cores: {os.cpu_count()}, load average: {_common.load()}"
            )
            print("whole process, start to exit (medians):")
            for name, times in (
                ("--jobs 1", cli_serial),
                (f"default ({DEFAULT_JOBS})", cli_parallel),
            ):
                t = median(times)
                print(
                    f"  python -m assetmgr push {name:12} {t:7.2f} s  {args.files / t:7.1f} files/s"
                )
            print(f"  default jobs is {whole:.2f}x faster (pairwise)")
            print("in-process, after imports (medians):")
            one, default = median(serial), median(parallel)
            print(f"  push, jobs=1:             {one:7.2f} s  {args.files / one:7.1f} files/s")
            print(
                f"  push, default jobs ({DEFAULT_JOBS}):  {default:7.2f} s  "
                f"{args.files / default:7.1f} files/s"
            )
            print(f"    runs, jobs=1:   {', '.join(f'{t:.2f} s' for t in serial)}")
            print(f"    runs, default:  {', '.join(f'{t:.2f} s' for t in parallel)}")
            print(f"  default jobs is {ratio:.2f}x faster (pairwise)")
            print(
                f"{verdict(whole >= TARGET)}: the whole push with default jobs is {whole:.2f}x "
                f"faster than with --jobs 1 (target >= {TARGET:.0f}x)"
            )
            _common.result("upload_push_cli", f"{whole:.2f}x", f">={TARGET:g}x", whole >= TARGET)
            if args.profile:
                _common.profile_to(args.profile, push, db, emulator, "w-profile", None)
                print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
