"""Ingest throughput of ``add`` on new 1024x768 JPEGs, against bare loops doing the same work.

Two cases, each timed as a whole process (``python -m assetmgr add ...`` against
``python bench/_loops.py ...``, start to exit, pairwise) and in-process after imports:

- ``--policy original``: ``add`` reads each file, hashes it, probes it, decodes its pixels
  at 1/8 scale (the integrity check: every accepted file must decode) and records it. The
  reference reads, hashes (``hashlib.sha256``), ``Image.open``s, ``draft``s to 1/8 scale and
  ``load``s each file. Goal: ``add`` reaches at least 80% of its files/s. A loop that does
  not decode (read, hash, ``Image.open(...).size``) shows what integrity costs.
- EXIF orientation 6, the vision policy (the default): ``add`` makes each file's rendition
  (decode, turn upright, JPEG encode; the rendition's decode is the pixel check). The
  reference reads, hashes, ``Image.open``s, reads the EXIF orientation, ``draft``s, ``load``s,
  resizes (LANCZOS) to ``assetmgr.limits.fit_size`` when that differs, transposes and
  encodes with ``assetmgr.vision``'s JPEG settings. Goal: at least 80% of its files/s.

Every side runs one process per core (``add`` its workers, the references a ``fork`` pool
started inside the timing). Files are in the page cache for every side. Each ``add`` goes
into a new, empty catalogue and rendition store (``ASSETMGR_HOME``), made at the newest
schema before the timing: making a catalogue is not ingest.

    .venv/bin/python bench/bench_ingest.py [--files 2000] [--exif-files 500] [--repeats 3]
"""

from __future__ import annotations

import os
from functools import partial

import _common
import _loops
from _common import bench_dirs, median, pair_ratios, timed, verdict
from PIL import Image, ImageFilter

from assetmgr import Library, vision
from assetmgr.limits import fit_size

RUN_ALL_ARGS = [
    "--files",
    "2000",
    "--exif-files",
    "500",
    "--repeats",
    "3",
]  # what bench/run_all passes
TARGET = 0.80
SIZE = (1024, 768)
BASES = 4
FOLDERS = 10
ORIENTATION = 6


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


def make_jpegs(root: str, n: int, orientation: int | None = None) -> None:
    """``n`` distinct JPEGs: a few base images, each file with its own 8x8 patch."""
    bases = [photo_like(s) for s in range(BASES)]
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    for d in range(FOLDERS):
        os.mkdir(os.path.join(root, f"d{d}"))
    for i in range(n):
        image = bases[i % BASES].copy()
        x, y = (i * 37) % (SIZE[0] - 8), (i * 53) % (SIZE[1] - 8)
        image.paste((i & 255, (i >> 8) & 255, 255 - (i & 255)), (x, y, x + 8, y + 8))
        path = os.path.join(root, f"d{i % FOLDERS}", f"photo{i:05}.jpg")
        image.save(path, quality=85, exif=exif)


def ingest(db: str, folder: str, policy: str) -> list:
    with Library.open(db) as lib:
        return list(lib.add([folder], policy=policy))


def new_catalogue(tmp: str, name: str) -> str:
    """A new home (empty rendition store) and an empty catalogue at the newest schema."""
    db = _common.fresh_home(tmp, name)
    Library.open(db).close()
    return db


def bare(kind: str, folder: str, files: int, *options: str) -> float:
    seconds, done = _common.bare(kind, folder, *options)
    assert done.stdout.split() == [str(files)], done.stdout
    return seconds


def pool(work, folder: str) -> int:
    return _loops.run(work, _loops.files_in(folder), os.cpu_count() or 1)


def encode_options() -> list[str]:
    """The vision policy's target and JPEG settings, for the reference loop."""
    target = fit_size(*SIZE)
    return [
        f"--size={target[0]}x{target[1]}",
        f"--quality={vision.JPEG_QUALITY}",
        f"--optimize={int(vision.JPEG_OPTIMIZE)}",
    ]


def upright_work():
    return partial(
        _loops.upright,
        size=fit_size(*SIZE),
        quality=vision.JPEG_QUALITY,
        optimize=bool(vision.JPEG_OPTIMIZE),
    )


