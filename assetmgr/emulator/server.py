"""The HTTP side: a threaded stdlib server, routing, authentication, faults and error bodies.

One handler thread per connection, HTTP/1.1 keep-alive (the SDK pools connections), and a
Content-Length on every response. A request runs in the order the real service answers it:

1. the edge: request line and headers, body framing (``Content-Length`` or chunked) and size
   (413 before anything else, with the edge's bare body; a chunked body is read to its end
   here so its size is known), CORS preflight (``OPTIONS``);
2. the API: latency, then browser access (``Origin`` needs
   ``anthropic-dangerous-direct-browser-access: true``), the key (401), an injected fault, the
   route (404, 405), ``Content-Encoding``, and the endpoint.

Every response carries ``request-id``; every authenticated one ``anthropic-workspace-id``;
errors of any kind are JSON in the real body shape, never the standard library's HTML. A body
the endpoint did not read is drained after the answer, or the connection is closed: unread bytes
never stay on a kept-alive connection. A client that goes away is let go quietly. The API key is
never logged.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from . import admin, batches, files, messages, models, wire
from .errors import ApiError, new_id
from .store import DEFAULT_WORKSPACE

if TYPE_CHECKING:
    from .runner import Emulator

ORGANIZATION_ID = "00000000-0000-4000-8000-000000000000"
# A body the endpoint did not read is drained after the answer when this small, and only if
# it keeps arriving; otherwise the connection is closed.
DRAIN_LIMIT = 64 << 20
DRAIN_TIMEOUT = 5.0
MAX_REQUEST_LINE = 65536
# How long, and how much, a closing connection reads of what the client still sends.
LINGER_SECONDS = 2.0
LINGER_LIMIT = 64 << 20
_FILE = re.compile(r"^/v1/files/([^/]+)$")
_CONTENT = re.compile(r"^/v1/files/([^/]+)/content$")
_MODELS = re.compile(r"^/v1/models$")
_MODEL = re.compile(r"^/v1/models/([^/]+)$")
_BATCHES = re.compile(r"^/v1/messages/batches$")
_BATCH = re.compile(r"^/v1/messages/batches/([^/]+)$")
_BATCH_ACTION = re.compile(r"^/v1/messages/batches/([^/]+)/(cancel|results)$")
# Allowed methods per route; HEAD goes wherever GET does.
_ROUTES = (
    (re.compile(r"^/v1/files$"), ("GET", "HEAD", "POST")),
    (_FILE, ("GET", "HEAD", "DELETE")),
    (_CONTENT, ("GET", "HEAD")),
    (re.compile(r"^/v1/messages$"), ("POST",)),
    (re.compile(r"^/v1/messages/count_tokens$"), ("POST",)),
    (_MODELS, ("GET", "HEAD")),
    (_MODEL, ("GET", "HEAD")),
    (_BATCHES, ("GET", "HEAD", "POST")),
    (_BATCH, ("GET", "HEAD", "DELETE")),
    (re.compile(r"^/v1/messages/batches/([^/]+)/cancel$"), ("POST",)),
    (re.compile(r"^/v1/messages/batches/([^/]+)/results$"), ("GET", "HEAD")),
)
CORS_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_HEADERS = (
    "authorization, x-api-key, anthropic-version, anthropic-beta, anthropic-workspace-id, "
    "anthropic-dangerous-direct-browser-access, content-type, content-encoding, "
    "x-stainless-arch, x-stainless-lang, x-stainless-os, x-stainless-package-version, "
    "x-stainless-retry-count, x-stainless-runtime, x-stainless-runtime-version, "
    "x-stainless-timeout"
)
BROWSER_HEADER = "anthropic-dangerous-direct-browser-access"


class Dropped(Exception):
    """The response is lost on purpose: the connection closes without one."""


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address, emulator: Emulator):
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request, client_address):
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._connections_lock:
            self._connections.discard(request)
        _linger(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        """A connection's socket failing is the client's business, not a traceback."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """End idle keep-alive connections too, so a stopped emulator really is gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _linger(connection: socket.socket) -> None:
    """Close like a web server does ("lingering close"): stop sending, then read and discard
    what the client still sends (the rest of a body refused with 413, say) until it closes,
    for a moment at most. Closing with unread bytes would reset the connection, and a client
    still sending could lose the answer it was sent."""
    deadline, read = time.monotonic() + LINGER_SECONDS, 0
    try:
        connection.shutdown(socket.SHUT_WR)
        while read < LINGER_LIMIT and (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            chunk = connection.recv(65536)
            if not chunk:
                return
            read += len(chunk)
    except OSError:
        return


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "assetmgr-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections, and stalled bodies, end after this many seconds
    server: EmulatorServer

    def setup(self):
        super().setup()
        # Headers and body are written separately; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._reset()

    def _reset(self) -> None:
        self.request_id = new_id("req")
        self.body = wire.Empty()
        self.body_unsent = False  # an oversized body refused before "100 Continue"
        self.extra_headers: dict[str, str] = {}
        self.recorded = False
        self.route = ""
        self.requestline, self.command, self.request_version = "", "", "HTTP/1.1"

    # -- the request loop -------------------------------------------------------------------

    def handle_one_request(self):
        """One request, answered in JSON whatever is wrong with it; socket failures end the
        connection quietly."""
        self._reset()
        try:
            self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > MAX_REQUEST_LINE:
                self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG, "The request line is too long.")
                return
            if len(self.raw_requestline.split()) != 3:
                self.send_error(HTTPStatus.BAD_REQUEST, "Bad request line.")
                return
            if not self.parse_request():  # it answered through send_error
                return
            self._dispatch()
            self.wfile.flush()
        except (OSError, wire.ClientGone):
            self.close_connection = True

    def send_error(self, code, message=None, explain=None):
        """Errors found by the standard library (request line, headers): JSON, and close."""
        if self.request_version not in ("HTTP/1.0", "HTTP/1.1"):
            self.request_version = "HTTP/1.1"
        status = HTTPStatus(code)
        self.close_connection = True
        error = ApiError(status.value, message or status.phrase)
        self._send_json(status.value, error.body(self.request_id))

    def handle_expect_100(self):
        """Refuse an oversized body before it is sent (curl asks first for large uploads)."""
        self.body_unsent = wire.declared_length(self.headers) > self._limit()
        if self.body_unsent:
            return True  # no "100 Continue": the handler answers 413 and closes
        return super().handle_expect_100()

    def log_message(self, format, *args):
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    # -- one request --------------------------------------------------------------------

    def _dispatch(self) -> None:
        url = _target(self.path)
        self.route = (unquote(url.path).rstrip("/") or "/") if url else ""
        self.query = parse_qs(url.query, keep_blank_values=True) if url else {}
        if self._browser():
            self.extra_headers.update(
                {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "*"}
            )
        try:
            if url is None:
                raise ApiError(400, "Invalid request target.", close=True)
            self.body = wire.frame(self.headers, self.rfile, self._limit())
            if "Transfer-Encoding" in self.headers and "Content-Length" in self.headers:
                self.close_connection = True  # a smuggling pattern: answer, then close
            if self.body_unsent:
                raise wire.too_large()
            if self.command == "OPTIONS":
                self._preflight()
                return
            self._respond()
        except Dropped:
            self._record("dropped")
            self.close_connection = True
        except ApiError as exc:
            if exc.close:
                self.close_connection = True
            self._send_json(exc.status, exc.body(self.request_id), exc.headers)
        except (ConnectionError, TimeoutError, wire.ClientGone):
            raise  # the client's socket: handled by the request loop
        except Exception:  # an emulator bug must still answer like the API would
            traceback.print_exc(file=sys.stderr)
            error = ApiError(500, "Internal server error")
            self._send_json(500, error.body(self.request_id))
        finally:
            self._finish_body()

    def _finish_body(self) -> None:
        """Never leave unread body bytes on a kept-alive connection: drain them or close."""
        if self.close_connection or self.body_unsent:
            self.close_connection = True
            return
        try:
            self.connection.settimeout(DRAIN_TIMEOUT)
            drained = self.body.drain(DRAIN_LIMIT)
            self.connection.settimeout(self.timeout)
        except OSError:
            drained = False
        if not drained:
            self.close_connection = True

    def _limit(self) -> int:
        """The edge's request-size limit for this path: 500 MB for uploads, else 32 MB."""
        url = _target(self.path)
        emu, path = self.server.emulator, url.path.rstrip("/") if url else ""
        uploads = ("/v1/files", "/_emulator/files")
        if path == "/v1/messages/batches":
            return emu.max_batch_bytes
        return emu.max_file_bytes if path in uploads else emu.max_message_bytes

    def _record(self, status) -> None:
        """Log an API request before answering it, so a client never sees an unlogged answer."""
        if self.route and not self.recorded and not self.route.startswith("/_emulator/"):
            self.recorded = True
            self.server.emulator.record_request(
                self.command, self.route, status, self.headers, sorted(self.query)
            )

    def _preflight(self) -> None:
        """A CORS preflight: what a browser needs before the real request (no key needed)."""
        asked = " ".join((self.headers.get("Access-Control-Request-Headers") or "").split())
        headers = {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": CORS_METHODS,
            "Access-Control-Allow-Headers": asked or CORS_HEADERS,
            "Access-Control-Max-Age": "86400",
            "Allow": CORS_METHODS,
        }
        self._send(204, b"", "", headers)

    def _respond(self) -> int:
        emu = self.server.emulator
        if self.route.startswith("/_emulator/"):  # never delayed or faulted
            raw = self._read_body(self._limit())
            status, body = admin.handle(emu, self.command, self.route, self.query, raw)
            return self._send_json(status, body)
        emu.faults.delay()
        self._check_browser()
        workspace = self._authenticate()
        injected = emu.faults.injected_error()
        if injected is not None:
            raise injected
        return self._api(workspace)

    def _api(self, workspace: str) -> int:
        emu, route = self.server.emulator, self.route
        method = "GET" if self.command == "HEAD" else self.command
        allowed = next((methods for pattern, methods in _ROUTES if pattern.match(route)), None)
        if allowed is None:
            raise ApiError(404, f"Not found: {self.command} {route}")
        if self.command not in allowed:
            raise ApiError(
                405,
                f"Method {self.command} is not allowed on {route}; use {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )
        emu.batches.settle()  # batches whose time has come are processed before anything else
        if route.startswith("/v1/messages/batches"):
            return self._batches(workspace, method)
        if _MODELS.match(route):
            return self._send_json(200, models.list_models(self.query))
        if match := _MODEL.match(route):
            return self._send_json(200, models.retrieve(match[1]))
        mode = self._beta_mode()
        if (method, route) == ("POST", "/v1/files"):
            return self._upload(workspace, mode)
        if (method, route) == ("GET", "/v1/files"):
            return self._send_json(200, files.list_files(emu.store, workspace, self.query, mode))
        if method == "POST":
            return self._messages(workspace)
        if match := _CONTENT.match(route):
            data, mime = files.content(emu.store, workspace, match[1])
            return self._send(200, data, mime)
        file_id = _FILE.match(route)[1]
        if method == "GET":
            return self._send_json(
                200, files.retrieve(emu.store, workspace, file_id, beta=mode == "beta")
            )
        return self._send_json(200, files.delete(emu.store, workspace, file_id))

    def _stream(self, limit: int):
        """The body as the endpoint reads it: with its Content-Encoding undone, if any."""
        codings = wire.content_codings(self.headers)
        return wire.Decoded(self.body, codings, limit) if codings else self.body

    def _read_body(self, limit: int) -> bytes:
        return self._stream(limit).read()

    def _upload(self, workspace: str, mode: str) -> int:
        emu = self.server.emulator
        body = files.upload(
            emu.store,
            workspace,
            self._stream(emu.max_file_bytes),
            self.headers.get("Content-Type", ""),
            beta=mode == "beta",
            max_file_bytes=emu.max_file_bytes,
        )
        if emu.faults.drop():
            raise Dropped()
        return self._send_json(200, body)

    def _messages(self, workspace: str) -> int:
        emu = self.server.emulator
        raw = self._read_body(emu.max_message_bytes)
        if self.route.endswith("/count_tokens"):
            body = messages.count_tokens(raw, emu.store, workspace)
        else:
            body = messages.create_message(raw, emu.store, workspace, emu.prompt_cache)
        return self._send_json(200, body)

    def _batches(self, workspace: str, method: str) -> int:
        """The Message Batches endpoints (see :mod:`.batches`)."""
        emu, route, base = self.server.emulator, self.route, self._origin()
        store = emu.batches
        if _BATCHES.match(route):
            if method == "GET":
                return self._send_json(200, store.list_page(workspace, self.query, emu.now(), base))
            batch = store.create(workspace, self._read_body(emu.max_batch_bytes))
            if emu.faults.drop():
                raise Dropped()
            return self._send_json(200, batch.body(emu.now(), base))
        if match := _BATCH_ACTION.match(route):
            if match[2] == "cancel":
                return self._send_json(200, store.cancel(workspace, match[1]).body(emu.now(), base))
            return self._send(200, store.results(workspace, match[1]), batches.RESULTS_TYPE)
        batch_id = _BATCH.match(route)[1]
        if method == "DELETE":
            return self._send_json(200, store.delete(workspace, batch_id))
        return self._send_json(200, store.get(workspace, batch_id).body(emu.now(), base))

    def _origin(self) -> str:
        """Where the client reached the emulator (for ``results_url``): its Host header."""
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.server.emulator.base_url

    # -- headers ---------------------------------------------------------------------------

    def _check_browser(self) -> None:
        """A browser's request (it sends ``Origin``) must opt in, as with the real API."""
        if self.headers.get("Origin") and not self._browser():
            raise ApiError(401, f"CORS requests must set '{BROWSER_HEADER}' header")

    def _browser(self) -> bool:
        """Whether the client opted in to browser access (the TypeScript SDK's
        ``dangerouslyAllowBrowser``); its responses then carry CORS headers."""
        return self.headers.get(BROWSER_HEADER, "").strip().lower() == "true"

    def _authenticate(self) -> str:
        """The workspace the request acts on, from the key and ``anthropic-workspace-id``."""
        key = self.headers.get("x-api-key") or _bearer(self.headers.get("Authorization"))
        if not key:
            raise ApiError(401, "x-api-key header is required")
        requested = self.headers.get("anthropic-workspace-id") or None
        emu = self.server.emulator
        bound = emu.workspaces.get(key)
        if bound is None:
            workspace = emu.workspace_named(requested) if requested else DEFAULT_WORKSPACE
        else:
            workspace = bound
        self.extra_headers["anthropic-workspace-id"] = emu.workspace_id_of(workspace)
        if (
            bound is not None
            and requested
            and requested
            not in (
                bound,
                emu.workspace_id_of(bound),
            )
        ):
            raise ApiError(
                403,
                f"This API key belongs to workspace `{emu.workspace_id_of(bound)}`; "
                f"anthropic-workspace-id `{requested}` does not match it.",
            )
        return workspace

    def _beta_mode(self) -> str:
        values = self.headers.get_all("anthropic-beta", [])
        betas = {beta.strip() for value in values for beta in value.split(",")}
        if files.FILES_BETA in betas:
            return "beta"
        return "hybrid" if files.AGENTS_BETA in betas else "ga"

    # -- writing ------------------------------------------------------------------------------

    def date_time_string(self, timestamp=None) -> str:
        """The ``Date`` header from the emulator's clock, as a server's own clock would give it."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return super().date_time_string(self.server.emulator.now().timestamp())

    def _send_json(self, status: int, body: dict, headers: dict | None = None) -> int:
        return self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict | None = None
    ) -> int:
        self._record(status)
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", self.request_id)
        self.send_header("anthropic-organization-id", ORGANIZATION_ID)
        for name, value in {**self.extra_headers, **(headers or {})}.items():
            self.send_header(name, value)
        if self.body_unsent or self.body.remaining > DRAIN_LIMIT:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(data)
        return status


def _target(path: str):
    """The request target split into its parts, or None when it cannot be."""
    try:
        return urlsplit(path)
    except ValueError:
        return None


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None
