"""The fast lookup path: ``assetmgr block`` start-to-exit against ``import anthropic``.

When every asset already has a live upload, ``block`` and ``request`` must not import
the anthropic SDK (nor SQLAlchemy, on a SQLite catalogue); checked in a fresh interpreter
for the CLI commands and for ``Library.blocks`` / ``Library.requests``. Targets:

- ``assetmgr block <sha256>`` from start to exit takes at most 30% of
  ``python -c "import anthropic"``, both run as subprocesses, alternately, in the same run;
- ``Library.blocks`` of 1,000 full sha256s takes under 50 ms once the catalogue is open.

The catalogue is filled once with ``add`` + ``push`` to the emulator, which keeps running
(``ANTHROPIC_BASE_URL`` points at it, as a user's would) though the lookups never call it.

    .venv/bin/python bench/bench_lookup.py [--files 1000] [--repeats 10] [--profile FILE]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import _common
from _common import bench_dirs, median, small_pngs, timed, verdict

from assetmgr import Library
from assetmgr.emulator import running

RUN_ALL_ARGS = ["--files", "1000", "--repeats", "10"]  # what bench/run_all passes
CLI_TARGET = 0.30
API_TARGET = 0.050
API_REPEATS = 7
MODEL = "claude-sonnet-5-5"
CONSOLE_SCRIPT = os.path.join(os.path.dirname(sys.executable), "assetmgr")

# Run in a fresh interpreter: the CLI's block and request commands in-process, noting which
# modules each leaves loaded; then the Python API (open, first blocks, requests of all assets).
IN_PROCESS = """\
import contextlib, io, json, sys, time
from assetmgr.cli import cli
db, sha = sys.argv[1], sys.argv[2]
loaded = {}
for command in (["block", sha], ["request", sha, "--prompt", "x"]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli(["--db", db, *command], prog_name="assetmgr")
        except SystemExit as e:
            assert not e.code, f"{command[0]} exited with {e.code}"
    assert "file_" in out.getvalue(), out.getvalue()
    loaded[command[0]] = {m: m in sys.modules for m in ("anthropic", "sqlalchemy")}
from assetmgr import Library
start = time.perf_counter()
lib = Library.open(db)
opened = time.perf_counter()
shas = lib.find()
found = time.perf_counter()
blocks = lib.blocks(shas)
first = time.perf_counter()
bodies = list(lib.requests(shas, prompt="x", model="claude-sonnet-5-5"))
assert len(blocks) == len(shas) == sum(len(b.assets) for b in bodies)
loaded["api"] = {"anthropic": "anthropic" in sys.modules, "open": opened - start, "first_blocks": first - found}
print(json.dumps(loaded))
"""


def run(command: list[str]) -> tuple[float, str]:
    """Seconds from start to exit of ``command``, and its stdout; it must succeed."""
    elapsed, done = _common.run_process(command)
    return elapsed, done.stdout


def check_block(stdout: str, sha: str) -> None:
    blocks = json.loads(stdout)
    assert len(blocks) == 1 and blocks[0]["type"] == "image", stdout
    assert blocks[0]["source"]["type"] == "file", stdout
    assert blocks[0]["source"]["file_id"].startswith("file_"), stdout


def check_request(stdout: str, sha: str) -> None:
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    images = [b for m in lines[0]["messages"] for b in m["content"] if b["type"] == "image"]
    assert len(images) == 1 and images[0]["source"]["file_id"].startswith("file_"), stdout


def check_api(blocks: list[dict], bodies: list, files: int) -> None:
    assert len(blocks) == files, len(blocks)
    assert all(b["source"]["file_id"].startswith("file_") for b in blocks), blocks[:1]
    covered = [sha for body in bodies for sha in body.assets]
    assert len(covered) == files, len(covered)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def main() -> None:
    args = _common.arguments(__doc__, files=1_000, repeats=10)
    with bench_dirs("assetmgr-bench-lookup-") as (tmp, folder, db):
        small_pngs(folder, args.files, (16, 16))
        with running() as emulator:
            os.environ["ANTHROPIC_BASE_URL"] = emulator.base_url
            os.environ["ANTHROPIC_API_KEY"] = "test-key"
            with Library.open(db) as lib:
                added = lib.add([folder])
                list(added)
                t_push, pushed = timed(lib.push)
                shas = lib.find()
            print(f"add: {added.summary}")
            print(f"push: {pushed.count('uploaded')} uploaded in {t_push:.1f} s")
            assert len(shas) == args.files and pushed.count("uploaded") == args.files, (
                len(shas),
                pushed,
            )

            sha = shas[len(shas) // 2]
            commands = {
                "python -c 'import anthropic'": ([sys.executable, "-c", "import anthropic"], None),
                "python -m assetmgr block": (
                    [sys.executable, "-m", "assetmgr", "--db", db, "block", sha],
                    check_block,
                ),
                ".venv/bin/assetmgr block": (
                    [CONSOLE_SCRIPT, "--db", db, "block", sha],
                    check_block,
                ),
                "python -m assetmgr request": (
                    [sys.executable, "-m", "assetmgr", "--db", db, "request", sha, "--prompt", "x"],
                    check_request,
                ),
            }
            times: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.repeats):
                for name, (command, check) in commands.items():
                    t, stdout = run(command)
                    if check:
                        check(stdout, sha)
                    times[name].append(t)

            done = subprocess.run(
                [sys.executable, "-c", IN_PROCESS, db, sha],
                cwd=tmp,
                env=_common.subprocess_env(),
                capture_output=True,
                text=True,
            )
            assert done.returncode == 0, done.stderr
            loaded = json.loads(done.stdout.splitlines()[-1])

            with Library.open(db) as lib:
                cold_blocks, blocks = timed(lib.blocks, shas)
                cold_requests, bodies = timed(
                    lambda: list(lib.requests(shas, prompt="x", model=MODEL))
                )
                check_api(blocks, bodies, args.files)
                warm_blocks, warm_requests = [], []
                for _ in range(API_REPEATS):
                    t, blocks = timed(lib.blocks, shas)
                    warm_blocks.append(t)
                    t, bodies = timed(lambda: list(lib.requests(shas, prompt="x", model=MODEL)))
                    warm_requests.append(t)
                    check_api(blocks, bodies, args.files)
                if args.profile:
                    _common.profile_to(args.profile, lib.blocks, shas)

        base = median(times["python -c 'import anthropic'"])
        print(
            f"files: {args.files}, repeats: {args.repeats} (subprocesses), {API_REPEATS} (Python API), "
            f"cores: {os.cpu_count()}, load average: {_common.load()}"
        )
        print("start to exit (subprocess, medians):")
        for name, values in times.items():
            ratio = (
                ""
                if values is times["python -c 'import anthropic'"]
                else f"  ({median(values) / base:.0%})"
            )
            print(f"  {name:30} {ms(median(values))}{ratio}")
        for name in ("block", "request"):
            print(
                f"{name} in-process (fresh interpreter), then in sys.modules: "
                f"anthropic {loaded[name]['anthropic']}, sqlalchemy {loaded[name]['sqlalchemy']}"
            )
        api = loaded["api"]
        print(
            f"Python API in a fresh interpreter: Library.open {ms(api['open']).strip()} (after import), first lib.blocks of "
            f"{args.files} {ms(api['first_blocks']).strip()}, then anthropic in sys.modules: {api['anthropic']}"
        )
        print(f"Python API, {args.files} full sha256s, catalogue open:")
        print(f"  lib.blocks          cold {ms(cold_blocks)}   median {ms(median(warm_blocks))}")
        print(
            f"  list(lib.requests)  cold {ms(cold_requests)}   median {ms(median(warm_requests))}  "
            f"({len(bodies)} bodies)"
        )
        for name in ("python -m assetmgr block", ".venv/bin/assetmgr block"):
            ratio = median(times[name]) / base
            print(
                f"{verdict(ratio <= CLI_TARGET)}: {name} takes {ratio:.0%} of import anthropic "
                f"(target <= {CLI_TARGET:.0%})"
            )
        unwanted = 0
        for name in ("block", "request"):
            clean = not loaded[name]["anthropic"] and not loaded[name]["sqlalchemy"]
            unwanted += loaded[name]["anthropic"] + loaded[name]["sqlalchemy"]
            print(f"{verdict(clean)}: {name} imports neither anthropic nor sqlalchemy")
        unwanted += api["anthropic"]
        print(
            f"{verdict(not api['anthropic'])}: lib.blocks and lib.requests do not import anthropic"
        )
        blocks_ms = median(warm_blocks) * 1000
        print(
            f"{verdict(blocks_ms < API_TARGET * 1000)}: lib.blocks of {args.files} hashes takes "
            f"{blocks_ms:.1f} ms (target < {API_TARGET * 1000:.0f} ms)"
        )
        ratio = median(times["python -m assetmgr block"]) / base
        _common.result(
            "lookup_block_cli", f"{ratio:.0%}", f"<={CLI_TARGET:.0%}", ratio <= CLI_TARGET
        )
        _common.result("lookup_unwanted_imports", str(unwanted), "=0", unwanted == 0)
        _common.result(
            f"lookup_api_blocks_{args.files}",
            f"{blocks_ms:.1f}ms",
            f"<{API_TARGET * 1000:.0f}ms",
            blocks_ms < API_TARGET * 1000,
        )
        if args.profile:
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
