"""JPEG encoder settings for vision renditions: size against encode time.

The pixels measured are the ones ``assetmgr.vision`` hands its JPEG encoder (captured from
``vision.reencode``, so draft decoding, colour handling, resize and orientation are
assetmgr's own):

- bench 12 MP: bench_vision's photo-like 4000x3000 bases, saved at quality 90 with EXIF
  orientation 6, rendered to 928x1238;
- bench 1024x768: bench_ingest's photo-like bases with EXIF orientation 6, rendered
  upright at 768x1024 (no resize);
- corpus photos: the shared corpus's accepted JPEG and MPO photographs of at least
  60,000 pixels, forced through the re-encoding path at their served size.

Every setting is quality 85 with Pillow's default chroma subsampling (4:2:0 at that
quality). Times are per image, the fastest of ``--repeats`` encodes (the settings take
turns within each repeat), summed over the group; sizes are summed bytes.

    .venv/bin/python bench/jpeg_settings.py [--repeats 9] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import time
import warnings
from pathlib import Path

import _common  # noqa: F401  (puts the checkout on sys.path)
import bench_ingest
import bench_vision
from PIL import Image

from assetmgr import vision
from assetmgr.probe import probe

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ASSETMGR_CORPUS", REPO.parent / "shared" / "corpus"))
MIN_CORPUS_PIXELS = 60_000
QUALITY = vision.JPEG_QUALITY
SETTINGS = {
    "baseline (optimize=False)": {},
    "optimize=True": {"optimize": True},
    "progressive=True": {"progressive": True},
    "progressive+optimize": {"progressive": True, "optimize": True},
}


def rendition_pixels(data: bytes) -> Image.Image:
    """The image ``vision.reencode`` would pass to its encoder for this file."""
    captured = []

    def capture(image: Image.Image, *, photo: bool) -> vision.Encoded:
        captured.append(image.copy())
        return vision.Encoded(b"", "image/jpeg", *image.size)

    real, vision.encode = vision.encode, capture
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a corpus file's malformed MPO header
            vision.reencode(Image.open(io.BytesIO(data)), probe(data))
    finally:
        vision.encode = real
    return captured[0]


def jpeg_bytes(image: Image.Image, orientation: int, quality: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def bench_12mp() -> list[Image.Image]:
    w, h = bench_vision.SIZE
    bases = [bench_vision.photo_like(s).crop((0, 0, w, h)) for s in range(bench_vision.BASES)]
    return [rendition_pixels(jpeg_bytes(b, 6, bench_vision.QUALITY)) for b in bases]


def bench_1024() -> list[Image.Image]:
    bases = [bench_ingest.photo_like(s) for s in range(bench_ingest.BASES)]
    return [rendition_pixels(jpeg_bytes(b, 6, 85)) for b in bases]


def corpus_photos(corpus: Path) -> list[Image.Image]:
    with open(corpus / "manifest.csv", newline="") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if r["format"] in ("JPEG", "MPO")
            and r["expected"].startswith("accept")
            and int(r["width"]) * int(r["height"]) >= MIN_CORPUS_PIXELS
        ]
    images = []
    for row in rows:
        image = rendition_pixels((corpus / row["path"]).read_bytes())
        if image.mode in ("RGB", "L"):
            images.append(image)
    return images


def measure(images: list[Image.Image], repeats: int) -> dict[str, tuple[int, float]]:
    """Per setting: (total bytes, summed fastest encode seconds)."""
    best = {name: [float("inf")] * len(images) for name in SETTINGS}
    size = {name: [0] * len(images) for name in SETTINGS}
    for _ in range(repeats):
        for i, image in enumerate(images):
            for name, options in SETTINGS.items():
                buffer = io.BytesIO()
                start = time.perf_counter()
                image.save(buffer, "JPEG", quality=QUALITY, **options)
                best[name][i] = min(best[name][i], time.perf_counter() - start)
                size[name][i] = len(buffer.getvalue())
    return {name: (sum(size[name]), sum(best[name])) for name in SETTINGS}


def deterministic(image: Image.Image) -> bool:
    """Every setting encodes the same pixels to the same bytes twice."""
    for options in SETTINGS.values():
        first, second = io.BytesIO(), io.BytesIO()
        image.save(first, "JPEG", quality=QUALITY, **options)
        image.save(second, "JPEG", quality=QUALITY, **options)
        if first.getvalue() != second.getvalue():
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="encodes per image and setting")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the shared image corpus")
    args = parser.parse_args()

    groups = {"bench 12 MP": bench_12mp(), "bench 1024x768": bench_1024()}
    if (args.corpus / "manifest.csv").exists():
        groups["corpus photos"] = corpus_photos(args.corpus)
    print(f"quality {QUALITY}, fastest of {args.repeats} encodes per image, load {load()}")
    print("| images | setting | bytes | size vs baseline | encode ms/image | time vs baseline |")
    print("|---|---|---:|---:|---:|---:|")
    for group, images in groups.items():
        sizes = sorted({f"{im.width}x{im.height}" for im in images})
        label = (
            f"{group} ({len(images)}: {', '.join(sizes[:3])}{', ...' if len(sizes) > 3 else ''})"
        )
        results = measure(images, args.repeats)
        base_bytes, base_time = results["baseline (optimize=False)"]
        for name, (total, seconds) in results.items():
            print(
                f"| {label} | {name} | {total / len(images) / 1024:.0f} KiB | "
                f"{total / base_bytes - 1:+.1%} | {seconds / len(images) * 1000:.1f} | "
                f"{seconds / base_time:.2f}x |"
            )
            label = ""
    same = all(deterministic(im) for images in groups.values() for im in images[:2])
    print(f"same bytes on a second encode, every setting: {same}")


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
