"""The lookup of ``block``, ``request`` and ``ask``: hash in, file ids out, fast when it can be.

Other tools call ``assetmgr block <sha256>`` once per image, so start-up is most of its
cost, and importing SQLAlchemy alone takes longer than the rest of the work. ``images``
therefore first tries ``answer``: on a SQLite catalogue already at the newest schema it
answers read-only with the standard library's ``sqlite3``, when it can answer completely
(file sources; every reference naming exactly one asset, by the rule in ``references``;
every asset with a live upload in the remote; an upload that expires is judged by the
API's clock, read with one small request). Anything else (a missing or expired upload,
an unknown or ambiguous reference, an older schema, another database) gives ``None``, and
``images`` goes through ``Library``, which uploads, migrates or explains.

Both paths build their answer with ``blocks.image_refs`` from rows of one shape; the query
here mirrors ``Catalogue.image_facts``, and the tests hold the two answers equal.

A ``Reader`` holds the read-only connection: one command opens it for one lookup, ``serve``
keeps one open across thousands. Each use checks that the file is still the one opened and
still at the newest schema (a catalogue replaced or migrated meanwhile is then read afresh,
or left to the library), and every query runs outside a transaction, so it sees all that
writers (an ``add`` running meanwhile) committed before it.

The model decides which rendition each asset sends (its tier: ``policies.choose``);
``model_spec`` reads what ``assetmgr models --refresh`` stored of it the same way, with
``sqlite3`` when it can, else through ``Library.model``. ``dry_plan`` is ``run --dry-run``'s
fast path: the same images, planned by ``runplan.plan``, with the requests answered already
read the same way; ``Library.run_plan`` is its other path.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from pathlib import Path
from typing import TYPE_CHECKING

from .apiclock import live_rows
from .blocks import ImageRef, check_source, image_refs
from .config import database_url
from .errors import AssetmgrError, UsageError
from .limits import STANDARD, Tier
from .modelspec import DEFAULT_MODEL, STORED, ModelSpec, spec_for
from .policies import check
from .references import parse
from .remote import RemoteSpec
from .schema_version import head_revision

if TYPE_CHECKING:
    from .library import Library
    from .runplan import Ask, RunPlan

CHUNK = 500
TAGGED = """
SELECT a.sha256 FROM assets a JOIN tags t ON t.asset_id = a.id WHERE t.name = ? ORDER BY a.id"""
PREFIXED = "SELECT sha256 FROM assets WHERE sha256 >= ? AND sha256 < ? LIMIT 2"
# The assets whose rendition an upload holds, and whether each borrows it (near_links), as
# ``Catalogue.file_holders`` finds them.
FILE_HOLDERS = """
SELECT DISTINCT a.sha256, n.asset_id IS NOT NULL
FROM uploads u
JOIN asset_renditions ar ON ar.rendition_id = u.rendition_id
JOIN assets a ON a.id = ar.asset_id
LEFT JOIN near_links n ON n.asset_id = ar.asset_id AND n.policy = ar.policy
WHERE u.file_id = ?"""
REMOTE = """
SELECT r.id, r.clock_offset_seconds FROM workspace_labels l JOIN remotes r ON r.id = l.remote_id
WHERE l.base_url = ? AND l.name = ?"""
# The rows of blocks.image_refs: every rendition of the assets, with its live upload if any
# (at most one: the partial unique index allows one live upload per rendition and remote).
ROWS = """
SELECT a.sha256, ar.policy, r.sha256, r.media_type, r.width, r.height, r.size_bytes, u.file_id,
    u.expires_at
