"""Vision renditions of new 12 MP JPEGs: ``add`` against a plain serial Pillow loop.

``add`` with the default policy (``vision``) reads, hashes and probes each
file, and makes its rendition: draft-mode (reduced-scale) JPEG decode, LANCZOS
resize to ``limits.fit_size``, EXIF orientation applied to the small
result, JPEG quality 85 without metadata; in a process pool over all cores.
The reference is a naive serial loop on one core doing, per file: ``Image.open``,
``ImageOps.exif_transpose`` (a full decode), ``convert("RGB")``, LANCZOS
resize to the same target, JPEG encode with the rendition's settings into memory.

Both are timed as whole processes (``python -m assetmgr add FOLDER --no-upload`` against
``python bench/_loops.py naive FOLDER``, start to exit, pairwise) and in-process. Each
``add`` goes into a new, empty catalogue (created before the timing) and rendition store.

Targets: ``add`` is at least 5x faster than the reference on a quiet 2-core machine, judged
both whole-process (``vision_12mp_cli``) and in-process after imports
(``vision_12mp_inprocess``: the renditions alone, without the half second of start-up a
40-file run cannot earn back), and its renditions lose nothing visible: PSNR against the reference's resized
pixels (before the reference's own JPEG encode) above 40 dB for every file.

    .venv/bin/python bench/bench_vision.py [--files 40] [--repeats 3] [--profile FILE]
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import _common
import _loops
from _common import bench_dirs, median, pair_ratios, timed, verdict
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageOps, ImageStat

from assetmgr import Library
from assetmgr.hashing import sha256_bytes
from assetmgr.inspection import Settings, inspect
from assetmgr.limits import DEFAULT_LIMITS, fit_size
from assetmgr.probe import probe
from assetmgr.store import RenditionStore
from assetmgr.vision import JPEG_OPTIMIZE, JPEG_QUALITY, normalise

RUN_ALL_ARGS = ["--files", "40", "--repeats", "3"]  # what bench/run_all passes
TARGET_SPEEDUP = 5.0
TARGET_PSNR = 40.0  # dB
SIZE = (4000, 3000)  # 12 MP, as stored (before EXIF orientation)
MARGIN = 48  # each file is a crop of its base shifted by up to this many pixels
BASES = 3
QUALITY = 90
ENCODE = {"size": fit_size(*SIZE), "quality": JPEG_QUALITY, "optimize": JPEG_OPTIMIZE}


def photo_like(seed: int) -> Image.Image:
    """A base RGB image a little larger than SIZE: smooth fields, gradients, shapes, grain."""
    w, h = SIZE[0] + MARGIN, SIZE[1] + MARGIN
    channels = []
    for c in range(3):
        coarse = Image.effect_noise((w // 250, h // 250), 45 + 5 * seed + 5 * c)
        fine = Image.effect_noise((w // 25, h // 25), 25)
        smooth = Image.blend(
            coarse.resize((w, h), Image.BICUBIC), fine.resize((w, h), Image.BICUBIC), 0.3
        )
        gradient = (
            Image.linear_gradient("L").rotate(90 * ((seed + c) % 4)).resize((w, h), Image.BICUBIC)
        )
        channels.append(Image.blend(smooth.filter(ImageFilter.GaussianBlur(2)), gradient, 0.45))
    image = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(image)  # objects with edges, some sharp, most softened below
    for k in range(12):
        x, y = (seed * 811 + k * 977) % (w - 600), (seed * 557 + k * 631) % (h - 600)
        size = 120 + (k * 53) % 480
        colour = ((seed * 70 + k * 40) % 256, (k * 90) % 256, (seed * 30 + k * 110) % 256)
        shape = draw.ellipse if k % 2 else draw.rectangle
        shape((x, y, x + size, y + size * 2 // 3), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    # Fine texture, about 4 levels of standard deviation, shared by the channels.
    grain = Image.effect_noise((w, h), 32).convert("RGB")
    return Image.blend(image, grain, 0.12)


def orientation_of(i: int) -> int:
    """About half the files turned 90 degrees (6), a few 3 or 8, the rest upright."""
    return 6 if i % 2 else (3 if i % 10 == 4 else 8 if i % 10 == 8 else 1)


def make_jpegs(folder: str, n: int) -> dict[str, int]:
    """``n`` distinct 12 MP JPEGs (shifted crops of a few bases, each with its own patch).

    Returns each file's EXIF orientation by path. Files with orientation 3 or 8
    carry a GPS IFD too, which the rendition must drop.
    """
    bases = [photo_like(s) for s in range(BASES)]
    orientations = {}
    for i in range(n):
        dx, dy = (i * 7) % MARGIN, (i * 13) % MARGIN
        image = bases[i % BASES].crop((dx, dy, dx + SIZE[0], dy + SIZE[1]))
        x, y = (i * 331) % (SIZE[0] - 64), (i * 211) % (SIZE[1] - 64)
        image.paste((i * 37 % 256, 255 - i * 11 % 256, i * 5 % 256), (x, y, x + 64, y + 64))
        exif = Image.Exif()
        orientation = orientation_of(i)
        if orientation != 1:
            exif[0x0112] = orientation
        if orientation in (3, 8):
            gps = exif.get_ifd(0x8825)
            gps[1], gps[2] = "N", (52.0, 22.0, 11.5)
            gps[3], gps[4] = "E", (4.0, 53.0, 40.2)
        path = os.path.join(folder, f"photo{i:03}.jpg")
        image.save(path, quality=QUALITY, exif=exif)
        orientations[path] = orientation
    return orientations


def plain_one(path: str, split: list[float] | None = None) -> tuple[Image.Image, bytes]:
    """The reference for one file: upright, resized pixels and their JPEG bytes."""
    t0 = time.perf_counter()
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    t1 = time.perf_counter()
    small = image.resize(fit_size(*image.size), Image.Resampling.LANCZOS)
    t2 = time.perf_counter()
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=JPEG_OPTIMIZE)
    t3 = time.perf_counter()
    if split is not None:
        split[:] = [a + b for a, b in zip(split, (t1 - t0, t2 - t1, t3 - t2))]
    return small, buffer.getvalue()


def plain_loop(paths: list[str]) -> int:
    return _loops.run(partial(_loops.naive_count, **ENCODE), paths, jobs=1)


def ingest(db: str, folder: str) -> list:
    with Library.open(db) as lib:
        return list(lib.add([folder]))


def new_catalogue(tmp: str, name: str) -> str:
    """A new home (empty rendition store) and an empty catalogue at the newest schema: the
    timing is of making renditions, not of creating a catalogue."""
    db = _common.fresh_home(tmp, name)
    Library.open(db).close()
    return db


def cli_plain(folder: str, files: int) -> float:
    size = "x".join(str(v) for v in ENCODE["size"])
    options = [f"--size={size}", f"--quality={JPEG_QUALITY}", f"--optimize={int(JPEG_OPTIMIZE)}"]
    seconds, done = _common.bare("naive", folder, *options)
    assert done.stdout.split() == [str(files)], done.stdout
    return seconds


def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR in dB over all pixels and bands of two same-size RGB images."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (diff.width * diff.height * 3)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def quality(
    db: str, outcomes: list, orientations: dict[str, int]
) -> tuple[list, list, list, list, int]:
    """PSNR of each rendition against the reference, before and after its encode.

    Also the reference's own JPEG loss (its encode against its pixels), any
    file whose rendition size differs from the reference's, and how many
    renditions still carry EXIF (orientation, GPS).
    """
    before, after, own, mismatched, with_exif = [], [], [], [], 0
    with Library.open(db) as lib:
        for o in outcomes:
            record, data = lib.rendition(o.sha256)
            rendition = Image.open(io.BytesIO(data))
            with_exif += bool(rendition.getexif())
            small, encoded = _loops.naive(o.path, **ENCODE)
            if rendition.size != small.size or (record.width, record.height) != small.size:
                mismatched.append(
                    (os.path.basename(o.path), orientations[o.path], rendition.size, small.size)
                )
                continue
            plain_jpeg = Image.open(io.BytesIO(encoded))
            before.append(psnr(rendition, small))
            after.append(psnr(rendition, plain_jpeg))
            own.append(psnr(plain_jpeg, small))
    return before, after, own, mismatched, with_exif


def time_split(paths: list[str]) -> tuple[list[float], list[float]]:
    """Per-file seconds on one core, by stage: reference (decode+transpose, resize, encode),
    assetmgr (read+sha256, probe, rendition)."""
    plain = [0.0, 0.0, 0.0]
    for path in paths:
        plain_one(path, plain)
    ours = [0.0, 0.0, 0.0]
    for path in paths:
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            data = f.read()
        sha256_bytes(data)
        t1 = time.perf_counter()
        info = probe(data)
        t2 = time.perf_counter()
        normalise(data, info)
        t3 = time.perf_counter()
        ours = [a + b for a, b in zip(ours, (t1 - t0, t2 - t1, t3 - t2))]
    n = len(paths)
    return [s / n for s in plain], [s / n for s in ours]


def inspect_all(paths: list[str]) -> None:
    """What a worker does with each file (read, hash, probe, render, check, stage)."""
    with tempfile.TemporaryDirectory() as store:
        settings = Settings("vision", DEFAULT_LIMITS, RenditionStore(Path(store)))
        settings.store.prepare()
        for path in paths:
            inspect(path, settings)


def main() -> None:
    args = _common.arguments(__doc__, files=40, repeats=3)
    with bench_dirs("assetmgr-bench-vision-") as (tmp, folder, _db):
        t_make, orientations = timed(make_jpegs, folder, args.files)
        paths = sorted(orientations)
        total_bytes = sum(os.path.getsize(p) for p in paths)
        counts = {k: list(orientations.values()).count(k) for k in (1, 6, 3, 8)}
        print(
            f"generated {args.files} JPEGs {SIZE[0]}x{SIZE[1]} (quality {QUALITY}) in {t_make:.1f} s, "
            f"{total_bytes / args.files / 1024:.0f} KiB each on average; orientation "
            + ", ".join(f"{k}: {v}" for k, v in counts.items())
        )
        upright = fit_size(*SIZE)
        print(
            f"target size: {upright[0]}x{upright[1]} (landscape), {upright[1]}x{upright[0]} (portrait)"
        )
        plain_loop(paths[:2])  # warm-up: imports, and the files are in the page cache from writing

        plains, adds, cli_plains, cli_adds = [], [], [], []
        for r in range(args.repeats):
            cli_db = new_catalogue(tmp, f"home-cli-{r}")
            t_plain, t_add = _common.alternately(
                r,
                partial(cli_plain, folder, args.files),
                partial(_common.add_new, cli_db, folder, args.files),
            )
            cli_plains.append(t_plain), cli_adds.append(t_add)
            t_plain, count = timed(plain_loop, paths)
            db = new_catalogue(tmp, f"home-{r}")
            t_add, outcomes = timed(ingest, db, folder)
            assert count == len(outcomes) == args.files, (count, len(outcomes))
            assert all(o.outcome == "new" for o in outcomes), [o.outcome for o in outcomes]
            plains.append(t_plain), adds.append(t_add)

        ratio, whole = pair_ratios(plains, adds), pair_ratios(cli_plains, cli_adds)
        print(
            f"files: {args.files}, repeats: {args.repeats}, cores: {os.cpu_count()}, "
            f"load average: {_common.load()}"
        )
        print("whole process, start to exit (medians):")
        print(
            f"  python bench/_loops.py naive (1 core):   {median(cli_plains):6.2f} s  "
            f"({median(cli_plains) / args.files * 1000:.0f} ms/file)"
        )
        print(
            f"  python -m assetmgr add (all cores):      {median(cli_adds):6.2f} s  "
            f"({median(cli_adds) / args.files * 1000:.0f} ms/file)  ({whole:.2f}x faster, pairwise)"
        )
        print("in-process, after imports (medians):")
        print(
            f"  plain exif_transpose+decode+LANCZOS+JPEG (1 core): {median(plains):6.2f} s  "
            f"({median(plains) / args.files * 1000:.0f} ms/file)"
        )
        print(
            f"  add, policy=vision (all cores):                    {median(adds):6.2f} s  "
            f"({median(adds) / args.files * 1000:.0f} ms/file)  ({ratio:.2f}x faster, pairwise)"
        )

        plain_split, our_split = time_split(paths)
        print(
            "per file on one core, plain: decode+transpose {:.0f} ms, resize {:.0f} ms, "
            "encode {:.0f} ms".format(*(s * 1000 for s in plain_split))
        )
        print(
            "per file on one core, assetmgr: read+sha256 {:.0f} ms, probe {:.0f} ms, "
            "rendition {:.0f} ms".format(*(s * 1000 for s in our_split))
        )

        os.environ["ASSETMGR_HOME"] = os.path.dirname(db)  # where that add stored renditions
        os.environ["ASSETMGR_STORE"] = os.path.join(os.path.dirname(db), "renditions")
        before, after, own, mismatched, with_exif = quality(db, outcomes, orientations)
        print(f"renditions still carrying EXIF (orientation, GPS): {with_exif} of {len(outcomes)}")
        for name, orientation, ours, theirs in mismatched:
            print(
                f"SIZE MISMATCH {name} (orientation {orientation}): rendition {ours[0]}x{ours[1]}, "
                f"plain {theirs[0]}x{theirs[1]}"
            )
        if before:
            print(
                f"PSNR rendition vs plain pixels (before its encode): min {min(before):.2f} dB, "
                f"median {median(before):.2f} dB"
            )
            print(
                f"PSNR rendition vs plain JPEG (after its encode):    min {min(after):.2f} dB, "
                f"median {median(after):.2f} dB"
            )
            print(
                f"PSNR plain JPEG vs plain pixels (JPEG q{JPEG_QUALITY}'s own loss): min {min(own):.2f} dB, "
                f"median {median(own):.2f} dB"
            )
        low = min(before) if before else 0.0
        fast, faithful = whole >= TARGET_SPEEDUP, bool(before) and not mismatched
        faithful = faithful and not with_exif and low > TARGET_PSNR
        print(
            f"{verdict(fast)}: the whole add is {whole:.2f}x faster than the naive serial loop "
            f"(target >= {TARGET_SPEEDUP:g}x on a quiet machine)"
        )
        print(
            f"{verdict(faithful)}: lowest PSNR {low:.2f} dB over {len(before)} files, "
            f"{len(mismatched)} size mismatches, {with_exif} with EXIF "
            f"(target > {TARGET_PSNR:g} dB, sizes equal, no EXIF)"
        )
        _common.result("vision_12mp_cli", f"{whole:.2f}x", f">={TARGET_SPEEDUP:g}x", fast)
        _common.result(
            "vision_12mp_inprocess",
            f"{ratio:.2f}x",
            f">={TARGET_SPEEDUP:g}x",
            ratio >= TARGET_SPEEDUP,
        )
        _common.result("vision_psnr_min", f"{low:.2f}dB", f">{TARGET_PSNR:g}dB", faithful)
        if args.profile:
            _common.profile_to(args.profile, ingest, new_catalogue(tmp, "home-profiled"), folder)
            stem, ext = os.path.splitext(args.profile)
            inspect_profile = f"{stem}-inspect{ext}"
            _common.profile_to(inspect_profile, inspect_all, paths)
            print(
                f"profile of add (parent process) written to {args.profile}; "
                f"of inspect() per file, in-process, to {inspect_profile}"
            )


if __name__ == "__main__":
    main()
