"""Fuzzing the emulator with malformed requests over raw sockets.

The emulator runs as its own process (``assetmgr emulator``), so its stderr can be read: bad
input must never print a traceback there. Hypothesis generates, with a fixed seed
(``derandomize``), requests broken at every layer:

- the request line (methods, paths, versions, garbage bytes, HTTP/0.9);
- the headers and framing (Content-Length values, Transfer-Encoding, chunk sizes,
  Content-Encoding, header lines without colons, folded, oversized or too many);
- multipart upload bodies (boundaries, part headers, truncation, stray bytes, wrong line ends);
- Messages JSON (any JSON value wherever the API expects a model, a block, a source, a
  transformation; damaged base64 images; invalid JSON).

Each request must get at least one response; every response must be HTTP/1.1 with a
``request-id``, must not be a 500, and, unless it is to HEAD or a 204, must have a JSON body
(an error for every status of 400 and above). The server must still answer normally afterwards.
"""

from __future__ import annotations

import base64
import copy
import gzip
import io
import json
import socket
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from .conftest import image_bytes

PNG = image_bytes(8, 8)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF\n"
BOMB = image_bytes(9000, 10)
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEY = b"x-api-key: fuzz-key\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``assetmgr emulator --port 0`` as a process; its stderr is checked at the end."""
    stderr = tmp_path_factory.mktemp("fuzz") / "stderr.txt"
    with open(stderr, "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "assetmgr.emulator.command", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    url = process.stdout.readline().strip()
    host, port = url.removeprefix("http://").rsplit(":", 1)
    address = (host, int(port))
    for name, data in (("PNG_FILE", PNG), ("PDF_FILE", PDF), ("BOMB_FILE", BOMB)):
        FILE_IDS[name] = _upload(address, data)
    yield address
    alive = process.poll() is None
    process.terminate()
    process.wait(timeout=30)
    text = stderr.read_text()
    assert alive, f"the emulator died during the fuzz run:\n{text[-3000:]}"
    assert "Traceback" not in text, f"the emulator printed a traceback:\n{text[-5000:]}"


FILE_IDS: dict[str, str] = {}


def _upload(address, data: bytes) -> str:
    form = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\n'
        + data
        + b"\r\n--b--\r\n"
    )
    request = b"POST /v1/files HTTP/1.1\r\nHost: fuzz\r\n" + KEY
    request += b"Content-Type: multipart/form-data; boundary=b\r\n"
    [(status, _, body)] = judge(address, request + b"Content-Length: %d\r\n\r\n" % len(form) + form)
    assert status == 200, body
    return json.loads(body)["id"]


def exchange(address, data: bytes) -> bytes:
    """Send the bytes, end our side, and read everything the server answers until it closes."""
    with socket.create_connection(address, timeout=30) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server may close early (413, framing errors): fine
            pass
        out = b""
        while True:
            try:
                got = sock.recv(1 << 16)
            except ConnectionResetError:
                break
            if not got:
                break
            out += got
    return out


def responses(raw: bytes, head: bool = False) -> list[tuple[int, dict, bytes]]:
    """The responses in a byte stream: (status, headers, body); 1xx interim ones skipped."""
    found = []
    while raw:
        end = raw.find(b"\r\n\r\n")
        assert end >= 0, f"a response without a complete header section: {raw[:300]!r}"
        lines = raw[:end].decode("latin-1").split("\r\n")
        version, status = lines[0].split(" ", 2)[:2]
        assert version == "HTTP/1.1", lines[0]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = raw[end + 4 :]
        length = int(headers.get("content-length", "0"))
        if head and not found and (not raw or raw.startswith(b"HTTP/")):
            length = 0  # the answer to a HEAD request (a request line too broken to be one
            # is answered with a body, as the server cannot know it was HEAD)
        body, raw = raw[:length], raw[length:]
        if int(status) >= 200:
            found.append((int(status), headers, body))
    return found


def judge(address, data: bytes, head: bool = False) -> list[tuple[int, dict, bytes]]:
    answers = responses(exchange(address, data), head=head)
    assert answers, f"no response to {data[:200]!r}"
    for n, (status, headers, body) in enumerate(answers):
        assert status != 500, (data[:300], body[:500])
        assert headers.get("request-id", "").startswith("req_"), (status, headers)
        if (head and n == 0 and not body) or status == 204:
            continue
        parsed = json.loads(body)
        if status >= 400:
            assert set(parsed["error"]) >= {"type", "message"}, parsed
            if "request_id" in parsed:
                assert parsed["request_id"] == headers["request-id"]
    return answers


