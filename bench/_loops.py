"""The benchmarks' reference loops: bare Python doing the work assetmgr does, nothing more.

Each loop is a plain function, imported by the benchmarks to run in-process, and this file
is also a program, so that a reference can be timed as a whole process beside
``python -m assetmgr ...``:

    python bench/_loops.py KIND FOLDER [--jobs N] [--size WxH] [--quality Q] [--optimize 0|1]

It imports only the standard library and Pillow (Pillow only for the loops that read images),
so as a whole process it pays for the interpreter's start and ``import PIL`` and nothing
else. KIND is one of:

- ``walk``: recursive ``os.scandir`` + ``stat`` of every file (one process);
- ``decode``: read, ``hashlib.sha256``, ``Image.open``, ``draft`` to 1/8 scale and ``load``
  (the pixel check ``add`` makes of every JPEG);
- ``size``: read, ``hashlib.sha256``, ``Image.open(...).size`` (no pixel check);
- ``upright``: read, ``hashlib.sha256``, ``Image.open``, EXIF orientation, ``draft`` to the
  stored size of the target, ``load``, LANCZOS resize when the size differs, transpose
  upright, JPEG encode into memory (the vision policy's work for a JPEG that needs turning);
- ``naive``: ``Image.open``, ``ImageOps.exif_transpose`` (a full decode), ``convert("RGB")``,
  LANCZOS resize, JPEG encode into memory: what a plain Pillow script does.
- ``heic``: ``pillow_heif.open_heif(path).to_pillow()``, serially (libheif decodes on its
  own threads): HEIC decoding alone.

``--size`` is the target of a landscape picture (long side first); a picture that is
portrait once upright gets it the other way round. Every file in FOLDER has the same
shape in the benchmarks, so one target fits all. ``--jobs`` is the number of processes
(a ``fork`` pool, started inside the timing as ``add`` starts its own); the default is
one per core, and ``naive`` runs serially unless told otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import multiprocessing
import os
import sys
from functools import partial

EXIF_ORIENTATION = 0x0112
TRANSPOSE = {  # EXIF orientation: the Image.Transpose that turns the picture upright
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}


def files_in(folder: str) -> list[str]:
    return sorted(os.path.join(d, name) for d, _dirs, names in os.walk(folder) for name in names)


def walk(folder: str) -> int:
    """Recursive scandir + stat of every file; returns the number of files."""
    count = 0
    with os.scandir(folder) as it:
        for entry in it:
            st = entry.stat()
            if entry.is_dir():
                count += walk(entry.path)
            else:
                count += st.st_size >= 0
    return count


def _read_and_hash(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    return data


def read_hash_decode(path: str) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(_read_and_hash(path)))
    width, height = image.size
    image.draft(None, (width // 8, height // 8))
    image.load()
    return 1


def read_hash_size(path: str) -> int:
    from PIL import Image

    _ = Image.open(io.BytesIO(_read_and_hash(path))).size
    return 1


def oriented(target: tuple[int, int], upright: tuple[int, int]) -> tuple[int, int]:
    """``target`` (landscape) turned to match a picture of ``upright`` size."""
    long, short = max(target), min(target)
    return (long, short) if upright[0] >= upright[1] else (short, long)


def upright(path: str, size: tuple[int, int], quality: int, optimize: bool) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(_read_and_hash(path)))
    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    swapped = orientation in (5, 6, 7, 8)
    w, h = image.size
    target = oriented(size, (h, w) if swapped else (w, h))
    stored = (target[1], target[0]) if swapped else target
    image.draft("RGB", stored)
    image.load()
    if image.size != stored:
        image = image.resize(stored, Image.Resampling.LANCZOS)
    if orientation in TRANSPOSE:
        image = image.transpose(Image.Transpose[TRANSPOSE[orientation]])
    image.save(io.BytesIO(), "JPEG", quality=quality, optimize=optimize)
    return 1


def naive(path: str, size: tuple[int, int], quality: int, optimize: bool):
    """The plain script's rendition of one file: its upright, resized pixels and JPEG bytes."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    small = image.resize(oriented(size, image.size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=quality, optimize=optimize)
    return small, buffer.getvalue()


def naive_count(path: str, size: tuple[int, int], quality: int, optimize: bool) -> int:
    naive(path, size, quality, optimize)
    return 1


def heic(path: str) -> int:
    """A HEIC decoded by pillow-heif alone (libheif's threads), into a Pillow image."""
    import pillow_heif

    pillow_heif.open_heif(path).to_pillow()
    return 1


def run(work, paths: list[str], jobs: int) -> int:
    """``work`` on every path, on ``jobs`` processes (serially for one); returns the count."""
    if jobs <= 1:
        return sum(work(p) for p in paths)
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return sum(pool.map(work, paths, chunksize=max(1, len(paths) // (8 * jobs))))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("kind", choices=["walk", "decode", "size", "upright", "naive", "heic"])
    parser.add_argument("folder")
    parser.add_argument("--jobs", type=int, help="processes (default: cores; naive: 1)")
    parser.add_argument("--size", default="1238x928", help="landscape target, WxH")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--optimize", type=int, choices=[0, 1], default=0)
    args = parser.parse_args(argv)
    if args.kind == "walk":
        print(walk(args.folder))
        return
    from PIL import Image, ImageOps  # noqa: F401  (before the pool forks, as add imports it)

    size = tuple(int(v) for v in args.size.split("x"))
    encode = {"size": size, "quality": args.quality, "optimize": bool(args.optimize)}
    work = {
        "decode": read_hash_decode,
        "size": read_hash_size,
        "upright": partial(upright, **encode),
        "naive": partial(naive_count, **encode),
        "heic": heic,
    }[args.kind]
    jobs = args.jobs or (1 if args.kind in ("naive", "heic") else os.cpu_count() or 1)
    print(run(work, files_in(args.folder), jobs))


if __name__ == "__main__":
    main(sys.argv[1:])
