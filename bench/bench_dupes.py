"""Near-duplicates: what fingerprints cost ``add``, and ``dupes --near`` against all pairs.

1. **Fingerprint cost on add**: new 12 MP JPEGs, each inspected as an ``add`` worker does
   (read, hash, probe, draft decode, rendition, check, stage: ``inspection.inspect``), with
   the fingerprint of the rendition's pixels and, alternately, with ``vision.fingerprint``
   replaced by a constant (nothing else changes). Serial, in-process; the ratio is the median
   of the pairs' ratios. Goal: at most 1.05x.
2. **Search over N hashes** (default 100,000: random 64-bit hashes, 2% of them near copies of
   another): ``dupes.near_groups`` at the default distance (index, second check, groups)
   against a brute-force all-pairs scan of the same hashes in NumPy (XOR and popcount of
   every pair, a block of rows at a time), measured in full.
3. **``assetmgr dupes --near`` on a catalogue of N assets**: a SQLite catalogue holding N
   assets and their fingerprints (the same hashes), the whole command as a user runs it:
   start-up, reading the fingerprints, search, groups, output.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from _common import assetmgr, fresh_home, result, temp_dir, timed

from assetmgr import vision
from assetmgr.catalogue import FingerprintRow
from assetmgr.dupes import near_groups
from assetmgr.inspection import Settings, inspect
from assetmgr.limits import DEFAULT_LIMITS, NEAR_DISTANCE
from assetmgr.phash import Fingerprint
from assetmgr.store import RenditionStore

RUN_ALL_ARGS = ["--files", "6", "--repeats", "3", "--hashes", "100000"]
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


def search(n: int) -> tuple[float, float]:
    values = hashes(n)
    thumb = bytes(range(48))
    rows = [FingerprintRow(str(i), "JPEG", 640, 480, Fingerprint(h, thumb, 40.0))
            for i, h in enumerate(values)]  # fmt: skip
    indexed, groups = timed(near_groups, rows, NEAR_DISTANCE)
    scanned, pairs = timed(all_pairs, values, NEAR_DISTANCE)
    print(f"{n:,} hashes at distance {NEAR_DISTANCE}: index {indexed:.1f}s "
          f"({len(groups)} groups); NumPy all pairs {scanned:.1f}s ({pairs} pairs): "
          f"{scanned / indexed:.1f}x")  # fmt: skip
    return indexed, scanned


def all_pairs(values: list[int], k: int, block: int = 100) -> int:
    """How many pairs of ``values`` are within ``k`` bits, by comparing every two."""
    import numpy as np

    array = np.array(values, dtype=np.uint64)
    found = 0
    for start in range(0, len(array), block):
        rows = array[start : start + block, None]
        near = np.bitwise_count(rows ^ array[None, start + 1 :]) <= k
        found += int(np.triu(near, 0).sum())  # row r against start+1+c: c >= r is later
    return found


def command(n: int) -> float:
    """Seconds of ``assetmgr dupes --near`` over a catalogue of ``n`` assets."""
    with temp_dir("dupes-") as tmp:
        db = fresh_home(tmp, "home")
        catalogue_of(db, hashes(n))
        seconds, done = assetmgr("--db", db, "dupes", "--near")
        print(f"assetmgr dupes --near over {n:,} assets: {seconds:.1f}s; "
              f"{done.stderr.strip().splitlines()[-1]}")  # fmt: skip
        return seconds


def catalogue_of(db: str, values: list[int]) -> None:
    """A catalogue at ``db`` with an asset per value, fingerprinted with it (written directly,
    in one transaction: making 100,000 pictures would take hours)."""
    import sqlite3
    from datetime import datetime, timezone

    from assetmgr.library import Library
    from assetmgr.phash import ALGORITHM, VERSION

    Library.open(db).close()
    now = datetime.now(timezone.utc).isoformat(sep=" ")
    thumb = bytes(range(48)).hex()
    with sqlite3.connect(db) as conn:
        conn.executemany(
            "INSERT INTO assets (id, sha256, format, media_type, width, height, mode, frames, "
            "size_bytes, created_at) VALUES (?, ?, 'JPEG', 'image/jpeg', 640, 480, 'RGB', 1, "
            "1000, ?)", [(i + 1, f"{i:064x}", now) for i in range(len(values))])  # fmt: skip
        conn.executemany(
            "INSERT INTO perceptual_hashes VALUES (?, ?, ?, ?, ?, 40.0, ?)",
            [(i + 1, ALGORITHM, VERSION, f"{v:016x}", thumb, now) for i, v in enumerate(values)],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hashes", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.2f}")
    ratio = add_cost(args.files, args.repeats)
    result("fingerprint_add_12mp", f"{ratio:.3f}x", "<=1.05x", ratio <= 1.05)
    indexed, scanned = search(args.hashes)
    result(f"dupes_near_{args.hashes}", f"{indexed:.1f}s", "<=10s", indexed <= 10)
    result(f"dupes_near_vs_all_pairs_{args.hashes}", f"{scanned / indexed:.1f}x", ">=2x",
           scanned / indexed >= 2)  # fmt: skip
    seconds = command(args.hashes)
    result(f"dupes_near_command_{args.hashes}", f"{seconds:.1f}s", "<=10s", seconds <= 10)


if __name__ == "__main__":
    main()
