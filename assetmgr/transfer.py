"""``export`` and ``import``: a catalogue as JSON Lines, merged into another by hash.

The format (``FORMAT_VERSION`` 1) is one JSON object a line, each with a ``type``:

1. ``{"type": "assetmgr-export", "version": 1, "exported_at": ..., "with_paths": false}``
   first, always;
2. ``remote``: ``base_url``, ``workspace_id`` (as the API reports it) and ``labels``, for
   every workspace an upload below lives in;
3. ``rendition``: ``sha256``, ``media_type``, ``width``, ``height``, ``size_bytes``,
   ``tokens``, each before the first asset that has it;
4. ``asset``: ``sha256``, ``format``, ``media_type``, ``width``, ``height``, ``mode``,
   ``frames``, ``orientation``, ``size_bytes``, ``renditions`` (policy -> ``{"sha256",
   "warnings"}``), ``tags``, and only with ``with_paths``, ``sources`` (``path``,
   ``size_bytes``, ``mtime_ns``);
5. ``upload``: ``rendition``, ``base_url``, ``workspace_id``, ``file_id``, ``filename``,
   ``size_bytes``, ``created_at``, ``expires_at``, ``expires_in_seconds``: the active
   uploads of workspaces whose id is known.

Times are RFC 3339 in UTC. A reader meets lines in that order; a later version may add
fields (ignored here) but a newer ``version`` is refused.

``import`` merges by hash and is idempotent: what the catalogue has is kept, what it
lacks is added (uploads as ``imported``, to be looked up by the next push). Labels join
their workspace where the catalogue has not given them to another. A conflict, the same
rendition live under two file ids in one workspace, is settled by asking the API which
are alive: a dead one gives way; of two alive, the catalogue's stays and the other is
reported, an extra copy that only ``gc`` deletes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .catalogue import Catalogue, IngestBatch
from .errors import AssetmgrError, UsageError
from .limits import served_tokens
from .models import utcnow
from .records import AssetRecord, to_json
from .remote import RemoteSpec, normalise_url
from .workspaces import Workspaces

FORMAT = "assetmgr-export"
FORMAT_VERSION = 1
BATCH = 500
SHA = re.compile(r"[0-9a-f]{64}")


@dataclass
class Conflict:
    """One rendition live under two file ids in one workspace, and how it was settled."""

    workspace: str
    rendition_sha256: str
    kept: str  # the file id the catalogue keeps
    other: str  # the other file id
    outcome: str  # "extra copy: gc deletes it" | "dead" | "replaced a dead upload" | unsettled


@dataclass
class ImportReport:
    assets: int = 0  # new to this catalogue
    renditions: int = 0
    uploads: int = 0
    tags: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    labels_taken: list[str] = field(default_factory=list)  # given to another workspace here

    def __str__(self) -> str:
        text = (
            f"imported {self.assets} new assets, {self.renditions} new renditions, "
            f"{self.uploads} new uploads, {self.tags} new tags"
        )
        if self.conflicts:
            text += f"; {len(self.conflicts)} conflicts settled"
        return text


# -- export -----------------------------------------------------------------------------------


def export(catalogue: Catalogue, *, with_paths: bool = False) -> Iterator[str]:
    """The catalogue as lines of the format above (without their newlines)."""
    yield _line({"type": FORMAT, "version": FORMAT_VERSION, "exported_at": utcnow(),
                 "with_paths": with_paths})  # fmt: skip
    workspaces = Workspaces(catalogue)
    labels = workspaces.labels()
    for remote_id, base_url, workspace_id in catalogue.known_remotes():
        yield _line({"type": "remote", "base_url": base_url, "workspace_id": workspace_id,
                     "labels": labels.get(remote_id, [])})  # fmt: skip
    seen: set[str] = set()
    for record in catalogue.iter_records():
        for r in record.renditions:
            if r.sha256 not in seen:
                seen.add(r.sha256)
                yield _line({"type": "rendition", "sha256": r.sha256, "media_type": r.media_type,
                             "width": r.width, "height": r.height, "size_bytes": r.size_bytes,
                             "tokens": r.tokens})  # fmt: skip
        yield _line(_asset(record, with_paths))
    for row in catalogue.export_uploads():
        yield _line({"type": "upload", **row})


def _asset(record: AssetRecord, with_paths: bool) -> dict:
    line = {
        "type": "asset", "sha256": record.sha256, "format": record.format,
        "media_type": record.media_type, "width": record.width, "height": record.height,
        "mode": record.mode, "frames": record.frames, "orientation": record.orientation,
        "size_bytes": record.size_bytes,
        "renditions": {r.policy: {"sha256": r.sha256, "warnings": r.warnings}
                       for r in record.renditions},
        "tags": record.tags,
    }  # fmt: skip
    if with_paths:
        line["sources"] = [
            {"path": s.path, "size_bytes": s.size_bytes, "mtime_ns": s.mtime_ns}
            for s in record.sources
        ]
    return line


def _line(data: dict) -> str:
    return to_json(data)


# -- import -----------------------------------------------------------------------------------


def import_lines(
    catalogue: Catalogue, lines: Iterable[str | bytes], client_of: Callable[[RemoteSpec], object],
    *, name: str = "-",
) -> ImportReport:  # fmt: skip
    """Merge the export read from ``lines`` into ``catalogue``; ``client_of(spec)`` makes a
    ``FilesClient`` for a workspace when a conflict must be settled. ``name`` names the
    input in errors."""
    merge = _Merge(catalogue, client_of)
    number = 0
    for number, text in _numbered(lines, name):
        if text.strip():
            with _about(name, number):
                merge.take(json.loads(text), first=merge.version is None)
    if merge.version is None:
        raise UsageError(f"{name} is empty: give a file written by `assetmgr export`")
    with _about(name, number):
        merge.flush()
    merge.settle()
    return merge.report


def _numbered(lines: Iterable[str | bytes], name: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of ``lines``, text or UTF-8 bytes; a line that cannot be read
    (bytes that are not UTF-8, say) is an error about that line, like any other broken line."""
    for number, line in enumerate(lines, 1):
        with _about(name, number):
            yield number, line.decode("utf-8") if isinstance(line, bytes) else line


