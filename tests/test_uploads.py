"""Uploading through the real SDK to the emulator over loopback: once, and only once; with a
SQLite and a PostgreSQL catalogue."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from assetmgr import Library
from tests.backends import catalogue_db
from tests.conftest import write_image

NAME = re.compile(r"\.sha256-([0-9a-f]{64})\.")


def images(folder, n, start=0, size=(320, 240)):
    for i in range(start, start + n):
        write_image(folder / f"img{i:03}.png", seed=i, size=size)
    return folder


def remote_copies(emulator, workspace="default"):
    """rendition sha256 -> number of files in the workspace that hold it."""
    counts: dict[str, int] = {}
    for f in emulator.files(workspace):
        sha = NAME.search(f["filename"]).group(1)
        counts[sha] = counts.get(sha, 0) + 1
    return counts


pytestmark = pytest.mark.backends()


def catalogue_rows(db, sql):
    """Rows of ``sql`` in the catalogue ``db`` (a ``CatalogueDb``, or a SQLite file's path)."""
    return catalogue_db(db).rows(sql)


def vision_renditions(db):
    return {
        sha
        for (sha,) in catalogue_rows(
            db,
            "SELECT DISTINCT r.sha256 FROM renditions r JOIN "
            "asset_renditions ar ON ar.rendition_id = r.id WHERE ar.policy = 'vision'",
        )
    }


def assert_one_copy_each(emulator, db, workspace="default"):
    copies = remote_copies(emulator, workspace)
    assert copies == {sha: 1 for sha in vision_renditions(db)}
    assert catalogue_rows(db, "SELECT count(*) FROM uploads WHERE state = 'pending'") == [(0,)]
    live = {f["id"] for f in emulator.files(workspace)}
    active = {
        fid for (fid,) in catalogue_rows(db, "SELECT file_id FROM uploads WHERE state = 'active'")
    }
    assert active <= live  # the catalogue never claims a file the remote does not have


def uploads_sent(emulator):
    return sum(
        1 for r in emulator.requests if r["method"] == "POST" and r["path"].startswith("/v1/files")
    )


def test_add_uploads_and_a_rerun_uploads_nothing(tmp_path, run, uploading, db):
    images(tmp_path / "in", 6)
    first = run("add", tmp_path / "in")
    assert first.exit_code == 0, first.stderr
    assert "6 uploaded" in first.stderr
    assert_one_copy_each(uploading, db)
    sent = uploads_sent(uploading)
    again = run("add", tmp_path / "in")
    assert (
        again.exit_code == 0 and "0 uploaded" in again.stderr and "6 already there" in again.stderr
    )
    assert uploads_sent(uploading) == sent


def test_json_lines_carry_the_file_id(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    records = run.json_lines("add", tmp_path / "in")
    ids = {f["id"] for f in uploading.files()}
    assert {r["upload"] for r in records} == {"uploaded"} and {r["file_id"] for r in records} == ids
    [shown] = run.json_lines("show", records[0]["sha256"])
    [upload] = shown["uploads"]
    assert (upload["state"], upload["file_id"], upload["workspace"], upload["labels"]) == (
        "active",
        records[0]["file_id"],
        uploading.workspace_id("default"),  # as the API reports it
        ["default"],
    )
    assert upload["origin"] == "uploaded"
    assert upload["filename"].endswith(f".sha256-{shown['renditions'][0]['sha256']}.png")
    assert upload["filename"].startswith("img000.")


def test_no_upload_then_push(tmp_path, run, uploading, db):
    images(tmp_path / "in", 4)
    assert run("add", tmp_path / "in", "--no-upload").exit_code == 0
    assert uploading.files() == []
    pushed = run("push")
    assert pushed.exit_code == 0 and "4 uploaded" in pushed.stderr
    assert "0 uploaded" in run("push").stderr
    assert_one_copy_each(uploading, db)


def test_shared_renditions_are_uploaded_once(tmp_path, run, uploading, db):
    write_image(tmp_path / "in" / "a.png", seed=1)
    (tmp_path / "in" / "copy.png").write_bytes((tmp_path / "in" / "a.png").read_bytes())
    run("add", tmp_path / "in")
    assert len(uploading.files()) == 1


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.5, "error_statuses": (429,), "retry_after_ms": 20},
        {"error_rate": 0.4, "error_statuses": (500, 529), "retry_after_ms": 20},
        {"drop_rate": 0.4},
        {"drop_rate": 0.3, "error_rate": 0.3, "retry_after_ms": 20},
    ],
)
def test_faults_still_leave_exactly_one_copy_per_rendition(tmp_path, run, emulated, db, faults):
    images(tmp_path / "in", 12)
    uploading = emulated(seed=7, **faults)
    result = run("add", tmp_path / "in")
    assert "Traceback" not in result.stderr
    uploading.set_faults(error_rate=0.0, drop_rate=0.0)
    if result.exit_code != 0:  # failures that outlasted every retry are reported; a re-run finishes
        assert "upload failed" in result.stderr
        assert run("push").exit_code == 0
    assert_one_copy_each(uploading, db)


