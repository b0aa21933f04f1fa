"""The API's clock, not this machine's: with the emulator's clock minutes or hours off,
uploads under lost responses still leave one file per rendition, and no upload that has
expired by the API's clock is ever handed out (by the fast path or by the library).

Every ``assetmgr`` here is a real subprocess talking to the emulator over loopback.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.backends import SqliteDb
from tests.conftest import write_image
from tests.test_upload_crashes import (
    Proc,
    assert_one_remote_file_per_rendition,
    cli_env,
    make_images,
    rows,
)

SKEWS = [timedelta(minutes=11), timedelta(minutes=-11), timedelta(hours=2), timedelta(hours=-2)]


def places(tmp_path, emulator):
    """The catalogue, the environment of a CLI talking to ``emulator``, and a log folder."""
    db = SqliteDb(tmp_path / "catalogue.db")
    return db, cli_env(emulator, tmp_path / "home"), tmp_path / "logs"


def real_now() -> datetime:
    return datetime.now(timezone.utc)


def add(db, env, logs, *args) -> Proc:
    proc = Proc(db, env, logs, "add", *args)
    proc.wait(timeout=120)
    return proc


def block(db, env, logs, *refs) -> list[dict]:
    proc = Proc(db, env, logs, "block", *refs)
    assert proc.wait(timeout=60) == 0, proc.stderr
    return json.loads(proc.out_path.read_text())


def live_by_the_api(emulator, file_id: str) -> bool:
    [found] = [f for f in emulator.files("default") if f["id"] == file_id]
    expires = found["expires_at"]
    moment = datetime.fromisoformat(expires.replace("Z", "+00:00")) if expires else None
    return moment is None or moment > emulator.now()


@pytest.mark.slow
@pytest.mark.parametrize("skew", SKEWS, ids=lambda s: f"{s.total_seconds() / 60:+.0f}min")
def test_lost_responses_under_a_skewed_clock_leave_one_file_per_rendition(
    skew, tmp_path, anthropic_emulator_factory
):
    emulator = anthropic_emulator_factory(drop_rate=0.35, latency_ms=20, seed=11)
    emulator.set_time(real_now() + skew)
    db, env, logs = places(tmp_path, emulator)
    make_images(tmp_path / "in", 24)
    first = add(db, env, logs, tmp_path / "in", "--expires-in", "2h")
    assert first.popen.returncode == 0, first.stderr
    assert_one_remote_file_per_rendition(emulator, db, f"\n{first.stderr}")
    again = add(db, env, logs, tmp_path / "in")
    assert again.popen.returncode == 0, again.stderr
    assert_one_remote_file_per_rendition(emulator, db, f"\n{again.stderr}")
    shas = [sha for (sha,) in rows(db, "SELECT sha256 FROM assets ORDER BY id")]
    blocks = block(db, env, logs, *shas)
    assert all(live_by_the_api(emulator, b["source"]["file_id"]) for b in blocks)


@pytest.mark.parametrize("skew", [timedelta(hours=2), timedelta(minutes=11)], ids=["+2h", "+11min"])
def test_an_upload_expired_by_the_apis_clock_is_never_handed_out(
    skew, tmp_path, anthropic_emulator_factory
):
    """The API's clock runs ahead of this machine's: by the local clock the upload has most of
    its hour left, by the API's it is gone. Both lookup paths must replace it."""
    emulator = anthropic_emulator_factory()
    emulator.set_time(real_now() + skew)
    db, env, logs = places(tmp_path, emulator)
    write_image(tmp_path / "a.png", seed=3)
    [record] = [json.loads(line) for line in add_json(db, env, logs, tmp_path / "a.png")]
    emulator.advance(3600 + 120)  # an hour passes, as the API sees it
    [first] = block(db, env, logs, record["sha256"])
    assert first["source"]["file_id"] != record["file_id"]
    assert live_by_the_api(emulator, first["source"]["file_id"])
    [second] = block(db, env, logs, record["sha256"])  # now through the fast path
    assert second == first
    emulator.advance(3600 + 120)
    [third] = block(db, env, logs, record["sha256"])
    assert third["source"]["file_id"] not in (first["source"]["file_id"], record["file_id"])
    assert live_by_the_api(emulator, third["source"]["file_id"])


def test_an_api_clock_behind_this_one_keeps_live_uploads(tmp_path, anthropic_emulator_factory):
    """The API's clock is two hours behind: by this machine's clock the upload expired an
    hour ago, by the API's it has an hour left. It is used, not replaced."""
    emulator = anthropic_emulator_factory()
    emulator.set_time(real_now() - timedelta(hours=2))
    db, env, logs = places(tmp_path, emulator)
    write_image(tmp_path / "a.png", seed=4)
    [record] = [json.loads(line) for line in add_json(db, env, logs, tmp_path / "a.png")]
    for _ in range(2):
        [found] = block(db, env, logs, record["sha256"])
        assert found["source"]["file_id"] == record["file_id"]
    assert len(emulator.files("default")) == 1


def add_json(db, env, logs, *args) -> list[str]:
    proc = add(db, env, logs, *args, "--expires-in", "1h", "--json")
    assert proc.popen.returncode == 0, proc.stderr
    return proc.out_path.read_text().splitlines()
