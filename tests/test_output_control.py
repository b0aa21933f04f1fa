"""-q, -v and --json-progress: how much every command says on stderr, and progress as JSON
Lines, through the real commands, catalogue and emulator."""

from __future__ import annotations

import json
import threading
import time

import click
import pytest
from jsonschema import Draft202012Validator

from assetmgr import cli_talk
from assetmgr.cli import cli
from assetmgr.cli_progress import JSON_EVERY, JsonProgress, ProgressLine, Snapshot, progress
from assetmgr.errors import ExitCode
from assetmgr.schemas import PROGRESS_EVENT
from tests.conftest import assetmgr, error_line, write_image


@pytest.fixture
def folder(tmp_path):
    """Three good images and one broken file."""
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", seed=i)
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return tmp_path / "in"


def events(stderr: str) -> list[dict]:
    """Every stderr line, each of which must be one JSON object, an event as documented."""
    found = [json.loads(line) for line in stderr.splitlines()]
    validator = Draft202012Validator(PROGRESS_EVENT)
    for event in found:
        validator.validate(event)
    return found


def walk(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from walk(sub, (*path, name))


def test_every_command_takes_q_and_v_but_the_emulator_server():
    for path, command in walk(cli):
        flags = {flag for p in command.params for flag in getattr(p, "opts", [])}
        if path == ("emulator",):
            assert "-q" not in flags
            continue
        assert {"-q", "--quiet", "-v", "--verbose"} <= flags, path


def test_json_progress_on_the_long_commands():
    for path in (("add",), ("push",), ("verify",), ("run",)):
        command = cli
        for name in path:
            command = command.commands[name]
        assert any("--json-progress" in p.opts for p in command.params), path


def test_quiet_keeps_errors_and_exit_codes_only(folder, run):
    quiet = run("add", folder, "-q")
    assert quiet.exit_code == ExitCode.REJECTED and quiet.stderr == "", quiet.stderr
    again = run("-q", "show", "ffffffffffff")
    assert again.exit_code != 0 and again.stderr.startswith("Error: "), again.stderr
    usual = run("ls")
    assert usual.stdout and run("ls", "--quiet").stdout == usual.stdout  # data stays


def test_verbose_names_every_file_and_the_usual_level_does_not(folder, run):
    usual = run("add", folder)
    assert "broken.png" in usual.stderr and "0.png" not in usual.stderr
    again = run("add", folder, "-v")  # all known now: answered on the re-run fast path
    for i in range(3):
        assert f"unchanged {folder / f'{i}.png'}" in again.stderr, again.stderr


def test_q_and_v_together_are_a_usage_error(run):
    result = run("-q", "ls", "-v")
    assert result.exit_code == 2 and "-q and -v cannot be used together" in result.stderr


def test_verbose_push_and_verify_name_each_upload_with_its_file_id(folder, run, uploading):
    run("add", folder, "--no-upload")
    pushed = run("push", "-v")
    assert pushed.exit_code == 0, pushed.stderr
    file_ids = {r["file_id"] for sha in _shas(run) for r in run.json_lines("whereis", sha)}
    assert len(file_ids) == 3
    for file_id in file_ids:
        assert f": {file_id}" in pushed.stderr and "uploaded" in pushed.stderr
    checked = run("verify", "-v")
    assert checked.exit_code == 0, checked.stderr
    present = [line for line in checked.stderr.splitlines() if line.startswith("present")]
    assert {line.split()[-1] for line in present} == file_ids


def _shas(run) -> list[str]:
    return [row["sha256"] for row in run.json_lines("ls")]


def test_add_json_progress_is_json_lines_from_start_to_end(folder, run, uploading):
    result = run("add", folder, "--json-progress")
    assert result.exit_code == ExitCode.REJECTED
    lines = events(result.stderr)
    adding = [e for e in lines if e.get("label") == "Adding"]
    assert adding[0]["event"] == "start" and adding[-1]["event"] == "end"
    assert adding[-1]["ok"] is True and adding[-1]["files_done"] == adding[-1]["files_total"] == 4
    uploading_events = [e for e in lines if e.get("label") == "Uploading"]
    assert uploading_events[-1]["event"] == "end"
    messages = [e for e in lines if e["event"] == "message"]
    assert any("broken.png" in m["text"] and m["level"] == "info" for m in messages)
    assert any(m["text"].startswith("3 new") for m in messages), messages


def test_an_error_under_json_progress_is_an_error_event(folder, run):
    run("add", folder)  # catalogued only: no key here
    result = run("push", "--json-progress")
    assert result.exit_code != 0
    lines = events(result.stderr)
    assert lines[-2]["event"] == "end" and lines[-2]["ok"] is False
    [event] = [e for e in lines if e["event"] == "message"]
    assert event["level"] == "error"
    assert event["text"].startswith("Error: ")


def test_a_usage_error_under_json_progress_is_an_error_event(folder, run):
    """Even an option click cannot parse: the reader of the JSON Lines hears of it."""
    for args in (
        ("add", folder, "--json-progress", "--bogus"),
        ("push", "--json-progress", "-q", "-v"),
    ):
        result = run(*args)
        assert result.exit_code == ExitCode.USAGE
        [event] = events(result.stderr)
        assert event["event"] == "message" and event["level"] == "error", event
        assert event["text"].startswith("Error: ") and f"assetmgr {args[0]} --help" in event["text"]
    plain = run("add", folder, "--bogus")  # without it: click's usage and error, as text
    assert plain.exit_code == ExitCode.USAGE and plain.stderr.startswith("Usage: assetmgr add")
    after = run("add", "--json-progress", "--", "--bogus")  # a path named --bogus
    [event] = events(after.stderr)
    assert "'--bogus' does not exist" in event["text"]


def test_verify_and_run_json_progress_end_with_their_counts(folder, run, uploading):
    run("add", folder)
    verified = events(run("verify", "--json-progress").stderr)
    assert verified[0] == {"event": "start", "label": "Verifying"}
    [end] = [e for e in verified if e["event"] == "end"]
    assert end["ok"] and end["files_done"] == 0  # the workspace step counts nothing
    asked = run("run", "--prompt", "What is it?", "--per-request", "1", "--json-progress", "-v",
                *_shas(run))  # fmt: skip
    assert asked.exit_code == 0, asked.stderr
    lines = events(asked.stderr)
    done = [e for e in lines if e.get("label") == "Asking" and e["event"] == "end"]
    assert done and done[0]["files_done"] == done[0]["files_total"] == 3
    details = [e["text"] for e in lines if e["event"] == "message" and e["level"] == "detail"]
    assert len(details) == 3 and all(": answered (" in t for t in details), details


def test_a_subprocess_stderr_is_nothing_but_json(folder, tmp_path):
    db = tmp_path / "c.db"
    result = assetmgr("add", folder, "--no-upload", "--json-progress", "--json", db=db)
    assert result.returncode == ExitCode.REJECTED
    outcomes = [json.loads(line)["outcome"] for line in result.stdout.splitlines()]
    assert sorted(outcomes) == ["new", "new", "new", "rejected"]
    assert {e["event"] for e in events(result.stderr)} >= {"start", "end", "message"}
    failed = assetmgr("--db", tmp_path / "nowhere" / "x" / "c.db", "ls", "-q")
    assert "does not exist" in error_line(failed, ExitCode.CATALOGUE)  # -q keeps the error


# -- the displays themselves ----------------------------------------------------------------


class Stream:
    """stderr in memory; with ``breaks_after``, a reader that goes away after that many
    writes."""

    def __init__(self, breaks_after: int | None = None):
        self.text, self.writes, self.breaks_after = "", 0, breaks_after

    def write(self, text: str) -> None:
        if self.breaks_after is not None and self.writes >= self.breaks_after:
            raise BrokenPipeError(32, "Broken pipe")
        self.writes += 1
        self.text += text

    def flush(self) -> None:
        pass


def test_json_progress_says_only_what_moved_and_at_most_twice_a_second():
    stream, count = Stream(), {"n": 0}

    def poll() -> Snapshot:
        count["n"] += 1  # moves every time it is read
        return Snapshot(count["n"], 100, 0, 0)

    started = time.monotonic()
    with JsonProgress("Working", poll, stream=stream):
        time.sleep(4 * JSON_EVERY + 0.2)
    elapsed = time.monotonic() - started
    lines = [json.loads(line) for line in stream.text.splitlines()]
    moving = [e for e in lines if e["event"] == "progress"]
    assert 1 <= len(moving) <= elapsed / JSON_EVERY + 1
    still = Stream()
    with JsonProgress("Waiting", lambda: Snapshot(1, 2, 0, 0), stream=still):
        time.sleep(3 * JSON_EVERY)
    kinds = [json.loads(line)["event"] for line in still.text.splitlines()]
    assert kinds == ["start", "end"]  # nothing moved: nothing said between


def test_the_progress_line_is_off_with_q_and_on_a_dumb_terminal(monkeypatch):
    def display_under(*args: str):
        seen = {}

        @click.command()
        @click.pass_context
        def command(ctx):
            with progress("Working", lambda: Snapshot(0, 0, 0, 0)) as shown:
                seen["display"] = shown
                seen["talk"] = cli_talk.current().display

        cli_talk.add_verbosity_options(command)
        command.main(list(args), standalone_mode=False)
        return seen

    monkeypatch.setenv("TERM", "xterm")
    quiet = display_under("-q")
    assert isinstance(quiet["display"], ProgressLine) and quiet["display"].enabled is False
    assert quiet["talk"] is quiet["display"]  # messages meanwhile go through it
    monkeypatch.setenv("TERM", "dumb")
    assert display_under()["display"].enabled is False


def test_talk_from_threads_never_splits_a_json_line():
    stream = Stream()
    display = JsonProgress("Working", lambda: Snapshot(0, 0, 0, 0), stream=stream)

    def say(n: int) -> None:
        for i in range(200):
            display.echo(json.dumps({"event": "message", "text": f"{n}-{i}" * 20}))

    with display:
        threads = [threading.Thread(target=say, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len([json.loads(line) for line in stream.text.splitlines()]) == 802


def test_the_event_schema_refuses_what_the_commands_never_write():
    validator = Draft202012Validator(PROGRESS_EVENT)
    for wrong in (
        {"event": "progress", "label": "Adding", "files_done": 1},  # figures missing
        {"event": "end", "label": "Adding"},  # no ok, no figures
        {"event": "message", "level": "loud", "text": "x"},
        {"event": "finished", "label": "Adding"},
    ):
        assert not validator.is_valid(wrong), wrong


def test_verify_repair_shows_its_uploads(folder, run, uploading):
    import anthropic

    run("add", folder)
    gone = uploading.files()[0]["id"]
    anthropic.Anthropic(base_url=uploading.base_url, api_key="k").files.delete(gone)
    repaired = run("verify", "--repair", "-v", "--json-progress")
    assert repaired.exit_code == 0, repaired.stderr
    lines = events(repaired.stderr)
    [end] = [e for e in lines if e["event"] == "end" and e["label"] == "Repairing"]
    assert end["ok"] and end["files_done"] == end["files_total"] == 1
    details = [e["text"] for e in lines if e["event"] == "message" and e["level"] == "detail"]
    assert any(t.startswith("missing") and gone in t for t in details), details
    [again] = [t for t in details if t.startswith("uploaded")]
    assert again.split()[-1].startswith("file_") and gone not in again


def test_a_reader_gone_stops_the_updates_not_the_work(monkeypatch):
    crashed = []
    monkeypatch.setattr(threading, "excepthook", crashed.append)
    moving = iter(range(10**6))
    display = JsonProgress("Working", lambda: Snapshot(next(moving), 0, 0, 0), stream=Stream(1))
    with pytest.raises(BrokenPipeError):  # the end event: the command's own write fails
        with display:
            time.sleep(3 * JSON_EVERY)  # the updates meet the closed pipe meanwhile
            work_went_on = True
    assert work_went_on and not display.thread.is_alive() and crashed == []
    assert display.stream.text.count("\n") == 1  # the start event, nothing torn
