"""Parallel uploads: ``push`` with the default ``jobs`` against ``jobs=1``, 100 ms latency.

Against the emulator (in this process, on loopback) with 100 ms added to every request,
uploading 200 renditions with the default ``--jobs`` must be at least 6x faster than with
``--jobs 1``. Both sides call ``Library.push`` in-process after imports, on a catalogue
filled once by ``Library.add`` (which never uploads); each timed push goes to a fresh
remote, so every rendition is uploaded.

    .venv/bin/python bench/bench_upload.py [--files 200] [--repeats 2]
"""

from __future__ import annotations

import os

import _common
from _common import bench_dirs, median, small_pngs, timed, verdict

from assetmgr import Library
from assetmgr.emulator import running
from assetmgr.remote import RemoteSpec
from assetmgr.uploads import DEFAULT_JOBS

TARGET = 6.0
LATENCY_MS = 100


def push(db: str, emulator, workspace: str, jobs: int | None):
    """One push of every asset to a fresh remote; checks that all of them were uploaded.

    A different assetmgr workspace name is a different remote in the catalogue, so nothing
    counts as already there. The emulator puts every request of an unbound key in its
    ``default`` workspace whatever assetmgr calls it, so it is emptied first.
    """
    emulator.reset()
    with Library.open(db) as lib:
        summary = lib.push(remote=RemoteSpec.from_env(workspace), jobs=jobs)
    return summary


def check(summary, emulator, files: int) -> None:
    uploaded = summary.count("uploaded")
    assert uploaded == files, f"{uploaded} of {files} uploaded: {summary}"
    assert len(emulator.files()) == files, len(emulator.files())


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
            serial, parallel = [], []
            for r in range(args.repeats):
                t, summary = timed(push, db, emulator, f"w-jobs1-r{r}", 1)
                check(summary, emulator, args.files)
                serial.append(t)
                t, summary = timed(push, db, emulator, f"w-default-r{r}", None)
                check(summary, emulator, args.files)
                parallel.append(t)

            one, default = median(serial), median(parallel)
            ratio = one / default
            print(
                f"files: {args.files}, repeats: {args.repeats}, emulator latency: {LATENCY_MS} ms, "
                f"cores: {os.cpu_count()}"
            )
            print(f"push, jobs=1:             {one:7.2f} s  {args.files / one:7.1f} files/s")
            print(
                f"push, default jobs ({DEFAULT_JOBS}):  {default:7.2f} s  {args.files / default:7.1f} files/s"
            )
            print(f"  runs, jobs=1:   {', '.join(f'{t:.2f} s' for t in serial)}")
            print(f"  runs, default:  {', '.join(f'{t:.2f} s' for t in parallel)}")
            print(
                f"{verdict(ratio >= TARGET)}: default jobs is {ratio:.2f}x faster than jobs=1 "
                f"(target >= {TARGET:.0f}x)"
            )
            if args.profile:
                _common.profile_to(args.profile, push, db, emulator, "w-profile", None)
                print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
