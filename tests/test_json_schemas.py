"""Every command's ``--json`` output against its schema in ``assetmgr/schemas.py``: each
command runs for real on a catalogue with real data (distinct pictures, an exact duplicate, a
near-duplicate pair, a rejected file, tags, uploads to the emulator, a file deleted behind the
catalogue's back and a foreign one, a run answered by the emulator), and every document it
prints is validated with ``jsonschema``. The command tree is walked so that a command without
``--json`` and a schema must be listed as exempt, with its reason."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import anthropic
import click
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from assetmgr import schemas
from assetmgr.cli import cli
from assetmgr.errors import ExitCode
from tests.conftest import Cli, write_image

sys.path.insert(0, str(Path(__file__).parent))
from near_images import VARIANTS, encoded, picture  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "json.md"
FORMATS = FormatChecker(formats=())  # only the formats the schemas use, checked here


@FORMATS.checks("date-time", raises=ValueError)
def rfc3339_time(value: object) -> bool:
    """An RFC 3339 date and time with its offset (``2026-12-04T17:06:30Z``, ``...+00:00``):
    jsonschema checks the format only with a package of its own, so the check is here."""
    if not isinstance(value, str):
        return True  # the type is the schema's to check
    if len(value) < 20 or value[10] not in "Tt":
        raise ValueError(f"{value!r}: a date, T, then a time")
    if datetime.fromisoformat(value).tzinfo is None:
        raise ValueError(f"{value!r} has no offset (Z or +00:00)")
    return True


def validator_of(key: str) -> Draft202012Validator:
    """The validator of ``key``'s schema, its formats checked."""
    return Draft202012Validator(schemas.SCHEMAS[key], format_checker=FORMATS)


def commands(group: click.Group = cli, prefix: str = ""):
    """(path, command) of every command that runs, subcommands included; a group that only
    holds subcommands is not one, ``dupes`` (which lists by itself) is."""
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from commands(command, path + " ")
            if not command.invoke_without_command:
                continue
        yield path, command


def has_json(command: click.Command) -> bool:
    return any("--json" in getattr(param, "opts", ()) for param in command.params)


def documents(result, key: str) -> list:
    """What a command printed on stdout: JSON Lines, or one document (``block``'s array)."""
    text = result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    if schemas.OUTPUTS[key].lines:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


class Outputs:
    """The documents each schema key's command printed, run after run."""

    def __init__(self, run):
        self.run, self.by_key = run, {}

    def __call__(self, key: str, *args, code: int = 0) -> list:
        result = self.run(*args)
        assert result.exit_code == code, (args, result.stderr)
        found = documents(result, key)
        assert found, (key, "printed nothing", result.stderr)
        self.by_key.setdefault(key, []).extend(found)
        return found


def pictures(folder: Path) -> None:
    """Three distinct images, one copied to a second path, a near-duplicate pair and a file
    that is no image."""
    for i in range(3):
        write_image(folder / f"{i}.png", seed=i, size=(300 + i, 200))
    (folder / "copy").mkdir()
    (folder / "copy" / "0.png").write_bytes((folder / "0.png").read_bytes())
    original = encoded(picture(7))
    (folder / "near.jpg").write_bytes(original)
    (folder / "near_small.jpg").write_bytes(VARIANTS["resize 50%"](original))
    (folder / "notes.txt").write_text("not an image")


