"""``assetmgr serve --stdio``: 10,000 ``block`` lookups through one process, against 100
separate ``assetmgr block`` processes.

The catalogue is filled once with ``add`` + ``push`` to the emulator, which keeps running
(``ANTHROPIC_BASE_URL`` points at it) though the lookups never call it. Then, alternately:

- one ``python -m assetmgr serve --stdio`` answers ``--lookups`` ``block`` requests (one
  asset each, cycling over the catalogue) sent ahead: a thread writes them all while the
  answers are read, as a client with many lookups to make does. Timed from the first request
  to the last answer (the server already started), and separately start to exit;
- the same, one at a time: a request is written only once the answer to the one before has
  been read (each lookup then pays a round trip through two pipes and two processes'
  wake-ups: about 95 us here even for a server that does nothing but echo);
- ``--processes`` runs of ``python -m assetmgr block SHA``, one after another, start to exit.

Goals: the lookups through one server take under 1 s; report lookups per second of each
and their ratio.

    .venv/bin/python bench/bench_serve.py [--files 200] [--lookups 10000] [--processes 100]
        [--repeats 3] [--profile FILE]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import _common
from _common import bench_dirs, median, small_pngs, timed, verdict

from assetmgr import Library
from assetmgr.emulator import running

RUN_ALL_ARGS = ["--files", "200", "--repeats", "3"]  # what bench/run_all passes
SERVE_TARGET = 1.0  # seconds for 10,000 lookups


def serve_lookups(db: str, shas: list[str], lookups: int, ahead: bool) -> tuple[float, float]:
    """(seconds of the lookups, seconds start to exit) of one server answering ``lookups``
    ``block`` requests: one at a time (a request written only once the answer to the one
    before was read), or with ``ahead``, all written by a thread as fast as the server takes
    them while this one reads the answers. Every answer is checked."""
    import threading

    start = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "assetmgr", "--db", db, "serve", "--stdio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_common.subprocess_env(),
    )
    requests = [
        json.dumps({"id": i, "op": "block", "refs": [shas[i % len(shas)]]}).encode() + b"\n"
        for i in range(lookups)
    ]
    check(ask(server, b'{"id": -1, "op": "resolve", "refs": []}\n'), -1, started=True)
    first = time.perf_counter()
    if ahead:
        writer = threading.Thread(target=lambda: (server.stdin.write(b"".join(requests)),
                                                  server.stdin.flush()))  # fmt: skip
        writer.start()
        for i in range(lookups):
            check(json.loads(server.stdout.readline()), i)
        writer.join()
    else:
        for i, request in enumerate(requests):
            check(ask(server, request), i)
    done = time.perf_counter()
    server.stdin.close()
    assert server.wait() == 0
    return done - first, time.perf_counter() - start


def ask(server, request: bytes) -> dict:
    server.stdin.write(request)
    server.stdin.flush()
    return json.loads(server.stdout.readline())


def check(answer: dict, i: int, started: bool = False) -> None:
    """An answer to request ``i``: a block with a file id (``started``: the server answers)."""
    assert answer["id"] == i, answer
    if started:
        return
    assert answer["ok"], answer
    [block] = answer["result"]
    assert block["source"]["file_id"].startswith("file_"), answer


def process_lookups(db: str, shas: list[str], processes: int) -> float:
    """Seconds of ``processes`` whole ``assetmgr block SHA`` runs, one after another."""
    total = 0.0
    for i in range(processes):
        seconds, done = _common.assetmgr("--db", db, "block", shas[i % len(shas)])
        [block] = json.loads(done.stdout)
        assert block["source"]["file_id"].startswith("file_"), done.stdout
        total += seconds
    return total


def main() -> None:
    def extra(parser):
        parser.add_argument("--lookups", type=int, default=10_000)
        parser.add_argument("--processes", type=int, default=100)

    args = _common.arguments(__doc__, files=200, repeats=3, extra=extra)
    with bench_dirs("assetmgr-bench-serve-") as (_, folder, db):
        small_pngs(folder, args.files, (16, 16))
        with running() as emulator:
            os.environ["ANTHROPIC_BASE_URL"] = emulator.base_url
            os.environ["ANTHROPIC_API_KEY"] = "test-key"
            with Library.open(db) as lib:
                list(lib.add([folder]))
                t_push, pushed = timed(lib.push)
                shas = lib.find()
            assert len(shas) == args.files == pushed.count("uploaded"), (len(shas), pushed)
            print(f"catalogue: {args.files} assets uploaded in {t_push:.1f} s")

            served, waited, whole, separate = [], [], [], []
            for repeat in range(args.repeats):
                (ahead_s, whole_s), (waited_s, _), process_s = _common.alternately(
                    repeat,
                    lambda: serve_lookups(db, shas, args.lookups, ahead=True),
                    lambda: serve_lookups(db, shas, args.lookups, ahead=False),
                    lambda: process_lookups(db, shas, args.processes),
                )
                served.append(ahead_s)
                waited.append(waited_s)
                whole.append(whole_s)
                separate.append(process_s)
            if args.profile:
                profile_server(db, shas, args.lookups, args.profile)

    serve_rate = args.lookups / median(served)
    waited_rate = args.lookups / median(waited)
    process_rate = args.processes / median(separate)
    ratios = [(args.lookups / s) / (args.processes / p) for s, p in zip(served, separate)]
    ratio = median(ratios)
    per_10000 = median(served) * 10_000 / args.lookups
    print(
        f"assets: {args.files}, repeats: {args.repeats}, cores: {os.cpu_count()}, "
        f"load average: {_common.load()}"
    )
    print(
        f"serve --stdio: {args.lookups} block lookups sent ahead: {median(served):.3f} s "
        f"(median), {serve_rate:,.0f} lookups/s; start to exit {median(whole):.3f} s"
    )
    print(
        f"serve --stdio: {args.lookups} block lookups one at a time (each waits for the answer "
        f"before): {median(waited):.3f} s, {waited_rate:,.0f} lookups/s"
    )
    print(
        f"assetmgr block: {args.processes} processes, one after another: "
        f"{median(separate):.2f} s (median), {process_rate:,.1f} lookups/s"
    )
    print(f"serve --stdio answers {ratio:,.0f}x as many lookups per second (median of pairs)")
    print(f"{verdict(per_10000 < SERVE_TARGET)}: 10,000 lookups through one server take "
          f"{per_10000:.3f} s (goal: under {SERVE_TARGET:g} s)")  # fmt: skip
    _common.result("serve_block_10000", f"{per_10000:.3f}s", f"<{SERVE_TARGET:g}s",
                   per_10000 < SERVE_TARGET)  # fmt: skip
    _common.result("serve_lookups_per_s", f"{serve_rate:.0f}", ">0", serve_rate > 0)
    _common.result("serve_one_at_a_time_per_s", f"{waited_rate:.0f}", ">0", waited_rate > 0)
    _common.result("block_process_lookups_per_s", f"{process_rate:.1f}", ">0", process_rate > 0)
    _common.result("serve_vs_processes", f"{ratio:.0f}x", ">1x", ratio > 1)


def profile_server(db: str, shas: list[str], lookups: int, path: str) -> None:
    """cProfile of the server's own work: ``serve.serve`` in this process over the same lines."""
    import io

    from assetmgr.serve import serve

    lines = [
        json.dumps({"id": i, "op": "block", "refs": [shas[i % len(shas)]]}).encode() + b"\n"
        for i in range(lookups)
    ]
    _common.profile_to(path, serve, db, lines, io.StringIO())


if __name__ == "__main__":
    main()