FROM assets a
JOIN asset_renditions ar ON ar.asset_id = a.id
JOIN renditions r ON r.id = ar.rendition_id
LEFT JOIN uploads u ON u.rendition_id = r.id AND u.remote_id = ? AND u.state = 'active'
WHERE a.sha256 IN ({marks})"""
MODEL_INFO = f"SELECT {', '.join(STORED)} FROM model_info WHERE id = ?"


def images(
    db: str | None,
    references: Sequence[str] = (),
    *,
    tag: str | None = None,
    model: str | ModelSpec = DEFAULT_MODEL,
    policy: str | None = None,
    source: str = "file",
    upload: bool = True,
    url_template: str | None = None,
    remote: RemoteSpec | None = None,
    library: Callable[[], Library] | None = None,
    reader: Reader | None = None,
) -> list[ImageRef]:
    """The images named (``references`` in order, or ``tag``) in the catalogue ``db``, each
    asset's rendition for ``model`` (an id, or its ``ModelSpec``): through ``read`` when it
    can (with ``reader``, default: one opened here), else through the ``Library`` that
    ``library()`` returns (default: one opened here). The options are those of
    ``Library.images``."""
    check_source(source, url_template)
    require_named(references, tag)
    remote = remote or RemoteSpec.from_env()
    with ExitStack() as stack:
        library = library or _opener(db, stack)
        reader = reader or stack.enter_context(Reader(database_url(db)))
        spec = model
        if not isinstance(spec, ModelSpec):
            spec = model_spec(db, spec, library=library, reader=reader)
        check(policy, spec.tier)
        if source == "file":
            found = read(reader, references, tag=tag, policy=policy, remote=remote, tier=spec.tier)
            if found is not None:
                return found
        lib = library()
        options = dict(policy=policy, source=source, upload=upload, url_template=url_template)
        return lib.images(lib.find(references, tag=tag), model=spec, remote=remote, **options)


def require_named(references: Sequence[str], tag: str | None) -> None:
    """A ``UsageError`` unless assets are named: a command that sends never means "all"."""
    if not references and tag is None:
        raise UsageError("name assets: references, --tag NAME, or --stdin")


def model_spec(
    db: str | None,
    model: str = DEFAULT_MODEL,
    *,
    library: Callable[[], Library] | None = None,
    reader: Reader | None = None,
) -> ModelSpec:
    """``modelspec.spec_for(model)`` with what ``models --refresh`` stored of it in ``db``:
    read with ``sqlite3`` (through ``reader``, default: one opened here) when the fast path
    can, else by ``library().model``. A retired model is a ``UsageError`` here, before
    anything is uploaded or sent."""
    with ExitStack() as stack:
        reader = reader or stack.enter_context(Reader(database_url(db)))
        conn = reader.connection()
        if conn is not None:
            return spec_for(model, stored_model(conn, model))
        return (library or _opener(db, stack))().model(model)


def stored_model(conn: sqlite3.Connection, model: str) -> dict | None:
    """The ``model_info`` row of ``model`` (as ``modelspec.STORED`` names its fields), if any."""
    try:
        row = conn.execute(MODEL_INFO, (model,)).fetchone()
    except sqlite3.Error:
        return None
    return dict(zip(STORED, row)) if row else None


def _opener(db: str | None, stack: ExitStack) -> Callable[[], Library]:
    """A ``library()`` that opens the catalogue ``db`` on first use, closed with ``stack``."""
    opened: list[Library] = []

    def library() -> Library:
        if not opened:
            from .library import Library

            opened.append(stack.enter_context(Library.open(db)))
        return opened[0]

    return library


def answer(
    url: str,
    references: Sequence[str] = (),
    *,
    tag: str | None = None,
    policy: str | None = None,
    remote: RemoteSpec,
    tier: Tier = STANDARD,
) -> list[ImageRef] | None:
    """The fast path alone: the images named, each with a live file id in ``remote``, read
    from the catalogue at ``url``; None when it cannot answer all of it."""
    with Reader(url) as reader:
        return read(reader, references, tag=tag, policy=policy, remote=remote, tier=tier)


def read(
    reader: Reader,
    references: Sequence[str] = (),
    *,
    tag: str | None = None,
    policy: str | None = None,
    remote: RemoteSpec,
    tier: Tier = STANDARD,
) -> list[ImageRef] | None:
    """``answer`` through ``reader``'s connection; None when it cannot answer all of it (a
    database error too: the connection is then dropped, to be opened again next time)."""
    conn = reader.connection()
    if conn is None:
        return None
    try:
        shas = resolve(conn, references, tag)
        return None if shas is None else live_images(conn, shas, policy, remote, tier)
    except sqlite3.Error:
        reader.close()
        return None


def find(reader: Reader, references: Sequence[str] = (), tag: str | None = None):
    """The sha256s named (``resolve``) through ``reader``; None when the fast path cannot say
    (the library then does, or explains what is wrong)."""
    conn = reader.connection()
    if conn is None:
        return None
    try:
        return resolve(conn, references, tag)
    except sqlite3.Error:
        reader.close()
        return None


def dry_plan(
    db: str | None,
    references: Sequence[str] = (),
    *,
    tag: str | None = None,
    ask: Ask,
    policy: str | None = None,
    remote: RemoteSpec,
) -> RunPlan | None:
    """What ``run --dry-run`` prints (``Library.run_plan``), when every asset named has a live
    upload in ``remote``: read with ``sqlite3``, the requests answered already included; None
    when the fast path cannot answer (the caller then asks the library)."""
    from .runplan import DONE, plan  # run --dry-run only: not on block's or request's way

    answered = f"SELECT key FROM run_requests WHERE state IN ({', '.join(map(repr, DONE))})"
    check(policy, ask.model.tier)
    conn = open_readonly(database_url(db))
    if conn is None:
        return None
    with closing(conn):
        shas = resolve(conn, references, tag)
        refs = None if shas is None else live_images(conn, shas, policy, remote, ask.model.tier)
        if refs is None:
            return None
        planned = plan(refs, ask)
        keys = sorted({request.key for request in planned.requests})
        for chunk in _chunks(keys):
            query = f"{answered} AND key IN ({','.join('?' * len(chunk))})"
            planned.answered.update(key for (key,) in conn.execute(query, chunk))
        return planned


class Reader:
    """A read-only ``sqlite3`` connection to the SQLite catalogue at ``url``, opened on first
    use and kept until ``close``. ``connection`` gives it only while the file is the one
    opened (same device and inode) and at the newest schema; else None (another database,
    no file, an older schema: the library's business)."""

    def __init__(self, url: str):
        self.path = sqlite_file(url)
        self._conn: sqlite3.Connection | None = None
        self._file: tuple[int, int] | None = None
        self._version: int | None = None  # PRAGMA data_version when the schema was read
        self._at_head = False

    def connection(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        try:
            info = os.stat(self.path)
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            self.close()
            return None
        if self._conn is not None and self._file != (info.st_dev, info.st_ino):
            self.close()  # replaced since: read the new file
        if self._conn is None:
            try:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                self._conn = sqlite3.connect(uri, uri=True, timeout=30)
            except sqlite3.Error:
                return None
            self._file = (info.st_dev, info.st_ino)
        # The schema is read again only when another connection committed since (a
        # migration included): SQLite changes data_version then, and only then.
        try:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()
            return None
        if version != self._version:
            self._version, self._at_head = version, _at_head(self._conn)
        return self._conn if self._at_head else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._file = self._version = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL; None for anything else."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///") :].partition("?")[0]  # as SQLAlchemy reads the URL
    return Path(path) if path and path != ":memory:" else None


