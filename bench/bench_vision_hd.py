"""vision-hd renditions of new 12 MP JPEGs: ``add --policy vision-hd`` against a plain serial
Pillow loop making the same size.

The high tier's target is larger (a 4000x3000 photo becomes 2212x1659, not 1270x952), so
draft mode cannot help (half scale, 2000x1500, would be smaller than the target: the JPEG is
decoded in full, as the reference does) and the resize and the encode have more to do. The files are ``bench_vision``'s (photo-like, half of them turned
by EXIF orientation, some with GPS); the reference is its naive loop (``Image.open``,
``exif_transpose``, ``convert("RGB")``, LANCZOS to the tier's size, JPEG quality 85). Both are
timed as whole processes, start to exit, pairwise; each ``add`` into a new, empty catalogue.

Target: ``add --policy vision-hd`` at least 4x faster than the reference on a quiet 2-core
machine; every rendition at the high tier's exact size.

    .venv/bin/python bench/bench_vision_hd.py [--files 40] [--repeats 3]
"""

from __future__ import annotations

import os
from functools import partial

import _common
from _common import bench_dirs, median, pair_ratios, timed, verdict
from bench_vision import SIZE, make_jpegs, new_catalogue

from assetmgr import Library
from assetmgr.limits import HIGH, fit_size
from assetmgr.vision import JPEG_OPTIMIZE, JPEG_QUALITY

RUN_ALL_ARGS = ["--files", "40", "--repeats", "3"]  # what bench/run_all passes
TARGET_SPEEDUP = 4.0
TARGET = fit_size(*SIZE, HIGH)


def cli_plain(folder: str, files: int) -> float:
    options = [f"--size={TARGET[0]}x{TARGET[1]}", f"--quality={JPEG_QUALITY}",
               f"--optimize={int(JPEG_OPTIMIZE)}"]  # fmt: skip
    seconds, done = _common.bare("naive", folder, *options)
    assert done.stdout.split() == [str(files)], done.stdout
    return seconds


def wrong_sizes(db: str) -> int:
    """Renditions not at the high tier's size for their orientation."""
    with Library.open(db) as lib:
        sizes = [(r.width, r.height) for a in lib.assets() for r in a.renditions]
    return sum(size not in (TARGET, TARGET[::-1]) for size in sizes)


def main() -> None:
    args = _common.arguments(__doc__, files=40, repeats=3)
    with bench_dirs("assetmgr-bench-vision-hd-") as (tmp, folder, _db):
        t_make, _ = timed(make_jpegs, folder, args.files)
        print(f"generated {args.files} JPEGs {SIZE[0]}x{SIZE[1]} in {t_make:.1f} s; "
              f"target {TARGET[0]}x{TARGET[1]} (high tier)")  # fmt: skip
        cli_plain(folder, args.files)  # warm-up: imports, page cache
        plains, adds, db = [], [], None
        for r in range(args.repeats):
            db = new_catalogue(tmp, f"home-{r}")
            t_plain, t_add = _common.alternately(
                r,
                partial(cli_plain, folder, args.files),
                partial(_common.add_new, db, folder, args.files, "--policy", "vision-hd"),
            )
            plains.append(t_plain), adds.append(t_add)
        ratio = pair_ratios(plains, adds)
        wrong = wrong_sizes(db)
        print(f"files: {args.files}, repeats: {args.repeats}, cores: {os.cpu_count()}, "
              f"load average: {_common.load()}")  # fmt: skip
        print(f"  python bench/_loops.py naive (1 core):        {median(plains):6.2f} s  "
              f"({median(plains) / args.files * 1000:.0f} ms/file)")  # fmt: skip
        print(f"  assetmgr add --policy vision-hd (all cores):  {median(adds):6.2f} s  "
              f"({median(adds) / args.files * 1000:.0f} ms/file)  ({ratio:.2f}x faster, pairwise)")  # fmt: skip
        fast = ratio >= TARGET_SPEEDUP
        print(f"{verdict(fast)}: {ratio:.2f}x (target >= {TARGET_SPEEDUP:g}x on a quiet machine); "
              f"{wrong} renditions off the high tier's size")  # fmt: skip
        _common.result("vision_hd_12mp_cli", f"{ratio:.2f}x", f">={TARGET_SPEEDUP:g}x", fast)
        _common.result("vision_hd_exact_sizes", f"{wrong}", "=0", wrong == 0)


if __name__ == "__main__":
    main()
