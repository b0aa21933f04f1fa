"""The fast path of ``add`` re-run over files that have not changed: nothing to read.

A re-run over a library already catalogued is the common case, and its cost is mostly
start-up: importing SQLAlchemy and the ORM takes longer than the walk and the stat cache
together. On a SQLite catalogue already at the newest schema, ``settle`` answers read-only
with the standard library's ``sqlite3``, when it can answer completely:

- every file needs no reading, by ``statcache``'s rule (unchanged, or a known rejection),
  or is one the walk reports (a FIFO, a broken link);
- no tag is to be added;
- when uploading, every rendition is live in the remote: an active upload that never
  expires (expiry is judged by the API's clock, which needs a request), checked within a
  day, and no lease held by anyone in the remote (a killed run to recover).

Anything else returns ``None``, and ``add`` goes through the library, which reads, uploads,
recovers or migrates. The queries mirror ``Catalogue.cached_sources`` and
``cached_rejections``; the tests hold both paths' answers equal.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass

from .apiclock import ApiClock, moment
from .config import database_url, own_paths, store_dir
from .limits import RECHECK_AFTER, Limits
from .lookup import open_readonly, remote_row, sqlite_file
from .pathnames import shown
from .records import AddSummary, Outcome, PushSummary, UploadOutcome
from .remote import RemoteSpec
from .statcache import (
    UNCHANGED,
    CachedRejection,
    CachedSource,
    gc_paused,
    outcome_of,
    verdict,
)
from .walk import walk

SOURCES = """
SELECT s.path, s.size_bytes, s.mtime_ns, s.inode, a.sha256, a.width, a.height, a.format,
    ar.rendition_id
FROM sources s JOIN assets a ON a.id = s.asset_id
LEFT JOIN asset_renditions ar ON ar.asset_id = s.asset_id AND ar.policy = ?
WHERE {where}"""
REJECTIONS = """
SELECT path, size_bytes, mtime_ns, inode, reason, sha256 FROM rejections
WHERE rules = ? AND {where}"""
ACTIVE = """
SELECT u.rendition_id, u.file_id, u.expires_at, u.last_verified_at, r.sha256
FROM uploads u JOIN renditions r ON r.id = u.rendition_id
WHERE u.remote_id = ? AND u.state = 'active'"""
# Without details, only what the verdict needs (the join with assets is a third of the time).
SOURCES_SLIM = """
SELECT s.path, s.size_bytes, s.mtime_ns, s.inode, NULL, NULL, NULL, NULL, ar.rendition_id
FROM sources s
LEFT JOIN asset_renditions ar ON ar.asset_id = s.asset_id AND ar.policy = ?
WHERE {where}"""
RANGE, ONE = "{path} >= ? AND {path} < ?", "{path} = ?"


@dataclass
class Settled:
    """An ``add`` answered without reading: its outcomes (in walk order: all of them, or,
    without ``details``, only the rejected ones, which are all a plain run prints) and the
    counts of all."""

    outcomes: list[Outcome]
    summary: AddSummary
    push: PushSummary | None  # when uploading: every rendition already there


def settle(
    db: str | None,
    paths: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    policy: str,
    limits: Limits,
    tags: Sequence[str] = (),
    remote: RemoteSpec | None = None,
    details: bool = True,
) -> Settled | None:
    """The outcomes of ``add paths`` when no file needs reading (and, with ``remote``, no
    upload is due); None when the library must do the work."""
    if tags:
        return None
    url = database_url(db)
    conn = open_readonly(url)
    if conn is None:
        return None
    own = own_paths(sqlite_file(url), store_dir())
    with closing(conn), gc_paused():  # objects by the ten thousand, all kept: nothing to collect
        verdicts = _verdicts(
            conn, paths, exclude, own, policy, limits, SOURCES if details else SOURCES_SLIM
        )
        if verdicts is None:
            return None
        live = None
        if remote is not None:
            live = _live(conn, remote)
            if live is None or any(e[8] not in live for k, _, e in verdicts if k is UNCHANGED):
                return None
        return _settled(verdicts, live, details)


def _verdicts(conn, paths, exclude, own, policy: str, limits: Limits, query: str = SOURCES):
    """(verdict, walked item, cache entry) of every file (``own``: assetmgr's own files,
    passed by), in walk order; None as soon as one must be read."""
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    folders = [r for r in roots if os.path.isdir(r)]
    named = [r for r in roots if not os.path.isdir(r)]
    found = walk(roots, exclude, skip=own)
    rows = _rows(conn, query, "s.path", policy, folders, named)
    sources = {r[0]: r for r in map(CachedSource._make, rows)}
    rows = _rows(conn, REJECTIONS, "path", limits.rules(policy), folders, named)
    rejections = {r[0]: r for r in map(CachedRejection._make, rows)}
    verdicts = []
    for item in found:
        kind, entry = verdict(item, sources, rejections)
        if kind is None:
            return None
        verdicts.append((kind, item, entry))
    return verdicts


def _settled(verdicts, live: dict[int, tuple[str, str]] | None, details: bool) -> Settled:
    summary, outcomes = AddSummary(), []
    push, used = (PushSummary(), {}) if live is not None else (None, {})
    for kind, item, entry in verdicts:
        if kind is UNCHANGED:
            summary.unchanged += 1
            if live is not None:
                rendition_sha, file_id = live[entry[8]]
                if details:  # with the asset's sha256: by asset, for the JSON lines
                    push.renditions[entry.sha256] = rendition_sha
                used[rendition_sha] = file_id
            if not details:
                continue
        outcome = outcome_of(item, kind, entry)
        if kind is not UNCHANGED:
            summary.count(outcome)
        elif live is not None:
            outcome.upload, outcome.file_id = "present", live[entry[8]][1]
        outcomes.append(outcome)
    if push is not None:
        push.outcomes = [UploadOutcome(sha, "present", file_id=fid) for sha, fid in used.items()]
    return Settled(outcomes, summary, push)


def _rows(conn: sqlite3.Connection, query: str, path: str, first, folders, named) -> list[tuple]:
    """``query``'s rows for paths under ``folders`` (a range an index serves) and ``named``."""
    rows: list[tuple] = []
    in_range = query.format(where=RANGE.format(path=path))
    for folder in folders:
        low = shown(folder).rstrip(os.sep) + os.sep
        high = low[:-1] + chr(ord(os.sep) + 1)
        rows += conn.execute(in_range, (first, low, high)).fetchall()
    one = query.format(where=ONE.format(path=path))
    for name in named:
        rows += conn.execute(one, (first, shown(name))).fetchall()
    return rows


def _live(conn, remote: RemoteSpec) -> dict[int, tuple[str, str]] | None:
    """rendition id -> (rendition sha256, file id) of the uploads in ``remote`` that need no
    look-up: active, never expiring, checked within a day (by the API's clock, as last
    seen). None when there is something to settle there first: no such remote yet, or a
    lease held (a run that died, or one at work)."""
    row = remote_row(conn, remote)
    if row is None:
        return None
    remote_id, offset = row
    held = "SELECT 1 FROM uploads WHERE remote_id = ? AND lease_owner IS NOT NULL LIMIT 1"
    if conn.execute(held, (remote_id,)).fetchone() is not None:
        return None
    now = ApiClock(offset).now()
    live = {}
    for rendition_id, file_id, expires, verified, sha in conn.execute(ACTIVE, (remote_id,)):
        checked = moment(verified)
        if expires is None and checked is not None and now - checked <= RECHECK_AFTER:
            live[rendition_id] = (sha, file_id)
    return live
