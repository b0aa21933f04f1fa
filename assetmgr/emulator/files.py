"""The five Files API endpoints, over the store: upload, list, retrieve, delete, content.

Each function takes what the server parsed (workspace, query, body stream) and returns the JSON
body, or raises :class:`ApiError`. Multipart parsing uses the ``multipart`` library; the
filename, type and expiry rules follow files-api.md.
"""

from __future__ import annotations

import base64
import binascii
import re
import tempfile
from typing import BinaryIO

import multipart

from .errors import ApiError, bad_request, not_found, too_large
from .images import EXTENSIONS, IMAGE_TYPES, dimensions, sniff
from .paging import page_limit
from .store import FileRecord, QuotaExceeded, Store

MIN_EXPIRY, MAX_EXPIRY = 3600, 7_776_000
MAX_FILENAME = 255
MAX_IDS = 100
FILES_BETA = "files-api-2025-04-14"
AGENTS_BETA = "managed-agents-2026-04-01"
# Parts beyond the two an upload uses are ignored, up to this many in all.
MAX_PARTS = 1000
MAX_FIELD = 1024
_FORBIDDEN = re.compile(r'[<>:"|?*\\/\x00-\x1f]')


# -- upload ---------------------------------------------------------------------------


def upload(
    store: Store,
    workspace: str,
    stream: BinaryIO,
    content_type: str,
    *,
    beta: bool,
    max_file_bytes: int,
) -> dict:
    form = _parse_form(stream, content_type, max_file_bytes)
    if form.file is None:
        raise bad_request("file: Field required")
    if beta and form.file_type is None:
        raise bad_request("file: a Content-Type is required for each file part")
    expires_in = _expires_in(form.expires_in)
    data = form.data()
    mime = _mime_type(data, form.file_type)
    filename = clean_filename(form.filename, mime)
    size = dimensions(data) if mime in IMAGE_TYPES else None
    try:
        record = store.add(workspace, filename, mime, data, expires_in=expires_in, size=size)
    except QuotaExceeded as exc:
        raise bad_request(str(exc), error_code="storage_quota_exceeded") from None
    return record.metadata(beta=beta)


class _Form:
    """What an upload's form holds: the one ``file`` part and ``expires_in_seconds``."""

    def __init__(self):
        self.file = None  # the file part's bytes, in a spooled temporary file
        self.filename: str | None = None
        self.file_type: str | None = None
        self.expires_in: str | None = None
        self.parts = 0

    def data(self) -> bytes:
        self.file.seek(0)
        return self.file.read()


def _parse_form(stream: BinaryIO, content_type: str, max_file_bytes: int) -> _Form:
    """Parse the multipart body as it streams in. Fields other than ``file`` and
    ``expires_in_seconds`` are read and ignored (up to MAX_PARTS parts); a second ``file``
    part is refused."""
    kind, options = multipart.parse_options_header(content_type or "")
    boundary = options.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise bad_request("Expected a multipart/form-data request body with a `file` part.")
    form, current, field = _Form(), None, b""
    try:
        parser = multipart.PushMultipartParser(
            boundary, max_segment_count=MAX_PARTS, max_header_count=16
        )
        with parser:
            while not parser.closed:
                chunk = stream.read(1 << 16)
                for event in parser.parse(chunk):
                    if isinstance(event, multipart.MultipartSegment):
                        current, field = _start_part(form, event), b""
                    elif event is None:
                        if current == "expires_in_seconds":
                            form.expires_in = field.decode("utf-8", "replace")
                        current = None
                    elif current == "file":
                        if form.file.tell() + len(event) > max_file_bytes:
                            raise too_large()
                        form.file.write(event)
                    elif current == "expires_in_seconds" and len(field) < MAX_FIELD:
                        field += event[: MAX_FIELD - len(field)]
                if not chunk:
                    break
    except multipart.ParserLimitReached:
        raise bad_request(
            f"The multipart body has more than {MAX_PARTS} parts; an upload needs only "
            "`file` (and optionally `expires_in_seconds`)."
        ) from None
    except multipart.MultipartError as exc:
        raise bad_request(f"Malformed multipart body: {exc}") from None
    return form


def _start_part(form: _Form, segment) -> str | None:
    """The name of the part that starts, if the upload uses it."""
    form.parts += 1
    if segment.name == "file":
        if form.file is not None:
            raise bad_request("file: only one file can be uploaded per request.")
        form.file = tempfile.SpooledTemporaryFile(max_size=16 << 20)
        form.filename = segment.filename
        form.file_type = segment.header("Content-Type")
        return "file"
    if segment.name == "expires_in_seconds":
        return "expires_in_seconds"
    return None


def _expires_in(part: str | None) -> int | None:
    if part is None:
        return None
    try:
        seconds = int(part.strip())
    except ValueError:
        raise bad_request("expires_in_seconds: Input should be a valid integer") from None
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise bad_request(
            f"expires_in_seconds: must be between {MIN_EXPIRY} and {MAX_EXPIRY}, got {seconds}"
        )
    return seconds


