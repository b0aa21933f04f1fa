"""``verify`` over 10,000 uploads is bound by the API: against the bare ``ids[]`` look-ups it needs.

The emulator runs in this process, on loopback, with 100 ms added to every API request. A
catalogue of N assets, each with its rendition uploaded (the files made in the emulator
directly, the rows written through the library), is verified with ``python -m assetmgr
verify --json``, start to exit. The reference is the bare work verify cannot avoid: N/100
``client.files.list(ids=[...])`` calls with the SDK in a plain loop, as a whole process too
(``python -c``: interpreter, ``import anthropic``, the calls). Both run alternately; the
ratio is the median of the pairwise ratios. Goal: verify takes at most 3x the bare calls.

Verify makes, besides those N/100 look-ups, one small request (the workspace and the API's
clock) and N/1000 listing pages (for orphans and foreign files).

    .venv/bin/python bench/bench_verify.py [--files 10000] [--repeats 3] [--profile FILE]
"""

from __future__ import annotations

import json
import os
import sys

import _common
from _common import median, pair_ratios, temp_dir

from assetmgr.emulator import running

RUN_ALL_ARGS = ["--files", "10000", "--repeats", "3"]  # what bench/run_all passes
TARGET = 3.0
LATENCY_MS = 100

BARE = """\
import json, sys
import anthropic
ids = json.load(open(sys.argv[1]))
client = anthropic.Anthropic()
found = 0
for start in range(0, len(ids), 100):
    found += len(client.files.list(ids=ids[start : start + 100]).data)
assert found == len(ids), found
"""


def build(db: str, emulator, n: int) -> list[str]:
    """``n`` assets with an active upload each, the files made in the emulator; file ids."""
    from assetmgr import Catalogue
    from assetmgr.remote import RemoteSpec
    from assetmgr.workspaces import Workspaces
    from tests.synthetic import asset_batch, upload_everything

    batch, _ = asset_batch(n)
    with Catalogue.open(db) as catalogue:
        catalogue.record(batch)
        here = Workspaces(catalogue).learn(RemoteSpec.from_env(), emulator.workspace_id())
        return upload_everything(catalogue, emulator, here.remote_id)


def verify(db: str, n: int) -> float:
    seconds, done = _common.assetmgr("--db", db, "verify", "--json")
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["present"] == n and summary["problems"] == 0, summary
    return seconds


def bare(ids_file: str) -> float:
    seconds, _ = _common.run_process([sys.executable, "-c", BARE, ids_file])
    return seconds


def main() -> None:
    args = _common.arguments(__doc__, files=10_000, repeats=3)
    with temp_dir("assetmgr-bench-verify-") as tmp, running(latency_ms=LATENCY_MS) as emulator:
        os.environ.update(ANTHROPIC_BASE_URL=emulator.base_url, ANTHROPIC_API_KEY="bench-key")
        db, ids_file = os.path.join(tmp, "catalogue.db"), os.path.join(tmp, "ids.json")
        with open(ids_file, "w") as f:
            json.dump(build(db, emulator, args.files), f)
        before = len(emulator.requests)
        verify(db, args.files)  # once untimed: what it asks of the API
        asked = emulator.request_counts()
        print(f"one verify: {len(emulator.requests) - before} requests: {asked}")
        ours, theirs = [], []
        for r in range(args.repeats):
            t_ours, t_bare = _common.alternately(
                r, lambda: verify(db, args.files), lambda: bare(ids_file)
            )
            ours.append(t_ours), theirs.append(t_bare)
        ratio = pair_ratios(ours, theirs)
        print(f"files: {args.files}, repeats: {args.repeats}, emulator latency: {LATENCY_MS} ms, "
              f"cores: {os.cpu_count()}, load average: {_common.load()}")  # fmt: skip
        print("whole process, start to exit (medians):")
        print(f"  python -m assetmgr verify --json   {median(ours):7.2f} s")
        print(f"  bare ids[] loop ({-(-args.files // 100)} calls)     {median(theirs):7.2f} s")
        print(f"    runs, verify: {', '.join(f'{t:.2f} s' for t in ours)}")
        print(f"    runs, bare:   {', '.join(f'{t:.2f} s' for t in theirs)}")
        passed = ratio <= TARGET
        print(f"{_common.verdict(passed)}: verify takes {ratio:.2f}x the bare look-ups "
              f"(target <= {TARGET:g}x)")  # fmt: skip
        _common.result(f"verify_cli_{args.files}", f"{ratio:.2f}x", f"<={TARGET:g}x", passed)
        if args.profile:
            from assetmgr import Library

            def in_process():
                with Library.open(db) as lib:
                    lib.verify()

            _common.profile_to(args.profile, in_process)
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