def still_up(address) -> None:
    request = b"GET /v1/files?limit=1 HTTP/1.1\r\nHost: fuzz\r\n" + KEY + b"\r\n"
    [(status, _, body)] = judge(address, request)
    assert status == 200 and "data" in json.loads(body)


# -- the request line -------------------------------------------------------------------------

METHOD_LIST = [
    b"GET",
    b"POST",
    b"PUT",
    b"DELETE",
    b"HEAD",
    b"OPTIONS",
    b"PATCH",
    b"BREW",
    b"get",
    b"\x00",
]
PATH_LIST = [
    b"/v1/files",
    b"/v1/files/file_011x",
    b"/v1/files/x/content",
    b"/v1/messages",
    b"/",
    b"*",
] + [
    b"//[",
    b"http://[::1/v1/files",
    b"http://x.example/v1/files",
    b"//a]b?c",
    b"/v1/files?limit=abc",
    b"/v1/files?ids[]=a&limit=2",
    b"/%zz",
    b"/v1/files/%00",
    b"/_emulator/x",
]
METHODS = st.sampled_from(METHOD_LIST)
PATHS = st.sampled_from(PATH_LIST)
VERSIONS = st.sampled_from(
    [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.x", b"HTTP", b"FTP/1.1"]
)


@SETTINGS
@given(
    method=METHODS,
    path=PATHS | st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b),
    version=VERSIONS | st.binary(max_size=12).filter(lambda b: b"\n" not in b),
    separator=st.sampled_from([b" ", b"  ", b"\t"]),
    words=st.integers(1, 4),
)
def test_request_lines(server, method, path, version, separator, words):
    line = separator.join([method, path, version, b"extra"][:words])
    judge(server, line + b"\r\nHost: fuzz\r\n" + KEY + b"\r\n", head=method == b"HEAD")


def test_every_method_on_every_path(server):
    """The sampled methods and paths, every pair, deterministically."""
    for method in METHOD_LIST:
        for path in PATH_LIST:
            line = method + b" " + path + b" HTTP/1.1\r\nHost: fuzz\r\n" + KEY + b"\r\n"
            judge(server, line, head=method == b"HEAD")
    still_up(server)


def test_request_line_edge_cases(server):
    for line in [b"\r\n", b"GET /\r\n", b"GET / HTTP/1.1 extra\r\n", b"G" * 70000 + b"\r\n"]:
        judge(server, line + b"\r\n")
    still_up(server)


# -- headers and framing ----------------------------------------------------------------------