class _about:
    """Errors in a line (or a batch ending at it) name the input and the line."""

    def __init__(self, name: str, number: int):
        self.name, self.number = name, number

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, _tb) -> bool:
        where = f"{self.name}, line {self.number}"
        if isinstance(error, (ValueError, KeyError, TypeError, AttributeError)):
            message = f"{where}: not an assetmgr export line ({type(error).__name__}: {error})"
            raise UsageError(message) from error
        if isinstance(error, UsageError):
            raise UsageError(f"{where}: {error}") from error
        return False


class _Merge:
    """An import in progress: lines are gathered and written 500 at a time."""

    def __init__(self, catalogue: Catalogue, client_of):
        self.catalogue, self.client_of = catalogue, client_of
        self.workspaces = Workspaces(catalogue)
        self.version: int | None = None
        self.report = ImportReport()
        self.remotes: dict[tuple[str, str], int] = {}
        self.batch, self.tags, self.sources, self.uploads = IngestBatch.new(), [], [], []
        self.pending: list[tuple[int, dict]] = []  # conflicts to settle: (remote id, line)

    def take(self, line: dict, *, first: bool) -> None:
        kind = line["type"]
        if first:
            return self._header(line)
        handler = {"remote": self._remote, "rendition": self._rendition, "asset": self._asset,
                   "upload": self._upload}.get(kind)  # fmt: skip
        if handler is None:
            raise UsageError(f"unknown line type {kind!r}")
        handler(line)
        if len(self.batch.assets) + len(self.batch.renditions) + len(self.uploads) >= BATCH:
            self.flush()

    def _header(self, line: dict) -> None:
        if line.get("type") != FORMAT:
            raise UsageError("not an assetmgr export: it must start with its header line")
        version = int(line["version"])
        if version > FORMAT_VERSION:
            raise UsageError(
                f"written by a newer assetmgr (format version {version}; this one reads up to "
                f"{FORMAT_VERSION}): upgrade assetmgr"
            )
        self.version = version

    def _remote(self, line: dict) -> None:
        base_url, workspace_id = normalise_url(line["base_url"]), str(line["workspace_id"])
        here, taken = self.workspaces.ensure(
            base_url, workspace_id, [str(x) for x in line["labels"]]
        )
        self.remotes[(base_url, workspace_id)] = here.remote_id
        self.report.labels_taken += taken

    def _rendition(self, line: dict) -> None:
        width, height = int(line["width"]), int(line["height"])
        self.batch.renditions.append({
            "sha256": _sha(line["sha256"]), "media_type": str(line["media_type"]),
            "width": width, "height": height, "size_bytes": int(line["size_bytes"]),
            "tokens": served_tokens(width, height),  # by today's rule, whatever the export says
        })  # fmt: skip

    def _asset(self, line: dict) -> None:
        sha = _sha(line["sha256"])
        self.batch.assets.append({
            "sha256": sha, "format": str(line["format"]), "media_type": str(line["media_type"]),
            "width": int(line["width"]), "height": int(line["height"]), "mode": str(line["mode"]),
            "frames": int(line["frames"]), "orientation": line.get("orientation"),
            "size_bytes": int(line["size_bytes"]),
        })  # fmt: skip
        for policy, rendition in line["renditions"].items():
            warnings = [str(w) for w in rendition.get("warnings", [])]
            self.batch.links.append((sha, str(policy), _sha(rendition["sha256"]), warnings))
        self.tags += [(sha, str(name)) for name in line.get("tags", [])]
        self.sources += [
            (str(s["path"]), sha, int(s["size_bytes"]), int(s["mtime_ns"]))
            for s in line.get("sources", [])
        ]

    def _upload(self, line: dict) -> None:
        key = (normalise_url(line["base_url"]), str(line["workspace_id"]))
        if key not in self.remotes:
            here, _ = self.workspaces.ensure(*key, [])
            self.remotes[key] = here.remote_id
        self.uploads.append((self.remotes[key], {
            "rendition": _sha(line["rendition"]), "file_id": str(line["file_id"]),
            "filename": str(line["filename"]), "size_bytes": int(line["size_bytes"]),
            "created_at": _time(line["created_at"]), "expires_at": _time(line.get("expires_at")),
            "expires_in_seconds": line.get("expires_in_seconds"),
        }))  # fmt: skip

    def flush(self) -> None:
        batch, self.batch = self.batch, IngestBatch.new()
        if not batch.empty or batch.renditions or batch.links:
            new = self.catalogue.import_batch(batch)
            self.report.assets += new[0]
            self.report.renditions += new[1]
        if self.tags:
            self.report.tags += self.catalogue.import_tags(self.tags)
            self.tags = []
        if self.sources:
            self.catalogue.import_sources(self.sources)
            self.sources = []
        if self.uploads:
            added, clashes = self.catalogue.import_uploads(self.uploads)
            self.report.uploads += added
            self.pending += clashes
            self.uploads = []

    def settle(self) -> None:
        """Ask each workspace with conflicts which of the file ids are alive."""
        by_remote: dict[int, list] = {}
        for clash in self.pending:
            by_remote.setdefault(clash.remote_id, []).append(clash)
        for remote_id, clashes in by_remote.items():
            self.report.conflicts += _settle(self.catalogue, remote_id, clashes, self.client_of)


