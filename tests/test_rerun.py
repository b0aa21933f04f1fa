"""The re-run fast path of ``add``: answered from the stat cache without SQLAlchemy, Pillow or
the SDK when nothing needs reading or uploading, with the same answer the library gives;
and the library's path whenever something does.

Which path ran is seen from outside: the fast path never imports SQLAlchemy.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from assetmgr import Library
from assetmgr.records import to_json
from tests.conftest import write_image

HEAVY = ("sqlalchemy", "PIL", "anthropic", "alembic")
RUN = (
    "import json, sys\n"
    "from assetmgr.cli import cli\n"
    "code = 0\n"
    "try:\n    cli(sys.argv[1:])\n"
    "except SystemExit as e:\n    code = e.code or 0\n"
    f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
    "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
)


def add(db, *args, env=None):
    """``add`` in a subprocess: its JSON lines, exit code, the heavy modules it imported,
    and the rest of its stderr."""
    result = subprocess.run(
        [sys.executable, "-c", RUN, "--db", str(db), "add", *map(str, args), "--json"],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120,
    )  # fmt: skip
    *talk, last = result.stderr.splitlines()
    report = json.loads(last)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return lines, report["code"], report["heavy"], talk


@pytest.fixture
def folder(tmp_path):
    for i in range(20):
        write_image(tmp_path / "in" / f"sub{i % 3}" / f"{i}.png", seed=i)
    (tmp_path / "in" / "junk.png").write_bytes(b"not an image")
    return tmp_path / "in"


def test_an_unchanged_rerun_answers_alone_and_as_the_library_would(folder, db_path):
    first, code, _, _ = add(db_path, folder, "--no-upload")
    assert code == 3 and len(first) == 21
    lines, code, heavy, talk = add(db_path, folder, "--no-upload")
    assert heavy == [] and code == 0, talk
    assert talk == [
        "0 new, 0 duplicates, 20 unchanged, 0 rejected; 1 known rejections not read again "
        "(--list-rejected shows them)"
    ]
    with Library.open(db_path) as lib:  # the library's answer, for the same files
        expected = [json.loads(to_json(o)) for o in lib.add([folder])]
    assert lines == expected
    _, code, heavy, _ = add(db_path, folder, "--no-upload", "--list-rejected")
    assert (code, heavy) == (3, [])


def test_what_needs_reading_takes_the_librarys_path(folder, db_path):
    add(db_path, folder, "--no-upload")
    os.utime(folder / "sub0" / "0.png")  # touched: read again, found identical
    write_image(folder / "new.png", seed=99)
    lines, code, heavy, _ = add(db_path, folder, "--no-upload")
    assert "sqlalchemy" in heavy and code == 0
    by_name = {os.path.basename(r["path"]): r["outcome"] for r in lines}
    assert (by_name["0.png"], by_name["new.png"]) == ("unchanged", "new")
    _, _, heavy, _ = add(db_path, folder, "--no-upload", "--tag", "t")  # tags are written
    assert "sqlalchemy" in heavy
    _, _, heavy, _ = add(db_path, folder, "--no-upload")
    assert heavy == []


@pytest.fixture
def uploaded(folder, db_path, anthropic_emulator):
    env = {"ANTHROPIC_BASE_URL": anthropic_emulator.base_url, "ANTHROPIC_API_KEY": "test-key",
           "ASSETMGR_NO_UPLOAD": ""}  # fmt: skip
    lines, code, _, talk = add(db_path, folder, env=env)
    assert code == 3 and {r["upload"] for r in lines if r["outcome"] == "new"} == {"uploaded"}
    return env, {r["path"]: r["file_id"] for r in lines}


def test_a_rerun_with_every_upload_present_needs_neither_the_sdk_nor_sqlalchemy(
    folder, db_path, uploaded, anthropic_emulator
):
    env, file_ids = uploaded
    requests = len(anthropic_emulator.requests)
    lines, code, heavy, talk = add(db_path, folder, env=env)
    assert (code, heavy) == (0, []) and len(anthropic_emulator.requests) == requests
    accepted = [r for r in lines if r["outcome"] != "rejected"]
    assert {r["upload"] for r in accepted} == {"present"}
    assert {r["path"]: r["file_id"] for r in accepted} == {
        p: f for p, f in file_ids.items() if f is not None
    }
    assert talk[-1] == "uploads: 0 uploaded (0.0 MB), 20 already there"


def set_uploads(db, sql: str, *args) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(sql, args)
    conn.close()


@pytest.mark.parametrize(
    "change",
    [
        ("UPDATE uploads SET lease_owner = 'elsewhere:1:x' WHERE id = 1", ()),  # a lease held
        ("UPDATE uploads SET expires_at = ? WHERE id = 1", "expiring"),  # expiry: the API's clock
        ("UPDATE uploads SET last_verified_at = ? WHERE id = 1", "old"),  # unchecked for 2 days
        ("UPDATE uploads SET state = 'expired' WHERE id = 1", ()),  # no live upload
    ],
    ids=["lease", "expiring", "unchecked", "missing"],
)
def test_uploads_to_settle_take_the_librarys_path(folder, db_path, uploaded, change):
    env, _ = uploaded
    sql, arg = change
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    values = {"expiring": (now + timedelta(days=3),), "old": (now - timedelta(days=2),)}
    set_uploads(db_path, sql, *(values.get(arg, ())))
    lines, code, heavy, talk = add(db_path, folder, env=env)
    assert "sqlalchemy" in heavy and code == 0, talk
    # "adopted": the upload marked expired is alive in the workspace after all
    uploads = {r["upload"] for r in lines if r["outcome"] != "rejected"}
    assert uploads <= {"present", "uploaded", "adopted"}


@pytest.mark.backends("postgresql")
def test_on_postgresql_a_rerun_takes_the_librarys_path_with_the_same_answer(
    folder, db, anthropic_emulator
):
    """The fast path reads SQLite files only: on a server every re-run is the library's, and
    answers as a re-run on SQLite does, with no request when every upload is present."""
    env = {"ANTHROPIC_BASE_URL": anthropic_emulator.base_url, "ANTHROPIC_API_KEY": "test-key",
           "ASSETMGR_NO_UPLOAD": ""}  # fmt: skip
    first, code, _, _ = add(db, folder, env=env)
    assert code == 3 and len(first) == 21
    requests = len(anthropic_emulator.requests)
    lines, code, heavy, talk = add(db, folder, env=env)
    assert "sqlalchemy" in heavy and "anthropic" not in heavy and code == 0, talk
    assert talk == [
        "0 new, 0 duplicates, 20 unchanged, 0 rejected; 1 known rejections not read again "
        "(--list-rejected shows them)",
        "uploads: 0 uploaded (0.0 MB), 20 already there",
    ]
    assert len(anthropic_emulator.requests) == requests
    by_path = {r["path"]: r for r in first}
    accepted = [r for r in lines if not r["known"]]
    assert len(accepted) == 20 and [
        (r["outcome"], r["upload"], r["file_id"]) for r in accepted
    ] == [("unchanged", "present", by_path[r["path"]]["file_id"]) for r in accepted]