BODY = json.dumps(
    {"model": "claude-sonnet-5", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
).encode()


def _chunked(data: bytes, size: int) -> bytes:
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


HEADER_LIST = [
    b"Content-Length: 10\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: 0x10\r\n",
    b"Content-Length: 99999999999999999999999\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
    b"Content-Length: 1, 1\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: gzip, chunked\r\n",
    b"Transfer-Encoding: chunked, identity\r\n",
    b"Content-Encoding: gzip\r\n",
    b"Content-Encoding: br\r\n",
    b"Content-Encoding: gzip, gzip\r\n",
    b"Content-Type: application/json\r\n",
    b"Content-Type: multipart/form-data; boundary=\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: close\r\n",
    b"Connection: keep-alive\r\n",
    b"Origin: https://x.example\r\n",
    b"anthropic-dangerous-direct-browser-access: true\r\n",
    b"anthropic-workspace-id: wrkspc_011nope\r\n",
    b"anthropic-beta: files-api-2025-04-14\r\n",
    b"Access-Control-Request-Headers: a,\r\n b\r\n",
    b"Authorization: Bearer\r\n",
    b"no colon here\r\n",
    b" folded continuation\r\n",
    b"X-Long: " + b"a" * 70000 + b"\r\n",
    b"X-Bytes: \xff\xfe\x00\r\n",
    KEY,
]
BODY_LIST = [
    b"",
    BODY,
    gzip.compress(BODY),
    _chunked(BODY, 7),
    _chunked(gzip.compress(BODY), 5),
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhel",
    b"ffffffffffffffffff\r\n",
    b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
    b"\x1f\x8b\x08\x00garbage",
]
HEADER_LINES = st.sampled_from(HEADER_LIST)
BODIES = st.sampled_from(BODY_LIST) | st.binary(max_size=300)


@SETTINGS
@given(
    method=st.sampled_from([b"POST", b"OPTIONS", b"GET"]),
    path=st.sampled_from([b"/v1/messages", b"/v1/messages/count_tokens", b"/v1/files"]),
    headers=st.lists(HEADER_LINES, max_size=6),
    body=BODIES,
)
def test_headers_and_framing(server, method, path, headers, body):
    judge(
        server,
        method + b" " + path + b" HTTP/1.1\r\nHost: fuzz\r\n" + b"".join(headers) + b"\r\n" + body,
    )


def test_every_header_with_every_body(server):
    """Each header line of HEADER_LIST alone (with a key), before each body of BODY_LIST."""
    for header in HEADER_LIST:
        for body in BODY_LIST:
            request = b"POST /v1/messages HTTP/1.1\r\nHost: fuzz\r\n" + KEY + header
            judge(server, request + b"\r\n" + body)
    still_up(server)


def test_too_many_headers(server):
    many = b"".join(b"X-%d: y\r\n" % n for n in range(300))
    judge(server, b"GET /v1/files HTTP/1.1\r\n" + many + b"\r\n")
    still_up(server)


# -- multipart uploads ----------------------------------------------------------------------

BOUNDARY = st.sampled_from([b"b0undary", b"x" * 70, b"a'b\"c", b""])


@st.composite
def multipart_bodies(draw):
    boundary = draw(BOUNDARY)
    parts = draw(
        st.lists(
            st.tuples(
                st.sampled_from([b"file", b"expires_in_seconds", b"other", b""])
                | st.binary(max_size=10),
                st.none() | st.sampled_from([b"a.png", b"../x/y.png", b"", b"a\x00b"]),
                st.none() | st.sampled_from([b"image/png", b"text/plain", b"\xff"]),
                st.sampled_from([PNG, b"3600", b"-1", b"99999999999999999999", b""])
                | st.binary(max_size=60),
            ),
            max_size=5,
        )
    )
    body = b""
    for name, filename, mime, data in parts:
        body += b"--" + boundary + b'\r\nContent-Disposition: form-data; name="' + name + b'"'
        body += (b'; filename="' + filename + b'"') if filename is not None else b""
        body += (
            b"\r\n" + (b"Content-Type: " + mime + b"\r\n" if mime is not None else b"") + b"\r\n"
        )
        body += data + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    damage = draw(st.sampled_from(["none", "truncate", "insert", "lf", "epilogue"]))
    if damage == "truncate" and body:
        body = body[: draw(st.integers(0, len(body) - 1))]
    elif damage == "insert":
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(st.binary(min_size=1, max_size=20)) + body[at:]
    elif damage == "lf":
        body = body.replace(b"\r\n", b"\n")
    elif damage == "epilogue":
        body += draw(st.binary(max_size=50))
    content_type = draw(
        st.sampled_from(
            [
                b"multipart/form-data; boundary=" + boundary,
                b'multipart/form-data; boundary="' + boundary + b'"',
                b"multipart/form-data",
                b"application/json",
            ]
        )
    )
    return content_type, body


@SETTINGS
@given(form=multipart_bodies(), beta=st.booleans(), chunked=st.booleans())
def test_multipart_uploads(server, form, beta, chunked):
    content_type, body = form
    headers = b"Content-Type: " + content_type + b"\r\n" + KEY
    headers += b"anthropic-beta: files-api-2025-04-14\r\n" if beta else b""
    if chunked:
        framed = b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(body, 13) if body else b"\r\n"
    else:
        framed = b"Content-Length: %d\r\n\r\n" % len(body) + body
    [(status, _, _)] = judge(
        server, b"POST /v1/files HTTP/1.1\r\nHost: fuzz\r\n" + headers + framed
    )
    assert status in (200, 400), status


# -- Messages JSON ----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((40, 30), 50).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


JPEG = _jpeg()
LEAVES = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
JSON = st.recursive(
    LEAVES | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
DATA = (
    st.sampled_from(
        [
            _b64(PNG),
            _b64(JPEG),
            _b64(JPEG[: len(JPEG) // 2]),
            "",
            "%%%",
            "iVBORw0KGgo=",
            _b64(b"GIF89a"),
        ]
    )
    | st.binary(max_size=64).map(lambda b: _b64(b"\x89PNG\r\n\x1a\n" + b))
    | JSON
)
IMAGE_SOURCE = st.fixed_dictionaries(
    {"type": st.sampled_from(["base64", "file", "url", "bytes"]) | JSON},
    optional={
        "media_type": st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/bmp"]) | JSON,
        "data": DATA,
        "file_id": st.sampled_from(["file_011nope", ""]) | JSON,
        "url": st.sampled_from(["https://x.example/a.png", "ftp://x"]) | JSON,
    },
)
DOCUMENT_SOURCE = st.fixed_dictionaries(
    {"type": st.sampled_from(["base64", "file", "text", "url", "content", "pdf"]) | JSON},
    optional={
        "media_type": st.sampled_from(["application/pdf", "text/plain"]) | JSON,
        "data": st.sampled_from([_b64(b"%PDF-1.4 /Type /Page"), "text", "%%%"]) | JSON,
        "file_id": st.sampled_from(["file_011nope"]) | JSON,
    },
)
IMAGE = st.fixed_dictionaries(
    {"type": st.just("image"), "source": IMAGE_SOURCE | JSON},
    optional={"transformations": st.just({"oversized_image": "error"}) | JSON},
)
DOCUMENT = st.fixed_dictionaries({"type": st.just("document"), "source": DOCUMENT_SOURCE | JSON})
TEXT = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=20) | JSON})
TOOL_RESULT = st.fixed_dictionaries(
    {"type": st.just("tool_result"), "tool_use_id": st.just("t1")},
    optional={"content": st.lists(IMAGE | TEXT | JSON, max_size=3) | JSON},
)
BLOCK = IMAGE | DOCUMENT | TEXT | TOOL_RESULT | JSON
MESSAGE = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["user", "assistant"]) | JSON,
        "content": st.lists(BLOCK, max_size=4) | st.text(max_size=10) | JSON,
    }
)
REQUEST = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["claude-sonnet-5", "claude-sonnet-4-6", "claude-x-99-99"]) | JSON,
        "max_tokens": st.integers(-1, 50) | JSON,
        "messages": st.lists(MESSAGE | JSON, max_size=3) | JSON,
    },
    optional={"system": st.text(max_size=10) | JSON, "stream": st.booleans() | JSON},
)


