"""The emulator's state: workspaces, file records, the storage quota and the clock.

Pure and thread-safe: no HTTP here. Every read and mutation takes one lock, so the threaded
server can call it from any request thread. Records are never forgotten while the emulator
runs; deleting one only marks it, so cursors that name it keep working. ``seq`` is the order
of creation and the list order (newest first), which stays stable when the clock is moved.

The state can be saved to and loaded from one JSON file (file bytes base64-encoded), written
atomically so a crash mid-save never leaves half a file. Other parts of the emulator's state
(Message Batches, prompt cache entries) ride along in the same file as named sections.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .errors import _BASE62, new_id

DEFAULT_WORKSPACE = "default"
# Expired files stay listed with a past expires_at for this long (files guide).
EXPIRED_LISTED_FOR = timedelta(days=30)
STATE_VERSION = 1
# Bytes base64-encoded per write when saving (a multiple of 3, so the slices concatenate).
SAVE_SLICE = 3 << 20


def workspace_id(name: str) -> str:
    """A stable ``wrkspc_...`` id for a workspace name (derived, so it survives restarts)."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest(), "big")
    chars = []
    for _ in range(21):
        digest, rest = divmod(digest, 62)
        chars.append(_BASE62[rest])
    return "wrkspc_011" + "".join(chars)


def rfc3339(moment: datetime) -> str:
    """``2025-01-01T00:00:00Z``, with microseconds only when there are some."""
    text = moment.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


class Clock:
    """Wall time plus an offset that tests move; or a fixed time once ``set`` is called."""

    def __init__(self, source: Callable[[], datetime] | None = None):
        self._source = source or (lambda: datetime.now(timezone.utc))
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._source() + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment``; time keeps flowing from there."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        with self._lock:
            self._offset = moment - self._source()
        return self.now()

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()


class QuotaExceeded(Exception):
    def __init__(self, used: int, size: int, quota: int):
        super().__init__(
            f"Storage quota exceeded: {used} bytes used, {size} more requested, "
            f"quota is {quota} bytes."
        )


@dataclass
class FileRecord:
    id: str
    workspace: str
    filename: str
    mime_type: str
    size_bytes: int
    created_at: datetime
    expires_at: datetime | None
    seq: int
    data: bytes = field(repr=False)
    downloadable: bool = False
    deleted: bool = False
    width: int | None = None
    height: int | None = None
    # Whether the image decodes in full: learnt on first use in Messages; not saved.
    decodable: bool | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width and self.height else None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def metadata(self, *, beta: bool = False) -> dict:
        """The FileMetadata object; the beta shape has no ``expires_at``."""
        meta = {
            "id": self.id,
            "type": "file",
            "filename": self.filename,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "created_at": rfc3339(self.created_at),
            "downloadable": self.downloadable,
        }
        if not beta:
            meta["expires_at"] = rfc3339(self.expires_at) if self.expires_at else None
        return meta


