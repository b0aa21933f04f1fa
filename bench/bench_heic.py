"""HEIC sources: files per second through ``assetmgr add`` against decoding them with
pillow-heif alone in a loop.

``add`` (the default ``vision`` policy, all cores) reads, hashes and probes each file (magic
bytes, then pillow-heif's opener, registered in each worker on its first HEIC), decodes it
once, resizes it to the standard tier and encodes a JPEG; the reference only decodes each
file, serially, with ``pillow_heif.open_heif(path).to_pillow()`` (libheif uses its own
decoding threads). Both are timed as whole processes, start to exit, pairwise; each ``add``
into a new, empty catalogue. The files are 12 MP (4032x3024) photo-like HEICs, made here.

Goal: report the ratio; ``add`` should keep at least half the bare decoding rate.

    .venv/bin/python bench/bench_heic.py [--files 12] [--repeats 3]
"""

from __future__ import annotations

import os
from functools import partial

import _common
from _common import bench_dirs, median, pair_ratios, timed, verdict
from bench_vision import new_catalogue, photo_like

RUN_ALL_ARGS = ["--files", "12", "--repeats", "3"]  # what bench/run_all passes
GOAL = 0.5
SIZE = (4032, 3024)
MARGIN = 16  # photo_like's base is 4048x3048


def make_heics(folder: str, n: int) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    base = photo_like(0)
    for i in range(n):
        dx, dy = i % MARGIN, (i * 7) % MARGIN  # within the base's margin of 16 px
        image = base.crop((dx, dy, dx + SIZE[0], dy + SIZE[1]))
        image.save(os.path.join(folder, f"photo{i:03}.heic"), quality=80)


def bare_decode(folder: str, files: int) -> float:
    seconds, done = _common.bare("heic", folder)
    assert done.stdout.split() == [str(files)], done.stdout
    return seconds


def main() -> None:
    args = _common.arguments(__doc__, files=12, repeats=3)
    with bench_dirs("assetmgr-bench-heic-") as (tmp, folder, _db):
        t_make, _ = timed(make_heics, folder, args.files)
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        print(f"generated {args.files} HEICs {SIZE[0]}x{SIZE[1]} in {t_make:.1f} s, "
              f"{size / args.files / 1024:.0f} KiB each")  # fmt: skip
        bare_decode(folder, args.files)  # warm-up
        bares, adds = [], []
        for r in range(args.repeats):
            db = new_catalogue(tmp, f"home-{r}")
            t_bare, t_add = _common.alternately(
                r, partial(bare_decode, folder, args.files),
                partial(_common.add_new, db, folder, args.files),
            )  # fmt: skip
            bares.append(t_bare), adds.append(t_add)
        ratio = pair_ratios(bares, adds)
        rate_bare, rate_add = args.files / median(bares), args.files / median(adds)
        print(f"files: {args.files}, repeats: {args.repeats}, cores: {os.cpu_count()}, "
              f"load average: {_common.load()}")  # fmt: skip
        print(f"  pillow-heif decode loop (1 process):  {median(bares):6.2f} s  "
              f"({rate_bare:.2f} files/s)")  # fmt: skip
        print(f"  assetmgr add (all cores):             {median(adds):6.2f} s  "
              f"({rate_add:.2f} files/s)  ({ratio:.2f}x the decode loop's rate, pairwise)")  # fmt: skip
        ok = ratio >= GOAL
        print(f"{verdict(ok)}: add runs at {ratio:.2f}x the bare decoding rate (goal >= {GOAL:g}x)")
        _common.result("heic_add_vs_decode", f"{ratio:.2f}x", f">={GOAL:g}x", ok)


if __name__ == "__main__":
    main()
