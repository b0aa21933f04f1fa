"""verify, repair, gc, rm and whereis against the emulator (the real SDK over HTTP), on real
SQLite catalogues: files deleted behind the catalogue's back, expired uploads, orphans left by
a crash, foreign files, and how many requests a verify makes."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta

import anthropic
import pytest

from assetmgr import Catalogue
from assetmgr.errors import ExitCode
from assetmgr.remote import RemoteSpec
from assetmgr.workspaces import Workspaces
from tests.synthetic import asset_batch, upload_everything
from tests.test_uploads import assert_one_copy_each, catalogue_rows, images

pytestmark = pytest.mark.backends()  # each test on SQLite and PostgreSQL


def sdk(emulator) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=emulator.base_url, api_key="test-key")


def asset_of(db, n: int = 0) -> str:
    return catalogue_rows(db, "SELECT sha256 FROM assets ORDER BY id")[n][0]


def findings(result, kind: str) -> list[dict]:
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return [x for x in lines if x["kind"] == kind]


def test_a_file_deleted_behind_the_catalogues_back_is_found_and_repaired(
    tmp_path, run, uploading, db
):
    images(tmp_path / "in", 3)
    assert run("add", tmp_path / "in").exit_code == 0
    assert run("verify").exit_code == 0
    gone = uploading.files()[0]["id"]
    sdk(uploading).files.delete(gone)  # a colleague cleaned up
    found = run("verify", "--json")
    assert found.exit_code == ExitCode.PROBLEMS, found.stderr
    assert [x["file_id"] for x in findings(found, "missing")] == [gone]
    [summary] = findings(found, "summary")
    assert (summary["present"], summary["missing"], summary["problems"]) == (2, 1, 1)
    repaired = run("verify", "--repair")
    assert repaired.exit_code == 0 and "1 uploaded" in repaired.stderr, repaired.stderr
    assert_one_copy_each(uploading, db)
    assert run("verify").exit_code == 0


def test_an_expired_upload_is_replaced_with_the_same_lifetime(tmp_path, run, uploading, db):
    images(tmp_path / "in", 1)
    assert run("add", tmp_path / "in", "--expires-in", "2h").exit_code == 0
    uploading.advance(3 * 3600)  # the API's clock: it expired an hour ago
    found = run("verify")
    assert found.exit_code == ExitCode.PROBLEMS and "1 expired" in found.stdout
    assert run("verify", "--repair").exit_code == 0
    [fresh] = [f for f in uploading.files() if _time(f["expires_at"]) > uploading.now()]
    lifetime = _time(fresh["expires_at"]) - _time(fresh["created_at"])
    assert lifetime == timedelta(hours=2)  # as the first upload asked
    [record] = run.json_lines("show", asset_of(db))
    assert sorted(u["state"] for u in record["uploads"]) == ["active", "expired"]


def test_an_orphan_left_by_a_crash_is_adopted(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    assert run("add", tmp_path / "in", "--no-upload").exit_code == 0
    sha = asset_of(db)
    [record] = run.json_lines("show", sha)
    rendition = record["renditions"][0]["sha256"]
    data = run("cat", sha).stdout_bytes
    # The upload went through, then the process died before recording it (no row at all).
    orphan = sdk(uploading).files.upload(file=(f"img.sha256-{rendition}.png", data, "image/png"))
    found = run("verify", "--json")
    assert found.exit_code == ExitCode.PROBLEMS
    [listed] = findings(found, "orphan")
    assert (listed["file_id"], listed["action"]) == (orphan.id, "adopt")
    repaired = run("verify", "--repair")
    assert repaired.exit_code == 0 and "1 adopted" in repaired.stderr, repaired.stderr
    [record] = run.json_lines("show", sha)
    assert [(u["file_id"], u["origin"]) for u in record["uploads"]] == [(orphan.id, "adopted")]
    assert sum(r["method"] == "POST" for r in uploading.requests) == 1  # the crashed run's


def test_gc_deletes_only_what_no_row_needs_and_only_with_yes(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    assert run("add", tmp_path / "in").exit_code == 0
    needed = {f["id"] for f in uploading.files()}
    client = sdk(uploading)
    foreign = client.files.upload(file=("notes.txt", b"hello", "text/plain")).id
    name = uploading.files()[-1]["filename"]  # hash-named: a second copy of a rendition
    extra = client.files.upload(
        file=(name, uploading.file_bytes(uploading.files()[-1]["id"]), "image/png")
    ).id
    fresh = run("gc", "--all")
    assert fresh.exit_code == 0 and fresh.stdout == ""  # all made in the last 15 minutes
    uploading.advance(3600)
    planned = run("gc")
    assert planned.exit_code == 0 and "would be deleted" in planned.stderr
    assert [line.split()[1] for line in planned.stdout.splitlines()] == [extra]
    everything = run("gc", "--all", "--dry-run", "--json")
    assert sorted(x["file_id"] for x in map(json.loads, everything.stdout.splitlines())) == sorted(
        [foreign, extra]
    )
    assert {f["id"] for f in uploading.files()} == needed | {foreign, extra}  # nothing deleted
    done = run("gc", "--all", "--yes")
    assert done.exit_code == 0 and "deleted 2 files" in done.stderr
    assert {f["id"] for f in uploading.files()} == needed
    assert run("gc", "--yes", "--dry-run").exit_code == 2


def test_verify_looks_up_100_uploads_a_request(run, uploading, db):
    n = 2000
    _seed(db, uploading, n)
    result = run("verify", "--json")
    assert result.exit_code == 0, result.stdout[-2000:]
    [summary] = findings(result, "summary")
    assert summary["present"] == n and summary["orphan"] == summary["foreign"] == 0
    with urllib.request.urlopen(uploading.base_url + "/_emulator/requests") as answer:
        counts = json.load(answer)
    ids = counts["counts"]["GET /v1/files?ids[]"]
    pages = counts["counts"].get("GET /v1/files?limit&page", 0)
    assert ids == summary["lookups"] == 20 and pages == 1  # 2,000 files: two pages of 1,000
    # and the first page, and the one small request that tells the workspace and the clock
    assert counts["counts"]["GET /v1/files?limit"] == 2 and counts["total"] == ids + pages + 2


def _seed(db, emulator, n: int) -> None:
    """``n`` assets, each with its rendition uploaded (the files made in the emulator)."""
    batch, _ = asset_batch(n)
    with Catalogue.open(str(db)) as catalogue:
        catalogue.record(batch)
        here = Workspaces(catalogue).learn(RemoteSpec.from_env(), emulator.workspace_id())
        upload_everything(catalogue, emulator, here.remote_id)


def test_changed_sources_no_longer_vouch_for_their_asset(tmp_path, run, uploading, db):
    images(tmp_path / "in", 2)
    assert run("add", tmp_path / "in").exit_code == 0
    (tmp_path / "in" / "img000.png").write_bytes(b"something else now")
    (tmp_path / "in" / "img001.png").unlink()
    found = run("verify", "--sources", "--json")
    assert found.exit_code == ExitCode.PROBLEMS
    assert [x["path"] for x in findings(found, "changed")] == [str(tmp_path / "in" / "img000.png")]
    assert [x["path"] for x in findings(found, "gone")] == [str(tmp_path / "in" / "img001.png")]
    assert run("verify", "--sources", "--repair").exit_code == 0
    assert catalogue_rows(db, "SELECT count(*) FROM sources") == [(1,)]  # the gone one stays


# -- rm and whereis ------------------------------------------------------------------------------


def test_rm_forgets_the_asset_and_deletes_its_upload_only_with_yes(
    tmp_path, run, uploading, db, store_root
):
    images(tmp_path / "in", 2, size=(2000, 1500))  # downscaled: renditions in the store
    (tmp_path / "in" / "copy.png").write_bytes((tmp_path / "in" / "img001.png").read_bytes())
    assert run("add", tmp_path / "in").exit_code == 0
    sha = asset_of(db)
    [record] = run.json_lines("show", sha)
    rendition = record["renditions"][0]["sha256"]
    assert (store_root / rendition[:2] / rendition).is_file()
    planned = run("rm", sha[:10])
    assert planned.exit_code == 0 and "dry run" in planned.stderr
    assert f"delete  {record['uploads'][0]['file_id']}" in planned.stdout
    assert len(uploading.files()) == 2 and len(run.json_lines("ls")) == 2
    assert run("rm", sha[:10], "--yes").exit_code == 0
    assert [x["sha256"] for x in run.json_lines("ls")] == [asset_of(db)]
    assert len(uploading.files()) == 1 and not (store_root / rendition[:2] / rendition).exists()
    other = asset_of(db)
    assert run("rm", other, "--remote-only", "--yes").exit_code == 0
    assert uploading.files() == [] and [x["sha256"] for x in run.json_lines("ls")] == [other]
    assert run("whereis", other).stdout == ""


def test_whereis_names_every_workspace_holding_an_asset(tmp_path, run, emulated, monkeypatch):
    emulator = emulated(key="key-a", workspaces={"key-a": "team-a", "key-b": "team-b"})
    images(tmp_path / "in", 1)
    assert run("add", tmp_path / "in", "--workspace", "a").exit_code == 0
    monkeypatch.setenv("ANTHROPIC_API_KEY", "key-b")
    assert run("push", "--workspace", "b", "--expires-in", "7d").exit_code == 0
    sha = run.json_lines("ls")[0]["sha256"]
    found = run.json_lines("whereis", sha)
    assert [(x["workspace"], x["labels"]) for x in found] == [
        (emulator.workspace_id("team-a"), ["a"]),
        (emulator.workspace_id("team-b"), ["b"]),
    ]
    assert found[0]["expires_at"] is None and found[1]["expires_at"] is not None
    text = run("whereis", sha[:8]).stdout.splitlines()
    assert len(text) == 2 and text[1].startswith(f"{emulator.workspace_id('team-b')} (b) at ")
    assert found[1]["file_id"] in text[1] and "expires 20" in text[1]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