@pytest.fixture
def outputs(tmp_path, run, uploading) -> Outputs:
    """Every command with ``--json`` run against one catalogue and the emulator."""
    out = Outputs(run)
    pictures(tmp_path / "in")
    out("add", "add", tmp_path / "in", "--tag", "shots", "--json", code=ExitCode.REJECTED)
    out("add", "add", tmp_path / "in", "--json")  # the settled path: a known rejection
    first, second = [asset["sha256"] for asset in out("ls", "ls", "--json")][:2]
    out("show", "show", first, "--json")
    out("stats", "stats", "--json")
    out("stats", "stats", "--model", "claude-haiku-5-5", "--json")
    out("tag add", "tag", "add", "extra", first, second, "--json")
    out("tag rm", "tag", "rm", "extra", second, "--json")
    out("tag ls", "tag", "ls", "--json")
    out("whereis", "whereis", first, "--json")
    out("push", "push", "--json")
    out("dupes", "dupes", "--json")
    out("dupes --near", "dupes", "--near", "--json")
    out("dupes mark", "dupes", "mark", first, second, "--not-duplicate", "--json")
    out("dupes mark", "dupes", "mark", first, second, "--same", "--json")
    out("push", "push", "--reuse-near", "--json")
    out("dupes unlink", "dupes", "unlink", "--all", "--json")
    out("block", "block", first, second, "--label")
    out("request", "request", first, second, "--prompt", "What is it?")
    out("ask", "ask", first, "--prompt", "What is it?", "--json")
    run_args = ("run", "--tag", "shots", "--prompt", "What is it?", "--per-request", "1")
    out("run --dry-run", *run_args, "--dry-run", "--json")
    out("run", *run_args, "--json")
    out("runs", "runs", "--json")
    out("answers", "answers", "--run", "1", "--json")
    out("models", "models", "--json")
    out("config set", "config", "set", "upload_jobs", "4", "--json")
    out("config get", "config", "get", "upload_jobs", "--json")
    out("config get", "config", "get", "workspace", "--json")  # its default applies
    out("config list", "config", "list", "--json")
    out("config unset", "config", "unset", "upload_jobs", "--json")
    out("config path", "config", "path", "--json")
    out("doctor", "doctor", "--json")
    client = anthropic.Anthropic(base_url=uploading.base_url, api_key="test-key")
    client.files.delete(uploading.files()[0]["id"])  # deleted behind the catalogue's back
    client.files.upload(file=("notes.txt", b"hello", "text/plain"))  # a foreign file
    out("verify", "verify", "--json", code=ExitCode.PROBLEMS)
    uploading.advance(3600)  # the foreign file is old enough to collect
    out("gc", "gc", "--all", "--json")
    out("rm", "rm", second, "--json")
    exported = tmp_path / "library.jsonl"
    out("export", "export", "-o", exported, "--json")
    out.run = Cli(tmp_path / "other.db")  # an empty catalogue: everything is new to it
    out("import", "import", exported, "--json")
    return out


def test_every_commands_json_matches_its_schema(outputs):
    failures = []
    for key, found in outputs.by_key.items():
        validator = validator_of(key)
        for document in found:
            failures += [
                f"{key}: {e.json_path}: {e.message}" for e in validator.iter_errors(document)
            ]
    assert not failures, "\n".join(failures[:40])
    assert set(outputs.by_key) == set(schemas.SCHEMAS)  # every schema was put to the test


def unaccounted(group: click.Group) -> list[str]:
    """What is wrong with the commands of ``group``: one with --json but no schema, one
    without --json that is not exempt, a schema or exemption of no command."""
    tree, wrong = dict(commands(group)), []
    for path, command in tree.items():
        if has_json(command) and (path not in schemas.OUTPUTS or path in schemas.EXEMPT):
            wrong.append(f"{path} has --json but no schema in schemas.py")
        elif not has_json(command) and path not in schemas.EXEMPT:
            wrong.append(f"{path}: give it --json and a schema, or exempt it")
    for key in [*schemas.OUTPUTS, *schemas.EXEMPT]:
        command = key.split(" --")[0]
        if command not in tree or not (has_json(tree[command]) or command in schemas.EXEMPT):
            wrong.append(f"{key}: no such command with --json")
    return wrong


def test_every_command_has_json_and_a_schema_or_is_exempt():
    assert unaccounted(cli) == []
    tagging = next(c for p, c in commands() if p == "tag add")
    slipped = click.Group(commands={**cli.commands, "audit": click.Command("audit")})
    slipped.commands["tag"] = click.Group("tag", commands={"add": tagging})
    assert unaccounted(slipped) == [
        "audit: give it --json and a schema, or exempt it",
        "tag rm: no such command with --json",
        "tag ls: no such command with --json",
    ]


