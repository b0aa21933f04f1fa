"""Running the emulator: context managers, state file, concurrency, the command, curl."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import anthropic
import httpx2
import pytest
from click.testing import CliRunner

from assetmgr.emulator import Emulator, running
from assetmgr.emulator.command import emulator_command

from .conftest import MODEL, file_block, image_bytes, sdk, user


def test_running_yields_a_started_emulator_and_stops_it(png):
    with running() as emu:
        assert emu.base_url.startswith("http://127.0.0.1:") and emu.port != 0
        sdk(emu).files.upload(file=("a.png", png, "image/png"))
        url = emu.base_url
    with pytest.raises(anthropic.APIConnectionError):
        anthropic.Anthropic(base_url=url, api_key="k", max_retries=0).files.list()


def test_stop_closes_keep_alive_connections(png):
    emu = Emulator().start()
    client = sdk(emu)
    client.files.list()  # leaves a pooled connection open
    emu.stop()
    with pytest.raises(anthropic.APIConnectionError):
        client.files.list()


def test_state_file_survives_a_restart(tmp_path, png):
    state = tmp_path / "state.json"
    with Emulator(state=state, workspaces={"k": "team"}) as emu:
        client = sdk(emu, "k")
        kept = client.files.upload(file=("a.png", png, "image/png"), expires_in_seconds=3600)
        gone = client.files.upload(file=("b.png", png, "image/png"))
        client.files.delete(gone.id)
        emu.advance(60)
    assert json.loads(state.read_text())["version"] == 1
    with Emulator(state=state, workspaces={"k": "team"}) as emu:
        client = sdk(emu, "k")
        assert [f.id for f in client.files.list()] == [kept.id]
        assert client.files.retrieve_metadata(kept.id) == kept
        message = client.messages.create(
            model=MODEL, max_tokens=50, messages=user(file_block(kept.id))
        )
        assert "64x48 image/png" in message.content[0].text
        newer = client.files.upload(file=("c.png", png, "image/png"))
        assert [f.id for f in client.files.list()] == [newer.id, kept.id]
        assert emu.clock.offset_seconds == pytest.approx(60)


def test_many_concurrent_uploads_are_all_stored(emu):
    client = sdk(emu)
    images = [image_bytes(10 + n, 10) for n in range(50)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        metas = list(
            pool.map(
                lambda n: client.files.upload(file=(f"{n}.png", images[n], "image/png")), range(50)
            )
        )
    assert len({m.id for m in metas}) == 50
    assert len(emu.files()) == 50 and len(list(client.files.list(limit=1000))) == 50


def test_admin_state_and_reset(emu, png):
    meta = sdk(emu).files.upload(file=("a.png", png, "image/png"))
    state = httpx2.get(f"{emu.base_url}/_emulator/state").json()
    default = state["workspaces"]["default"]
    assert default["id"].startswith("wrkspc_011") and default["used_bytes"] == len(png)
    assert [f["id"] for f in default["files"]] == [meta.id]
    assert state["requests"] == 1
    assert httpx2.post(f"{emu.base_url}/_emulator/reset").json() == {"reset": True}
    assert emu.files() == [] and emu.requests == []
    assert httpx2.get(f"{emu.base_url}/_emulator/nothing").status_code == 404


def test_admin_save_writes_the_state_file(anthropic_emulator_factory, tmp_path, png):
    state = tmp_path / "s.json"
    emu = anthropic_emulator_factory(state=state)
    sdk(emu).files.upload(file=("a.png", png, "image/png"))
    assert httpx2.post(f"{emu.base_url}/_emulator/save").status_code == 200
    assert len(json.loads(state.read_text())["files"]) == 1


def test_command_help():
    result = CliRunner().invoke(emulator_command, ["--help"])
    assert result.exit_code == 0
    for flag in (
        "--host",
        "--port",
        "--workspace",
        "--latency-ms",
        "--error-rate",
        "--drop-rate",
        "--quota-bytes",
        "--state",
        "--seed",
        "Example:",
    ):
        assert flag in result.output


def test_command_rejects_a_bad_workspace_binding():
    result = CliRunner().invoke(emulator_command, ["--workspace", "no-equals-sign"])
    assert result.exit_code == 2 and "KEY=NAME" in result.output


def _start_command(*args: str) -> tuple[subprocess.Popen, str]:
    code = "from assetmgr.emulator.command import emulator_command; emulator_command()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, process.stdout.readline().strip()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_command_serves_in_the_foreground_and_stops_cleanly(tmp_path, png, signum):
    state = tmp_path / "state.json"
    process, base_url = _start_command("--workspace", "key-a=team-a", "--state", str(state))
    try:
        assert base_url.startswith("http://127.0.0.1:")
        client = anthropic.Anthropic(base_url=base_url, api_key="key-a", max_retries=0)
        meta = client.files.upload(file=("a.png", png, "image/png"))
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 0
    assert f"export ANTHROPIC_BASE_URL={base_url}" in stderr and "Traceback" not in stderr
    saved = json.loads(state.read_text())["files"]
    assert [(f["id"], f["workspace"]) for f in saved] == [(meta.id, "team-a")]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_documented_curl_examples(emu, tmp_path):
    image = tmp_path / "image.jpg"
    image.write_bytes(image_bytes(640, 480, "JPEG"))
    headers = ["-H", "x-api-key: test-key", "-H", "anthropic-version: 2023-06-01"]
    uploaded = subprocess.run(
        [
            "curl",
            "-s",
            "-X",
            "POST",
            f"{emu.base_url}/v1/files",
            *headers,
            "-H",
            "anthropic-beta: files-api-2025-04-14",
            "-F",
            f"file=@{image}",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    file_id = json.loads(uploaded.stdout)["id"]
    body = {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": user(file_block(file_id), {"type": "text", "text": "Describe this image."}),
    }
    answered = subprocess.run(
        [
            "curl",
            "-s",
            f"{emu.base_url}/v1/messages",
            *headers,
            "-H",
            "content-type: application/json",
            "-d",
            json.dumps(body),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    message = json.loads(answered.stdout)
    assert message["type"] == "message"
    assert message["content"][0]["text"] == f"Image 1: 640x480 image/jpeg (file {file_id})"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_oversized_upload_is_refused_before_the_body_is_sent(
    anthropic_emulator_factory, tmp_path
):
    emu = anthropic_emulator_factory(max_file_bytes=1 << 20)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (3 << 20))
    result = subprocess.run(
        [
            "curl",
            "-s",
            "-w",
            "\\n%{http_code}",
            "-X",
            "POST",
            f"{emu.base_url}/v1/files",
            "-H",
            "x-api-key: k",
            "-F",
            f"file=@{big}",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    body, status = result.stdout.rsplit("\n", 1)
    assert status == "413" and json.loads(body)["error"]["type"] == "request_too_large"
    assert emu.files() == []


@pytest.mark.parametrize(
    "module", ["assetmgr.emulator.command", "assetmgr.emulator.pytest_plugin", "assetmgr.emulator"]
)
def test_entry_modules_import_without_the_server(module):
    code = (
        f"import sys, {module}; heavy = ['assetmgr.emulator.server', 'multipart', 'http.server']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_async_sdk_concurrent_uploads(emu):
    import asyncio

    async def main():
        client = anthropic.AsyncAnthropic(base_url=emu.base_url, api_key="k", max_retries=0)
        metas = await asyncio.gather(
            *[
                client.files.upload(file=(f"{n}.png", image_bytes(8 + n, 8), "image/png"))
                for n in range(12)
            ]
        )
        await client.close()
        return metas

    metas = asyncio.run(main())
    assert len({m.id for m in metas}) == 12 and len(emu.files()) == 12
