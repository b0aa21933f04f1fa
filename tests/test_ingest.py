"""The add flow on generated files: outcomes, the stat cache, walking rules, safety; on a SQLite
and a PostgreSQL catalogue."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from assetmgr import Library
from assetmgr.inspection import Settings, inspect
from assetmgr.limits import DEFAULT_LIMITS
from assetmgr.store import RenditionStore
from tests.conftest import assetmgr, image_bytes, write_image

pytestmark = pytest.mark.backends()


def outcomes(records):
    return {os.path.basename(r["path"]): r["outcome"] for r in records}


def test_new_then_duplicate_across_names(tmp_path, run):
    a = write_image(tmp_path / "in" / "a.png", seed=1)
    (tmp_path / "in" / "b-copy.png").write_bytes(a.read_bytes())
    first, second = run.json_lines("add", tmp_path / "in")
    assert (first["outcome"], second["outcome"]) == ("new", "duplicate")
    assert second["duplicate_of"] == str(a)
    assert first["sha256"] == second["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    # a third name in a later run is a duplicate of the catalogued copy
    (tmp_path / "later.png").write_bytes(a.read_bytes())
    [third] = run.json_lines("add", tmp_path / "later.png")
    assert (third["outcome"], third["duplicate_of"]) == ("duplicate", str(a))


def test_json_objects_have_the_documented_keys(tmp_path, run):
    write_image(tmp_path / "x.jpg", fmt="JPEG", size=(300, 200))
    (tmp_path / "bad.jpg").write_bytes(b"not an image at all")
    new, bad = sorted(run.json_lines("add", tmp_path), key=lambda r: r["outcome"])
    keys = {"path", "outcome", "sha256", "reason", "duplicate_of", "width", "height", "format"}
    assert keys <= new.keys() and keys <= bad.keys()
    assert (new["width"], new["height"], new["format"], new["reason"]) == (300, 200, "JPEG", None)
    assert bad["outcome"] == "rejected" and bad["width"] is None


def test_second_run_reads_no_file_contents(tmp_path, db, monkeypatch):
    for i in range(12):
        write_image(tmp_path / "in" / f"sub{i % 3}" / f"{i}.png", seed=i)
    with Library.open(db.url) as lib:
        assert {o.outcome for o in lib.add([tmp_path / "in"], jobs=1)} == {"new"}
    opened = []
    real_open = open

    def spying_open(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "in")):
            opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spying_open)
    with Library.open(db.url) as lib:
        again = list(lib.add([tmp_path / "in"], jobs=1))
    assert [o.outcome for o in again] == ["unchanged"] * 12
    assert opened == []


def test_changed_in_place_is_rehashed_and_old_asset_kept(tmp_path, run):
    path = write_image(tmp_path / "photo.png", seed=1)
    [before] = run.json_lines("add", path)
    path.write_bytes(image_bytes(seed=2, size=(80, 60)))
    [after] = run.json_lines("add", path)
    assert after["outcome"] == "new" and after["sha256"] != before["sha256"]
    assert (after["width"], after["height"]) == (80, 60)
    listed = {r["sha256"] for r in run.json_lines("ls")}
    assert listed == {before["sha256"], after["sha256"]}


def test_touched_file_with_same_bytes_is_unchanged(tmp_path, run):
    path = write_image(tmp_path / "photo.png", seed=1)
    run("add", path)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    [again] = run.json_lines("add", path)
    assert again["outcome"] == "unchanged"


def test_rejected_rewrite_never_changes_the_catalogue(tmp_path, run):
    path = write_image(tmp_path / "photo.png", seed=1)
    [good] = run.json_lines("add", path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    [bad] = run.json_lines("add", path)
    assert (bad["outcome"], bad["reason"]) == ("rejected", "truncated or corrupt image")
    shown = run("show", good["sha256"][:10], "--json")
    assert shown.exit_code == 0 and good["sha256"] in shown.stdout


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (
            lambda p: p.write_bytes(image_bytes(size=(9000, 120), mode="1")),
            "image is 9000x120 px; the API accepts at most 8000 px per side; "
            "--policy vision downscales it",
        ),
        (
            lambda p: p.write_bytes(image_bytes(fmt="TIFF")),
            "unsupported format: TIFF; the API accepts JPEG, PNG, GIF and WebP; "
            "--policy vision converts it",
        ),
        (
            lambda p: p.write_bytes(image_bytes(fmt="JPEG", size=(400, 300))[:-600]),
            "truncated or corrupt image",
        ),
        (lambda p: p.symlink_to(p.parent / "nowhere"), "unreadable: no such file"),
    ],
)
def test_rejection_reasons(tmp_path, run, make, reason):
    make(tmp_path / "input.png")
    result = run("add", tmp_path, "--json", "--policy", "original")
    [record] = [r for r in map(__import__("json").loads, result.stdout.splitlines())]
    assert record["outcome"] == "rejected"
    assert record["reason"].startswith(reason)
    assert result.exit_code == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_rejected_and_run_goes_on(tmp_path, run):
    locked = write_image(tmp_path / "a.png", seed=1)
    write_image(tmp_path / "b.png", seed=2)
    locked.chmod(0)
    assert outcomes(run.json_lines("add", tmp_path)) == {"a.png": "rejected", "b.png": "new"}


def test_hidden_excluded_and_symlinks(tmp_path, run):
    root = tmp_path / "in"
    write_image(root / "keep.png", seed=1)
    write_image(root / ".hidden.png", seed=2)
    write_image(root / ".cache" / "c.png", seed=3)
    write_image(root / "raw" / "r.png", seed=4)
    write_image(root / "x.tmp.png", seed=5)
    (root / "loop").symlink_to(root)  # a loop: followed once, never again
    write_image(tmp_path / "elsewhere" / "e.png", seed=6)
    (root / "linked").symlink_to(tmp_path / "elsewhere")
    records = run.json_lines("add", root, "--exclude", "raw", "--exclude", "*.tmp.png")
    assert sorted(os.path.relpath(r["path"], root) for r in records) == ["keep.png", "linked/e.png"]


def test_assetmgrs_own_files_inside_a_folder_being_added_are_passed_by(tmp_path):
    """The catalogue (and its -wal and -shm) and the rendition store, kept inside the folder
    being added: never catalogued, rejected, nor read on a re-run (the re-run stays on the
    fast path that reads no file)."""
    from PIL import Image

    root = tmp_path / "work"
    big = root / "pics" / "big.jpg"
    big.parent.mkdir(parents=True)
    Image.linear_gradient("L").resize((3000, 2000)).convert("RGB").save(big)  # gets a rendition
    env = {"ASSETMGR_HOME": str(root / "app"), "ASSETMGR_STORE": str(root / "renditions")}
    first = assetmgr("add", root, "--no-upload", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert [(r["path"], r["outcome"]) for r in map(json.loads, first.stdout.splitlines())] == [
        (str(big), "new")
    ]
    assert list((root / "renditions").rglob("*")) and (root / "app" / "catalogue.db").exists()
    again = assetmgr("add", root, "--no-upload", "--list-rejected", "-v", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        f"unchanged {big}",
        "0 new, 0 duplicates, 1 unchanged, 0 rejected",
    ]
    listed = assetmgr("ls", "--json", env=env).stdout.splitlines()
    assert [json.loads(line)["sources"][0]["path"] for line in listed] == [str(big)]


def test_explicitly_named_hidden_file_is_taken(tmp_path, run):
    path = write_image(tmp_path / ".secret.png", seed=1)
    assert outcomes(run.json_lines("add", path)) == {".secret.png": "new"}


def test_summary_line_and_exit_code(tmp_path, run):
    write_image(tmp_path / "a.png", seed=1)
    (tmp_path / "b.png").write_bytes((tmp_path / "a.png").read_bytes())
    (tmp_path / "c.txt").write_text("hello")
    result = run("add", tmp_path)
    assert result.stderr.splitlines()[-1] == "1 new, 1 duplicate, 0 unchanged, 1 rejected"
    assert result.exit_code == 3
    result = run("add", tmp_path / "a.png", tmp_path / "b.png")
    assert result.stderr.splitlines()[-1] == "0 new, 0 duplicates, 2 unchanged, 0 rejected"
    assert result.exit_code == 0


def test_parallel_workers_give_the_same_outcomes(tmp_path, db):
    for i in range(40):
        write_image(tmp_path / "in" / f"{i:02}.png", seed=i % 30)  # 10 duplicates
    with Library.open(db.url) as lib:
        results = list(lib.add([tmp_path / "in"], jobs=2))
    assert [o.path for o in results] == sorted(o.path for o in results)
    assert sum(o.outcome == "new" for o in results) == 30
    assert sum(o.outcome == "duplicate" for o in results) == 10


def test_two_processes_adding_the_same_folder(tmp_path, db):
    for i in range(60):
        write_image(tmp_path / "in" / f"{i:02}.png", seed=i)
    command = [
        sys.executable,
        "-m",
        "assetmgr",
        "--db",
        str(db),
        "add",
        str(tmp_path / "in"),
        "--jobs",
        "1",
    ]
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Traceback" not in err
    with Library.open(db.url) as lib:
        assert len(lib.find()) == 60
        assert all(len(r.sources) == 1 for r in lib.assets())


def test_walk_order_and_outcomes_with_the_library(tmp_path, db):
    write_image(tmp_path / "b.png", seed=1)
    write_image(tmp_path / "a.png", seed=2)
    with Library.open(db.url) as lib:
        result = lib.add([tmp_path])  # does the work when called
        assert len(lib.find()) == 2
        assert [os.path.basename(o.path) for o in result] == ["a.png", "b.png"]
        assert str(result.summary) == "2 new, 0 duplicates, 0 unchanged, 0 rejected"


def test_ingest_is_the_streaming_form(tmp_path, db):
    for i in range(3):
        write_image(tmp_path / f"{i}.png", seed=i)
    with Library.open(db.url) as lib:
        run = lib.ingest([tmp_path])
        assert (run.total, len(run.to_read), lib.find()) == (3, 3, [])  # walked, nothing read
        first = next(iter(run))
        assert first.outcome == "new" and first.sha256 in lib.find()  # yielded once recorded


def test_inspect_reports_unreadable_paths(tmp_path):
    settings = Settings("vision", DEFAULT_LIMITS, RenditionStore(tmp_path / "store"))
    result = inspect(str(tmp_path / "missing.png"), settings)
    assert result.reason.startswith("unreadable")
