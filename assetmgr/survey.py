"""What a workspace holds that the catalogue does not know, from one listing: pure.

``verify`` and ``gc`` list the workspace (every page) and hand the files here with what
the catalogue knows of that workspace. A file no upload row names is

- ``foreign`` when its name carries no rendition hash (another tool's file): only
  ``gc --all`` deletes it;
- an ``orphan`` otherwise (a hash-named file: an upload whose answer was lost, a copy a
  retry left, another catalogue's upload). An orphan whose rendition this catalogue has,
  with no live upload here, is to be ``adopt``ed (``verify --repair``); any other (an
  extra copy of a rendition live here, an expired file, one whose size is not the
  rendition's, one of a rendition this catalogue does not know) is for ``gc``.

Adoption trusts a file's name and size, never its content (the API gives no hash): see
``uploads.adoptable``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .uploads import rendition_in

ADOPT, GC = "adopt", "gc"


@dataclass(frozen=True)
class Listed:
    """A file of the workspace that no upload row of this catalogue names."""

    kind: str  # orphan | foreign
    action: str  # adopt | gc (an orphan); gc --all (foreign)
    reason: str
    file_id: str
    filename: str
    size_bytes: int
    created_at: datetime
    expires_at: datetime | None
    rendition_sha256: str | None

    @property
    def id(self) -> str:
        return self.file_id

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


def by_rendition(listed: Iterable[Listed]) -> dict[str, list[Listed]]:
    """Orphans by the rendition their name carries (what ``Uploader.listing`` holds)."""
    found: dict[str, list[Listed]] = {}
    for x in listed:
        if x.rendition_sha256 is not None:
            found.setdefault(x.rendition_sha256, []).append(x)
    return found


@dataclass(frozen=True)
class Known:
    """What the catalogue knows of one workspace, for ``classify``."""

    file_ids: set[str]  # every file an upload row names (any state), and those nearby
    sizes: dict[str, int]  # rendition sha256 -> size, of the renditions catalogued
    live: dict[str, str | None]  # rendition sha256 -> its live file here (None: pending)


def classify(files: Iterable, known: Known, now: datetime) -> list[Listed]:
    """The files of a listing (``files_api.RemoteFile``) that no row names, each with what
    to do about it; ``now`` is the API's time."""
    found = []
    for f in files:
        if f.id in known.file_ids:
            continue
        sha = rendition_in(f.filename)
        kind, action, reason = _judge(f, sha, known, now)
        found.append(Listed(kind, action, reason, f.id, f.filename, f.size_bytes,
                            f.created_at, f.expires_at, sha))  # fmt: skip
    return found


def _judge(f, sha: str | None, known: Known, now: datetime) -> tuple[str, str, str]:
    if sha is None:
        return "foreign", "gc --all", "its name carries no rendition hash"
    if sha not in known.sizes:
        return "orphan", GC, "its rendition is not in this catalogue"
    if not f.live(now):
        return "orphan", GC, "it has expired"
    if f.size_bytes != known.sizes[sha]:
        return "orphan", GC, f"{f.size_bytes} bytes, not the rendition's {known.sizes[sha]}"
    if known.live.get(sha):
        return "orphan", GC, f"an extra copy: {known.live[sha]} holds the rendition"
    if sha in known.live:
        return "orphan", ADOPT, "its rendition is being uploaded, or a run died uploading it"
    return "orphan", ADOPT, "its rendition has no live upload here"
