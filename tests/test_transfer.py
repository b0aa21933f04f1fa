"""export and import: a catalogue as JSON Lines, merged into another by hash, idempotently;
a teammate with the rendition store but not the source files."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import anthropic
import pytest

from assetmgr.errors import ExitCode
from assetmgr.transfer import FORMAT_VERSION
from tests.conftest import Cli
from tests.test_uploads import catalogue_rows, images

pytestmark = pytest.mark.backends()  # each test on SQLite and PostgreSQL


def test_export_then_import_into_an_empty_catalogue_gives_identical_blocks(
    tmp_path, run, uploading, db, tmp_path_factory
):
    images(tmp_path / "in", 3, size=(2000, 1200))  # renditions differ from their sources
    assert run("add", tmp_path / "in").exit_code == 0
    shas = [x["sha256"] for x in run.json_lines("ls")]
    run("tag", "add", "picked", shas[0], shas[2])
    exported = run("export")
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert lines[0]["type"] == "assetmgr-export" and lines[0]["version"] == FORMAT_VERSION
    assert [x["type"] for x in lines[1:]] == ["remote"] + ["rendition", "asset"] * 3 + [
        "upload"
    ] * 3
    assert str(tmp_path) not in exported.stdout  # no local paths unless asked
    (tmp_path / "library.jsonl").write_text(exported.stdout)
    other = Cli(tmp_path_factory.mktemp("other") / "catalogue.db")
    imported = other("import", tmp_path / "library.jsonl")
    assert imported.exit_code == 0, imported.stderr
    assert "3 new assets, 3 new renditions, 3 new uploads, 2 new tags" in imported.stderr
    blocks = ["block", *shas, "--label", "--no-upload"]
    assert other(*blocks).stdout == run(*blocks).stdout and "file_" in run(*blocks).stdout
    assert other("block", "--tag", "picked").stdout == run("block", "--tag", "picked").stdout
    again = other("import", tmp_path / "library.jsonl")
    assert "0 new assets, 0 new renditions, 0 new uploads, 0 new tags" in again.stderr
    assert other("export").stdout.splitlines()[1:] == exported.stdout.splitlines()[1:]
    # The store is shared; the sources are not: what was uploaded can still be read.
    for path in (tmp_path / "in").iterdir():
        path.unlink()
    assert other("cat", shas[1]).stdout_bytes == run("cat", shas[1]).stdout_bytes
    inline = json.loads(other("block", shas[1], "--source", "base64").stdout)
    assert inline[0]["source"]["type"] == "base64"
    [record] = other.json_lines("show", shas[0])
    assert record["sources"] == [] and record["uploads"][0]["origin"] == "imported"
    gone = json.loads(run("block", shas[1]).stdout)[0]["source"]["file_id"]
    anthropic.Anthropic(base_url=uploading.base_url, api_key="test-key").files.delete(gone)
    repaired = other("verify", "--repair")  # from the store alone
    assert repaired.exit_code == 0 and "1 uploaded" in repaired.stderr, repaired.stderr


def test_the_store_is_where_the_environment_says(tmp_path, monkeypatch, isolated_home):
    from assetmgr.config import store_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert store_dir() == tmp_path / "cache" / "assetmgr" / "renditions"
    (isolated_home / "renditions").mkdir()  # a store where stores used to be: used there
    assert store_dir() == isolated_home / "renditions"
    (tmp_path / "cache" / "assetmgr" / "renditions").mkdir(parents=True)
    assert store_dir() == tmp_path / "cache" / "assetmgr" / "renditions"
    monkeypatch.setenv("ASSETMGR_STORE", str(tmp_path / "shared"))
    assert store_dir() == tmp_path / "shared"
    monkeypatch.delenv("ASSETMGR_STORE")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    (isolated_home / "renditions").rmdir()
    assert store_dir() == tmp_path / "me" / ".cache" / "assetmgr" / "renditions"


def test_with_paths_carries_the_sources(tmp_path, run, db, tmp_path_factory):
    images(tmp_path / "in", 2)
    run("add", tmp_path / "in")
    exported = run("export", "--with-paths").stdout
    assert str(tmp_path / "in" / "img000.png") in exported
    (tmp_path / "x.jsonl").write_text(exported)
    other = Cli(tmp_path_factory.mktemp("other") / "catalogue.db")
    assert other("import", tmp_path / "x.jsonl").exit_code == 0
    assert other("add", tmp_path / "in", "--no-upload").stderr.startswith("0 new")


def test_a_conflict_is_settled_by_asking_the_api(tmp_path, run, uploading, db, tmp_path_factory):
    images(tmp_path / "in", 1)
    assert run("add", tmp_path / "in").exit_code == 0
    [mine] = uploading.files()
    other = Cli(tmp_path_factory.mktemp("other") / "catalogue.db")
    assert other("add", tmp_path / "in").exit_code == 0  # adopts the same file
    client = anthropic.Anthropic(base_url=uploading.base_url, api_key="test-key")
    copy = client.files.upload(
        file=(mine["filename"], uploading.file_bytes(mine["id"]), "image/png")
    ).id
    with closing(sqlite3.connect(other.db)) as conn, conn:  # the other catalogue knows the copy
        conn.execute("UPDATE uploads SET file_id = ?", (copy,))
    (tmp_path / "mine.jsonl").write_text(run("export").stdout)
    both = other("import", tmp_path / "mine.jsonl")
    assert both.exit_code == 0, both.stderr
    assert f"keeps {copy}, {mine['id']}: extra copy: gc deletes it" in both.stderr
    client.files.delete(copy)  # now only the imported one is alive
    settled = other("import", tmp_path / "mine.jsonl")
    assert f"keeps {mine['id']}, {copy}: replaced a dead upload" in settled.stderr
    assert catalogue_rows(other.db, "SELECT file_id FROM uploads WHERE state = 'active'") == [
        (mine["id"],)
    ]


def test_a_newer_or_broken_export_is_refused_in_one_line(tmp_path, run):
    (tmp_path / "new.jsonl").write_text(json.dumps({"type": "assetmgr-export", "version": 99}))
    newer = run("import", tmp_path / "new.jsonl")
    assert newer.exit_code == ExitCode.USAGE and "written by a newer assetmgr" in newer.stderr
    header = json.dumps({"type": "assetmgr-export", "version": 1})
    (tmp_path / "bad.jsonl").write_text(header + '\n{"type": "asset", "sha256": "nope"}\n')
    broken = run("import", tmp_path / "bad.jsonl")
    assert broken.exit_code == ExitCode.USAGE and "line 2" in broken.stderr
    assert len(broken.stderr.splitlines()) == 1


def test_an_export_that_is_not_text_is_refused_in_one_line(tmp_path, run):
    header = json.dumps({"type": "assetmgr-export", "version": 1})
    (tmp_path / "binary.jsonl").write_bytes(header.encode() + b"\n\xff\xfe\x00garbage\n")
    result = run("import", tmp_path / "binary.jsonl")
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "line 2" in result.stderr and "UnicodeDecodeError" in result.stderr
    assert len(result.stderr.splitlines()) == 1
