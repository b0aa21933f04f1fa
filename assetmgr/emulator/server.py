"""The HTTP side: a threaded stdlib server, routing, authentication, faults and error bodies.

One handler thread per connection, HTTP/1.1 keep-alive (the SDK pools connections), and a
Content-Length on every response. A request runs: latency -> admin or API; for the API,
authenticate -> maybe an injected error -> the endpoint. Every response carries a
``request-id``; errors use the real body shape. The API key is never logged.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from . import admin, files, messages
from .errors import ApiError, new_id, too_large
from .store import DEFAULT_WORKSPACE, workspace_id

if TYPE_CHECKING:
    from .runner import Emulator

ORGANIZATION_ID = "00000000-0000-4000-8000-000000000000"
# Bodies larger than this are not read just to be thrown away; the connection is closed.
DRAIN_LIMIT = 1 << 30
_FILE = re.compile(r"^/v1/files/([^/]+)$")
_CONTENT = re.compile(r"^/v1/files/([^/]+)/content$")


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
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End idle keep-alive connections too, so a stopped emulator really is gone."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class BodyReader:
    """The request body, read at most once and never past Content-Length."""

    def __init__(self, stream, length: int):
        self.stream, self.remaining = stream, length

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(size) if size else b""
        self.remaining -= len(data)
        if size and not data:
            self.remaining = 0
        return data

    def drain(self) -> bool:
        """Discard what is left; False when too much is left to bother."""
        if self.remaining > DRAIN_LIMIT:
            return False
        while self.remaining and self.read(1 << 20):
            pass
        return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "assetmgr-emulator"
    sys_version = ""
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    body_unsent = False  # set per request when an oversized body was refused before sending
    server: EmulatorServer

    def setup(self):
        super().setup()
        # Headers and body are written separately; without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_expect_100(self):
        """Refuse an oversized body before it is sent (curl asks first for large uploads)."""
        self.body_unsent = self._over_limit()
        if self.body_unsent:
            return True  # no "100 Continue": the handler answers 413 and closes
        return super().handle_expect_100()

    def _over_limit(self) -> bool:
        emu, path = self.server.emulator, urlsplit(self.path).path.rstrip("/")
        limit = {
            "/v1/files": emu.max_file_bytes,
            "/v1/messages": emu.max_message_bytes,
            "/v1/messages/count_tokens": emu.max_message_bytes,
        }.get(path)
        return self.command == "POST" and limit is not None and self._content_length() > limit

    def do_GET(self):
        self._dispatch()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def log_message(self, format, *args):
        if self.server.emulator.verbose:
            super().log_message(format, *args)

    # -- one request --------------------------------------------------------------------

    def _dispatch(self) -> None:
        request_id = new_id("req")
        url = urlsplit(self.path)
        self.route = unquote(url.path).rstrip("/") or "/"
        self.query = parse_qs(url.query, keep_blank_values=True)
        self.body = BodyReader(self.rfile, self._content_length())
        self.recorded = False
        try:
            self._respond(request_id)
        except Dropped:
            self._record("dropped")
            self.close_connection = True
        except ApiError as exc:
            self._send_json(exc.status, exc.body(request_id), request_id, exc.headers)
        except (BrokenPipeError, ConnectionResetError):  # the client went away mid-request
            self.close_connection = True
        except Exception:  # an emulator bug must still answer like the API would
            traceback.print_exc(file=sys.stderr)
            self._send_json(
                500, ApiError(500, "Internal server error").body(request_id), request_id
            )
        finally:
            if self.body_unsent or (not self.close_connection and not self.body.drain()):
                self.close_connection = True
            self.body_unsent = False

    def _record(self, status) -> None:
        """Log an API request before answering it, so a client never sees an unlogged answer."""
        if not self.recorded and not self.route.startswith("/_emulator/"):
            self.recorded = True
            self.server.emulator.record_request(self.command, self.route, status, self.headers)

    def _content_length(self) -> int:
        try:
            return max(0, int(self.headers.get("Content-Length") or 0))
        except ValueError:
            return 0

    def _respond(self, request_id: str) -> int:
        emu = self.server.emulator
        emu.faults.delay()
        if self.route.startswith("/_emulator/"):
            status, body = admin.handle(emu, self.command, self.route, self.query, self.body.read())
            self._send_json(status, body, request_id)
            return status
        workspace = self._authenticate()
        injected = emu.faults.injected_error()
        if injected is not None:
            raise injected
        return self._api(workspace, request_id)

    def _api(self, workspace: str, request_id: str) -> int:
        emu, method, route = self.server.emulator, self.command, self.route
        mode = self._beta_mode()
        if (method, route) == ("POST", "/v1/files"):
            return self._upload(workspace, mode, request_id)
        if (method, route) == ("GET", "/v1/files"):
            return self._send_json(
                200, files.list_files(emu.store, workspace, self.query, mode), request_id
            )
        if method == "POST" and route in ("/v1/messages", "/v1/messages/count_tokens"):
            return self._messages(workspace, request_id)
        if method == "GET" and (match := _CONTENT.match(route)):
            data, mime = files.content(emu.store, workspace, match[1])
            return self._send(200, data, mime, request_id)
        if match := _FILE.match(route):
            if method == "GET":
                body = files.retrieve(emu.store, workspace, match[1], beta=mode == "beta")
                return self._send_json(200, body, request_id)
            if method == "DELETE":
                return self._send_json(
                    200, files.delete(emu.store, workspace, match[1]), request_id
                )
        raise ApiError(404, f"Not found: {method} {route}")

    def _upload(self, workspace: str, mode: str, request_id: str) -> int:
        emu = self.server.emulator
        if self.body.remaining > emu.max_file_bytes:
            raise too_large()
        body = files.upload(
            emu.store,
            workspace,
            self.body,
            self.body.remaining,
            self.headers.get("Content-Type", ""),
            beta=mode == "beta",
            max_file_bytes=emu.max_file_bytes,
        )
        if emu.faults.drop():
            raise Dropped()
        return self._send_json(200, body, request_id)

    def _messages(self, workspace: str, request_id: str) -> int:
        emu = self.server.emulator
        if self.body.remaining > emu.max_message_bytes:
            raise too_large()
        raw = self.body.read()
        if self.route.endswith("/count_tokens"):
            body = messages.count_tokens(raw, emu.store, workspace)
        else:
            body = messages.create_message(raw, emu.store, workspace)
        return self._send_json(200, body, request_id)

    # -- headers ---------------------------------------------------------------------------

    def _authenticate(self) -> str:
        """The workspace the request acts on, from the key and ``anthropic-workspace-id``."""
        key = self.headers.get("x-api-key") or _bearer(self.headers.get("Authorization"))
        if not key:
            raise ApiError(401, "x-api-key header is required")
        requested = self.headers.get("anthropic-workspace-id") or None
        emu = self.server.emulator
        bound = emu.workspaces.get(key)
        if bound is None:
            return emu.workspace_named(requested) if requested else DEFAULT_WORKSPACE
        if requested and requested not in (bound, workspace_id(bound)):
            raise ApiError(
                403,
                f"This API key belongs to workspace `{workspace_id(bound)}`; "
                f"anthropic-workspace-id `{requested}` does not match it.",
            )
        return bound

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

    def _send_json(
        self, status: int, body: dict, request_id: str, headers: dict | None = None
    ) -> int:
        return self._send(
            status, json.dumps(body).encode(), "application/json", request_id, headers
        )

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        request_id: str,
        headers: dict | None = None,
    ) -> int:
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", request_id)
        self.send_header("anthropic-organization-id", ORGANIZATION_ID)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.body_unsent or self.body.remaining > DRAIN_LIMIT:
            self.close_connection = True
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        return status


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip() or None
    return None
