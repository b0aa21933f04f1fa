"""Ingest throughput of ``add`` on new JPEGs, against bare loops on as many processes.

``add`` with ``policy="original"`` reads each file, hashes it, probes it, decodes its
pixels at 1/8 scale (the integrity check: every accepted file must decode) and records
it, with a worker process per core. The references run on the same number of processes
and do, per file:

- decode: read, ``hashlib.sha256``, ``Image.open``, ``draft`` to 1/8 scale and ``load``:
  the same work as ``add`` without the catalogue. Target: ``add`` reaches at least 80%
  of its files/s.
- no decode: read, ``hashlib.sha256``, ``Image.open(...).size``: the ratio against it
  shows what integrity costs.

Both sides read files already in the page cache; each side starts its own processes.
The catalogue exists (empty, at the newest schema) before ``add`` is timed: making a new
one is not ingest.

    .venv/bin/python bench/bench_ingest.py [--files 2000] [--repeats 3]
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os

import _common
from _common import bench_dirs, median, timed, verdict
from PIL import Image, ImageFilter

from assetmgr import Library

TARGET = 0.80
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


def files_in(folder: str) -> list[str]:
    return [os.path.join(d, name) for d, _dirs, names in os.walk(folder) for name in names]


def read_hash_decode(path: str) -> int:
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    image = Image.open(io.BytesIO(data))
    width, height = image.size
    image.draft(None, (width // 8, height // 8))
    image.load()
    return 1


def read_hash_size(path: str) -> int:
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    _ = Image.open(io.BytesIO(data)).size
    return 1


def bare_loop(folder: str, work=read_hash_decode) -> int:
    """``work`` on every file, in one process per core; returns the count."""
    paths = files_in(folder)
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        return sum(pool.map(work, paths, chunksize=max(1, len(paths) // (8 * os.cpu_count()))))


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

        rates: dict[str, list[float]] = {"decode": [], "no decode": [], "add": []}
        for r in range(args.repeats):
            t_decode, count = timed(bare_loop, folder)
            t_plain, _ = timed(bare_loop, folder, read_hash_size)
            db = os.path.join(tmp, f"catalogue{r}.db")
            Library.open(db).close()  # an empty catalogue, migrated: creating one is not ingest
            t_add, outcomes = timed(ingest, db, folder)
            assert count == len(outcomes) == args.files, (count, len(outcomes))
            assert all(o.outcome == "new" for o in outcomes), "expected every file to be new"
            for name, seconds in (("decode", t_decode), ("no decode", t_plain), ("add", t_add)):
                rates[name].append(args.files / seconds)

        decode, plain, add = (median(rates[k]) for k in ("decode", "no decode", "add"))
        ratio = add / decode
        print(f"files: {args.files}, repeats: {args.repeats}, cores: {os.cpu_count()}")
        print(f"bare read+sha256+decode at 1/8 (all cores): {decode:6.0f} files/s")
        print(f"bare read+sha256+size, no decode (all cores): {plain:4.0f} files/s")
        print(f"add, policy=original (all cores): {add:15.0f} files/s")
        print(
            f"  {ratio:.0%} of the decoding loop; {add / plain:.0%} of the loop that does not decode"
        )
        print(
            f"{verdict(ratio >= TARGET)}: add reaches {ratio:.0%} of the bare decoding loop "
            f"(target >= {TARGET:.0%})"
        )
        if args.profile:
            _common.profile_to(args.profile, ingest, os.path.join(tmp, "profiled.db"), folder)
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