def test_the_schemas_are_valid_and_strict():
    for schema in schemas.SCHEMAS.values():
        Draft202012Validator.check_schema(schema)
    outcome = {"path": "a.png", "outcome": "new", "sha256": "0" * 64, "reason": None,
               "duplicate_of": None, "width": 3, "height": 2, "format": "PNG", "warnings": [],
               "upload": None, "file_id": None, "upload_error": None, "known": False,
               "reuses": None}  # fmt: skip
    validator = Draft202012Validator(schemas.SCHEMAS["add"])
    assert validator.is_valid(outcome)
    assert validator.is_valid({**outcome, "later": "a key added by a later version"})
    wrong = [
        {k: v for k, v in outcome.items() if k != "sha256"},  # a required key missing
        {**outcome, "width": "3"},  # a number as text
        {**outcome, "reason": 7},
        {**outcome, "outcome": "maybe"},  # not one of the outcomes
        {**outcome, "sha256": "3f7a9c"},  # not a whole sha256
        {**outcome, "known": None},  # null where null never occurs
    ]
    for document in wrong:
        assert not validator.is_valid(document), document
    where = {"asset_sha256": "0" * 64, "policies": ["vision"], "rendition_sha256": "1" * 64,
             "base_url": "https://api.anthropic.com", "workspace": None, "labels": [],
             "file_id": "file_011", "created_at": "2026-12-04T17:06:30Z", "expires_at": None,
             "origin": "uploaded", "last_verified_at": "2026-12-04T17:06:30.5+00:00"}  # fmt: skip
    timed = validator_of("whereis")
    assert timed.is_valid(where)
    for when in ("2026-12-04 17:06:30", "2026-12-04T17:06:30", "yesterday", "2026-13-04T00:00Z"):
        assert not timed.is_valid({**where, "created_at": when}), when
    with pytest.raises(ValidationError, match="'sha256' is a required property"):
        validator.validate(wrong[0])


def test_docs_json_md_is_rendered_from_the_schemas():
    assert DOCS.read_text() == schemas.markdown(), (
        "docs/json.md is out of date: python -m assetmgr.schemas > docs/json.md"
    )


def test_the_reports_say_what_was_done(tmp_path, run, uploading):
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(300 + i, 200))
    assert run("add", tmp_path / "in", "--no-upload").exit_code == 0
    shas = [asset["sha256"] for asset in run.json_lines("ls")]
    [pushed] = run.json_lines("push")
    assert (pushed["uploaded"], pushed["present"], pushed["failed"]) == (3, 0, 0)
    assert pushed["bytes_uploaded"] > 0 and sorted(pushed["renditions"]) == sorted(shas)
    assert run.json_lines("tag", "add", "x", *shas) == [{"tag": "x", "tagged": shas}]
    assert run.json_lines("tag", "rm", "x", shas[0]) == [{"tag": "x", "untagged": shas[:1]}]
    [marked] = run.json_lines("dupes", "mark", shas[0][:8], shas[1], "--same")
    assert marked == {"asset": shas[0], "other": shas[1], "decision": "same"}
    exported = tmp_path / "out.jsonl"
    [written] = run.json_lines("export", "-o", exported)
    assert written["lines"] == len(exported.read_text().splitlines()) > 3
    [imported] = Cli(tmp_path / "other.db").json_lines("import", exported)
    assert (imported["assets"], imported["renditions"], imported["tags"]) == (3, 3, 2)
    assert imported["uploads"] == 3 and imported["conflicts"] == []
    assert run("export", "--json").exit_code == ExitCode.USAGE  # the export is JSON already
    assert run("dupes", "--json", "mark", shas[0], shas[1], "--same").exit_code == ExitCode.USAGE


def test_config_reports(run):
    [kept] = run.json_lines("config", "set", "exclude", "*.tmp", ".git")
    assert (kept["key"], kept["value"], kept["env_value"]) == ("exclude", ["*.tmp", ".git"], None)
    [got] = run.json_lines("config", "get", "exclude")
    assert (got["value"], got["source"]) == (["*.tmp", ".git"], "file")
    assert run.json_lines("config", "unset", "exclude") == [
        {"key": "exclude", "path": kept["path"]}
    ]
    default = run("config", "get", "exclude", "--json")
    assert default.exit_code == 0 and json.loads(default.stdout)["source"] == "default"
    text = run("config", "get", "exclude")  # without --json: nothing on stdout, the default said
    assert text.exit_code == 0 and text.stdout == "" and "its default applies" in text.stderr
    assert run.json_lines("config", "path") == [{"path": kept["path"]}]
