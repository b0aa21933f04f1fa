"""Request bodies on the wire: ``Content-Length`` or ``Transfer-Encoding: chunked`` framing, and
``Content-Encoding`` (gzip, deflate) decoding, each with its size limit enforced while reading.

A framing error is the edge's business (400 or 413, and the connection is closed, because the
next request's first byte can no longer be found). A decoding error is the API's: 400
``request_body_encoding_unsupported`` / ``request_body_encoding_invalid``, or 413
``request_body_too_large_after_decoding``, the error codes the SDKs know.
"""

from __future__ import annotations

import re
import tempfile
import zlib

from .errors import ApiError, bad_request, too_large

READ_SIZE = 1 << 16
MAX_CHUNK_LINE = 4096
MAX_TRAILER_BYTES = 16 << 10
# Bodies spooled to memory up to this size, then to a temporary file.
SPOOL_MEMORY = 8 << 20
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")
_DECODERS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


class ClientGone(Exception):
    """The client reset the connection while its body was being read: nobody to answer."""


def framing_error(message: str, status: int = 400) -> ApiError:
    return ApiError(status, message, close=True)


def body_timeout() -> ApiError:
    return ApiError(
        400,
        "The request body was not received in time.",
        error_code="request_body_timeout",
        close=True,
    )


def _recv(stream, size: int) -> bytes:
    """One read from the socket, with the socket's failures turned into answers."""
    try:
        return stream.read(size)
    except TimeoutError:
        raise body_timeout() from None
    except ConnectionError:
        raise ClientGone() from None


class Empty:
    """No body at all."""

    remaining = 0

    def read(self, size: int = -1) -> bytes:
        return b""

    def drain(self, limit: int) -> bool:
        return True


class LengthBody:
    """A body of ``Content-Length`` bytes, read at most once and never past its end."""

    def __init__(self, stream, length: int):
        self.stream, self.length, self.remaining = stream, length, length

    def read(self, size: int = -1) -> bytes:
        size = self.remaining if size < 0 else min(size, self.remaining)
        parts = []
        while size:
            data = _recv(self.stream, size)
            if not data:
                raise framing_error(
                    f"The request body ended after {self.length - self.remaining} of its "
                    f"{self.length} bytes (Content-Length)."
                )
            parts.append(data)
            size -= len(data)
            self.remaining -= len(data)
        return b"".join(parts)

    def drain(self, limit: int) -> bool:
        """Discard what is left; False when more than ``limit`` is left or it does not come."""
        if self.remaining > limit:
            return False
        try:
            while self.remaining:
                self.read(min(self.remaining, READ_SIZE))
        except (ApiError, ClientGone, OSError):
            return False
        return True


class ChunkedBody:
    """A ``Transfer-Encoding: chunked`` body, decoded while read; more than ``limit`` bytes of
    payload is 413, like a ``Content-Length`` over the limit."""

    def __init__(self, stream, limit: int):
        self.stream, self.limit = stream, limit
        self.received = 0
        self._left_in_chunk = 0
        self.done = False

    @property
    def remaining(self) -> int:
        return 0 if self.done else 1

    def _line(self, what: str) -> bytes:
        try:
            line = self.stream.readline(MAX_CHUNK_LINE + 1)
        except TimeoutError:
            raise body_timeout() from None
        except ConnectionError:
            raise ClientGone() from None
        if len(line) > MAX_CHUNK_LINE:
            raise framing_error(f"A chunked body's {what} line is too long.")
        if not line.endswith(b"\n"):
            raise framing_error("The chunked request body ended before its last chunk.")
        return line.rstrip(b"\r\n")

    def _next_chunk(self) -> None:
        line = self._line("chunk-size")
        size_text = line.split(b";", 1)[0].strip()
        if not _HEX.match(size_text):
            raise framing_error(f"Invalid chunk size {size_text[:40]!r} in a chunked request body.")
        size = int(size_text, 16)
        if size == 0:
            self._trailers()
            self.done = True
            return
        if self.received + size > self.limit:
            raise too_large()
        self._left_in_chunk = size

    def _trailers(self) -> None:
        total = 0
        while True:
            line = self._line("trailer")
            if not line:
                return
            total += len(line)
            if total > MAX_TRAILER_BYTES:
                raise framing_error("The chunked request body's trailer is too large.")

    def read(self, size: int = -1) -> bytes:
        parts, wanted = [], (self.limit + 1 if size < 0 else size)
        while wanted and not self.done:
            if not self._left_in_chunk:
                self._next_chunk()
                continue
            data = _recv(self.stream, min(wanted, self._left_in_chunk, READ_SIZE))
            if not data:
                raise framing_error("The chunked request body ended inside a chunk.")
            parts.append(data)
            wanted -= len(data)
            self.received += len(data)
            self._left_in_chunk -= len(data)
            if not self._left_in_chunk and self._line("chunk end"):
                raise framing_error("A chunk of the request body is not followed by CRLF.")
        return b"".join(parts)

    def drain(self, limit: int) -> bool:
        try:
            while not self.done:
                self.read(READ_SIZE)
        except (ApiError, ClientGone, OSError):
            return False
        return True


