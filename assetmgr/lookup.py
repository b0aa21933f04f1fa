"""The fast path of ``block`` and ``request``: hash in, file ids out, without SQLAlchemy.

Other tools call ``assetmgr block <sha256>`` once per image, so start-up is most of its
cost, and importing SQLAlchemy alone takes longer than the rest of the work. On a SQLite
catalogue that is already at the newest schema, this module answers read-only with the
standard library's ``sqlite3``, when it can answer completely: every reference a full
hash, a unique prefix, a file path or a tag, and every asset with a live upload in the
remote. Anything else (a missing or expired upload, an unknown or ambiguous reference,
an older schema, another database) returns ``None``, and the caller takes the full path
through ``Library``, which uploads, migrates or explains.

The queries mirror ``Catalogue.image_facts``; the tests run both paths on one catalogue.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone

from .blocks import ImageRef
from .limits import EXPIRY_SAFETY
from .policies import choose
from .schema_version import head_revision

HEX = re.compile(r"[0-9a-f]{6,64}")
CHUNK = 500
FACTS = """
SELECT a.sha256, ar.policy, r.id, r.sha256, r.media_type, r.width, r.height, r.size_bytes
FROM assets a JOIN asset_renditions ar ON ar.asset_id = a.id JOIN renditions r ON r.id = ar.rendition_id
WHERE a.sha256 IN ({marks})"""
LIVE = """
SELECT u.rendition_id, u.file_id FROM uploads u
WHERE u.remote_id = ? AND u.state = 'active' AND (u.expires_at IS NULL OR u.expires_at > ?)
AND u.rendition_id IN ({marks})"""


def open_readonly(url: str) -> sqlite3.Connection | None:
    """A read-only connection to a SQLite catalogue at the newest schema, else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :]
    if not os.path.isfile(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    if not version or version[0] != head_revision():
        conn.close()
        return None
    return conn


def resolve(
    conn: sqlite3.Connection, references: Sequence[str], tag: str | None
) -> list[str] | None:
    """The sha256s named, in order; None unless every reference names exactly one asset."""
    if tag is not None:
        return (
            None
            if references
            else [
                r
                for (r,) in conn.execute(
                    "SELECT a.sha256 FROM assets a JOIN tags t ON t.asset_id = a.id WHERE t.name = ? ORDER BY a.id",
                    (tag,),
                )
            ]
        )
    keys = [_key(r) for r in references]
    full = {k for k in keys if k and len(k) == 64}
    known = set()
    for chunk in _chunks(sorted(full)):
        known.update(
            r
            for (r,) in conn.execute(
                f"SELECT sha256 FROM assets WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk
            )
        )
    shas = []
    for key in keys:
        sha = key if key in known else _prefix(conn, key) if key and len(key) < 64 else None
        if sha is None:
            return None
        shas.append(sha)
    return shas


def images(
    conn: sqlite3.Connection, shas: Sequence[str], policy: str | None, base_url: str, workspace: str
) -> list[ImageRef] | None:
    """Each asset's rendition with its live file id; None if any asset lacks one."""
    remote = conn.execute(
        "SELECT id FROM remotes WHERE base_url = ? AND workspace = ?", (base_url, workspace)
    ).fetchone()
    if remote is None:
        return None
    now = (datetime.now(timezone.utc) + EXPIRY_SAFETY).strftime("%Y-%m-%d %H:%M:%S.%f")
    by_asset: dict[str, dict[str, tuple]] = {}
    unique = sorted(set(shas))
    for chunk in _chunks(unique):
        rows = conn.execute(FACTS.format(marks=",".join("?" * len(chunk))), chunk).fetchall()
        ids = [r[2] for r in rows]
        live = (
            dict(
                conn.execute(
                    LIVE.format(marks=",".join("?" * len(ids))), [remote[0], now, *ids]
                ).fetchall()
            )
            if ids
            else {}
        )
        for asset, rendition_policy, rid, *facts in rows:
            by_asset.setdefault(asset, {})[rendition_policy] = (*facts, live.get(rid))
    refs = []
    for sha in shas:
        options = by_asset.get(sha, {})
        chosen = options.get(choose(policy, options))
        if chosen is None or chosen[-1] is None:
            return None
        refs.append(ImageRef(sha, *chosen))
    return refs


def _key(reference: str) -> str | None:
    text = reference.strip()
    if os.path.isfile(text):
        return _hash_file(text)
    text = text.lower().removeprefix("sha256:")
    return text if HEX.fullmatch(text) else None


def _prefix(conn: sqlite3.Connection, prefix: str) -> str | None:
    rows = conn.execute(
        "SELECT sha256 FROM assets WHERE sha256 >= ? AND sha256 < ? LIMIT 2", (prefix, prefix + "g")
    ).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def _hash_file(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def _chunks(items: Sequence) -> list[Sequence]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