def _image(source: dict) -> dict:
    return {"type": "image", "source": source}


# A request that is valid as it stands, to be damaged in one to three places.
TEMPLATE = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 20,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                _image({"type": "base64", "media_type": "image/png", "data": _b64(PNG)}),
                {**_image({"type": "file", "file_id": "PNG_FILE"}), "transformations": {}},
                {"type": "document", "source": {"type": "file", "file_id": "PDF_FILE"}},
                _image({"type": "url", "url": "https://x.example/a.png"}),
            ],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "s", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [
                        {"type": "text", "text": "shot"},
                        _image({"type": "base64", "media_type": "image/jpeg", "data": _b64(JPEG)}),
                    ],
                },
                {
                    "type": "document",
                    "source": {"type": "text", "media_type": "text/plain", "data": "x"},
                },
            ],
        },
    ],
}
REPLACEMENTS = (
    JSON
    | DATA
    | st.sampled_from(["PNG_FILE", "PDF_FILE", "BOMB_FILE", "file_011nope", "image", "document"])
    | st.just({"oversized_image": "error"})
)


def _places(value, at=()):
    """Every place in a JSON value: a path of keys and indices."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*at, key)
            yield from _places(inner, (*at, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*at, index)
            yield from _places(inner, (*at, index))


@st.composite
def damaged_requests(draw):
    request = copy.deepcopy(TEMPLATE)
    for _ in range(draw(st.integers(1, 3))):
        places = list(_places(request))
        if not places:
            break
        *parent_path, last = draw(st.sampled_from(places))
        parent = request
        for key in parent_path:
            parent = parent[key]
        if draw(st.booleans()):
            parent[last] = copy.deepcopy(draw(REPLACEMENTS))
        elif isinstance(parent, dict):
            del parent[last]
        else:
            parent.pop(last)
    return request


def _with_files(value):
    if isinstance(value, str):
        return FILE_IDS.get(value, value)
    if isinstance(value, list):
        return [_with_files(v) for v in value]
    if isinstance(value, dict):
        return {k: _with_files(v) for k, v in value.items()}
    return value


def test_the_template_is_valid(server):
    body = json.dumps(_with_files(TEMPLATE)).encode()
    request = b"POST /v1/messages HTTP/1.1\r\nHost: fuzz\r\nContent-Type: application/json\r\n"
    request += KEY + b"Content-Length: %d\r\n\r\n" % len(body) + body
    [(status, _, reply)] = judge(server, request)
    assert status == 200, reply


WRONG = [
    None,
    0,
    -1,
    2**64,
    1.5,
    True,
    "",
    "x",
    [],
    {},
    [None],
    [{}],
    {"type": 5},
    {"type": "image"},
]


def _variants():
    """The template with one place set to each wrong value, and with each key deleted."""
    for place in _places(TEMPLATE):
        for value in [*WRONG, "DELETE"]:
            request = copy.deepcopy(TEMPLATE)
            parent = request
            for key in place[:-1]:
                parent = parent[key]
            if value != "DELETE":
                parent[place[-1]] = copy.deepcopy(value)
            elif isinstance(parent, dict):
                del parent[place[-1]]
            else:
                parent.pop(place[-1])
            yield request


def test_every_place_with_every_wrong_value(server):
    """Systematic single-place damage: every key and index of the template, set to each value
    of WRONG or deleted (about a thousand requests)."""
    count = 0
    for request in _variants():
        _send_messages(server, _with_files(request), b"/v1/messages", "none")
        count += 1
    assert count > 500


@settings(SETTINGS, max_examples=300)
@given(
    request=damaged_requests(),
    path=st.sampled_from([b"/v1/messages", b"/v1/messages/count_tokens"]),
)
def test_messages_json_damaged_in_places(server, request, path):
    _send_messages(server, _with_files(request), path, "none")


@settings(SETTINGS, max_examples=150)
@given(
    request=REQUEST,
    path=st.sampled_from([b"/v1/messages", b"/v1/messages/count_tokens"]),
    damage=st.sampled_from(["none", "none", "truncate", "gzip"]),
)
def test_messages_json_random(server, request, path, damage):
    _send_messages(server, request, path, damage)


def _send_messages(server, request, path, damage):
    body = json.dumps(request).encode()
    headers = b"Content-Type: application/json\r\n" + KEY
    if damage == "truncate":
        body = body[: len(body) // 2]
    elif damage == "gzip":
        body, headers = gzip.compress(body), headers + b"Content-Encoding: gzip\r\n"
    request_bytes = b"POST " + path + b" HTTP/1.1\r\nHost: fuzz\r\n" + headers
    [(status, _, _)] = judge(
        server, request_bytes + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    assert status in (200, 400, 404), status


def test_json_edge_cases(server):
    for body in [
        b"[" * 100_000,
        b'{"model": "' + b"\xff" * 10 + b'"}',
        b"null",
        b"1e999999",
        b"{}",
    ]:
        request = b"POST /v1/messages HTTP/1.1\r\nHost: fuzz\r\n" + KEY
        judge(server, request + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    still_up(server)


def test_the_server_is_still_up_after_all_of_it(server):
    still_up(server)
    # the module fixture then checks stderr for tracebacks


def test_the_admin_surface_refuses_wrong_values(server):
    """The admin routes take JSON bodies too: wrong ones are 400, never 500."""
    bodies = [b"", b"[" * 100_000, b"{", b"[]", b"5"]
    for value in WRONG + ["2030-13-45", 1e308, -1e308]:
        for key in ("advance", "set", "error_rate", "latency_ms", "quota_bytes", "nothing"):
            bodies.append(json.dumps({key: value}).encode())
    for path in (b"/_emulator/clock", b"/_emulator/faults"):
        for body in bodies:
            request = b"POST " + path + b" HTTP/1.1\r\nHost: fuzz\r\n"
            judge(server, request + b"Content-Length: %d\r\n\r\n" % len(body) + body)
    # put the faults back as they were: nothing injected
    reset = json.dumps({"error_rate": 0, "latency_ms": 0, "drop_rate": 0, "quota_bytes": None})
    request = b"POST /_emulator/faults HTTP/1.1\r\nHost: fuzz\r\n"
    judge(server, request + b"Content-Length: %d\r\n\r\n" % len(reset) + reset.encode())
    still_up(server)