class Store:
    """All files of all workspaces, behind one lock."""

    def __init__(self, clock: Clock, quota_bytes: int | None = None):
        self.clock = clock
        self.quota_bytes = quota_bytes
        self._lock = threading.RLock()
        self._files: dict[str, FileRecord] = {}
        self._seq = 0

    def add(
        self,
        workspace: str,
        filename: str,
        mime_type: str,
        data: bytes,
        *,
        expires_in: int | None = None,
        downloadable: bool = False,
        size: tuple[int, int] | None = None,
    ) -> FileRecord:
        with self._lock:
            now = self.clock.now()
            self._check_quota(workspace, len(data), now)
            self._seq += 1
            record = FileRecord(
                id=new_id("file"),
                workspace=workspace,
                filename=filename,
                mime_type=mime_type,
                size_bytes=len(data),
                created_at=now,
                expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
                seq=self._seq,
                data=data,
                downloadable=downloadable,
                width=size[0] if size else None,
                height=size[1] if size else None,
            )
            self._files[record.id] = record
            return record

    def _check_quota(self, workspace: str, size: int, now: datetime) -> None:
        if self.quota_bytes is None:
            return
        used = self.used_bytes(workspace, now)
        if used + size > self.quota_bytes:
            raise QuotaExceeded(used, size, self.quota_bytes)

    def used_bytes(self, workspace: str, now: datetime | None = None) -> int:
        """Live bytes: deleted and expired files are released from the quota."""
        now = now or self.clock.now()
        with self._lock:
            return sum(
                r.size_bytes
                for r in self._files.values()
                if r.workspace == workspace and not r.deleted and not r.expired(now)
            )

    def get(self, workspace: str, file_id: str) -> FileRecord | None:
        """A visible (same workspace, not deleted) record, expired or not."""
        with self._lock:
            record = self._files.get(file_id)
        if record is None or record.deleted or record.workspace != workspace:
            return None
        return record

    def find(self, workspace: str, file_id: str) -> FileRecord | None:
        """Any record of the workspace, deleted ones too (list cursors may name them)."""
        with self._lock:
            record = self._files.get(file_id)
        return record if record is not None and record.workspace == workspace else None

    def delete(self, workspace: str, file_id: str) -> FileRecord | None:
        with self._lock:
            record = self.get(workspace, file_id)
            if record is not None:
                record.deleted = True
                record.data = b""
            return record

    def listed(self, workspace: str) -> list[FileRecord]:
        """What ``GET /v1/files`` shows, newest first: live files, and recently expired ones."""
        now = self.clock.now()
        with self._lock:
            records = [
                r
                for r in self._files.values()
                if r.workspace == workspace
                and not r.deleted
                and not (r.expired(now) and now - r.expires_at > EXPIRED_LISTED_FOR)
            ]
        return sorted(records, key=lambda r: r.seq, reverse=True)

    def workspaces(self) -> list[str]:
        with self._lock:
            return sorted({r.workspace for r in self._files.values()})

    def all_records(self) -> list[FileRecord]:
        with self._lock:
            return sorted(self._files.values(), key=lambda r: r.seq)

    def clear(self) -> None:
        with self._lock:
            self._files.clear()

    # -- persistence -------------------------------------------------------------------

    def save(self, path: str | os.PathLike, sections: dict | None = None) -> None:
        """Write the state atomically (temporary file, then rename), streaming each file's
        bytes as base64 in slices, so saving holds no second copy of the data in memory.
        ``sections`` (JSON values by name) are written beside the files."""
        with self._lock:
            header = {
                "version": STATE_VERSION,
                "seq": self._seq,
                "clock_offset_seconds": self.clock.offset_seconds,
                "sections": sections or {},
            }
            records = list(self._files.values())  # bytes are immutable; written unlocked
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "w", encoding="ascii", newline="") as out:
            out.write(json.dumps(header)[:-1] + ', "files": [')
            for n, record in enumerate(records):
                meta = _record_to_json(record)
                data = meta.pop("data")
                out.write((", " if n else "") + json.dumps(meta)[:-1] + ', "data": "')
                for start in range(0, len(data), SAVE_SLICE):
                    out.write(base64.b64encode(data[start : start + SAVE_SLICE]).decode())
                out.write('"}')
            out.write("]}")
        os.replace(tmp, target)

    def load(self, path: str | os.PathLike) -> dict | None:
        """Read a saved state and return its sections; a missing file is a fresh start (None)."""
        target = Path(path)
        if not target.exists():
            return None
        state = json.loads(target.read_text())
        with self._lock:
            self._files = {f["id"]: _record_from_json(f) for f in state["files"]}
            self._seq = max([state.get("seq", 0), *(r.seq for r in self._files.values())])
        self.clock.advance(state.get("clock_offset_seconds", 0.0) - self.clock.offset_seconds)
        return state.get("sections") or {}


def _record_to_json(record: FileRecord) -> dict:
    """The record's fields; ``data`` stays raw bytes (``save`` encodes it in slices)."""
    data = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "decodable"}
    data["created_at"] = rfc3339(record.created_at)
    data["expires_at"] = rfc3339(record.expires_at) if record.expires_at else None
    return data


def _record_from_json(data: dict) -> FileRecord:
    data = {k: v for k, v in data.items() if k in _FIELDS}
    data["data"] = base64.b64decode(data["data"])
    data["created_at"] = _parse_time(data["created_at"])
    data["expires_at"] = _parse_time(data["expires_at"]) if data["expires_at"] else None
    return FileRecord(**data)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_FIELDS = {f.name for f in fields(FileRecord)} - {"decodable"}
