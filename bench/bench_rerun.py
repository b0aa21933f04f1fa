"""Re-running ``add`` over unchanged files, against a bare os.scandir walk + stat.

A second ``add`` of a folder whose files have not changed reads no file
contents: it walks, stats, and compares with the stat cache in the catalogue.
Target: it takes at most 3x a bare recursive ``os.scandir`` walk that stats
the same files (timed in-process, after imports; medians of alternate runs).
Both ``add`` runs use ``policy="original"``.

    .venv/bin/python bench/bench_rerun.py [--files 10000] [--repeats 5]
"""

from __future__ import annotations

import os

import _common
from _common import bench_dirs, median, small_pngs, timed, verdict

from assetmgr import Library

TARGET = 3.0
FOLDERS = 50


def bare_walk(folder: str) -> int:
    """Recursive scandir + stat of every file; returns the number of files."""
    count = 0
    with os.scandir(folder) as it:
        for entry in it:
            st = entry.stat()
            if entry.is_dir():
                count += bare_walk(entry.path)
            else:
                count += st.st_size >= 0
    return count


def rerun(db: str, folder: str) -> tuple[float, float, list]:
    """(seconds to open the catalogue, seconds for the add, outcomes)."""
    t_open, lib = timed(Library.open, db)
    try:
        t_add, outcomes = timed(lambda: list(lib.add([folder], policy="original")))
    finally:
        lib.close()
    return t_open, t_add, outcomes


def main() -> None:
    args = _common.arguments(__doc__, files=10_000, repeats=5)
    with bench_dirs("assetmgr-bench-rerun-") as (tmp, folder, db):
        small_pngs(folder, args.files, (8, 8), folders=FOLDERS)
        with Library.open(db) as lib:
            first = lib.add([folder], policy="original")
            list(first)
            print(f"first add: {first.summary}")

        walks, opens, adds = [], [], []
        for _ in range(args.repeats):
            t_walk, count = timed(bare_walk, folder)
            t_open, t_add, outcomes = rerun(db, folder)
            assert count == args.files, count
            assert len(outcomes) == args.files, len(outcomes)
            assert all(o.outcome == "unchanged" for o in outcomes), "rerun found changed files"
            walks.append(t_walk), opens.append(t_open), adds.append(t_add)

        totals = [o + a for o, a in zip(opens, adds)]
        walk, total, add = median(walks), median(totals), median(adds)
        print(f"files: {args.files}, repeats: {args.repeats}")
        print(f"bare scandir walk + stat:     {walk * 1000:8.1f} ms")
        print(f"rerun open + add:             {total * 1000:8.1f} ms  ({total / walk:.2f}x walk)")
        print(f"  catalogue open (Library.open): {median(opens) * 1000:5.1f} ms")
        print(f"  add only (excluding open):  {add * 1000:8.1f} ms  ({add / walk:.2f}x walk)")
        print(
            f"{verdict(total / walk <= TARGET)}: rerun is {total / walk:.2f}x the bare walk "
            f"(target <= {TARGET:.0f}x)"
        )
        if args.profile:
            _common.profile_to(args.profile, rerun, db, folder)
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
