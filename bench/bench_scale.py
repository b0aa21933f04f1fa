"""Every command linear in the number of assets: time and peak memory at 1k, 10k and 100k.

Catalogues of 1,000, 10,000 and 100,000 assets are built without image files and without
the emulator: rows go straight through the catalogue's own write path (``Catalogue.record``
with ``IngestBatch``es of assets, renditions, links and sources; ``Catalogue.add_tags``),
and one active upload per rendition in one remote (a bulk ``INSERT`` into ``uploads``,
verified now and never expiring, so nothing needs a request). ``ANTHROPIC_BASE_URL`` points
at a closed local port: nothing here may reach an API.

Then each command runs as a user runs it, ``python -m assetmgr --db DB ...``, in its own
process (stdout to /dev/null), and is timed from start to exit; its peak memory is the
child's ``ru_maxrss`` (``os.wait4``):

- ``request --tag bench --prompt x`` (every asset carries the tag),
- ``block --stdin`` (every sha256 on stdin),
- ``ls --json`` and ``ls`` (the text table),
- ``stats --json``,
- ``push`` with nothing to upload (every upload active and recently checked),
- ``push`` planning with every upload missing: a child process runs ``Library.push`` to a new
  workspace with ``UploadSession._start`` replaced by a counter, so everything before the
  first request happens (renditions looked up, uploads checked, journal rows claimed) and
  nothing is sent; the rows it claimed are deleted afterwards.

Per command it prints the fastest time of the repeats (the one least disturbed by other
work on the machine) and the highest peak memory at each size, the growth exponent (the
log-log slope of time from 10k to 100k, whole process), the same slope with start-up taken
out (the 1k point as the origin: log((t100k - t1k) / (t10k - t1k)) / log(99/9), the slope
of the part that grows with the catalogue; start-up alone would flatten the first one) and
the memory each added asset costs (peak at 100k minus peak at 10k, over 90,000 assets).
Targets: exponent <= 1.15 (start-up taken out; an increase under 100 ms from 1k to 100k,
1 µs per asset, counts as flat: then the slope is of noise, or not defined when the 10k run
happened to be the fastest) and about 1 KB of memory per asset at most (1 KiB give or take
a tenth: <= 1,126 bytes). Each command's two verdicts are RESULT lines for ``bench/run_all``
(``scale_time_<command>``, ``scale_memory_<command>``).

    .venv/bin/python bench/bench_scale.py [--sizes 1000,10000,100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import _common

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TAG = "bench"
BATCH = 5000
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there
MAX_EXPONENT = 1.15
MAX_BYTES_PER_ASSET = 1126  # "about 1 KB": 1 KiB, give or take a tenth
FLAT_SECONDS = 0.1  # growth from the smallest to the largest size that counts as none
PLAN_WORKSPACE = "bench-plan"

# Push up to its first request: UploadSession._start (which would send) only counts the jobs.
PLAN = """\
import sys
from assetmgr import Library
from assetmgr.remote import RemoteSpec
from assetmgr.uploads import Uploader, UploadSession

planned = []
UploadSession._start = lambda self, jobs: planned.append(len(jobs))
Uploader._adopt = lambda self, jobs, known: jobs  # no listing: nothing listens
with Library.open(sys.argv[1]) as lib:
    summary = lib.push(remote=RemoteSpec.from_env(workspace=sys.argv[2]))