def _mime_type(data: bytes, declared: str | None) -> str:
    """Sniffed type first; then the part's declared type; then octet-stream."""
    sniffed = sniff(data)
    if sniffed:
        return sniffed
    if declared:
        kind, _ = multipart.parse_options_header(declared)
        return kind or "application/octet-stream"
    return "application/octet-stream"


def clean_filename(raw: str | None, mime: str) -> str:
    """Keep the final path component; name an absent one ``unnamed.<ext>``; refuse bad names."""
    name = re.split(r"[\\/]", raw or "")[-1]
    if not name:
        return "unnamed" + EXTENSIONS.get(mime, "")
    if len(name) > MAX_FILENAME:
        raise bad_request(f"Invalid filename: must be 1-{MAX_FILENAME} characters long.")
    if _FORBIDDEN.search(name):
        raise bad_request(
            'Invalid filename: must not contain < > : " | ? * \\ / or control characters.'
        )
    return name


# -- list -----------------------------------------------------------------------------


def list_files(store: Store, workspace: str, query: dict[str, list[str]], mode: str) -> dict:
    """``mode`` is "ga", "beta" (files beta header) or "hybrid" (agents beta header)."""
    ids = query.get("ids[]", []) + query.get("ids", [])
    if ids:
        return _format_page(_by_ids(store, workspace, ids, query), False, mode)
    limit = page_limit(query)
    # Only session-scoped files (made by agents) have a scope; uploads never match one.
    records = [] if query.get("scope_id", [""])[-1] else store.listed(workspace)
    if mode != "ga" and ("before_id" in query or "after_id" in query):
        page, more = _id_window(store, workspace, records, query, limit)
    elif "before_id" in query or "after_id" in query:
        raise bad_request(
            "before_id and after_id need the files-api-2025-04-14 beta header; use page instead."
        )
    else:
        page, more = _cursor_window(records, query.get("page", [None])[-1], limit)
    return _format_page(page, more, mode)


def _by_ids(store: Store, workspace: str, ids: list[str], query: dict) -> list[FileRecord]:
    if "page" in query or "limit" in query:
        raise bad_request("ids: mutually exclusive with page and limit.")
    wanted = list(dict.fromkeys(ids))
    if len(wanted) > MAX_IDS:
        raise bad_request(f"ids: at most {MAX_IDS} ids are allowed, got {len(wanted)}.")
    wanted_set = set(wanted)
    return [r for r in store.listed(workspace) if r.id in wanted_set]


def _cursor_window(records: list[FileRecord], page: str | None, limit: int):
    if page:
        after_seq = _decode_cursor(page)
        records = [r for r in records if r.seq < after_seq]
    return records[:limit], len(records) > limit


def _id_window(store: Store, workspace: str, records: list[FileRecord], query: dict, limit: int):
    """Beta cursors: after_id pages towards older files, before_id towards newer ones."""
    if "after_id" in query:
        anchor = _anchor(store, workspace, query["after_id"][-1])
        older = [r for r in records if r.seq < anchor]
        return older[:limit], len(older) > limit
    anchor = _anchor(store, workspace, query["before_id"][-1])
    newer = [r for r in records if r.seq > anchor]
    return newer[-limit:], len(newer) > limit


def _anchor(store: Store, workspace: str, file_id: str) -> int:
    record = store.find(workspace, file_id)
    if record is None:
        raise bad_request(f"Invalid cursor: file `{file_id}` not found.")
    return record.seq


def _format_page(page: list[FileRecord], more: bool, mode: str) -> dict:
    beta = mode == "beta"
    body: dict = {"data": [r.metadata(beta=beta) for r in page]}
    if mode != "beta":
        body["next_page"] = _encode_cursor(page[-1].seq) if more and page else None
    if mode != "ga":
        body.update(
            has_more=more,
            first_id=page[0].id if page else None,
            last_id=page[-1].id if page else None,
        )
    return body


def _encode_cursor(seq: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(page: str) -> int:
    try:
        token = page.removeprefix("page_")
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("seq:"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"page: invalid page cursor `{page}`.") from None


# -- one file -------------------------------------------------------------------------


def retrieve(store: Store, workspace: str, file_id: str, *, beta: bool) -> dict:
    return _visible(store, workspace, file_id).metadata(beta=beta)


def delete(store: Store, workspace: str, file_id: str) -> dict:
    if store.delete(workspace, file_id) is None:
        raise not_found(file_id)
    return {"id": file_id, "type": "file_deleted"}


def content(store: Store, workspace: str, file_id: str) -> tuple[bytes, str]:
    """The bytes of a downloadable file. Expiry is checked first: the bytes are gone."""
    record = _visible(store, workspace, file_id)
    if record.expired(store.clock.now()):
        raise ApiError(404, f"File `{file_id}` has expired.", error_code="file_expired")
    if not record.downloadable:
        raise bad_request(
            f"File `{file_id}` is not downloadable: only files created by "
            "skills or the code execution tool can be downloaded.",
            error_code="file_not_downloadable",
        )
    return record.data, record.mime_type


def _visible(store: Store, workspace: str, file_id: str) -> FileRecord:
    record = store.get(workspace, file_id)
    if record is None:
        raise not_found(file_id)
    return record
