"""Near-duplicates: what fingerprints cost ``add``, and ``dupes --near`` against all pairs.

1. **Fingerprint cost on add**: new 12 MP JPEGs, each inspected as an ``add`` worker does
   (read, hash, probe, draft decode, rendition, check, stage: ``inspection.inspect``), with
   the fingerprint of the rendition's pixels and, alternately, with ``vision.fingerprint``
   replaced by a constant (nothing else changes). Serial, in-process; the ratio is the median
   of the pairs' ratios. Goal: at most 1.05x.
2. **Search over N hashes** (default 100,000: random 64-bit hashes, 2% of them near copies of
   another): ``dupes.near_groups`` at the default distance (index, second check, groups)
   against the brute-force all-pairs scan in pure Python of the same hashes. The scan of all
   N is estimated from a scan of ``--brute`` hashes (default 10,000), times (N/brute)^2,
   unless ``--brute`` equals N.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from _common import result, temp_dir

from assetmgr import vision
from assetmgr.catalogue import FingerprintRow
from assetmgr.dupes import DEFAULT_DISTANCE, near_groups
from assetmgr.inspection import Settings, inspect
from assetmgr.limits import DEFAULT_LIMITS
from assetmgr.nearindex import brute_force
from assetmgr.phash import Fingerprint
from assetmgr.store import RenditionStore

RUN_ALL_ARGS = ["--files", "6", "--repeats", "3", "--hashes", "100000", "--brute", "10000"]
TWELVE_MP = (4000, 3000)


def make_photos(folder: str, n: int) -> list[str]:
    from PIL import Image, ImageFilter

    paths = []
    for i in range(n):
        small = Image.effect_noise((250, 188), 80 + i).convert("RGB")
        image = small.resize(TWELVE_MP, Image.Resampling.BICUBIC).filter(ImageFilter.BLUR)
        grain = Image.effect_noise(TWELVE_MP, 30).convert("RGB")
        path = os.path.join(folder, f"photo{i}.jpg")
        Image.blend(image, grain, 0.2).save(path, quality=90)
        paths.append(path)
    return paths


def inspect_all(paths: list[str], tmp: str, run: int) -> float:
    store = RenditionStore(os.path.join(tmp, f"store{run}"))
    store.prepare()
    settings = Settings("vision", DEFAULT_LIMITS, store)
    start = time.perf_counter()
    for path in paths:
        done = inspect(path, settings)
        assert done.reason is None, done.reason
    return time.perf_counter() - start


def add_cost(files: int, repeats: int) -> float:
    with temp_dir("bench_dupes_") as tmp:
        paths = make_photos(tmp, files)
        real = vision.fingerprint
        constant = Fingerprint(0, bytes(48), 50.0)
        ratios, with_, without = [], [], []
        for run in range(repeats):
            times = {}
            for hashing in (True, False) if run % 2 == 0 else (False, True):
                vision.fingerprint = real if hashing else (lambda image: constant)
                times[hashing] = inspect_all(paths, tmp, 2 * run + hashing)
            vision.fingerprint = real
            with_.append(times[True])
            without.append(times[False])
            ratios.append(times[True] / times[False])
    ratio = statistics.median(ratios)
    print(f"{files} new 12 MP JPEGs, inspected serially: {statistics.median(with_):.2f}s with "
          f"fingerprints, {statistics.median(without):.2f}s without: {ratio:.3f}x")  # fmt: skip
    return ratio


def hashes(n: int, seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    values = [rng.getrandbits(64) for _ in range(n - n // 50)]
    for base in rng.sample(values, n // 50):
        values.append(base ^ sum(1 << b for b in rng.sample(range(64), rng.randint(0, 8))))
    rng.shuffle(values)
    return values


def search(n: int, brute: int) -> tuple[float, float]:
    values = hashes(n)
    thumb = bytes(range(48))
    rows = [FingerprintRow(str(i), "JPEG", 640, 480, Fingerprint(h, thumb, 40.0))
            for i, h in enumerate(values)]  # fmt: skip
    start = time.perf_counter()
    groups = near_groups(rows, DEFAULT_DISTANCE)
    indexed = time.perf_counter() - start
    start = time.perf_counter()
    pairs = sum(1 for _ in brute_force(values[:brute], DEFAULT_DISTANCE))
    scanned = (time.perf_counter() - start) * (n / brute) ** 2
    how = "measured" if brute == n else f"estimated from {brute:,} hashes ({pairs} pairs)"
    print(f"{n:,} hashes at distance {DEFAULT_DISTANCE}: index {indexed:.1f}s "
          f"({len(groups)} groups); all pairs {scanned:.0f}s ({how}): "
          f"{scanned / indexed:.0f}x faster")  # fmt: skip
    return indexed, scanned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--brute", type=int, default=10_000)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    ratio = add_cost(args.files, args.repeats)
    result("fingerprint_add_12mp", f"{ratio:.3f}x", "<=1.05x", ratio <= 1.05)
    indexed, scanned = search(args.hashes, min(args.brute, args.hashes))
    result(f"dupes_near_{args.hashes}", f"{indexed:.1f}s", "<=60s", indexed <= 60)
    result(f"dupes_near_vs_all_pairs_{args.hashes}", f"{scanned / indexed:.0f}x", ">=10x",
           scanned / indexed >= 10)  # fmt: skip


if __name__ == "__main__":
    main()