def test_lost_responses_make_copies_that_are_deleted(tmp_path, run, emulated, db):
    images(tmp_path / "in", 10)
    uploading = emulated(seed=3, drop_rate=0.5)
    result = run("add", tmp_path / "in")
    assert result.exit_code == 0, result.stderr
    dropped = sum(1 for r in uploading.requests if r["status"] == "dropped")
    assert dropped > 0
    assert "duplicate copies deleted" in result.stderr
    assert_one_copy_each(uploading, db)


def test_two_workspaces_have_their_own_uploads(tmp_path, run, emulated, monkeypatch, db):
    emulator = emulated(key="key-a", workspaces={"key-a": "team-a", "key-b": "team-b"})
    images(tmp_path / "in", 3)
    assert run("add", tmp_path / "in", "--workspace", "team-a").exit_code == 0
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-b")
    pushed = run("push", "--workspace", "team-b")
    assert pushed.exit_code == 0 and "3 uploaded" in pushed.stderr
    a, b = ({f["id"] for f in emulator.files(w)} for w in ("team-a", "team-b"))
    assert len(a) == len(b) == 3 and not a & b
    rows = catalogue_rows(
        db,
        "SELECT l.name, u.file_id FROM uploads u JOIN workspace_labels l "
        "ON l.remote_id = u.remote_id",
    )
    assert {fid for w, fid in rows if w == "team-a"} == a and {
        fid for w, fid in rows if w == "team-b"
    } == b


