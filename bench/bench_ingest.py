"""Ingest throughput of ``add`` on new JPEGs, against a bare read + sha256 + size loop.

``add`` with ``policy="original"`` reads each file, hashes it, probes it (the
JPEG is not decoded) and records it, in a process pool over all cores. The
reference is one core doing, per file: read, ``hashlib.sha256``, and
``PIL.Image.open(...).size``. Target: ``add`` reaches at least 60% of the
reference's files/s. Both sides read files already in the page cache.

    .venv/bin/python bench/bench_ingest.py [--files 2000] [--repeats 3]
"""

from __future__ import annotations

import hashlib
import io
import os

import _common
from _common import bench_dirs, median, timed, verdict
from PIL import Image, ImageFilter

from assetmgr import Library

TARGET = 0.60
SIZE = (1024, 768)
BASES = 4
FOLDERS = 10


def photo_like(seed: int) -> Image.Image:
    """A 1024x768 RGB image with smooth shapes and grain, so that it compresses like a photo."""
    channels = []
    for c in range(3):
        blobs = Image.effect_noise((SIZE[0] // 16, SIZE[1] // 16), 60 + 10 * seed + 5 * c)
        smooth = blobs.resize(SIZE, Image.BICUBIC).filter(ImageFilter.GaussianBlur(6))
        gradient = (
            Image.linear_gradient("L").resize(SIZE).rotate(90 * ((seed + c) % 4), expand=False)
        )
        grain = Image.effect_noise(SIZE, 40)
        channels.append(Image.blend(Image.blend(smooth, gradient, 0.4), grain, 0.3))
    return Image.merge("RGB", channels)


def make_jpegs(root: str, n: int) -> None:
    """``n`` distinct JPEGs: a few base images, each file with its own 8x8 patch."""
    bases = [photo_like(s) for s in range(BASES)]
    for d in range(FOLDERS):
        os.mkdir(os.path.join(root, f"d{d}"))
    for i in range(n):
        image = bases[i % BASES].copy()
        x, y = (i * 37) % (SIZE[0] - 8), (i * 53) % (SIZE[1] - 8)
        image.paste((i & 255, (i >> 8) & 255, 255 - (i & 255)), (x, y, x + 8, y + 8))
        image.save(os.path.join(root, f"d{i % FOLDERS}", f"photo{i:05}.jpg"), quality=85)


def bare_loop(folder: str) -> int:
    """Read, sha256 and ``Image.open(...).size`` each file on one core; returns the count."""
    count = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                data = f.read()
            hashlib.sha256(data).hexdigest()
            _ = Image.open(io.BytesIO(data)).size
            count += 1
    return count


def ingest(db: str, folder: str) -> list:
    with Library.open(db) as lib:
        return list(lib.add([folder], policy="original"))


def main() -> None:
    args = _common.arguments(__doc__, files=2000, repeats=3)
    with bench_dirs("assetmgr-bench-ingest-") as (tmp, folder, _db):
        t_make, _ = timed(make_jpegs, folder, args.files)
        total_bytes = sum(e.stat().st_size for d in os.scandir(folder) for e in os.scandir(d.path))
        print(
            f"generated {args.files} JPEGs {SIZE[0]}x{SIZE[1]} in {t_make:.1f} s, "
            f"{total_bytes / args.files / 1024:.0f} KiB each on average"
        )
        bare_loop(folder)  # warm-up: every file in the page cache for both sides

        bare, adds = [], []
        for r in range(args.repeats):
            t_bare, count = timed(bare_loop, folder)
            t_add, outcomes = timed(ingest, os.path.join(tmp, f"catalogue{r}.db"), folder)
            assert count == len(outcomes) == args.files, (count, len(outcomes))
            assert all(o.outcome == "new" for o in outcomes), "expected every file to be new"
            bare.append(args.files / t_bare), adds.append(args.files / t_add)

        ratio = median(adds) / median(bare)
        print(f"files: {args.files}, repeats: {args.repeats}, cores: {os.cpu_count()}")
        print(f"bare read+sha256+size (1 core): {median(bare):7.0f} files/s")
        print(
            f"add, policy=original (all cores): {median(adds):5.0f} files/s  ({ratio:.0%} of bare)"
        )
        print(
            f"{verdict(ratio >= TARGET)}: add reaches {ratio:.0%} of the bare loop "
            f"(target >= {TARGET:.0%})"
        )
        if args.profile:
            _common.profile_to(args.profile, ingest, os.path.join(tmp, "profiled.db"), folder)
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