class Spooled:
    """A body read to its end into memory (or a temporary file once large)."""

    def __init__(self, source):
        self.file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)
        self.length = 0
        while True:
            data = source.read(READ_SIZE)
            if not data:
                break
            self.file.write(data)
            self.length += len(data)
        self.file.seek(0)
        self.remaining = self.length

    def read(self, size: int = -1) -> bytes:
        if not self.remaining:
            return b""
        data = self.file.read(size if size >= 0 else -1)
        self.remaining -= len(data)
        if not self.remaining:
            self.file.close()
        return data

    def drain(self, limit: int) -> bool:
        self.file.close()
        self.remaining = 0
        return True


def frame(headers, stream, limit: int):
    """The request's body reader, from its framing headers; raises the edge's errors.

    A chunked body is read to its end here (the edge buffers it), so its size is known before
    the request reaches authentication, like a ``Content-Length`` one."""
    codings = [
        c.strip().lower()
        for value in headers.get_all("Transfer-Encoding", [])
        for c in value.split(",")
        if c.strip()
    ]
    if codings:
        if codings[-1] != "chunked":
            raise framing_error(
                "Transfer-Encoding must end with chunked; the body's length cannot be known."
            )
        if codings != ["chunked"]:
            raise framing_error(
                f"Transfer-Encoding {', '.join(codings)} is not supported; send chunked only.",
                501,
            )
        return Spooled(ChunkedBody(stream, limit))
    values = headers.get_all("Content-Length", [])
    lengths = {v.strip() for value in values for v in value.split(",")}
    if not lengths:
        return Empty()
    if len(lengths) > 1:
        raise framing_error("Conflicting Content-Length values.")
    text = lengths.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise framing_error(f"Invalid Content-Length {text[:40]!r}.")
    length = int(text)
    if length > limit:
        raise too_large()
    return LengthBody(stream, length) if length else Empty()


def declared_length(headers) -> int:
    """The Content-Length when it is one clean number, else 0 (for the ``Expect`` check)."""
    text = (headers.get("Content-Length") or "").strip()
    return int(text) if text.isdigit() and text.isascii() and len(text) <= 18 else 0


class Decoded:
    """The body with its ``Content-Encoding`` undone, at most ``limit`` bytes of it."""

    def __init__(self, source, codings: list[str], limit: int):
        self.source, self.limit, self.produced = source, limit, 0
        self.inflaters = [zlib.decompressobj(_DECODERS[c]) for c in reversed(codings)]
        self.buffer, self.ended = b"", False

    def _pull(self) -> None:
        raw = self.source.read(READ_SIZE)
        if not raw:
            self.ended = True
        data = raw
        for n, inflater in enumerate(self.inflaters):
            try:
                data = inflater.decompress(data) if data else b""
                if self.ended:
                    data += inflater.flush()
                    if not inflater.eof:
                        raise zlib.error("truncated")
                    if n + 1 < len(self.inflaters) and inflater.unused_data:
                        raise zlib.error("trailing data")
            except zlib.error:
                raise bad_request(
                    "The request body is not valid for its Content-Encoding.",
                    error_code="request_body_encoding_invalid",
                ) from None
        self.produced += len(data)
        if self.produced > self.limit:
            raise ApiError(
                413,
                f"The request body exceeds {self.limit} bytes once decoded.",
                error_code="request_body_too_large_after_decoding",
                error_type="request_too_large",
            )
        self.buffer += data

    def read(self, size: int = -1) -> bytes:
        while not self.ended and (size < 0 or len(self.buffer) < size):
            self._pull()
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def content_codings(headers) -> list[str]:
    """The request's Content-Encoding, outermost last; identity dropped; unknown ones refused."""
    codings = [
        c.strip().lower()
        for value in headers.get_all("Content-Encoding", [])
        for c in value.split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    unknown = [c for c in codings if c not in _DECODERS]
    if unknown:
        raise bad_request(
            f"Content-Encoding {unknown[0]!r} is not supported; use gzip or deflate.",
            error_code="request_body_encoding_unsupported",
        )
    return codings
