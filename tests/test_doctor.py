"""``assetmgr doctor`` on a healthy setup (the emulator) and on broken ones: no key, a key
that must never be shown, a catalogue behind, foreign or unreadable, a store that cannot be
written, a bad settings file, an API that does not answer, a skewed clock. One line each, a
fix where something is wrong, exit 13 then."""

from __future__ import annotations

import json
import socket
import sqlite3

import pytest

from assetmgr.errors import ExitCode

pytestmark = pytest.mark.backends()


def checks(run, *args) -> dict[str, dict]:
    result = run("doctor", "--json", *args)
    return {c["name"]: c for c in map(json.loads, result.stdout.splitlines())} | {
        "_exit": result.exit_code
    }


def test_a_healthy_setup_reports_every_check_ok(run, emulated):
    emulator = emulated(key="sk-ant-secret-0123456789")
    run("ls")  # the catalogue exists
    result = run("doctor")
    assert result.exit_code == 0, result.stdout
    assert "sk-ant-secret" not in result.stdout + result.stderr
    names = [line.split()[1] for line in result.stdout.splitlines()]
    assert names == ["settings", "catalogue", "store", "key", "base", "workspace", "api",
                     "clock", "versions", "formats"]  # fmt: skip
    assert all(line.startswith("ok ") for line in result.stdout.splitlines())
    found = checks(run)
    assert found["key"]["detail"] == "ANTHROPIC_API_KEY is set (not shown)"
    assert found["base url"]["detail"] == emulator.base_url
    assert found["workspace"]["detail"].startswith("default -> wrkspc_")
    assert "(the newest)" in found["catalogue"]["detail"]
    assert set(found["api"]) == {"name", "ok", "detail", "fix"}


def test_no_key_fails_and_says_what_to_do(run):
    found = checks(run)
    assert found["_exit"] == ExitCode.UNHEALTHY
    assert not found["key"]["ok"] and "ANTHROPIC_API_KEY" in found["key"]["fix"]
    assert not found["api"]["ok"] and found["api"]["detail"] == "not asked: no credentials"
    assert found["catalogue"]["ok"] and found["store"]["ok"]
    offline = checks(run, "--offline")
    assert "api" not in offline and offline["_exit"] == ExitCode.UNHEALTHY  # the key still


def test_an_api_that_does_not_answer(run, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    found = checks(run)
    assert found["_exit"] == ExitCode.UNHEALTHY
    assert not found["api"]["ok"] and "ANTHROPIC_BASE_URL" in found["api"]["fix"]
    assert found["key"]["ok"]


def test_a_skewed_clock_is_reported(run, emulated):
    emulator = emulated()
    emulator.advance(2 * 3600)
    found = checks(run)
    assert not found["clock"]["ok"] and found["clock"]["detail"].startswith("+72")
    assert "clock" in found["clock"]["fix"] and found["_exit"] == ExitCode.UNHEALTHY


def test_a_bad_settings_file_and_an_unwritable_store(run, isolated_home, tmp_path, monkeypatch):
    (isolated_home / "config.toml").write_text("workspce = 'x'\n")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("ASSETMGR_STORE", str(blocker / "renditions"))
    result = run("doctor", "--offline")
    assert result.exit_code == ExitCode.UNHEALTHY
    lines = {line.split()[1]: line for line in result.stdout.splitlines()}
    assert lines["settings"].startswith("FAIL") and "did you mean 'workspace'" in lines["settings"]
    assert lines["store"].startswith("FAIL") and "cannot write" in lines["store"]
    assert "-> make the folder writable" in lines["store"]


def test_a_catalogue_behind_is_reported_not_migrated(run, db):
    from assetmgr.db import catalogue_state, make_engine, upgrade
    from assetmgr.schema_version import head_revision

    url = db.url
    upgrade(make_engine(url), "0009")
    found = checks(run, "--offline")
    assert not found["catalogue"]["ok"]
    assert f"schema 0009, this assetmgr's is {head_revision()}" in found["catalogue"]["detail"]
    assert catalogue_state(url) == "0009"  # doctor changed nothing


@pytest.mark.backends("sqlite")
def test_another_programs_database_is_reported(run, db):
    with sqlite3.connect(db.path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER)")
    found = checks(run, "--offline")
    assert (
        not found["catalogue"]["ok"] and "not an assetmgr catalogue" in found["catalogue"]["detail"]
    )
    assert found["_exit"] == ExitCode.UNHEALTHY