def _at_head(conn: sqlite3.Connection) -> bool:
    try:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return False
    return bool(version) and version[0] == head_revision()


def open_readonly(url: str) -> sqlite3.Connection | None:
    """A read-only connection to a SQLite catalogue at the newest schema, else None; the
    caller closes it."""
    reader = Reader(url)
    conn = reader.connection()
    if conn is None:
        reader.close()
    return conn


def resolve(
    conn: sqlite3.Connection, references: Sequence[str], tag: str | None = None
) -> list[str] | None:
    """The sha256s named, in order; None unless every reference names exactly one asset."""
    if tag is not None:
        return None if references else [sha for (sha,) in conn.execute(TAGGED, (tag,))]
    try:
        parsed = {text: parse(text) for text in dict.fromkeys(references)}
    except AssetmgrError:
        return None  # the library says what is wrong with it
    full = sorted({p.digits for p in parsed.values() if p.full})
    shas: dict[str, str] = {}
    for chunk in _chunks(full):
        marks = ",".join("?" * len(chunk))
        query = f"SELECT sha256 FROM assets WHERE sha256 IN ({marks})"
        shas.update((sha, sha) for (sha,) in conn.execute(query, chunk))
    for p in parsed.values():
        if p.file_id is not None and p.key not in shas:
            holders = conn.execute(FILE_HOLDERS, (p.file_id,)).fetchall()
            try:
                shas[p.key] = p.owner((sha, bool(borrows)) for sha, borrows in holders)
            except AssetmgrError:
                pass  # none, or several: the library says so
        elif not p.full and p.key not in shas:
            matches = [sha for (sha,) in conn.execute(PREFIXED, (p.digits, p.digits + "g"))]
            if len(matches) == 1:
                shas[p.digits] = matches[0]
    found = [shas.get(parsed[r].key) for r in references]
    return None if None in found else found


def live_images(
    conn: sqlite3.Connection,
    shas: Sequence[str],
    policy: str | None,
    remote: RemoteSpec,
    tier: Tier = STANDARD,
) -> list[ImageRef] | None:
    """Each asset's rendition with its live file id in ``remote``; None if any lacks one."""
    row = remote_row(conn, remote)
    if row is None:
        return None
    rows: list[tuple] = []
    same = {sha: sha for sha in shas}  # one string per asset, not one more per row
    for chunk in _chunks(sorted(same)):
        query = ROWS.format(marks=",".join("?" * len(chunk)))
        rows += [(same[r[0]], *r[1:]) for r in conn.execute(query, (row[0], *chunk))]
    rows = live_rows(rows, remote.base_url)  # expiry by the API's clock, read when it matters
    if rows is None:
        return None
    try:
        refs = image_refs(shas, rows, policy, tier)
    except AssetmgrError:
        return None
    return refs if all(r.file_id for r in refs) else None


def remote_row(conn: sqlite3.Connection, remote: RemoteSpec) -> tuple[int, float | None] | None:
    """(id, clock offset) of the remote ``remote``'s label names (as ``Workspaces.recorded``
    finds it), or None when the label was never used in this catalogue."""
    return conn.execute(REMOTE, (remote.base_url, remote.label)).fetchone()


def _chunks(items: Sequence) -> list[Sequence]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