def measure_original(tmp: str, folder: str, files: int, repeats: int) -> float:
    """The ``--policy original`` case; returns the whole-process ratio."""
    rates: dict[str, list[float]] = {k: [] for k in ("decode", "no decode", "add")}
    cli: dict[str, list[float]] = {"decode": [], "add": []}
    for r in range(repeats):
        t_decode, count = timed(pool, _loops.read_hash_decode, folder)
        t_plain, _ = timed(pool, _loops.read_hash_size, folder)
        t_add, outcomes = timed(
            ingest, new_catalogue(tmp, f"home-original-{r}"), folder, "original"
        )
        assert count == len(outcomes) == files, (count, len(outcomes))
        assert all(o.outcome == "new" for o in outcomes), "expected every file to be new"
        for name, seconds in (("decode", t_decode), ("no decode", t_plain), ("add", t_add)):
            rates[name].append(files / seconds)
        db = new_catalogue(tmp, f"home-original-cli-{r}")
        t_loop, t_cli = _common.alternately(
            r,
            partial(bare, "decode", folder, files),
            partial(_common.add_new, db, folder, files, "--policy", "original"),
        )
        cli["decode"].append(t_loop), cli["add"].append(t_cli)

    decode, plain, add = (median(rates[k]) for k in ("decode", "no decode", "add"))
    whole = pair_ratios(cli["decode"], cli["add"])
    print(f"--policy original, {files} files, repeats: {repeats}, load average: {_common.load()}")
    print("  whole process, start to exit (medians):")
    print(f"    python bench/_loops.py decode:        {median(cli['decode']):6.2f} s")
    print(f"    python -m assetmgr add --policy original: {median(cli['add']):6.2f} s")
    print(f"    add reaches {whole:.0%} of the decoding loop's files/s (pairwise)")
    print("  in-process, after imports (all cores):")
    print(f"    bare read+sha256+decode at 1/8:       {decode:6.0f} files/s")
    print(f"    bare read+sha256+size, no decode:     {plain:6.0f} files/s")
    print(f"    add, policy=original:                 {add:6.0f} files/s")
    print(
        f"    {add / decode:.0%} of the decoding loop; {add / plain:.0%} of the loop that does "
        "not decode"
    )
    print(
        f"{verdict(whole >= TARGET)}: add --policy original reaches {whole:.0%} of the bare "
        f"decoding loop, whole process (target >= {TARGET:.0%})"
    )
    return whole


def measure_upright(tmp: str, folder: str, files: int, repeats: int) -> float:
    """The EXIF orientation case under the vision policy; returns the whole-process ratio."""
    loop, add, cli_loop, cli = [], [], [], []
    for r in range(repeats):
        t_loop, count = timed(pool, upright_work(), folder)
        t_add, outcomes = timed(ingest, new_catalogue(tmp, f"home-vision-{r}"), folder, "vision")
        assert count == len(outcomes) == files, (count, len(outcomes))
        assert all(o.outcome == "new" for o in outcomes), "expected every file to be new"
        loop.append(t_loop), add.append(t_add)
        db = new_catalogue(tmp, f"home-vision-cli-{r}")
        t_loop, t_cli = _common.alternately(
            r,
            partial(bare, "upright", folder, files, *encode_options()),
            partial(_common.add_new, db, folder, files, "--policy", "vision"),
        )
        cli_loop.append(t_loop), cli.append(t_cli)

    whole, inside = pair_ratios(cli_loop, cli), pair_ratios(loop, add)
    target = fit_size(SIZE[1], SIZE[0])
    print(
        f"EXIF orientation {ORIENTATION}, policy vision, {files} files {SIZE[0]}x{SIZE[1]} -> "
        f"{target[0]}x{target[1]}, JPEG quality {vision.JPEG_QUALITY}, "
        f"optimize={vision.JPEG_OPTIMIZE}, repeats: {repeats}, load average: {_common.load()}"
    )
    print("  whole process, start to exit (medians):")
    print(f"    python bench/_loops.py upright:   {median(cli_loop):6.2f} s")
    print(f"    python -m assetmgr add (vision):  {median(cli):6.2f} s")
    print(f"    add reaches {whole:.0%} of the loop's files/s (pairwise)")
    print("  in-process, after imports (all cores):")
    print(
        f"    bare read+sha256+draft+decode+transpose+encode: {files / median(loop):5.0f} files/s"
    )
    print(f"    add, policy=vision:                             {files / median(add):5.0f} files/s")
    print(f"    add reaches {inside:.0%} of the loop's files/s (pairwise)")
    print(
        f"{verdict(whole >= TARGET)}: add (vision, EXIF orientation) reaches {whole:.0%} of "
        f"the bare loop, whole process (target >= {TARGET:.0%})"
    )
    return whole


def main() -> None:
    def extra(parser):
        parser.add_argument(
            "--exif-files",
            type=int,
            default=500,
            help="number of files with EXIF orientation 6 (default 500; 0 skips the case)",
        )

    args = _common.arguments(__doc__, files=2000, repeats=3, extra=extra)
    with bench_dirs("assetmgr-bench-ingest-") as (tmp, folder, _db):
        t_make, _ = timed(make_jpegs, folder, args.files)
        total_bytes = sum(e.stat().st_size for d in os.scandir(folder) for e in os.scandir(d.path))
        print(
            f"generated {args.files} JPEGs {SIZE[0]}x{SIZE[1]} in {t_make:.1f} s, "
            f"{total_bytes / args.files / 1024:.0f} KiB each on average; cores: {os.cpu_count()}"
        )
        pool(_loops.read_hash_decode, folder)  # warm-up: every file in the page cache
        whole = measure_original(tmp, folder, args.files, args.repeats)
        _common.result("ingest_original_cli", f"{whole:.0%}", f">={TARGET:.0%}", whole >= TARGET)
        if args.exif_files:
            upright = os.path.join(tmp, "upright")
            os.mkdir(upright)
            make_jpegs(upright, args.exif_files, ORIENTATION)
            pool(_loops.read_hash_decode, upright)
            whole = measure_upright(tmp, upright, args.exif_files, args.repeats)
            _common.result(
                "ingest_exif_vision_cli", f"{whole:.0%}", f">={TARGET:.0%}", whole >= TARGET
            )
        if args.profile:
            db = new_catalogue(tmp, "home-profiled")
            _common.profile_to(args.profile, ingest, db, folder, "original")
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
