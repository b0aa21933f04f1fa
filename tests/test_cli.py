"""The command line: output shapes, tags, exit codes, help, and catalogue location."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from assetmgr.cli import cli
from tests.conftest import write_image


@pytest.fixture
def two_assets(tmp_path, run):
    a = write_image(tmp_path / "in" / "a.png", seed=1, size=(300, 200))
    b = write_image(tmp_path / "in" / "b.jpg", seed=2, fmt="JPEG", size=(640, 480))
    records = run.json_lines("add", tmp_path / "in")
    return {r["path"]: r["sha256"] for r in records}, a, b


def test_ls_json_is_one_object_per_asset(two_assets, run):
    shas, a, b = two_assets
    listed = run.json_lines("ls")
    assert [r["sha256"] for r in listed] == [shas[str(a)], shas[str(b)]]
    first = listed[0]
    assert first["renditions"][0]["policy"] == "vision"  # the default policy
    assert first["renditions"][0]["sha256"] == first["sha256"]
    assert first["sources"][0]["path"] == str(a)
    assert first["uploads"] == [] and first["tags"] == []


def test_record_json_is_asdict_with_printable_names():
    """``to_json`` walks records itself (no deep copies); it must say what ``asdict`` says."""
    import dataclasses
    from datetime import datetime, timezone

    from assetmgr.records import AssetRecord, RenditionRecord, SourceRecord, UploadRecord, to_json

    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    odd = "/in/caf\udce9 \\ \u00e9.png"  # a name with a byte that is not UTF-8
    record = AssetRecord(
        "a" * 64, "PNG", "image/png", 3, 2, "RGB", 1, None, 99, when,
        renditions=[RenditionRecord("vision", "b" * 64, "image/png", 3, 2, 99, 4, ["w"])],
        uploads=[UploadRecord("b" * 64, "http://x", "wrkspc_1", ["default"], "file_1", "f.png",
                              "active", when, None, when, None)],
        sources=[SourceRecord(odd, 99, 7, when)],
        tags=["t"],
    )  # fmt: skip
    expected = dataclasses.asdict(record)
    for key in ("created_at",):
        expected[key] = "2026-01-02T03:04:05Z"
    expected["uploads"][0].update(created_at="2026-01-02T03:04:05Z",
                                  last_verified_at="2026-01-02T03:04:05Z")  # fmt: skip
    expected["sources"][0].update(path="/in/caf\\xe9 \\\\ \u00e9.png",
                                  last_seen_at="2026-01-02T03:04:05Z")  # fmt: skip
    assert json.loads(to_json(record)) == expected


def test_show_text_and_json(two_assets, run):
    shas, _, b = two_assets
    sha = shas[str(b)]
    text = run("show", sha[:7])
    assert text.exit_code == 0 and f"sha256:{sha}" in text.stdout and "JPEG 640x480" in text.stdout
    [record] = run.json_lines("show", str(b))
    assert (record["sha256"], record["width"], record["format"]) == (sha, 640, "JPEG")
    assert record["renditions"][0]["tokens"] == 414  # ceil(640/28) * ceil(480/28) = 23 * 18


def test_tags_add_list_filter_remove(two_assets, run):
    shas, a, _ = two_assets
    sha = shas[str(a)]
    assert run("tag", "add", "product-shots", sha[:10]).exit_code == 0
    assert run("tag", "add", "q3", str(a)).exit_code == 0
    assert [r["sha256"] for r in run.json_lines("ls", "--tag", "product-shots")] == [sha]
    assert run.json_lines("show", sha)[0]["tags"] == ["product-shots", "q3"]
    assert run.json_lines("tag", "ls") == [
        {"tag": "product-shots", "assets": 1},
        {"tag": "q3", "assets": 1},
    ]
    assert run("tag", "rm", "q3", sha).exit_code == 0
    assert run.json_lines("show", sha)[0]["tags"] == ["product-shots"]
    assert run.json_lines("ls", "--tag", "q3") == []


def test_tag_add_takes_the_name_first_then_many_references(two_assets, run):
    shas, a, b = two_assets
    both = sorted(shas.values())
    result = run("tag", "add", "damaged", shas[str(a)][:6], str(b))
    assert result.exit_code == 0 and "damaged: tagged 2 asset(s)" in result.stderr
    assert sorted(r["sha256"] for r in run.json_lines("ls", "--tag", "damaged")) == both
    piped = run("tag", "add", "piped", "--stdin", input="\n".join(both) + "\n\n")
    assert piped.exit_code == 0
    assert sorted(r["sha256"] for r in run.json_lines("ls", "--tag", "piped")) == both
    assert run("tag", "rm", "piped", "--stdin", input=both[0]).exit_code == 0
    assert [r["sha256"] for r in run.json_lines("ls", "--tag", "piped")] == [both[1]]


def test_tag_add_cannot_mistake_a_reference_for_a_tag(two_assets, run):
    """The old syntax `tag add REF NAME...` made a tag named like the second hash."""
    shas, a, b = two_assets
    result = run("tag", "add", shas[str(a)][:6], shas[str(b)][:6], "damaged")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "cannot be a tag" in result.stderr and "Traceback" not in result.stderr
    assert run.json_lines("tag", "ls") == []


def test_tag_add_needs_references(two_assets, run):
    result = run("tag", "add", "everything")
    assert result.exit_code == 2 and "name the assets" in result.stderr
    assert run.json_lines("tag", "ls") == []


HASH_LIKE = ["02fbaa", "DEADBEEF", "sha256:abcdef", "SHA256:0123456789", "0" * 64, " 5692e9 "]
NOT_HASH_LIKE = ["cafe", "abc12", "q3", "2024-shots", "facade-1", "sha256:abc", "0x1234567"]


@pytest.mark.parametrize("name", HASH_LIKE)
def test_hash_like_tag_names_are_refused_everywhere(two_assets, run, tmp_path, db_path, name):
    shas, a, _ = two_assets
    sha = shas[str(a)]
    tagged = run("tag", "add", name, sha)
    assert tagged.exit_code == 2 and "cannot be a tag" in tagged.stderr
    write_image(tmp_path / "new" / "c.png", seed=3)
    added = run("add", tmp_path / "new", "--tag", name)
    assert added.exit_code == 2 and "cannot be a tag" in added.stderr
    assert len(run.json_lines("ls")) == 2  # refused before anything was catalogued
    from assetmgr import Library, UsageError

    with Library.open(db_path) as lib, pytest.raises(UsageError, match="cannot be a tag"):
        lib.tag([sha], [name])
    assert run.json_lines("tag", "ls") == []


@pytest.mark.parametrize("name", NOT_HASH_LIKE)
def test_other_tag_names_are_fine(two_assets, run, name):
    shas, a, _ = two_assets
    assert run("tag", "add", name, shas[str(a)]).exit_code == 0
    assert run.json_lines("tag", "ls") == [{"tag": name, "assets": 1}]


def test_a_hash_like_tag_from_before_can_be_taken_off(two_assets, run, db_path):
    shas, a, _ = two_assets
    sha = shas[str(a)]
    from assetmgr import Library

    with Library.open(db_path) as lib:
        lib.catalogue.add_tags([sha], ["02fbaa"])  # as `tag add REF 02fbaa NAME` used to do
    assert run("tag", "rm", "02fbaa", sha).exit_code == 0
    assert run.json_lines("tag", "ls") == []


def test_add_with_tag(tmp_path, run):
    write_image(tmp_path / "a.png", seed=1)
    (tmp_path / "junk.png").write_text("junk")
    run("add", tmp_path, "--tag", "batch-1")
    assert len(run.json_lines("ls", "--tag", "batch-1")) == 1


def test_ls_text_table(two_assets, run):
    out = run("ls").stdout.splitlines()
    assert out[0].split() == ["SHA256", "FORMAT", "PIXELS", "BYTES", "TAGS", "PATH"]
    assert len(out) == 3


def test_catalogue_that_cannot_be_opened(tmp_path):
    bogus = tmp_path / "not-a-db"
    bogus.write_bytes(b"this is not a sqlite file" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "assetmgr", "--db", str(bogus), "ls"], capture_output=True, text=True
    )
    assert result.returncode == 5
    assert (
        result.stderr == f"Error: catalogue {bogus} is damaged (file is not a database): "
        "restore it from a backup or choose another --db\n"
    )
    assert "Traceback" not in result.stderr


def test_missing_input_is_a_usage_error(run, tmp_path):
    result = run("add", tmp_path / "nope")
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_default_catalogue_lives_in_assetmgr_home(isolated_home, tmp_path):
    write_image(tmp_path / "a.png", seed=1)
    from click.testing import CliRunner

    assert CliRunner().invoke(cli, ["add", str(tmp_path)]).exit_code == 0
    assert (isolated_home / "catalogue.db").is_file()


def test_db_env_takes_a_url(monkeypatch, tmp_path):
    from click.testing import CliRunner

    target = tmp_path / "via-env.db"
    monkeypatch.setenv("ASSETMGR_DB", f"sqlite:///{target}")
    write_image(tmp_path / "img" / "a.png", seed=1)
    assert CliRunner().invoke(cli, ["add", str(tmp_path / "img")]).exit_code == 0
    assert target.is_file()


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize(
    ("path", "command"),
    list(all_commands(cli)),
    ids=lambda x: " ".join(x) if isinstance(x, tuple) else "",
)
def test_every_command_has_help(path, command):
    assert command.help, f"{' '.join(path)} has no help"


def test_help_documents_exit_codes():
    from click.testing import CliRunner

    out = CliRunner().invoke(cli, ["--help"]).output
    for code in ("0", "2", "3", "4", "5", "130"):
        assert f"\n    {code} " in out


def test_python_dash_m():
    result = subprocess.run(
        [sys.executable, "-m", "assetmgr", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "Usage: assetmgr" in result.stdout


def test_lookup_commands_do_not_import_the_sdk_or_alembic(two_assets, db_path):
    shas, *_ = two_assets
    sha = next(iter(shas.values()))
    code = (
        "import sys; from assetmgr.cli import cli\n"
        f"try: cli(['--db', {str(db_path)!r}, 'show', {sha!r}, '--json'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('anthropic', 'alembic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert json.loads(result.stdout.splitlines()[0])["sha256"] == sha
    assert result.stdout.splitlines()[-1] == "[]"