assert sum(planned) == len(summary.renditions), (sum(planned), len(summary.renditions))
"""


def build(db: str, n: int) -> list[str]:
    """A catalogue of ``n`` assets, each with its own vision rendition, a source path, the tag,
    and an active upload in the default workspace of ``UNREACHABLE``; returns the sha256s.

    Run in a child process of its own (``--build``): a child's ``ru_maxrss`` starts from
    its parent's peak (Linux keeps it across ``execve``), so the parent that measures
    imports nothing but the standard library and never holds a catalogue."""
    sys.path.insert(0, REPO)  # run from a checkout without installing
    from assetmgr.catalogue import Catalogue, IngestBatch
    from assetmgr.journal import Journal
    from assetmgr.remote import RemoteSpec
    from tests.synthetic import record_uploads

    catalogue = Catalogue.open(db)
    shas = [f"{i:016x}".rjust(64, "a") for i in range(n)]
    for start in range(0, n, BATCH):
        batch = IngestBatch.new()
        for i in range(start, min(n, start + BATCH)):
            asset, rendition = shas[i], f"{i:016x}".rjust(64, "b")
            batch.assets.append(dict(sha256=asset, format="JPEG", media_type="image/jpeg",
                                     width=4032, height=3024, mode="RGB", frames=1,
                                     orientation=None, size_bytes=2_400_000))  # fmt: skip
            batch.renditions.append(dict(sha256=rendition, media_type="image/jpeg", width=1238,
                                         height=928, size_bytes=180_000, tokens=1532))  # fmt: skip
            batch.links.append((asset, "vision", rendition, []))
            path = f"/photos/{i // 1000:03}/IMG_{i:06}.jpg"
            batch.sources.append((path, asset, 2_400_000, 1_700_000_000_000_000_000, i))
        catalogue.record(batch)
    catalogue.add_tags(shas, [TAG])
    remote_id = Journal(catalogue, RemoteSpec.from_env()).remote_id
    record_uploads(
        catalogue,
        remote_id,
        lambda sha: (f"file_{sha[-16:]}", f"IMG.sha256-{sha}.jpg", 180_000),
    )
    catalogue.close()
    return shas


def run(args: list[str], stdin: str | None = None) -> tuple[float, int]:
    """Seconds from start to exit of a child, and its peak memory in bytes; it must exit 0."""
    with open(stdin or os.devnull, "rb") as source, open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        child = subprocess.Popen(args, stdin=source, stdout=sink, stderr=subprocess.PIPE)
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stderr.close()
    assert child.returncode == 0, f"{args[3:]} exited {child.returncode}: {err.decode()[-2000:]}"
    return elapsed, usage.ru_maxrss * 1024


def commands(db: str, stdin: str) -> dict[str, tuple[list[str], str | None]]:
    cli = [sys.executable, "-m", "assetmgr", "--db", db]
    return {
        "request --tag": ([*cli, "request", "--tag", TAG, "--prompt", "x"], None),
        "block --stdin": ([*cli, "block", "--stdin"], stdin),
        "ls --json": ([*cli, "ls", "--json"], None),
        "ls": ([*cli, "ls"], None),
        "stats --json": ([*cli, "stats", "--json"], None),
        "push (all there)": ([*cli, "push"], None),
        "push planning": ([sys.executable, "-c", PLAN, db, PLAN_WORKSPACE], None),
    }


def forget_plan(db: str) -> None:
    """Drop the rows ``push planning`` claimed, so that every repeat plans everything."""
    with sqlite3.connect(db) as conn:
        conn.execute(
            "DELETE FROM uploads WHERE remote_id IN "
            "(SELECT remote_id FROM workspace_labels WHERE name = ?)",
            (PLAN_WORKSPACE,),
        )


def measure(folder: str, sizes: list[int], repeats: int) -> dict[str, dict[int, tuple]]:
    results: dict[str, dict[int, tuple]] = {}
    for n in sizes:
        db, stdin = os.path.join(folder, f"c{n}.db"), os.path.join(folder, f"shas{n}.txt")
        start = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", db, str(n), stdin], check=True)
        print(f"built {n:,} assets in {time.perf_counter() - start:.1f} s", flush=True)
        for name, (args, source) in commands(db, stdin).items():
            runs = []
            for _ in range(repeats):
                runs.append(run(args, source))
                if name == "push planning":
                    forget_plan(db)
            seconds = min(r[0] for r in runs)  # the run least disturbed by other work
            memory = max(r[1] for r in runs)
            results.setdefault(name, {})[n] = (seconds, memory)
            print(f"  {name:<18} {seconds * 1000:9.0f} ms  {memory / 2**20:7.1f} MiB", flush=True)
        os.remove(db)
    return results


def slope(a: float, b: float, ratio: float) -> float:
    return math.log(b / a) / math.log(ratio) if a > 0 and b > 0 else float("nan")


def verdicts(results: dict[str, dict[int, tuple]], sizes: list[int]) -> bool:
    small, mid, large = sizes[0], sizes[-2], sizes[-1]
    head = f"{'command':<18}" + "".join(f"{n:>16,}" for n in sizes)
    print(f"\n{head}   exponent (net)  bytes/asset")
    ok, rows = True, []
    for name, by_size in results.items():
        cells = "".join(f"{by_size[n][0]:>8.2f}s {by_size[n][1] / 2**20:>5.0f}M" for n in sizes)
        (t0, _), (t1, m1), (t2, m2) = by_size[small], by_size[mid], by_size[large]
        raw = slope(t1, t2, large / mid)
        grown = t2 - t0
        net = slope(t1 - t0, t2 - t0, (large - small) / (mid - small))
        flat = grown < FLAT_SECONDS
        per_asset = (m2 - m1) / (large - mid)
        passed = (flat or net <= MAX_EXPONENT) and per_asset <= MAX_BYTES_PER_ASSET
        ok &= passed
        shown = "flat" if flat else f"{net:.2f}"
        print(f"{name:<18}{cells}   {raw:.2f} ({shown:>4})  {per_asset:>7.0f}   "
              f"{'PASS' if passed else 'FAIL'}")  # fmt: skip
        rows.append((re.sub(r"\W+", "_", name).strip("_"), shown, flat, net, per_asset))
    print(
        f"\nexponent: log-log slope of time from {mid:,} to {large:,} assets, whole process;\n"
        f"(net): the same with the {small:,} point as the origin (start-up taken out);\n"
        f"bytes/asset: peak memory at {large:,} minus at {mid:,}, over {large - mid:,} assets;\n"
        f"targets: net <= {MAX_EXPONENT} (or under {FLAT_SECONDS * 1000:.0f} ms of growth), "
        f"<= {MAX_BYTES_PER_ASSET} bytes per asset"
    )
    for name, shown, flat, net, per_asset in rows:
        _common.result(
            f"scale_time_{name}", shown, f"<={MAX_EXPONENT}", flat or net <= MAX_EXPONENT
        )
        _common.result(
            f"scale_memory_{name}",
            f"{per_asset:.0f}B",
            f"<={MAX_BYTES_PER_ASSET}B",
            per_asset <= MAX_BYTES_PER_ASSET,
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="three catalogue sizes")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command per size")
    parser.add_argument("--build", nargs=3, metavar=("DB", "N", "SHAS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:  # in a child process: see build()
        db, n, path = args.build
        with open(path, "w") as f:
            f.write("\n".join(build(db, int(n))) + "\n")
        return 0
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if len(sizes) != 3:
        parser.error("--sizes takes three sizes")
    folder = tempfile.mkdtemp(prefix="bench-scale-", dir="/tmp")
    os.environ.update(
        ASSETMGR_HOME=os.path.join(folder, "home"),
        ASSETMGR_STORE=os.path.join(folder, "home", "renditions"),
        ANTHROPIC_BASE_URL=UNREACHABLE,
        ANTHROPIC_API_KEY="unused",
        ASSETMGR_MAX_RETRIES="0",
        PYTHONPATH=os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")])),
    )
    for name in ("ASSETMGR_DB", "ASSETMGR_WORKSPACE", "ASSETMGR_WORKSPACE_ID"):
        os.environ.pop(name, None)
    try:
        print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}", flush=True)
        results = measure(folder, sizes, args.repeats)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return 0 if verdicts(results, sizes) else 1
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
