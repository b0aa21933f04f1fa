"""Shared pieces of the assetmgr benchmarks: temp folders, timing, medians, profiling, the
whole-process runs of the commands a user types, and the ``RESULT`` lines ``bench/run_all``
reads."""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
LOOPS = os.path.join(BENCH, "_loops.py")

# Run from a checkout without installing: make ``import assetmgr`` find the repo.
sys.path.insert(0, REPO)


@contextmanager
def temp_dir(prefix: str):
    """A fresh folder under /tmp, removed afterwards; assetmgr's home points inside it."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.environ["ASSETMGR_HOME"] = os.path.join(path, "home")  # no files in the user's folder
    os.environ["ASSETMGR_STORE"] = os.path.join(path, "home", "renditions")  # nor its cache
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


def arguments(doc: str, files: int | list[int], repeats: int, extra=None) -> argparse.Namespace:
    """The options every benchmark takes; ``extra(parser)`` adds a script's own.

    ``files`` as a list lets ``--files`` take several sizes, each measured in turn.
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    if isinstance(files, list):
        shown = " ".join(str(n) for n in files)
        parser.add_argument(
            "--files",
            type=int,
            nargs="+",
            default=files,
            help=f"numbers of files (default {shown})",
        )
    else:
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
    if extra is not None:
        extra(parser)
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


def load() -> str:
    """The machine's load averages over 1, 5 and 15 minutes, for the record of a run."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def result(name: str, value: str, goal: str, passed: bool) -> None:
    """Print the line ``bench/run_all`` collects: ``RESULT <name> <value> <goal> <PASS|FAIL>``.

    ``name`` is one word (``rerun_cli_10000``); ``value`` a number with its unit (``0.31s``,
    ``2.70x``, ``83%``, ``17.9ms``, ``41.1dB``); ``goal`` the comparison it must meet, in
    the same unit (``<=0.35s``, ``>=80%``); none of them holds a space.
    """
    for part in (name, value, goal):
        if not part or any(c.isspace() for c in part):
            raise ValueError(f"a RESULT field must be one word: {part!r}")
    print(f"RESULT {name} {value} {goal} {verdict(passed)}", flush=True)


def subprocess_env(**extra: str) -> dict[str, str]:
    """This process's environment (``ASSETMGR_HOME`` included), the checkout first on the path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": REPO + (os.pathsep + path if path else ""), **extra}


def run_process(command: list[str], ok=(0,), **extra_env: str):
    """Seconds from start to exit of ``command`` (stdout and stderr to pipes), and the
    ``subprocess.CompletedProcess`` (text). It must exit with one of the codes in ``ok``."""
    start = time.perf_counter()
    done = subprocess.run(command, env=subprocess_env(**extra_env), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in ok:
        raise RuntimeError(
            f"{' '.join(command[:6])} ... exited with {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return elapsed, done


def assetmgr(*args: str, ok=(0,), **extra_env: str):
    """A whole ``python -m assetmgr ARGS...`` run, as a user starts it: seconds, the process."""
    return run_process([sys.executable, "-m", "assetmgr", *args], ok=ok, **extra_env)


def add_new(db: str, folder: str, files: int, *options: str) -> float:
    """Seconds of a whole ``assetmgr --db DB add FOLDER --no-upload OPTIONS...`` that must find
    every one of ``files`` new (a benchmark that timed anything else would mislead)."""
    seconds, done = assetmgr("--db", db, "add", folder, "--no-upload", *options)
    expected = f"{files} new, 0 duplicates, 0 unchanged, 0 rejected"
    assert expected in done.stderr, done.stderr[-500:]
    return seconds


def bare(*args: str):
    """A whole run of a reference loop, ``python bench/_loops.py ARGS...``: seconds, the process."""
    return run_process([sys.executable, LOOPS, *args])


def fresh_home(tmp: str, name: str) -> str:
    """Point ``ASSETMGR_HOME`` and ``ASSETMGR_STORE`` at a new folder under ``tmp`` (so an
    empty rendition store: no
    run finds another's renditions already written) and return a catalogue path inside it."""
    home = os.path.join(tmp, name)
    os.makedirs(home)
    os.environ["ASSETMGR_HOME"] = home
    os.environ["ASSETMGR_STORE"] = os.path.join(home, "renditions")
    return os.path.join(home, "catalogue.db")


def pair_ratios(numerators: list[float], denominators: list[float]) -> float:
    """The median of the ratios of runs taken side by side (pairwise: load drift cancels)."""
    return median([n / d for n, d in zip(numerators, denominators)])


def alternately(repeat: int, *runs):
    """Call each of ``runs`` once: in order on even repeats, reversed on odd ones, so that no
    side always goes first. Returns their results in the order given."""
    order = list(range(len(runs)))
    results = [None] * len(runs)
    for i in order if repeat % 2 == 0 else reversed(order):
        results[i] = runs[i]()
    return results
