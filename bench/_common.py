"""Shared pieces of the assetmgr benchmarks: temp folders, timing, medians, profiling."""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager

# Run from a checkout without installing: make ``import assetmgr`` find the repo.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@contextmanager
def temp_dir(prefix: str):
    """A fresh folder under /tmp, removed afterwards; assetmgr's home points inside it."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.environ["ASSETMGR_HOME"] = os.path.join(path, "home")  # no files in the user's folder
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def bench_dirs(prefix: str):
    """``temp_dir`` with an empty ``images`` folder: yields (the folder, images folder, catalogue path)."""
    with temp_dir(prefix) as path:
        folder = os.path.join(path, "images")
        os.mkdir(folder)
        yield path, folder, os.path.join(path, "catalogue.db")


def small_pngs(root: str, n: int, size: tuple[int, int], folders: int = 0) -> None:
    """``n`` distinct small PNGs (file i's pixels encode i), in ``folders`` subfolders if any."""
    from PIL import Image

    width, height = size
    for d in range(folders):
        os.mkdir(os.path.join(root, f"d{d:02}"))
    for i in range(n):
        image = Image.new("RGB", size, (i & 255, (i >> 8) & 255, (i >> 16) & 255))
        image.putpixel((i % width, (i // width) % height), (255 - (i & 255), 7, 11))
        where = os.path.join(root, f"d{i % folders:02}") if folders else root
        image.save(os.path.join(where, f"img{i:05}.png"))


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    """Seconds ``fn(*args, **kwargs)`` took, and its result."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def median(values) -> float:
    return statistics.median(values)


def arguments(doc: str, files: int, repeats: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=files, help=f"number of files (default {files})"
    )
    parser.add_argument(
        "--repeats", type=int, default=repeats, help=f"timed repeats (default {repeats})"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="also write the top 25 cumulative cProfile entries of one run to FILE",
    )
    return parser.parse_args()


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def profile_to(path: str, fn, *args, **kwargs) -> None:
    """Run ``fn`` under cProfile and write its top 25 entries by cumulative time to ``path``."""
    profiler = cProfile.Profile()
    profiler.runcall(fn, *args, **kwargs)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    with open(path, "w") as f:
        f.write(out.getvalue())
