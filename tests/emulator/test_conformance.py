"""The conformance suite: one table of cases (conformance.py), two real SDKs over HTTP.

Lane 1 is the Python SDK (and its HTTP client, for raw cases); lane 2 is the TypeScript SDK
(``@anthropic-ai/sdk``, installed with npm once per session into a temporary folder, and run by
Node; skipped with the reason when Node or npm is missing or the install fails). Each lane runs
against its own fresh emulators, one per configuration in ``conformance.SERVERS``. Every case
names the real behaviour it mirrors and its source; a failure prints both.

    .venv/bin/python -m pytest tests/emulator/test_conformance.py -q
    ASSETMGR_TS_SDK=/path/with/node_modules ...   # reuse an installed SDK instead of npm install
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from assetmgr.emulator import Emulator

from .conformance import CASES, SERVERS, build_blobs, check, lane_input, python_lane

HERE = Path(__file__).resolve().parent
NPM_TIMEOUT = 300
NODE_TIMEOUT = 300
MIN_NODE = 18


def _servers() -> dict[str, Emulator]:
    return {name: Emulator(**options).start() for name, options in SERVERS.items()}


def _stop(servers: dict[str, Emulator]) -> list[dict]:
    """Stop the emulators; return every request they answered with a 5xx (there must be none)."""
    failures = []
    for emu in servers.values():
        failures += [r for r in emu.requests if isinstance(r["status"], int) and r["status"] >= 500]
        emu.stop()
    return failures


@pytest.fixture(scope="session")
def blobs() -> dict[str, bytes]:
    return build_blobs()


@pytest.fixture(scope="session")
def python_results(blobs):
    servers = _servers()
    try:
        results, files = python_lane({n: e.base_url for n, e in servers.items()}, blobs)
    finally:
        failures = _stop(servers)
    return results, files, failures


@pytest.fixture(scope="session")
def typescript_sdk(tmp_path_factory) -> Path:
    """A folder whose node_modules holds @anthropic-ai/sdk (1.15 or later)."""
    if not shutil.which("node"):
        pytest.skip("Node is not installed: the TypeScript lane needs node and npm")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    major = int(version.strip().lstrip("v").split(".")[0] or 0)
    if major < MIN_NODE:
        pytest.skip(
            f"Node {version.strip()} is too old for the lane (fetch, streams): need {MIN_NODE}+"
        )
    preinstalled = os.environ.get("ASSETMGR_TS_SDK")
    if preinstalled:
        return Path(preinstalled)
    if not shutil.which("npm"):
        pytest.skip("npm is not installed: cannot install @anthropic-ai/sdk")
    folder = tmp_path_factory.mktemp("ts-sdk")
    (folder / "package.json").write_text('{"private": true}\n')
    try:
        done = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "@anthropic-ai/sdk@>=1.15",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm install @anthropic-ai/sdk took over {NPM_TIMEOUT} s (offline?)")
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        pytest.skip(f"npm install @anthropic-ai/sdk failed (offline?): {' | '.join(tail)}")
    return folder


@pytest.fixture(scope="session")
def typescript_results(typescript_sdk, blobs, tmp_path_factory):
    work = tmp_path_factory.mktemp("ts-lane")
    script = typescript_sdk / "conformance_lane.mjs"
    shutil.copy(HERE / "conformance_lane.mjs", script)  # beside node_modules, so imports resolve
    servers = _servers()
    try:
        (work / "input.json").write_text(
            json.dumps(lane_input({n: e.base_url for n, e in servers.items()}, blobs))
        )
        done = subprocess.run(
            ["node", str(script), str(work / "input.json")],
            cwd=typescript_sdk,
            capture_output=True,
            text=True,
            timeout=NODE_TIMEOUT,
        )
    finally:
        failures = _stop(servers)
    assert done.returncode == 0, f"the TypeScript lane failed:\n{done.stderr[-3000:]}"
    output = json.loads(done.stdout)
    major, minor = (int(n) for n in output["sdk_version"].split(".")[:2])
    assert (major, minor) >= (1, 15), f"TypeScript SDK {output['sdk_version']} is older than 1.15"
    return output["results"], output["files"], failures


def _judge(case, results, files):
    problems = check(results[case["id"]], case["expect"], files)
    assert not problems, "\n".join(
        [*problems, f"mirrors: {case['mirrors']}", f"source: {case['source']}"]
    )


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_python_sdk(case, python_results):
    results, files, _ = python_results
    _judge(case, results, files)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_typescript_sdk(case, typescript_results):
    results, files, _ = typescript_results
    _judge(case, results, files)


def test_no_case_got_a_5xx(python_results):
    assert python_results[2] == []


def test_no_case_got_a_5xx_from_typescript(typescript_results):
    assert typescript_results[2] == []


def test_every_case_names_what_it_mirrors_and_where_that_is_written():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        assert c["mirrors"].strip() and c["source"].strip() and c["expect"].get("status"), c["id"]
        assert c["server"] in SERVERS
