"""The wire: keep-alive connections never carry unread body bytes into the next request,
chunked and compressed bodies, clients that hang up, and the emulator's independence."""

from __future__ import annotations

import ast
import gzip
import json
import socket
import struct
from pathlib import Path

import anthropic
import pytest

from assetmgr.emulator import server as server_module

from .conftest import MODEL, image_bytes, sdk

EMULATOR = Path(server_module.__file__).resolve().parent
KEY = b"x-api-key: k\r\n"
MESSAGE = json.dumps(
    {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def talk(emu, data: bytes) -> list[tuple[int, dict, bytes]]:
    """Send bytes on one connection, end our side, and parse every response that comes back."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=30) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(1 << 16):
            raw += chunk
    answers = []
    while raw:
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        length = int(headers.get("content-length", 0))
        answers.append((int(lines[0].split()[1]), headers, raw[:length]))
        raw = raw[length:]
    return answers


def chunked(data: bytes, size: int = 7) -> bytes:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def test_the_emulator_imports_nothing_of_the_core():
    """The emulator ships on its own: no assetmgr module outside assetmgr.emulator."""
    for path in EMULATOR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level <= 1, f"{path.name} imports from outside the package"
                if node.level == 0 and node.module:
                    name = node.module
                    assert not name.startswith("assetmgr") or name.startswith(
                        "assetmgr.emulator"
                    ), f"{path.name}: from {name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    name = alias.name
                    assert not name.startswith("assetmgr") or name.startswith(
                        "assetmgr.emulator"
                    ), f"{path.name}: import {name}"


def test_a_chunked_body_then_a_pipelined_request(emu):
    """The chunks are the body, not the next request."""
    first = b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n" + KEY
    second = b"GET /v1/files HTTP/1.1\r\nHost: e\r\n" + KEY + b"\r\n"
    answers = talk(emu, first + b"\r\n" + chunked(MESSAGE) + second)
    assert [status for status, _, _ in answers] == [200, 200]
    assert json.loads(answers[0][2])["type"] == "message"
    assert json.loads(answers[1][2]) == {"data": [], "next_page": None}


def test_an_unread_body_is_drained_before_the_next_request(emu):
    """A 401 does not read the body; it is drained, and the next request is answered."""
    refused = b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n" % len(MESSAGE)
    second = b"GET /v1/files HTTP/1.1\r\nHost: e\r\n" + KEY + b"\r\n"
    answers = talk(emu, refused + MESSAGE + second)
    assert [status for status, _, _ in answers] == [401, 200]
    assert "connection" not in answers[0][1]


def test_a_body_too_large_to_drain_closes_the_connection(emu, monkeypatch):
    monkeypatch.setattr(server_module, "DRAIN_LIMIT", 10)
    refused = b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nContent-Length: %d\r\n\r\n" % len(MESSAGE)
    second = b"GET /v1/files HTTP/1.1\r\nHost: e\r\n" + KEY + b"\r\n"
    answers = talk(emu, refused + MESSAGE + second)
    assert [status for status, _, _ in answers] == [401]
    assert answers[0][1]["connection"] == "close"


def test_a_chunked_body_over_the_limit_is_413_and_closes(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(max_message_bytes=100)
    request = b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n" + KEY
    second = b"GET /v1/files HTTP/1.1\r\nHost: e\r\n" + KEY + b"\r\n"
    answers = talk(emu, request + b"\r\n" + chunked(b"x" * 500, 50) + second)
    assert [status for status, _, _ in answers] == [413]
    assert answers[0][1]["connection"] == "close"
    assert json.loads(answers[0][2]) == {
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}
    }


def test_a_gzip_upload(emu):
    png = image_bytes(10, 10)
    form = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="z.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--b--\r\n"
    )
    body = gzip.compress(form)
    request = b"POST /v1/files HTTP/1.1\r\nHost: e\r\nContent-Encoding: gzip\r\n" + KEY
    request += b"Content-Type: multipart/form-data; boundary=b\r\n"
    [(status, _, reply)] = talk(emu, request + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    assert status == 200 and json.loads(reply)["size_bytes"] == len(png)
    assert emu.file_bytes(json.loads(reply)["id"]) == png


def test_a_gzip_upload_over_the_limit_once_decoded(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(max_file_bytes=5000)
    body = gzip.compress(b"\0" * 100_000)  # 100 KB of zeros, a few hundred bytes compressed
    request = b"POST /v1/files HTTP/1.1\r\nHost: e\r\nContent-Encoding: gzip\r\n" + KEY
    request += b"Content-Type: multipart/form-data; boundary=b\r\n"
    [(status, _, reply)] = talk(emu, request + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    error = json.loads(reply)["error"]
    assert (
        status == 413 and error["details"]["error_code"] == "request_body_too_large_after_decoding"
    )


def test_the_sdk_raises_the_decoding_error_class(anthropic_emulator_factory):
    """The Python SDK maps the 413 with its error_code to its own class."""
    emu = anthropic_emulator_factory(max_message_bytes=50)
    client = sdk(emu)
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        client.post(
            "/v1/messages",
            cast_to=object,
            content=gzip.compress(b" " * 10_000),
            options={"headers": {"Content-Encoding": "gzip", "Content-Type": "application/json"}},
        )
    assert caught.value.error_code == "request_body_too_large_after_decoding"
    assert type(caught.value).__name__ == "RequestBodyTooLargeAfterDecodingError"


def test_a_workspace_first_named_by_an_unknown_id_answers_to_that_id(emu):
    response = sdk(emu).files.with_raw_response.list(workspace_id="wrkspc_011brandnew")
    assert response.headers["anthropic-workspace-id"] == "wrkspc_011brandnew"
    response = sdk(emu).files.with_raw_response.list()
    assert response.headers["anthropic-workspace-id"] == emu.workspace_id("default")


def _hang_up(emu, data: bytes) -> None:
    """Send, then reset the connection at once (SO_LINGER 0): the server's answer finds no one."""
    sock = socket.create_connection(("127.0.0.1", emu.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        sock.sendall(data)
    except OSError:
        pass
    sock.close()


def test_clients_that_hang_up_leave_no_traceback(emu, capfd):
    requests = [
        b"POST /v1/messages HTTP/1.1\r\nHost: e\r\nContent-Length: 999999999999\r\n\r\n",
        b"POST /v1/messages HTTP/1.1\r\nHost: e\r\n" + KEY + b"Content-Length: 50\r\n\r\n{",
        b"GET /v1/files HTTP/1.1\r\nHost: e\r\n\r\n",
        b"GET /v1/files HTTP/1.1\r\nHost: e\r\n" + KEY + b"\r\n",
        b"POST /v1/messages HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"GET /v1/fi",
        b"BREW / HTTP/1.1\r\n\r\n" * 50,
    ]
    for _ in range(20):
        for data in requests:
            _hang_up(emu, data)
    sdk(emu).files.list()  # still serving
    assert "Traceback" not in capfd.readouterr().err
