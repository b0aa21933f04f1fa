"""Precision and recall of ``dupes --near`` per kind of variant, at each distance.

Pictures from ``tests/near_images.py`` (photo-like: gradients, blurred shapes, noise), each
with its six variants (resize 50%, JPEG quality 30, 5% crop, +10% brightness, JPEG to PNG,
EXIF only), plus flat colours and gradients, are fingerprinted as ingest does (decoded,
then ``phash.fingerprint``) and grouped by ``dupes.near_groups``. For a variant, recall is
the share of pictures whose variant ends in its original's group; precision is the share of
the pairs the groups hold that are truly the same picture (over every variant at once, and
per variant: the pairs with a variant of that kind). Prints a table and RESULT lines for the
default distance.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from itertools import combinations

from _common import REPO, result

sys.path.insert(0, os.path.join(REPO, "tests"))

from near_images import VARIANTS, encoded, flat, gradient, picture  # noqa: E402
from PIL import Image  # noqa: E402

from assetmgr.catalogue import FingerprintRow  # noqa: E402
from assetmgr.dupes import near_groups
from assetmgr.limits import NEAR_DISTANCE  # noqa: E402
from assetmgr.phash import fingerprint  # noqa: E402

RUN_ALL_ARGS = ["--pictures", "150"]


def corpus(pictures: int) -> tuple[list[FingerprintRow], list[tuple[int, str]]]:
    """Rows, and for each row (picture number or -1 for the near-uniform ones, variant)."""
    rows, truth = [], []

    def add(data: bytes, label: tuple[int, str]) -> None:
        image = Image.open(io.BytesIO(data))
        image.load()
        fp = fingerprint(image)
        rows.append(FingerprintRow(str(len(rows)), image.format, *image.size, fp))
        truth.append(label)

    for seed in range(pictures):
        original = encoded(picture(seed))
        add(original, (seed, "original"))
        for name, variant in VARIANTS.items():
            add(variant(original), (seed, name))
    for level in range(0, 256, 32):  # distinct to the eye: 32 levels apart at least
        add(encoded(flat((level, level, level)), "PNG"), (-1 - level, "flat"))
        add(encoded(flat((level, 255 - level, 128))), (-1000 - level, "flat"))
        for direction in ("x", "y"):
            end = (level, 128, 255 - level)
            image = gradient((640, 480), (0, 0, 0), end, direction)
            add(encoded(image, "PNG"), (-2000 - level - (direction == "y"), "gradient"))
    return rows, truth


def measure(rows, truth, distance: int) -> dict[str, tuple[float, float]]:
    groups = near_groups(rows, distance)
    together = set()
    for g in groups:
        members = sorted(int(m.sha256) for m in g.members)
        together.update(combinations(members, 2))
    figures = {}
    for name in [*VARIANTS, "all"]:
        wanted = [i for i, (seed, kind) in enumerate(truth) if seed >= 0 and kind != "original"]
        wanted = [i for i in wanted if name in ("all", truth[i][1])]
        originals = {seed: i for i, (seed, kind) in enumerate(truth) if kind == "original"}
        found = sum(1 for i in wanted if tuple(sorted((originals[truth[i][0]], i))) in together)
        recall = found / len(wanted)
        mine = [(a, b) for a, b in together if name == "all" or name in (truth[a][1], truth[b][1])]
        right = sum(1 for a, b in mine if truth[a][0] == truth[b][0] and truth[a][0] >= 0)
        figures[name] = (right / len(mine) if mine else 1.0, recall)
    uniform = sum(1 for a, b in together if truth[a][0] < 0 or truth[b][0] < 0)
    figures["near-uniform pairs"] = (uniform, 0)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=150)
    parser.add_argument("--distances", default="4,6,8,10,12,14")
    args = parser.parse_args()
    rows, truth = corpus(args.pictures)
    print(f"{args.pictures} pictures x 7, {len(rows) - 7 * args.pictures} near-uniform ones")
    names = [*VARIANTS, "all"]
    print("(near-uniform pairs: flat colours and gradients grouped with anything)")
    print("distance  " + "  ".join(f"{n:>17}" for n in names) + "   (precision/recall)")
    chosen = None
    for distance in map(int, args.distances.split(",")):
        figures = measure(rows, truth, distance)
        uniform = figures["near-uniform pairs"][0]
        figures = {k: v for k, v in figures.items() if k != "near-uniform pairs"}
        cells = "  ".join(f"{100 * p:>7.1f}%/{100 * r:>6.1f}%" for p, r in figures.values())
        print(f"{distance:>8}  {cells}   near-uniform pairs: {uniform}")
        if distance == NEAR_DISTANCE:
            chosen = {**figures, "near-uniform pairs": (uniform, 0)}
    if chosen is not None:
        precision, recall = chosen["all"]
        uniform = chosen["near-uniform pairs"][0]
        result(f"near_uniform_pairs_d{NEAR_DISTANCE}", str(uniform), "==0", uniform == 0)
        result(f"near_precision_d{NEAR_DISTANCE}", f"{100 * precision:.1f}%", ">=99%",
               precision >= 0.99)  # fmt: skip
        result(f"near_recall_d{NEAR_DISTANCE}", f"{100 * recall:.1f}%", ">=95%",
               recall >= 0.95)  # fmt: skip


if __name__ == "__main__":
    main()
