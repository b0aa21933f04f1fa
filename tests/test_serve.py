"""``assetmgr serve --stdio`` as another program meets it: a real subprocess, requests written
to its stdin, answers read from its stdout; and file ids as references, on every path."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading

import pytest

from tests.conftest import assetmgr, error_line, image_bytes, write_image

pytestmark = pytest.mark.backends()

WAIT = 60  # seconds: at most, for one answer


class Server:
    """``python -m assetmgr --db DB serve --stdio``, one request in, one answer out."""

    def __init__(self, db):
        command = [sys.executable, "-m", "assetmgr", "--db", str(db), "serve", "--stdio"]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=dict(os.environ))  # fmt: skip
        self.lines: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def write(self, raw: bytes) -> None:
        self.process.stdin.write(raw)
        self.process.stdin.flush()

    def answer(self) -> dict:
        line = self.lines.get(timeout=WAIT)
        assert line, f"the server ended: {self.process.stderr.read().decode()}"
        return json.loads(line)

    def ask(self, **request) -> dict:
        self.write(json.dumps(request).encode() + b"\n")
        return self.answer()

    def result(self, **request):
        answer = self.ask(id=1, **request)
        assert answer["ok"] and answer["id"] == 1, answer
        return answer["result"]

    def end(self) -> tuple[int, str]:
        """Close stdin: the exit code and stderr."""
        self.process.stdin.close()
        code = self.process.wait(timeout=WAIT)
        return code, self.process.stderr.read().decode()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server(db):
    started: list[Server] = []

    def start() -> Server:
        started.append(Server(db))
        return started[-1]

    yield start
    for s in started:
        s.kill()


@pytest.fixture
def uploaded(tmp_path, run, uploading):
    """Two assets uploaded to the emulator; their sha256s."""
    for i in (1, 2):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(60 + i, 40))
    return [r["sha256"] for r in run.json_lines("add", tmp_path / "in")]


def file_id(run, sha: str) -> str:
    [placement] = run.json_lines("whereis", sha)
    return placement["file_id"]


# -- each op answers as its command prints with --json -------------------------------------------


def test_each_op_answers_what_its_command_prints(uploaded, run, server):
    a, b = uploaded
    s = server()
    assert s.result(op="block", refs=[a, b[:8]]) == json.loads(run("block", a, b[:8]).stdout)
    labelled = s.result(op="block", refs=[b], label=True, model="claude-haiku-5-5")
    assert labelled == json.loads(run("block", b, "--label", "--model", "claude-haiku-5-5").stdout)
    lines = run("request", a, b, "--prompt", "Same?", "--max-tokens", "50").stdout.splitlines()
    assert s.result(op="request", refs=[a, b], prompt="Same?", max_tokens=50) == [
        json.loads(line) for line in lines
    ]
    [bare] = s.result(op="request", refs=[a], prompt="x", bare=True)
    assert "assetmgr" not in bare and bare["messages"][0]["content"][-1]["text"] == "x"
    assert s.result(op="resolve", refs=[b, a[:10]]) == [b, a]
    run("tag", "add", "picked", b)
    assert s.result(op="resolve", tag="picked") == [b]
    assert s.result(op="whereis", ref=a) == run.json_lines("whereis", a)
    assert s.result(op="show", ref=a) == json.loads(run("show", a, "--json").stdout)
    assert s.end() == (0, "")


def test_an_unknown_model_answers_with_a_warning(uploaded, server):
    answer = server().ask(id="w", op="block", refs=uploaded[:1], model="claude-nova-9")
    assert answer["ok"] and answer["result"][0]["source"]["file_id"].startswith("file_")
    assert any("claude-nova-9" in warning for warning in answer["warnings"]), answer


# -- bad requests get error objects; the server goes on ------------------------------------------


@pytest.mark.parametrize(
    "line, request_id, kind, code, words",
    [
        (b"not json", None, "UsageError", 2, "one line of JSON"),
        (b"\xff\xfe{}", None, "UsageError", 2, "not UTF-8"),
        (b'[{"op": "block"}]', None, "UsageError", 2, "a JSON object, not list"),
        (b'"block"', None, "UsageError", 2, "a JSON object, not str"),
        (b'{"id": 3, "op": "fly"}', 3, "UsageError", 2, "unknown op 'fly'"),
        (b'{"id": 4}', 4, "UsageError", 2, "unknown op None"),
        (b'{"id": 5, "op": "block"}', 5, "UsageError", 2, "name assets"),
        (b'{"id": 6, "op": "block", "refs": "abcdef"}', 6, "UsageError", 2, "refs must be a list"),
        (b'{"id": 7, "op": "block", "refs": ["abcdef"], "colour": 1}', 7, "UsageError", 2,
         "block takes no 'colour'"),
        (b'{"id": 8, "op": "block", "refs": ["abcdef"], "model": "not a model"}', 8, "UsageError",
         2, "is not a model id"),
        (b'{"id": 9, "op": "request", "refs": ["abcdef"]}', 9, "UsageError", 2, "needs prompt"),
        (b'{"id": [1], "op": "request", "refs": ["abcdef"], "prompt": "x", "max_tokens": 0}',
         [1], "UsageError", 2, "max_tokens must be a whole number"),
        (b'{"id": 10, "op": "show"}', 10, "UsageError", 2, "show needs ref"),
        (b'{"id": 11, "op": "show", "ref": "abc"}', 11, "UsageError", 2, "too short"),
        (b'{"id": 12, "op": "show", "ref": "abcdef"}', 12, "NotFound", 4, "no asset has"),
        (b'{"id": 13, "op": "resolve", "refs": ["file_nope"]}', 13, "NotFound", 4,
         "no upload in this catalogue has the file id file_nope"),
    ],
)  # fmt: skip
def test_a_bad_request_gets_an_error_object_and_the_server_goes_on(
    uploaded, server, line, request_id, kind, code, words
):
    s = server()
    s.write(line + b"\n")
    answer = s.answer()
    assert answer["id"] == request_id and answer["ok"] is False, answer
    assert answer["error"]["type"] == kind and answer["error"]["exit"] == code, answer
    assert words in answer["error"]["message"], answer
    assert "\n" not in answer["error"]["message"]
    s.write(b"\n   \n")  # blank lines: no answer
    assert s.ask(id="next", op="resolve", refs=uploaded[:1]) == {
        "id": "next",
        "ok": True,
        "result": uploaded[:1],
    }
    assert s.end() == (0, "")


def test_an_error_type_and_exit_are_those_of_the_command(uploaded, run, server):
    command = run("block", "abcdef")
    answer = server().ask(id=1, op="block", refs=["abcdef"])
    assert answer["error"]["exit"] == command.exit_code == 4
    assert f"Error: {answer['error']['message']}" == command.stderr.strip()


# -- a catalogue that changes under the server ---------------------------------------------------


def test_an_asset_added_by_another_process_is_then_found(uploaded, tmp_path, db, server):
    s = server()
    assert s.result(op="block", refs=uploaded[:1])  # the connection is open
    write_image(tmp_path / "later.png", seed=42)
    added = assetmgr("add", tmp_path / "later.png", "--json", db=db)
    sha = json.loads(added.stdout)["sha256"]
    [block] = s.result(op="block", refs=[sha])
    assert block["source"]["file_id"].startswith("file_")
    assert s.result(op="resolve", refs=[sha[:12]]) == [sha]


def test_an_upload_that_is_due_goes_through_the_library(tmp_path, run, server, uploading):
    write_image(tmp_path / "x.png", seed=5)
    [added] = run.json_lines("add", tmp_path / "x.png", "--no-upload")
    s = server()
    refusal = s.ask(id=1, op="block", refs=[added["sha256"]], upload=False)
    assert (
        refusal["error"]["type"] == "NotFound" and "no live upload" in refusal["error"]["message"]
    )
    [block] = s.result(op="block", refs=[added["sha256"]])
    assert block["source"]["file_id"] == file_id(run, added["sha256"])
    assert s.result(op="block", refs=[added["sha256"]]) == [block]  # now on the fast path
    assert s.end() == (0, "")


def test_requests_sent_ahead_in_one_write_are_each_answered_in_order(uploaded, server):
    s = server()
    lines = [json.dumps({"id": i, "op": "resolve", "refs": [uploaded[i % 2][:8]]})
             for i in range(500)]  # fmt: skip
    lines[250] = "{not json"
    s.write(("\n".join(lines) + "\n").encode())
    answers = [s.answer() for _ in lines]
    assert [a["id"] for a in answers] == [*range(250), None, *range(251, 500)]
    assert all(a["result"] == [uploaded[a["id"] % 2]] for a in answers if a["id"] is not None)
    s.write(b'{"id": "last", "op": "resolve", "refs": []}')  # no newline: answered at EOF
    assert s.end()[0] == 0
    assert s.answer()["id"] == "last"


def test_eof_ends_the_server_with_exit_0(db, server):
    assert server().end() == (0, "")


def test_serve_needs_stdio(db):
    result = assetmgr("serve", db=db)
    assert result.returncode == 2 and "--stdio" in result.stderr


def test_starting_and_the_fast_path_import_neither_the_sdk_nor_alembic(uploaded, db):
    code = (
        "import io, sys\n"
        "from assetmgr.cli import cli\n"
        "try:\n"
        "    cli(['--db', sys.argv[1], 'serve', '--stdio'], prog_name='assetmgr')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print(sorted(m for m in ('anthropic', 'alembic') if m in sys.modules), file=sys.stderr)\n"
    )
    request = {"id": 1, "op": "block", "refs": uploaded}
    result = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True,
                            input=json.dumps(request) + "\n", text=True, timeout=WAIT)  # fmt: skip
    [answer] = map(json.loads, result.stdout.splitlines())
    assert answer["ok"], answer
    assert result.stderr.splitlines()[-1] == "[]", result.stderr


# -- file ids as references ----------------------------------------------------------------------


def test_a_file_id_names_its_asset_everywhere(uploaded, run, server):
    a, b = uploaded
    fid = file_id(run, a)
    assert json.loads(run("show", fid, "--json").stdout) == json.loads(
        run("show", a, "--json").stdout
    )
    assert run("block", fid).stdout == run("block", a).stdout
    assert run.json_lines("whereis", fid) == run.json_lines("whereis", a)
    assert run("cat", fid).stdout_bytes == run("cat", a).stdout_bytes
    run("tag", "add", "by-file", fid, file_id(run, b))
    assert [r["sha256"] for r in run.json_lines("ls", "--tag", "by-file")] == [a, b]
    s = server()
    assert s.result(op="resolve", refs=[fid]) == [a]
    assert s.result(op="block", refs=[fid]) == json.loads(run("block", a).stdout)
    assert s.result(op="show", ref=fid)["sha256"] == a
    run("rm", fid, "--yes")
    assert s.ask(id=2, op="resolve", refs=[fid])["error"]["type"] == "NotFound"


def test_an_unknown_file_id_is_not_found(uploaded, run):
    result = assetmgr("show", "file_011CNha8iCJcU1wXNR6q4V8w", db=run.db)
    line = error_line(result, 4)
    assert "no upload in this catalogue has the file id file_011CNha8iCJcU1wXNR6q4V8w" in line


@pytest.fixture
def sharing(tmp_path, run, uploading):
    """Two assets (the same pixels, in files that differ) whose one rendition is uploaded once:
    their sha256s and its file id."""
    from PIL import PngImagePlugin

    (tmp_path / "plain.png").write_bytes(image_bytes(size=(50, 40), seed=3))
    info = PngImagePlugin.PngInfo()
    info.add_text("note", "the same pixels")
    (tmp_path / "noted.png").write_bytes(image_bytes(size=(50, 40), seed=3, pnginfo=info))
    shas = [r["sha256"] for r in run.json_lines("add", tmp_path / "plain.png",
                                                tmp_path / "noted.png")]  # fmt: skip
    assert len(set(shas)) == 2 and file_id(run, shas[0]) == file_id(run, shas[1])
    return shas, file_id(run, shas[0])


def test_a_file_id_two_assets_use_is_ambiguous(sharing, run, server):
    (a, b), fid = sharing
    line = error_line(assetmgr("block", fid, db=run.db), 4)
    assert f"'{fid}' matches 2 assets" in line and a[:12] in line and b[:12] in line
    assert "by its sha256" in line
    answer = server().ask(id=1, op="block", refs=[fid])
    assert answer["error"]["type"] == "AmbiguousReference" and answer["error"]["exit"] == 4


def test_a_file_id_names_the_asset_that_does_not_borrow_its_rendition(sharing, run, db, server):
    (a, b), fid = sharing
    db.execute(
        "INSERT INTO near_links (asset_id, policy, best_id, own_rendition_id, own_warnings, "
        "distance, created_at) SELECT ar.asset_id, ar.policy, o.id, ar.rendition_id, '[]', 0, "
        "o.created_at FROM asset_renditions ar JOIN assets x ON x.id = ar.asset_id "
        "JOIN assets o ON o.sha256 = :a WHERE x.sha256 = :b",
        a=a,
        b=b,
    )
    assert json.loads(run("show", fid, "--json").stdout)["sha256"] == a
    s = server()
    assert s.result(op="resolve", refs=[fid]) == [a]
    assert s.result(op="block", refs=[fid]) == json.loads(run("block", a).stdout)