def test_workspace_id_is_sent_for_keys_with_several_workspaces(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    assert (
        run("add", tmp_path / "in", "--workspace", "eu", "--workspace-id", "wrkspc_eu").exit_code
        == 0
    )
    assert len(uploading.files("wrkspc_eu")) == 2 and uploading.files("default") == []


def test_expiring_uploads_record_expires_at_and_are_replaced(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    before = datetime.now(timezone.utc)
    assert run("add", tmp_path / "in", "--expires-in", "7d").exit_code == 0
    [shown] = run.json_lines("show", catalogue_rows(db, "SELECT sha256 FROM assets LIMIT 1")[0][0])
    expires = datetime.fromisoformat(shown["uploads"][0]["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (before + timedelta(days=7))) < timedelta(minutes=5)
    uploading.advance(8 * 86400)  # the API's clock: files expire by it
    pushed = run("push", "--verify")
    assert pushed.exit_code == 0 and "2 uploaded" in pushed.stderr
    states = sorted(s for (s,) in catalogue_rows(db, "SELECT state FROM uploads"))
    assert states == ["active", "active", "expired", "expired"]


def test_bad_expiry_is_a_usage_error(tmp_path, run, uploading):
    images(tmp_path / "in", 1)
    result = run("add", tmp_path / "in", "--expires-in", "10m")
    assert result.exit_code == 2 and "the API takes 1h to 90d" in result.stderr


def test_refused_uploads_are_marked_and_the_run_goes_on(tmp_path, run, uploading, db):
    images(tmp_path / "in", 4, size=(320, 240))
    size = len((tmp_path / "in" / "img000.png").read_bytes())
    uploading.set_faults(quota_bytes=2 * size)  # room for two of the four
    result = run("add", tmp_path / "in")
    assert "Traceback" not in result.stderr and result.exit_code == 6  # uploads failed
    failed = catalogue_rows(db, "SELECT error FROM uploads WHERE state = 'failed'")
    assert failed and all("quota" in error.lower() for (error,) in failed)
    lines = [line for line in result.stderr.splitlines() if line.startswith("upload failed: ")]
    assert len(lines) == len(failed)
    assert all(line.startswith(f"upload failed: {tmp_path / 'in'}/img00") for line in lines)
    active = {
        fid for (fid,) in catalogue_rows(db, "SELECT file_id FROM uploads WHERE state = 'active'")
    }
    assert active == {f["id"] for f in uploading.files()}
    uploading.set_faults(quota_bytes=None)
    assert run("push").exit_code == 0
    assert_one_copy_each(uploading, db)


def test_oversized_upload_is_refused_with_the_apis_message(tmp_path, run, emulated, db):
    emulated(max_file_bytes=1000)
    images(tmp_path / "in", 1)
    run("add", tmp_path / "in", "--no-upload")
    result = run("push")
    assert result.exit_code == 6 and "413" in result.stderr
    assert catalogue_rows(db, "SELECT state FROM uploads") == [("failed",)]


def test_refused_key_stops_at_once(tmp_path, run, emulated, db):
    emulated(key="key-a", workspaces={"key-a": "team-a"})
    images(tmp_path / "in", 5)
    result = run("add", tmp_path / "in", "--workspace-id", "wrkspc_not_mine")  # 403 for this key
    assert result.exit_code == 7
    assert (
        result.stderr.count("Error: the API refused the key") == 1
        and "Traceback" not in result.stderr
    )
    assert catalogue_rows(
        db, "SELECT count(*) FROM uploads WHERE state IN ('pending', 'active')"
    ) == [(0,)]
    assert len(catalogue_rows(db, "SELECT * FROM assets")) == 5  # what was catalogued stays


def test_missing_key_fails_before_any_work(tmp_path, run, monkeypatch, db):
    monkeypatch.delenv("ASSETMGR_NO_UPLOAD")
    images(tmp_path / "in", 2)
    result = run("add", tmp_path / "in")
    assert result.exit_code == 7
    assert result.stderr.strip().startswith("Error: no API key: set ANTHROPIC_API_KEY")
    assert "--no-upload" in result.stderr and "Traceback" not in result.stderr


def test_the_key_never_reaches_the_catalogue_or_output(tmp_path, run, uploading, db, monkeypatch):
    secret = "sk-ant-api03-SECRET-" + "x7" * 20
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    images(tmp_path / "in", 3)
    outputs = [
        run("add", tmp_path / "in", "--json"),
        run("push"),
        run("ls", "--json"),
        run("show", catalogue_rows(db, "SELECT sha256 FROM assets LIMIT 1")[0][0], "--json"),
    ]
    uploading.set_faults(drop_rate=1.0)
    images(tmp_path / "in", 1, start=10)
    outputs.append(run("add", tmp_path / "in"))
    for result in outputs:
        assert secret not in result.stdout + result.stderr
    assert secret.encode() not in db.everything()


def test_add_without_upload_never_imports_the_sdk(tmp_path, db):
    images(tmp_path / "in", 2)
    code = (
        "import sys; from assetmgr.cli import cli\n"
        f"try: cli(['--db', {str(db)!r}, 'add', {str(tmp_path / 'in')!r}, '--no-upload'])\n"
        "except SystemExit: pass\n"
        "print('anthropic' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_a_rerun_with_nothing_to_upload_never_imports_the_sdk(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    assert run("add", tmp_path / "in").exit_code == 0
    code = (
        "import sys; from assetmgr.cli import cli\n"
        f"try: cli(['--db', {str(db)!r}, 'add', {str(tmp_path / 'in')!r}])\n"
        "except SystemExit as e: print('exit', e.code)\n"
        "print('anthropic' in sys.modules)"
    )
    env = {**__import__("os").environ}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "2 already there" in result.stderr
    assert result.stdout.split() == ["exit", "0", "False"], result.stderr


def test_an_unreachable_api_still_gets_every_line_and_exit_6(tmp_path, run, monkeypatch, db):
    """Nothing listens at the API's address: every file is catalogued, every JSON line is
    printed with its upload failed, and the run stops sending instead of trying each file."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    monkeypatch.delenv("ASSETMGR_NO_UPLOAD")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ASSETMGR_MAX_RETRIES", "0")
    images(tmp_path / "in", 30)
    result = run("add", tmp_path / "in", "--json")
    assert result.exit_code == 6 and "Traceback" not in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 30 and {r["upload"] for r in records} == {"failed"}
    assert all("no answer from the API" in r["upload_error"] for r in records)
    assert len(catalogue_rows(db, "SELECT * FROM assets")) == 30
    assert catalogue_rows(db, "SELECT count(*) FROM uploads WHERE state = 'active'") == [(0,)]


def test_a_session_renews_its_leases_while_it_uploads(tmp_path, db, emulated, monkeypatch):
    """A push renews the leases it holds as it goes (every 5 minutes; here at every step), so
    the expiry of a claim still waiting for its turn moves on, and no other machine, judging
    it by expiry alone, takes it over."""
    monkeypatch.setattr("assetmgr.uploads.RENEW_EVERY", timedelta(0))
    emulated(latency_ms=200)
    images(tmp_path / "in", 4)
    with Library.open(db.url) as lib:
        lib.add([tmp_path / "in"])
    seen: dict[int, set] = defaultdict(set)
    done = threading.Event()

    def watch():
        while not done.is_set():
            query = "SELECT id, lease_expires_at FROM uploads WHERE state = 'pending'"
            for upload_id, expires in db.rows(query):
                seen[upload_id].add(expires)
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with Library.open(db.url) as lib:
            summary = lib.push(jobs=1)
    finally:
        done.set()
        watcher.join()
    assert "4 uploaded" in str(summary)
    assert max(len(expiries) for expiries in seen.values()) >= 2, seen