def _settle(catalogue: Catalogue, remote_id: int, clashes: list, client_of) -> list[Conflict]:
    base_url, workspace_id = catalogue.remote_of(remote_id)
    try:
        client = client_of(RemoteSpec(base_url, workspace_id, workspace_id))
        alive = client.lookup(sorted({c.kept for c in clashes} | {c.other for c in clashes}))
        now = client.clock.now()
    except AssetmgrError as e:
        reason = f"unsettled: the API could not be asked ({e}); the catalogue's stays"
        return [
            Conflict(workspace_id, c.rendition_sha256, c.kept, c.other, reason) for c in clashes
        ]
    found = []
    for c in clashes:
        mine, other = alive.get(c.kept), alive.get(c.other)
        mine_ok, other_ok = (
            mine is not None and mine.live(now),
            other is not None and other.live(now),
        )
        if mine_ok:
            outcome = "extra copy: gc deletes it" if other_ok else "dead"
            found.append(Conflict(workspace_id, c.rendition_sha256, c.kept, c.other, outcome))
        elif other_ok:
            catalogue.replace_upload(c, other)
            found.append(Conflict(workspace_id, c.rendition_sha256, c.other, c.kept,
                                  "replaced a dead upload"))  # fmt: skip
        else:
            found.append(Conflict(workspace_id, c.rendition_sha256, c.kept, c.other, "both dead"))
    return found


def _sha(value) -> str:
    text = str(value)
    if not SHA.fullmatch(text):
        raise UsageError(f"{text!r} is not a sha256 (64 lowercase hex digits)")
    return text


def _time(value) -> datetime | None:
    if value is None:
        return None
    from .apiclock import moment

    return moment(str(value).replace("Z", "+00:00"))
