"""Workspaces are what the API says they are; labels only name them. Real SQLite catalogues,
the real SDK over HTTP to the emulator."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import datetime, timezone

import anthropic
import pytest

from assetmgr.remote import normalise_url
from tests.conftest import Cli, write_image
from tests.test_uploads import assert_one_copy_each, catalogue_rows, images, remote_copies

pytestmark = pytest.mark.backends()  # each test on SQLite and PostgreSQL


@pytest.mark.parametrize(
    "given, normal",
    [
        ("HTTPS://API.Anthropic.com:443/", "https://api.anthropic.com"),
        ("http://127.0.0.1:80//v1/../proxy/./x//", "http://127.0.0.1/proxy/x"),
        ("http://[::1]:8765", "http://[::1]:8765"),
        ("  https://api.anthropic.com///  ", "https://api.anthropic.com"),
    ],
)
def test_base_urls_are_normalised(given, normal):
    assert normalise_url(given) == normal


def test_labels_that_reach_one_workspace_share_its_uploads(tmp_path, run, uploading, db):
    images(tmp_path / "in", 3)
    assert run("add", tmp_path / "in").exit_code == 0
    pushed = run("push", "--workspace", "eu-team")
    assert pushed.exit_code == 0 and "0 uploaded" in pushed.stderr, pushed.stderr
    assert "3 already there" in pushed.stderr
    assert_one_copy_each(uploading, db)
    [record] = run.json_lines("show", catalogue_rows(db, "SELECT sha256 FROM assets")[0][0])
    [upload] = record["uploads"]
    assert upload["labels"] == ["default", "eu-team"]
    assert upload["workspace"] == uploading.workspace_id("default")


def test_a_label_reaching_another_workspace_is_an_error(tmp_path, run, emulated, monkeypatch):
    emulator = emulated(key="key-a", workspaces={"key-a": "team-a", "key-b": "team-b"})
    images(tmp_path / "in", 2)
    assert run("add", tmp_path / "in", "--workspace", "eu").exit_code == 0
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-b")
    images(tmp_path / "in", 1, start=5)
    result = run("add", tmp_path / "in", "--workspace", "eu")
    assert result.exit_code == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("Error: ")]
    a, b = emulator.workspace_id("team-a"), emulator.workspace_id("team-b")
    assert f"workspace 'eu' at {emulator.base_url} is {a}, but this key reaches {b}" in line
    assert emulator.files("team-b") == [] and len(emulator.files("team-a")) == 2
    assert run("push", "--workspace", "eu-b").exit_code == 0  # another name: its own
    assert len(emulator.files("team-b")) == 3


def test_two_catalogues_sharing_a_workspace_upload_each_rendition_once(
    tmp_path, uploading, tmp_path_factory
):
    """Separate SQLite catalogues, overlapping folders: the second adopts what the first
    uploaded instead of uploading it again."""
    for i in range(6):
        write_image(tmp_path / "alice" / f"{i}.png", seed=i)
    for i in range(3, 9):
        write_image(tmp_path / "bob" / f"{i}.png", seed=i)
    alice = Cli(tmp_path_factory.mktemp("alice") / "catalogue.db")
    bob = Cli(tmp_path_factory.mktemp("bob") / "catalogue.db")
    assert alice("add", tmp_path / "alice").exit_code == 0
    lines = bob.json_lines("add", tmp_path / "bob")
    outcomes = {line["path"].rsplit("/", 1)[1]: line["upload"] for line in lines}
    assert outcomes == {"3.png": "adopted", "4.png": "adopted", "5.png": "adopted",
                        "6.png": "uploaded", "7.png": "uploaded", "8.png": "uploaded"}  # fmt: skip
    assert set(remote_copies(uploading).values()) == {1} and len(uploading.files()) == 9
    [record] = bob.json_lines(
        "show", next(x["sha256"] for x in lines if x["path"].endswith("3.png"))
    )
    assert record["uploads"][0]["origin"] == "adopted"
    assert ", adopted" in bob("show", record["sha256"]).stdout
    listings = [r for r in uploading.requests if r["method"] == "GET" and "limit" in r["query"]]
    again = bob("add", tmp_path / "bob")  # nothing to upload: no listing
    assert again.exit_code == 0 and "6 already there" in again.stderr
    assert [r for r in uploading.requests if "limit" in r["query"]] == listings


# -- an older catalogue -----------------------------------------------------------------------


def old_catalogue(db_path, emulator, shas_and_files: list[tuple[str, str, str]]) -> None:
    """A catalogue at schema 0003 (labels were remotes then), whose uploads are real files of
    the emulator, made by hand: assets, renditions, and for each label its uploads."""
    from assetmgr.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine, "0003")
    engine.dispose()
    now = datetime.now(timezone.utc).isoformat(" ")
    url = emulator.base_url.upper().replace("HTTP://", "http://") + "/"  # an old spelling
    with closing(sqlite3.connect(db_path)) as conn, conn:
        for label, sha, file_id in shas_and_files:
            conn.execute(
                "INSERT OR IGNORE INTO remotes (base_url, workspace, created_at) VALUES (?, ?, ?)",
                (url, label, now),
            )
            remote = conn.execute("SELECT id FROM remotes WHERE workspace = ?", (label,)).fetchone()
            conn.execute(
                "INSERT OR IGNORE INTO assets (sha256, format, media_type, width, height, mode, "
                "frames, size_bytes, created_at) VALUES (?, 'PNG', 'image/png', 8, 8, 'RGB', 1, "
                "10, ?)",
                (sha, now),
            )
            conn.execute(
                "INSERT OR IGNORE INTO renditions (sha256, media_type, width, height, size_bytes, "
                "tokens, created_at) VALUES (?, 'image/png', 8, 8, 10, 1, ?)",
                (sha, now),
            )
            conn.execute(
                "INSERT OR IGNORE INTO asset_renditions (asset_id, policy, rendition_id, warnings,"
                " created_at) SELECT a.id, 'vision', r.id, '[]', ? FROM assets a, renditions r "
                "WHERE a.sha256 = ? AND r.sha256 = ?",
                (now, sha, sha),
            )
            conn.execute(
                "INSERT INTO uploads (rendition_id, remote_id, file_id, filename, size_bytes, "
                "state, created_at, last_verified_at) SELECT id, ?, ?, ?, 10, 'active', ?, ? "
                "FROM renditions WHERE sha256 = ?",
                (remote[0], file_id, f"x.sha256-{sha}.png", now, now, sha),
            )


@pytest.mark.backends("sqlite")  # builds an old SQLite catalogue by hand
def test_an_older_catalogue_keeps_its_uploads_and_learns_their_workspace(run, uploading, db_path):
    client = anthropic.Anthropic(base_url=uploading.base_url, api_key="test-key")
    shas = [f"{i:064x}" for i in (1, 2)]

    def upload(sha):
        return client.files.upload(file=(f"x.sha256-{sha}.png", b"0123456789", "image/png")).id

    first = {sha: upload(sha) for sha in shas}
    second = upload(shas[0])  # `push --workspace eu-team` made a second copy, once
    old_catalogue(db_path, uploading, [("default", shas[0], first[shas[0]]),
                                       ("default", shas[1], first[shas[1]]),
                                       ("eu-team", shas[0], second)])  # fmt: skip
    assert run("push").exit_code == 0  # migrates; looks the uploads up, now unverified
    assert run("push", "--workspace", "eu-team").exit_code == 0
    rows = catalogue_rows(
        db_path,
        "SELECT r.sha256, u.file_id, u.state FROM uploads u JOIN renditions r ON "
        "r.id = u.rendition_id ORDER BY u.id",
    )
    assert sorted(rows) == sorted([(shas[0], first[shas[0]], "active"),
                                   (shas[1], first[shas[1]], "active"),
                                   (shas[0], second, "superseded")])  # fmt: skip
    remotes = catalogue_rows(db_path, "SELECT base_url, workspace_id FROM remotes")
    assert remotes == [(uploading.base_url, uploading.workspace_id("default"))]
    labels = catalogue_rows(db_path, "SELECT name FROM workspace_labels ORDER BY name")
    assert labels == [("default",), ("eu-team",)]
    assert sum(r["method"] == "POST" for r in uploading.requests) == 3  # none by assetmgr
    uploading.advance(3600)
    cleaned = run("gc", "--yes")
    assert cleaned.exit_code == 0 and "deleted 1 files" in cleaned.stderr, cleaned.stderr
    assert {f["id"] for f in uploading.files()} == set(first.values())
