"""``Catalogue``: every query and write against the catalogue database.

It owns the engine; nothing else in assetmgr writes SQL. Reads that sit on hot
paths (the stat cache, reference lookups) use Core ``select`` over plain rows
rather than ORM objects, because building ten thousand objects costs more than
the query. Writes come in batches, each one ``BEGIN IMMEDIATE`` transaction,
and use insert-or-ignore so that two processes adding the same file both
succeed and the catalogue holds it once. On PostgreSQL writers do not take the
whole catalogue in turn but wait for each other row by row: a batch writes sources,
rejections, links and tags in key order (``_in_key_order``), so that two processes
writing the same rows wait for one another, and assets and renditions in the run's
order (their ids are the order of addition, which ``ls`` shows); should the server
still abort a batch to break a deadlock, it is written again (``transaction``).

The statements are Core's and run on SQLite and PostgreSQL alike; the few that differ
(insert-or-ignore, upsert) come from ``_dialect_insert``.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Table, bindparam, delete, func, select, tuple_, update
from sqlalchemy.engine import Connection, Engine

from . import config, db
from .errors import CatalogueError
from .models import (
    LIVE_STATES,
    Asset,
    AssetRendition,
    Columns,
    NearDecision,
    NearLink,
    PerceptualHash,
    Rejection,
    Remote,
    Rendition,
    Source,
    Tag,
    Upload,
    UploadState,
    WorkspaceLabel,
    utcnow,
)
from .pathnames import exact_bytes, real, shown
from .phash import Fingerprint
from .records import (
    AssetQuery,
    AssetRecord,
    RenditionRecord,
    ReuseRecord,
    SourceRecord,
    UploadRecord,
)
from .references import Reference, parse
from .statcache import CachedRejection, CachedSource

CHUNK = 500  # ids per IN (...) clause, and assets per page of a listing
RETRIES = 5  # times a write transaction aborted by a deadlock (PostgreSQL) is tried
T = TypeVar("T")


class ImageFacts(NamedTuple):
    """An asset's rendition under one policy, and its live file id in one remote (if any)."""

    asset_sha256: str
    policy: str
    rendition_sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    file_id: str | None
    expires_at: datetime | None  # of the upload, by the API's clock; None: never


class RenditionFacts(NamedTuple):
    """What uploading a rendition needs to know of it (and ``renditions.load_bytes`` reads)."""

    id: int
    sha256: str
    policy: str
    media_type: str
    size_bytes: int
    width: int  # as made: a rendition is made again at its recorded size
    height: int


class SourcePath(NamedTuple):
    """A path where an asset was seen, as ``os`` functions take it."""

    path: str


class AssetSources(NamedTuple):
    """An asset's sha256 and its source paths (in path order): what re-deriving a rendition
    from its source needs (``renditions.load_bytes``), and no more."""

    sha256: str
    paths: tuple[str, ...]  # as ``os`` functions take them

    @property
    def sources(self) -> tuple[SourcePath, ...]:
        """The paths as ``renditions.load_bytes`` reads an asset's sources (``.path``)."""
        return tuple(map(SourcePath, self.paths))


class AssetRow(NamedTuple):
    """What a line of ``assetmgr ls`` shows of an asset: plain values, no renditions or uploads."""

    sha256: str
    format: str
    width: int
    height: int
    size_bytes: int
    tags: tuple[str, ...]  # by name
    path: str | None  # the first source path, as ``os`` functions take it; None: none left
    added: datetime | None = None  # when it was catalogued


class RenditionLink(NamedTuple):
    """A rendition of some assets, and whether an asset outside them has it too."""

    rendition_sha256: str
    shared: bool


@dataclass(frozen=True, slots=True)
class KnownAsset:
    sha256: str
    first_path: str | None


class Catalogue:
    """A catalogue database, migrated to head when opened."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def open(cls, url: str | os.PathLike[str] | None = None) -> Catalogue:
        """Open (creating and migrating if needed) the catalogue chosen as ``config`` says."""
        return cls(db.open_engine(config.database_url(url)))

    @property
    def file(self) -> str | None:
        """The SQLite file the catalogue is kept in; None for a server's database."""
        return db.sqlite_path(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection to read with; a damaged, locked or unreachable catalogue raises
        ``CatalogueError``. Every query goes through here or ``writing``."""
        with db.translated(self.engine), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite); a read-only, full or damaged
        catalogue raises ``CatalogueError``, and the transaction is rolled back."""
        with (
            db.translated(self.engine),
            self.engine.connect().execution_options(write=True) as conn,
            conn.begin(),
        ):
            yield conn

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """``work(conn)`` in one ``writing`` transaction. A PostgreSQL server may abort a
        transaction to break a deadlock with another writer (or a serialization conflict);
        ``work`` then runs again in a new one, up to ``RETRIES`` times in all."""
        for attempt in range(1, RETRIES + 1):
            try:
                with self.writing() as conn:
                    return work(conn)
            except CatalogueError as e:
                if attempt == RETRIES or not db.conflicted(e.__cause__):
                    raise
                time.sleep(random.uniform(0, 0.05 * attempt))  # apart, not again in step
        raise AssertionError("unreachable")

    # -- the stat cache -------------------------------------------------

    def stat_caches(
        self, folders: Sequence[str], files: Sequence[str], policy: str, rules: str
    ) -> tuple[dict[str, CachedSource], dict[str, CachedRejection]]:
        """``cached_sources`` and ``cached_rejections``, read on one connection."""
        with self.reading() as conn:
            return (
                self.cached_sources(folders, files, policy, conn=conn),
                self.cached_rejections(folders, files, rules, conn=conn),
            )

    def cached_sources(
        self, folders: Sequence[str], files: Sequence[str], policy: str, *, conn=None
    ) -> dict[str, CachedSource]:
        """The remembered stat of every source under ``folders`` or named in ``files``,
        keyed by stored path (``pathnames.shown``).

        The hot path of a re-run: plain columns, fetched through the driver's own
        cursor (SQLAlchemy's row objects would cost as much as the query), by a statement
        compiled once per process.
        """
        columns = (
            Source.path, Source.size_bytes, Source.mtime_ns, Source.inode, Asset.sha256,
            Asset.width, Asset.height, Asset.format, AssetRendition.rendition_id,
        )  # fmt: skip
        base = (
            select(*columns)
            .join(Asset, Asset.id == Source.asset_id)
            .outerjoin(
                AssetRendition,
                (AssetRendition.asset_id == Source.asset_id)
                & (AssetRendition.policy == bindparam("policy")),
            )
        )
        rows = self._under(conn, "sources", base, Source.path, folders, files, policy=policy)
        return {r[0]: r for r in map(CachedSource._make, rows)}

    def cached_rejections(
        self, folders: Sequence[str], files: Sequence[str], rules: str, *, conn=None
    ) -> dict[str, CachedRejection]:
        """Rejections made under ``rules`` of paths under ``folders`` or named in ``files``,
        keyed by stored path."""
        columns = (
            Rejection.path, Rejection.size_bytes, Rejection.mtime_ns, Rejection.inode,
            Rejection.reason, Rejection.sha256,
        )  # fmt: skip
        base = select(*columns).where(Rejection.rules == bindparam("rules"))
        rows = self._under(conn, "rejections", base, Rejection.path, folders, files, rules=rules)
        return {r[0]: r for r in map(CachedRejection._make, rows)}

    def _under(self, conn, kind, base, column, folders, files, **values) -> list[tuple]:
        if conn is None:
            with self.reading() as conn:
                return self._under(conn, kind, base, column, folders, files, **values)
        rows: list[tuple] = []
        by_range = base.where(column >= bindparam("low"), column < bindparam("high"))
        for folder in folders:
            low = shown(folder).rstrip(os.sep) + os.sep
            high = low[:-1] + chr(ord(os.sep) + 1)
            bounds = {**values, "low": low, "high": high}
            rows += _fetch_plain(conn, by_range, (kind, "range"), bounds)
        by_path = base.where(column == bindparam("path"))
        for path in files:  # files named one by one: usually few
            rows += _fetch_plain(conn, by_path, (kind, "path"), {**values, "path": shown(path)})
        return rows

    def known_renditions(self, shas: Sequence[str]) -> set[str]:
        """Which of these rendition sha256s the catalogue records."""
        with self.reading() as conn:
            return set(_ids_by_sha(conn, Rendition, set(shas)))

    # -- ingest writes ---------------------------------------------------

    def known_assets(self, shas: Iterable[str]) -> dict[str, KnownAsset]:
        """Which of ``shas`` are catalogued, each with the path it was first seen at."""
        first_path = (
            select(func.min(Source.path)).where(Source.asset_id == Asset.id).scalar_subquery()
        )
        known: dict[str, KnownAsset] = {}
        with self.reading() as conn:
            for chunk in _chunks(list(shas)):
                rows = conn.execute(select(Asset.sha256, first_path).where(Asset.sha256.in_(chunk)))
                known.update((sha, KnownAsset(sha, path)) for sha, path in rows)
        return known

    def record(self, batch: IngestBatch) -> None:
        """Write one batch of ingest results in one transaction."""
        if not batch.empty:
            self.transaction(lambda conn: _record(conn, batch, utcnow()))

    def renditions_of(self, shas: Sequence[str], policy: str) -> Iterator[tuple[str, str]]:
        """(asset sha256, rendition sha256) of these assets' renditions under ``policy``, read
        500 assets at a time as the pairs are taken. Each asset sha256 is the very string
        given in ``shas`` (not a copy read back), so that callers that keep both keep one."""
        query = (
            select(Asset.sha256, Rendition.sha256)
            .join(AssetRendition, AssetRendition.asset_id == Asset.id)
            .join(Rendition, Rendition.id == AssetRendition.rendition_id)
            .where(Asset.sha256.in_(bindparam("chunk", expanding=True)))
            .where(AssetRendition.policy == policy)
        )
        for chunk in _chunks(shas):
            given = {sha: sha for sha in chunk}
            with self.reading() as conn:
                pairs = conn.execute(query, {"chunk": list(given)}).all()
            yield from ((given[asset], rendition) for asset, rendition in pairs)

    def rendition_facts(self, shas: Sequence[str], policy: str) -> dict[str, RenditionFacts]:
        """rendition sha256 -> its ``RenditionFacts`` (as made under ``policy``), for those of
        ``shas`` the catalogue records; one query per 500. Each sha256 in the facts is the
        string given in ``shas``, not a copy: callers hold many of these at once."""
        renditions = Rendition.__table__
        columns = (renditions.c.id, renditions.c.sha256, renditions.c.media_type,
                   renditions.c.size_bytes, renditions.c.width, renditions.c.height)  # fmt: skip
        facts: dict[str, RenditionFacts] = {}
        media_types: dict[str, str] = {}  # one string per media type, not one per row
        with self.reading() as conn:
            for chunk in _chunks(shas):
                given = {sha: sha for sha in chunk}
                rows = conn.execute(select(*columns).where(renditions.c.sha256.in_(list(given))))
                for id_, sha, media_type, size, width, height in rows:
                    media_type = media_types.setdefault(media_type, media_type)
                    sha = given[sha]
                    facts[sha] = RenditionFacts(id_, sha, policy, media_type, size, width, height)
        return facts

    def source_paths(self, shas: Sequence[str]) -> dict[str, AssetSources]:
        """asset sha256 -> ``AssetSources`` (its paths in path order, as ``records`` lists
        them), for each of ``shas`` catalogued; one query per 500. Each sha256 is the string
        given in ``shas``."""
        query = (
            select(Asset.sha256, Source.path, Source.path_bytes)
            .join(Source, Source.asset_id == Asset.id, isouter=True)
            .order_by(Source.path)
        )
        paths: dict[str, list[str]] = {}
        with self.reading() as conn:
            for chunk in _chunks(shas):
                given = {sha: sha for sha in chunk}
                for sha, path, path_bytes in conn.execute(
                    query.where(Asset.sha256.in_(list(given)))
                ):
                    found = paths.setdefault(given[sha], [])
                    if path is not None:
                        found.append(real(path, path_bytes))
        return {sha: AssetSources(sha, tuple(found)) for sha, found in paths.items()}

    def image_facts(self, shas: Sequence[str], remote_id: int | None) -> list[ImageFacts]:
        """Renditions of ``shas`` (every policy) with their active upload in one remote (None:
        none), if any, and when it expires (``apiclock.live_rows`` judges that)."""
        renditions = Rendition.__table__
        facts: list[ImageFacts] = []
        with self.reading() as conn:
            for chunk in _chunks(shas):
                rows = conn.execute(
                    select(
                        Asset.sha256,
                        AssetRendition.policy,
                        renditions.c.id,
                        renditions.c.sha256,
                        renditions.c.media_type,
                        renditions.c.width,
                        renditions.c.height,
                        renditions.c.size_bytes,
                    )
                    .join(AssetRendition, AssetRendition.asset_id == Asset.id)
                    .join(renditions, renditions.c.id == AssetRendition.rendition_id)
                    .where(Asset.sha256.in_(chunk))
                ).all()
                active = self._active_uploads(conn, remote_id, {r[2] for r in rows})
                facts += [ImageFacts(*r[:2], *r[3:], *active.get(r[2], (None, None))) for r in rows]
        return facts

    def _active_uploads(
        self, conn: Connection, remote_id: int | None, rendition_ids: set[int]
    ) -> dict[int, tuple[str, datetime | None]]:
        if remote_id is None or not rendition_ids:
            return {}
        rows = conn.execute(
            select(Upload.rendition_id, Upload.file_id, Upload.expires_at).where(
                Upload.remote_id == remote_id,
                Upload.state == UploadState.ACTIVE.value,
                Upload.rendition_id.in_(list(rendition_ids)),
            )
        )
        return {rid: (fid, expires) for rid, fid, expires in rows}

    def rendition_sizes(self) -> dict[str, int]:
        """rendition sha256 -> size in bytes, of every rendition catalogued."""
        with self.reading() as conn:
            return dict(conn.execute(select(Rendition.sha256, Rendition.size_bytes)).all())

    def assets_of_renditions(self, shas: Sequence[str]) -> list[tuple[str, str, str]]:
        """(asset sha256, policy, rendition sha256) of every asset whose rendition under some
        policy is among ``shas``."""
        query = (
            select(Asset.sha256, AssetRendition.policy, Rendition.sha256)
            .join(AssetRendition, AssetRendition.asset_id == Asset.id)
            .join(Rendition, Rendition.id == AssetRendition.rendition_id)
            .order_by(Asset.id)
        )
        found: list[tuple[str, str, str]] = []
        with self.reading() as conn:
            for chunk in _chunks(shas):
                found += [tuple(r) for r in conn.execute(query.where(Rendition.sha256.in_(chunk)))]
        return found

    def rendition_links(self, shas: Sequence[str]) -> list[RenditionLink]:
        """The renditions of these assets (those they use, and the own ones that ``near_links``
        keeps for ``dupes unlink``), each saying whether another asset has it too."""
        ids = select(Asset.id).where(Asset.sha256.in_(list(shas)))
        theirs = select(AssetRendition.rendition_id).where(AssetRendition.asset_id.in_(ids))
        kept = select(NearLink.own_rendition_id).where(NearLink.asset_id.in_(ids))
        other = (
            select(AssetRendition.asset_id)
            .where(AssetRendition.rendition_id == Rendition.id)
            .where(AssetRendition.asset_id.not_in(ids))
            .exists()
        )
        other_kept = (
            select(NearLink.asset_id)
            .where(NearLink.own_rendition_id == Rendition.id)
            .where(NearLink.asset_id.not_in(ids))
            .exists()
        )
        query = select(Rendition.sha256, other | other_kept).where(
            Rendition.id.in_(theirs.union(kept))
        )
        with self.reading() as conn:
            return [RenditionLink(sha, bool(shared)) for sha, shared in conn.execute(query)]

    def live_uploads(self, renditions: Sequence[str]) -> list[tuple[int, str | None, str, str]]:
        """(remote id, its workspace id, file id, rendition sha256) of the active uploads of
        these renditions, in every remote."""
        query = (
            select(Upload.remote_id, Remote.workspace_id, Upload.file_id, Rendition.sha256)
            .join(Rendition, Rendition.id == Upload.rendition_id)
            .join(Remote, Remote.id == Upload.remote_id)
            .where(Upload.state == UploadState.ACTIVE.value, Upload.file_id.is_not(None))
            .order_by(Upload.id)
        )
        found: list[tuple[int, str | None, str, str]] = []
        with self.reading() as conn:
            for chunk in _chunks(renditions):
                found += [tuple(r) for r in conn.execute(query.where(Rendition.sha256.in_(chunk)))]
        return found

    def forget_assets(self, shas: Sequence[str], renditions: Sequence[str]) -> None:
        """Forget these assets (their sources, tags and links go with them) and these
        renditions (with every upload row of theirs), in one transaction."""
        with self.writing() as conn:
            for chunk in _chunks(renditions):
                ids = select(Rendition.id).where(Rendition.sha256.in_(chunk))
                conn.execute(delete(Upload).where(Upload.rendition_id.in_(ids)))
            for chunk in _chunks(shas):
                conn.execute(delete(Asset).where(Asset.sha256.in_(chunk)))
            for chunk in _chunks(renditions):
                used = select(AssetRendition.rendition_id).where(
                    AssetRendition.rendition_id == Rendition.id
                )
                kept = select(NearLink.own_rendition_id).where(
                    NearLink.own_rendition_id == Rendition.id
                )
                unused = ~used.exists() & ~kept.exists()
                conn.execute(delete(Rendition).where(Rendition.sha256.in_(chunk), unused))

    # -- export and import ---------------------------------------------------------------

    def known_remotes(self) -> list[tuple[int, str, str]]:
        """(id, base URL, workspace id) of every remote whose workspace is known."""
        query = (
            select(Remote.id, Remote.base_url, Remote.workspace_id)
            .where(Remote.workspace_id.is_not(None))
            .order_by(Remote.id)
        )
        with self.reading() as conn:
            return [tuple(r) for r in conn.execute(query)]

    def remote_of(self, remote_id: int) -> tuple[str, str | None]:
        with self.reading() as conn:
            row = conn.execute(
                select(Remote.base_url, Remote.workspace_id).where(Remote.id == remote_id)
            ).one()
        return row[0], row[1]

    def export_uploads(self) -> Iterator[dict[str, Any]]:
        """The active uploads of remotes whose workspace is known, as ``transfer`` writes
        them, 500 at a time."""
        query = (
            select(
                Upload.id,
                Rendition.sha256,
                Remote.base_url,
                Remote.workspace_id,
                Upload.file_id,
                Upload.filename,
                Upload.size_bytes,
                Upload.created_at,
                Upload.expires_at,
                Upload.expires_in_seconds,
            )  # fmt: skip
            .join(Rendition, Rendition.id == Upload.rendition_id)
            .join(Remote, Remote.id == Upload.remote_id)
            .where(Upload.state == UploadState.ACTIVE.value, Remote.workspace_id.is_not(None))
            .order_by(Upload.id)
            .limit(CHUNK)
        )
        names = ("rendition", "base_url", "workspace_id", "file_id", "filename", "size_bytes",
                 "created_at", "expires_at", "expires_in_seconds")  # fmt: skip
        after = 0
        while True:
            with self.reading() as conn:
                rows = conn.execute(query.where(Upload.id > after)).all()
            if not rows:
                return
            yield from (dict(zip(names, row[1:])) for row in rows)
            after = rows[-1][0]

    def import_batch(self, batch: IngestBatch) -> tuple[int, int]:
        """``record`` a batch read from an export; (new assets, new renditions)."""
        assets = [a["sha256"] for a in batch.assets]
        renditions = [r["sha256"] for r in batch.renditions]
        known_assets, known_renditions = self.existing(assets), self.known_renditions(renditions)
        self.record(batch)
        return (len(set(assets) - known_assets), len(set(renditions) - known_renditions))

    def import_tags(self, pairs: Sequence[tuple[str, str]]) -> int:
        """Put tags on assets ((asset sha256, name) pairs); how many were new."""
        now = utcnow()
        with self.writing() as conn:
            ids = _ids_by_sha(conn, Asset, {sha for sha, _ in pairs})
            rows = [{"asset_id": ids[sha], "name": name, "created_at": now} for sha, name in pairs]
            before = conn.execute(select(func.count()).select_from(Tag.__table__)).scalar()
            _insert_ignore(conn, Tag.__table__, rows)
            return conn.execute(select(func.count()).select_from(Tag.__table__)).scalar() - before

    def import_sources(self, rows: Sequence[tuple[str, str, int, int]]) -> None:
        """Source paths read from an export ((path, asset sha256, size, mtime_ns)); a path
        this catalogue knows already keeps what it knows."""
        now = utcnow()
        with self.writing() as conn:
            ids = _ids_by_sha(conn, Asset, {sha for _, sha, _, _ in rows})
            _insert_ignore(conn, Source.__table__, [
                {"path": shown(path), "path_bytes": exact_bytes(path), "asset_id": ids[sha],
                 "size_bytes": size, "mtime_ns": mtime, "inode": None, "first_seen_at": now,
                 "last_seen_at": now}
                for path, sha, size, mtime in rows
            ])  # fmt: skip

    def import_uploads(self, uploads: Sequence[tuple[int, dict]]) -> tuple[int, list[Clash]]:
        """Uploads read from an export ((remote id, fields)): each is added, as ``imported``
        and not yet verified, where its rendition has no live upload in that remote; one
        whose file the catalogue has already changes nothing; one that clashes with another
        live file id is returned to be settled. Returns (added, clashes)."""
        added, clashes = 0, []
        with self.writing() as conn:
            renditions = _ids_by_sha(conn, Rendition, {u["rendition"] for _, u in uploads})
            for remote_id, u in uploads:
                rendition_id = renditions[u["rendition"]]
                live = conn.execute(
                    select(Upload.id, Upload.file_id).where(
                        Upload.remote_id == remote_id,
                        Upload.rendition_id == rendition_id,
                        Upload.state.in_(LIVE_STATES),
                    )
                ).first()
                if live is not None and live.file_id != u["file_id"]:
                    clashes.append(Clash(remote_id, live.id, u["rendition"], live.file_id or "",
                                         u["file_id"], rendition_id, u))  # fmt: skip
                    continue
                if live is None:
                    added += _insert_upload(conn, remote_id, rendition_id, u)
        return added, clashes

    def replace_upload(self, clash: Clash, alive) -> None:
        """Settle a clash for the imported upload: the catalogue's one is dead."""
        with self.writing() as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == clash.upload_id, Upload.state.in_(LIVE_STATES))
                .values(state=UploadState.MISSING.value, lease_owner=None, lease_expires_at=None)
            )
            _insert_upload(conn, clash.remote_id, clash.rendition_id,
                           {**clash.fields, "expires_at": alive.expires_at})  # fmt: skip

    def all_sources(self) -> list[tuple[str, str]]:
        """(asset sha256, path as ``os`` functions take it) of every source, by path."""
        query = (
            select(Asset.sha256, Source.path, Source.path_bytes)
            .join(Asset, Asset.id == Source.asset_id)
            .order_by(Source.path)
        )
        with self.reading() as conn:
            return [(sha, real(path, raw)) for sha, path, raw in conn.execute(query)]

    def forget_sources(self, paths: Sequence[str]) -> int:
        """Forget these source paths (as ``os`` functions take them); how many were known."""
        gone = 0
        with self.writing() as conn:
            for chunk in _chunks([shown(p) for p in paths]):
                gone += conn.execute(delete(Source).where(Source.path.in_(chunk))).rowcount
        return gone

    def existing(self, shas: Sequence[str]) -> set[str]:
        """Which of these full sha256s are catalogued."""
        found: set[str] = set()
        with self.reading() as conn:
            for chunk in _chunks(list(shas)):
                found.update(
                    conn.execute(select(Asset.sha256).where(Asset.sha256.in_(chunk))).scalars()
                )
        return found

    # -- references --------------------------------------------------------

    def resolve(self, reference: str | Reference) -> str:
        """The sha256 of the one asset ``reference`` names, by the rule in ``references``."""
        ref = parse(reference) if isinstance(reference, str) else reference
        if ref.file_id is not None:
            return ref.owner(self.file_holders(ref.file_id))
        high = ref.digits + "g"  # 'g' sorts after every hex digit: a range an index can serve
        with self.reading() as conn:
            shas = list(
                conn.execute(
                    select(Asset.sha256)
                    .where(Asset.sha256 >= ref.digits, Asset.sha256 < high)
                    .limit(50)
                ).scalars()
            )
        return ref.pick(shas)

    def file_holders(self, file_id: str) -> list[tuple[str, bool]]:
        """(sha256, borrows) of each asset whose rendition the upload ``file_id`` holds (in
        any state and remote); ``borrows``: the asset uses it as its best copy's rendition."""
        borrowed = (NearLink.asset_id == AssetRendition.asset_id) & (
            NearLink.policy == AssetRendition.policy
        )
        query = (
            select(Asset.sha256, NearLink.asset_id.is_not(None))
            .select_from(Upload)
            .join(AssetRendition, AssetRendition.rendition_id == Upload.rendition_id)
            .join(Asset, Asset.id == AssetRendition.asset_id)
            .join(NearLink, borrowed, isouter=True)
            .where(Upload.file_id == file_id)
            .distinct()
        )
        with self.reading() as conn:
            return [(sha, bool(borrows)) for sha, borrows in conn.execute(query)]

    # -- reading assets ----------------------------------------------------

    def shas(self, tag: str | None = None) -> list[str]:
        """Every catalogued sha256 (with ``tag``, those carrying it), oldest first."""
        query = select(Asset.sha256).order_by(Asset.id)
        if tag is not None:
            query = query.join(Tag, Tag.asset_id == Asset.id).where(Tag.name == tag)
        with self.reading() as conn:
            return list(conn.execute(query).scalars())

    def fingerprinted(self) -> tuple[list[FingerprintRow], list[str]]:
        """Every asset's fingerprint under today's ``phash`` rule, oldest asset first, and the
        sha256s of the assets that have none yet (or one under an older rule)."""
        from .phash import ALGORITHM, VERSION

        current = (PerceptualHash.asset_id == Asset.id) & (PerceptualHash.algorithm == ALGORITHM)
        current = current & (PerceptualHash.version == VERSION)
        query = (
            select(Asset.sha256, Asset.format, Asset.width, Asset.height, Asset.orientation,
                   PerceptualHash.hash, PerceptualHash.thumb, PerceptualHash.spread)
            .join(PerceptualHash, current, isouter=True)
            .order_by(Asset.id)
        )  # fmt: skip
        rows: list[FingerprintRow] = []
        missing: list[str] = []
        with self.reading() as conn:
            for sha, format, width, height, orientation, hash_hex, thumb, spread in conn.execute(
                query
            ):
                if hash_hex is None:
                    missing.append(sha)
                    continue
                if orientation in (5, 6, 7, 8):
                    width, height = height, width
                fp = Fingerprint.from_row(hash_hex, thumb, spread)
                rows.append(FingerprintRow(sha, format, width, height, fp))
        return rows, missing

    def record_fingerprints(self, pairs: Sequence[tuple[str, Fingerprint]]) -> None:
        """Keep these assets' fingerprints (asset sha256, fingerprint), replacing older ones."""

        def write(conn: Connection) -> None:
            ids = _ids_by_sha(conn, Asset, {sha for sha, _ in pairs})
            rows = [(ids[sha], f) for sha, f in pairs if sha in ids]
            _insert_fingerprints(conn, rows, utcnow())

        if pairs:
            self.transaction(write)

    def decide(self, sha: str, other: str, decision: str) -> None:
        """Keep a decision (``same`` or ``different``) about two catalogued assets."""

        def write(conn: Connection) -> None:
            ids = _ids_by_sha(conn, Asset, {sha, other})
            low, high = sorted((ids[sha], ids[other]))
            stmt = _dialect_insert(conn, NearDecision.__table__)
            stmt = stmt.on_conflict_do_update(
                index_elements=["asset_id", "other_id"],
                set_={"decision": stmt.excluded.decision, "created_at": stmt.excluded.created_at},
            )
            conn.execute(stmt, [{"asset_id": low, "other_id": high, "decision": decision,
                                 "created_at": utcnow()}])  # fmt: skip

        self.transaction(write)

    def decisions(self) -> dict[frozenset[str], str]:
        """{the two assets' sha256s: ``same`` or ``different``} of every decision kept."""
        other = Asset.__table__.alias("other")
        query = (
            select(Asset.sha256, other.c.sha256, NearDecision.decision)
            .join(Asset, Asset.id == NearDecision.asset_id)
            .join(other, other.c.id == NearDecision.other_id)
        )
        with self.reading() as conn:
            return {frozenset((a, b)): decision for a, b, decision in conn.execute(query)}

    def several_paths(self) -> list[tuple[str, list[str]]]:
        """(asset sha256, its paths in path order) of every asset seen at more than one path,
        oldest asset first: exact duplicates."""
        counted = (
            select(Source.asset_id).group_by(Source.asset_id).having(func.count() > 1).subquery()
        )
        query = (
            select(Asset.sha256, Source.path, Source.path_bytes)
            .join(Source, Source.asset_id == Asset.id)
            .where(Asset.id.in_(select(counted.c.asset_id)))
            .order_by(Asset.id, Source.path)
        )
        found: dict[str, list[str]] = {}
        with self.reading() as conn:
            for sha, path, path_bytes in conn.execute(query):
                found.setdefault(sha, []).append(real(path, path_bytes))
        return list(found.items())

    def records(self, shas: Sequence[str]) -> list[AssetRecord]:
        """Full records of ``shas``, in the order given."""
        with self.reading() as conn:
            assets: dict[int, AssetRecord] = {}
            order: dict[str, int] = {}
            for chunk in _chunks(shas):
                for row in conn.execute(select(Asset.__table__).where(Asset.sha256.in_(chunk))):
                    assets[row.id] = _asset_record(row)
                    order[row.sha256] = row.id
            _attach_details(conn, assets)
        return [assets[order[s]] for s in shas if s in order]

    def iter_records(self, query: AssetQuery | None = None) -> Iterator[AssetRecord]:
        """Full records of the assets ``query`` takes (default: every one, oldest first), read
        500 at a time as they are taken: five queries a chunk, and one chunk in memory."""

        def records(conn: Connection, rows: list) -> Iterable[AssetRecord]:
            assets = {row.id: _asset_record(row) for row in rows}
            _attach_details(conn, assets)
            return assets.values()

        return self._pages(select(Asset.__table__), query or AssetQuery(), records)

    def asset_rows(self, query: AssetQuery | None = None) -> Iterator[AssetRow]:
        """``AssetRow``s of the assets ``query`` takes (default: every one, oldest first),
        read 500 at a time as they are taken: three queries a chunk."""
        columns = (Asset.id, Asset.sha256, Asset.format, Asset.width, Asset.height,
                   Asset.size_bytes, Asset.created_at)  # fmt: skip
        return self._pages(select(*columns), query or AssetQuery(), _asset_rows)

    def _pages(
        self, query, wanted: AssetQuery, fill: Callable[[Connection, list], Iterable[T]]
    ) -> Iterator[T]:
        """``fill(conn, rows)`` of the rows of ``query`` (over ``assets``) that ``wanted``
        takes, in its order, 500 at a time, on the connection they were read on. Pages follow
        one another by the sort key and id (keyset), not by offset, so each costs the same;
        each is filled on its own connection, closed before the caller takes its items."""
        key = _SORT_KEYS[wanted.sort]
        query = query.add_columns(key.label("sort_key")).where(*_filters(wanted))
        order = (key.desc(), Asset.id.desc()) if wanted.reverse else (key, Asset.id)
        query = query.order_by(*order).limit(CHUNK)
        left = wanted.limit
        after = None
        while left is None or left > 0:
            page = query
            if after is not None:
                later = tuple_(key, Asset.id)
                page = query.where(later < after if wanted.reverse else later > after)
            with self.reading() as conn:
                rows = conn.execute(page).all()
                if left is not None:
                    rows = rows[:left]
                    left -= len(rows)
                if not rows:
                    return
                items = fill(conn, rows)
            yield from items
            after = tuple_(rows[-1].sort_key, rows[-1].id)

    def totals(self) -> tuple[int, int, list[tuple[str, int, int, int]]]:
        """(assets, asset bytes, [(policy, assets, distinct renditions, bytes)])."""
        per_policy = (
            select(
                AssetRendition.policy,
                func.count(),
                func.count(func.distinct(Rendition.id)),
                func.coalesce(func.sum(Rendition.size_bytes), 0),
            )
            .join(Rendition, Rendition.id == AssetRendition.rendition_id)
            .group_by(AssetRendition.policy)
            .order_by(AssetRendition.policy)
        )
        with self.reading() as conn:
            assets, size = conn.execute(
                select(func.count(), func.coalesce(func.sum(Asset.size_bytes), 0))
            ).one()
            return assets, size, [tuple(row) for row in conn.execute(per_policy)]

    def shapes(self) -> list[tuple[str, int, int, int]]:
        """(policy, width, height, assets) for each shape of rendition under each policy: what
        any token figure follows from (``limits.served_tokens``), one row per shape."""
        query = (
            select(AssetRendition.policy, Rendition.width, Rendition.height, func.count())
            .join(Rendition, Rendition.id == AssetRendition.rendition_id)
            .group_by(AssetRendition.policy, Rendition.width, Rendition.height)
        )
        with self.reading() as conn:
            return [tuple(row) for row in conn.execute(query)]

    # -- near-duplicates that reuse their best copy's rendition -----------------------------

    def link_near(self, pairs: Sequence[tuple[str, str, int]]) -> list[str]:
        """Point each asset of ``pairs`` (asset sha256, its best copy's sha256, distance) at
        the best copy's rendition under every policy both have a rendition under, keeping
        its own rendition and warnings in ``near_links``; in one transaction. A best copy
        that uses another's rendition passes it on (no chains), and the assets that used the
        asset's own follow it. The sha256s of the assets linked now (under some policy)."""

        def write(conn: Connection) -> list[str]:
            ids = _ids_by_sha(conn, Asset, {sha for pair in pairs for sha in pair[:2]})
            now = utcnow()
            return [a for a, b, d in pairs if _link(conn, ids[a], ids[b], d, now)]

        return self.transaction(write) if pairs else []

    def unlink_near(self, shas: Sequence[str]) -> list[str]:
        """Give these assets their own renditions back and forget their links, in one
        transaction; the sha256s of those that were linked."""

        def write(conn: Connection) -> list[str]:
            ids = _ids_by_sha(conn, Asset, set(shas))
            by_id = {id_: sha for sha, id_ in ids.items()}
            restored: set[str] = set()
            for chunk in _chunks(sorted(by_id)):
                rows = conn.execute(
                    select(NearLink.asset_id, NearLink.policy, NearLink.own_rendition_id,
                           NearLink.own_warnings).where(NearLink.asset_id.in_(chunk))
                ).all()  # fmt: skip
                for asset_id, policy, own, warnings in rows:
                    _point(conn, [asset_id], policy, own, warnings)
                    restored.add(by_id[asset_id])
                conn.execute(delete(NearLink).where(NearLink.asset_id.in_(chunk)))
            return sorted(restored)

        return self.transaction(write)

    def near_links(self, shas: Sequence[str] | None = None) -> dict[str, list[ReuseRecord]]:
        """asset sha256 -> its links (``ReuseRecord``, by policy), of these assets (None:
        every linked asset)."""
        with self.reading() as conn:
            if shas is None:
                return _links(conn, None)
            found: dict[str, list[ReuseRecord]] = {}
            for chunk in _chunks(list(shas)):
                ids = select(Asset.id).where(Asset.sha256.in_(chunk))
                found.update(_links(conn, ids))
            return found

    # -- tags --------------------------------------------------------------

    def add_tags(self, shas: Sequence[str], names: Sequence[str]) -> None:
        now = utcnow()
        with self.writing() as conn:
            ids = _ids_by_sha(conn, Asset, set(shas))
            rows = [{"asset_id": ids[s], "name": n, "created_at": now} for s in shas for n in names]
            _insert_ignore(conn, Tag.__table__, _in_key_order(rows, "asset_id", "name"))

    def remove_tags(self, shas: Sequence[str], names: Sequence[str]) -> None:
        with self.writing() as conn:
            ids = list(_ids_by_sha(conn, Asset, set(shas)).values())
            conn.execute(delete(Tag).where(Tag.asset_id.in_(ids), Tag.name.in_(list(names))))

    def tag_counts(self) -> list[tuple[str, int]]:
        with self.reading() as conn:
            query = select(Tag.name, func.count()).group_by(Tag.name).order_by(Tag.name)
            return [(name, count) for name, count in conn.execute(query)]


def _record(conn: Connection, batch: IngestBatch, now: datetime) -> None:
    _insert_ignore(conn, Asset.__table__, [{**a, "created_at": now} for a in batch.assets])
    _insert_ignore(conn, Rendition.__table__, [{**r, "created_at": now} for r in batch.renditions])
    asset_ids = _ids_by_sha(
        conn, Asset, {a for a, *_ in batch.links} | {s[1] for s in batch.sources}
    )
    rendition_ids = _ids_by_sha(conn, Rendition, {r for _, _, r, _ in batch.links})
    links = [
        {
            "asset_id": asset_ids[a],
            "policy": p,
            "rendition_id": rendition_ids[r],
            "warnings": json.dumps(w),
            "created_at": now,
        }
        for a, p, r, w in batch.links
    ]
    _insert_ignore(conn, AssetRendition.__table__, _in_key_order(links, "asset_id", "policy"))
    _upsert_sources(
        conn,
        [
            {
                "path": shown(path),
                "path_bytes": exact_bytes(path),
                "asset_id": asset_ids[sha],
                "size_bytes": size,
                "mtime_ns": mtime,
                "inode": inode,
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for path, sha, size, mtime, inode in batch.sources
        ],
    )
    _record_rejections(conn, batch, now)
    _insert_fingerprints(conn, [(asset_ids[a], f) for a, f in batch.fingerprints], now)


def _link(conn: Connection, asset_id: int, best_id: int, distance: int, now) -> bool:
    """``link_near`` of one asset; whether it was linked under some policy now."""
    mine, theirs = _uses(conn, asset_id), _uses(conn, best_id)
    query = select(NearLink.policy, NearLink.best_id).where(NearLink.asset_id == best_id)
    best_of_best = {policy: best for policy, best in conn.execute(query)}
    linked_under = set(
        conn.execute(select(NearLink.policy).where(NearLink.asset_id == asset_id)).scalars()
    )
    linked = False
    for policy, (rendition_id, warnings) in sorted(theirs.items()):
        target = best_of_best.get(policy) or best_id
        if policy not in mine or target == asset_id or mine[policy][0] == rendition_id:
            continue  # no rendition of its own here, a cycle, or the same bytes already
        if policy in linked_under:  # its own is kept already: only the best copy changes
            conn.execute(
                update(NearLink)
                .where(NearLink.asset_id == asset_id, NearLink.policy == policy)
                .values(best_id=target, distance=distance)
            )
        else:
            own, own_warnings = mine[policy]
            conn.execute(NearLink.__table__.insert().values(
                asset_id=asset_id, policy=policy, best_id=target, own_rendition_id=own,
                own_warnings=own_warnings, distance=distance, created_at=now))  # fmt: skip
        followers = select(NearLink.asset_id).where(
            NearLink.best_id == asset_id, NearLink.policy == policy
        )
        _point(conn, [asset_id, *conn.execute(followers).scalars()], policy, rendition_id, warnings)
        conn.execute(
            update(NearLink)
            .where(NearLink.best_id == asset_id, NearLink.policy == policy)
            .values(best_id=target)
        )
        linked = True
    return linked


def _uses(conn: Connection, asset_id: int) -> dict[str, tuple[int, str]]:
    """policy -> (rendition id, warnings) an asset uses now."""
    query = select(AssetRendition.policy, AssetRendition.rendition_id, AssetRendition.warnings)
    rows = conn.execute(query.where(AssetRendition.asset_id == asset_id))
    return {policy: (rendition_id, warnings) for policy, rendition_id, warnings in rows}


def _point(conn: Connection, asset_ids: list[int], policy: str, rendition_id: int, warnings):
    """These assets use ``rendition_id`` under ``policy`` (with its ``warnings``, JSON)."""
    conn.execute(
        update(AssetRendition)
        .where(AssetRendition.asset_id.in_(asset_ids), AssetRendition.policy == policy)
        .values(rendition_id=rendition_id, warnings=warnings)
    )


def _links(conn: Connection, ids) -> dict[str, list[ReuseRecord]]:
    """The ``near_links`` of the assets whose ids ``ids`` selects (None: all), by sha256."""
    best = Asset.__table__.alias("best")
    query = (
        select(Asset.sha256, NearLink.policy, best.c.sha256, NearLink.distance, Rendition.sha256)
        .join(Asset, Asset.id == NearLink.asset_id)
        .join(best, best.c.id == NearLink.best_id, isouter=True)
        .join(Rendition, Rendition.id == NearLink.own_rendition_id)
        .order_by(NearLink.asset_id, NearLink.policy)
    )
    if ids is not None:
        query = query.where(NearLink.asset_id.in_(ids))
    found: dict[str, list[ReuseRecord]] = {}
    for sha, policy, best_sha, distance, own in conn.execute(query):
        found.setdefault(sha, []).append(ReuseRecord(policy, best_sha, distance, own))
    return found


def _insert_fingerprints(conn: Connection, rows: list[tuple[int, Fingerprint]], now) -> None:
    from .phash import ALGORITHM, VERSION

    values = [
        {"asset_id": asset_id, "algorithm": ALGORITHM, "version": VERSION, "hash": f.hex(),
         "thumb": f.thumb.hex(), "spread": f.spread, "created_at": now}
        for asset_id, f in rows
    ]  # fmt: skip
    if not values:
        return
    stmt = _dialect_insert(conn, PerceptualHash.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=["asset_id", "algorithm"],
        set_={k: stmt.excluded[k] for k in ("version", "hash", "thumb", "spread", "created_at")},
    )
    conn.execute(stmt, _in_key_order(values, "asset_id"))


@dataclass
class IngestBatch:
    """Rows for ``Catalogue.record``: plain tuples and dicts, built off the database."""

    assets: list[dict[str, Any]]
    renditions: list[dict[str, Any]]
    links: list[tuple[str, str, str, list[str]]]  # (asset sha, policy, rendition sha, warnings)
    sources: list[tuple[str, str, int, int, int]]  # (path, asset sha, size, mtime_ns, inode)
    # (path, size, mtime_ns, inode, rules, reason, sha256): rejections to remember
    rejections: list[tuple[str, int, int, int, str, str, str | None]]
    accepted_paths: list[str]  # paths that held a rejected file before: forget it
    rejected_paths: list[str]  # paths that held an asset before: it is not there any more
    fingerprints: list[tuple[str, Fingerprint]] = field(default_factory=list)  # (asset sha, ...)

    @classmethod
    def new(cls) -> IngestBatch:
        return cls([], [], [], [], [], [], [])

    @property
    def empty(self) -> bool:
        return not (
            self.assets or self.sources or self.rejections or self.accepted_paths
            or self.rejected_paths
        )  # fmt: skip


class FingerprintRow(NamedTuple):
    """An asset's facts that near-duplicate search needs: upright width and height."""

    sha256: str
    format: str
    width: int
    height: int
    fingerprint: Fingerprint


class Clash(NamedTuple):
    """An imported upload whose rendition is live under another file id in that remote."""

    remote_id: int
    upload_id: int  # the catalogue's live row
    rendition_sha256: str
    kept: str  # the catalogue's file id
    other: str  # the imported one
    rendition_id: int
    fields: dict


def _insert_upload(conn: Connection, remote_id: int, rendition_id: int, u: dict) -> int:
    row = {
        "rendition_id": rendition_id, "remote_id": remote_id, "file_id": u["file_id"],
        "filename": u["filename"], "size_bytes": u["size_bytes"], "state": "active",
        "created_at": u["created_at"], "expires_at": u["expires_at"],
        "expires_in_seconds": u["expires_in_seconds"], "origin": "imported",
        "last_verified_at": None,
    }  # fmt: skip
    row["created_at"] = row["created_at"] or utcnow()
    insert = _dialect_insert(conn, Upload.__table__).values(**row).on_conflict_do_nothing()
    return conn.execute(insert).rowcount


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    items = list(items)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


_COMPILED: dict[tuple, tuple[str, Any, dict]] = {}  # (dialect, shape) -> SQL, names, defaults


def _fetch_plain(conn: Connection, statement, shape=None, values=None) -> list[tuple]:
    """Rows as the driver returns them: only for columns that need no type conversion.
    ``shape`` names a statement whose SQL is the same every time (its values apart): it is
    compiled once per process. ``values`` fill its bound parameters."""
    key = (conn.dialect.name, shape)
    found = _COMPILED.get(key) if shape else None
    if found is None:
        statement = statement.params(**values) if values else statement
        kwargs = {} if shape else {"render_postcompile": True}  # IN lists: rendered in place
        compiled = statement.compile(dialect=conn.dialect, compile_kwargs=kwargs)
        names = compiled.positiontup if compiled.positional else None
        found = (str(compiled), names, compiled.construct_params())
        if shape:
            _COMPILED[key] = found
    sql, names, defaults = found
    params = {**defaults, **(values or {})}
    args = [params[name] for name in names] if names is not None else params
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, args)
        return cursor.fetchall()
    finally:
        cursor.close()


def _dialect_insert(conn: Connection, table: Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(_dialect_insert(conn, table).on_conflict_do_nothing(), rows)


def _in_key_order(rows: list[dict[str, Any]], *key: str) -> list[dict[str, Any]]:
    """``rows`` sorted by ``key``: every process writes rows of a table in this one order."""
    return sorted(rows, key=lambda row: tuple(row[k] for k in key))


def _upsert_sources(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    rows = _in_key_order(rows, "path")
    stmt = _dialect_insert(conn, Source.__table__)
    keep = ("asset_id", "path_bytes", "size_bytes", "mtime_ns", "inode", "last_seen_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["path"], set_={k: stmt.excluded[k] for k in keep}
    )
    conn.execute(stmt, rows)


def _record_rejections(conn: Connection, batch: IngestBatch, now: datetime) -> None:
    """Remember lasting rejections; forget rejections and sources a path no longer holds."""
    cleared = [shown(p) for p in batch.accepted_paths]
    gone = [shown(p) for p in batch.rejected_paths]
    for chunk in _chunks(cleared):
        conn.execute(delete(Rejection).where(Rejection.path.in_(chunk)))
    for chunk in _chunks(gone):
        conn.execute(delete(Source).where(Source.path.in_(chunk)))
    if not batch.rejections:
        return
    rows = [
        {"path": shown(path), "path_bytes": exact_bytes(path), "size_bytes": size,
         "mtime_ns": mtime, "inode": inode, "rules": rules, "reason": reason, "sha256": sha,
         "rejected_at": now}
        for path, size, mtime, inode, rules, reason, sha in batch.rejections
    ]  # fmt: skip
    rows = _in_key_order(rows, "path")
    stmt = _dialect_insert(conn, Rejection.__table__)
    keep = ("path_bytes", "size_bytes", "mtime_ns", "inode", "rules", "reason", "sha256")
    stmt = stmt.on_conflict_do_update(
        index_elements=["path"], set_={k: stmt.excluded[k] for k in (*keep, "rejected_at")}
    )
    conn.execute(stmt, rows)


def _ids_by_sha(conn: Connection, model: Columns, shas: set[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for chunk in _chunks(sorted(shas)):
        rows = conn.execute(select(model.sha256, model.id).where(model.sha256.in_(chunk)))
        ids.update((sha, id_) for sha, id_ in rows)
    return ids


_SORT_KEYS = {
    "added": Asset.id, "bytes": Asset.size_bytes, "pixels": Asset.width * Asset.height,
    "width": Asset.width, "height": Asset.height, "format": Asset.format, "sha256": Asset.sha256,
}  # fmt: skip


def _filters(wanted: AssetQuery) -> list:
    """The conditions on ``assets`` of ``wanted``'s filters."""
    found = []
    if wanted.tag is not None:
        # Each asset tested for the tag (the tags' primary key): a join would read every
        # asset with the tag for every page, through the index on names.
        found.append(select(Tag.asset_id).where(Tag.asset_id == Asset.id,
                                                Tag.name == wanted.tag).exists())  # fmt: skip
    if wanted.policy is not None:
        found.append(select(AssetRendition.asset_id).where(
            AssetRendition.asset_id == Asset.id, AssetRendition.policy == wanted.policy).exists())  # fmt: skip
    if wanted.formats:
        found.append(Asset.format.in_([f.upper() for f in wanted.formats]))
    if wanted.min_bytes is not None:
        found.append(Asset.size_bytes >= wanted.min_bytes)
    if wanted.max_bytes is not None:
        found.append(Asset.size_bytes <= wanted.max_bytes)
    if wanted.since is not None:
        found.append(Asset.created_at >= wanted.since)
    if wanted.until is not None:
        found.append(Asset.created_at < wanted.until)
    return found


def _asset_rows(conn: Connection, rows: list) -> list[AssetRow]:
    """``AssetRow``s of asset rows (id, sha256, format, width, height, bytes, catalogued):
    their first source path and their tags, in two queries."""
    ids = [row[0] for row in rows]
    paths: dict[int, str] = {}
    query = (
        select(Source.asset_id, Source.path, Source.path_bytes)
        .where(Source.asset_id.in_(ids))
        .order_by(Source.path)
    )
    for asset_id, path, path_bytes in conn.execute(query):
        paths.setdefault(asset_id, real(path, path_bytes))
    tags: dict[int, list[str]] = defaultdict(list)
    query = select(Tag.asset_id, Tag.name).where(Tag.asset_id.in_(ids)).order_by(Tag.name)
    for asset_id, name in conn.execute(query):
        tags[asset_id].append(name)
    return [AssetRow(sha, format, width, height, size, tuple(tags.get(id_, ())), paths.get(id_),
                     added)
            for id_, sha, format, width, height, size, added, *_ in rows]  # fmt: skip


def _asset_record(row: Any) -> AssetRecord:
    return AssetRecord(
        sha256=row.sha256,
        format=row.format,
        media_type=row.media_type,
        width=row.width,
        height=row.height,
        mode=row.mode,
        frames=row.frames,
        orientation=row.orientation,
        size_bytes=row.size_bytes,
        created_at=row.created_at,
    )


def _attach_details(conn: Connection, assets: dict[int, AssetRecord]) -> None:
    """Fill renditions (with their links: ``reuses``), uploads, sources and tags of
    ``assets``: four queries a chunk."""
    renditions = Rendition.__table__
    best, own = Asset.__table__.alias("best"), renditions.alias("own")
    linked = (NearLink.asset_id == AssetRendition.asset_id) & (
        NearLink.policy == AssetRendition.policy
    )
    for chunk in _chunks(list(assets)):
        query = (
            select(
                AssetRendition.asset_id, AssetRendition.policy, AssetRendition.warnings, renditions,
                NearLink.distance.label("link_distance"), NearLink.own_rendition_id,
                best.c.sha256.label("best_sha256"), own.c.sha256.label("own_sha256"),
            )
            .join(renditions, renditions.c.id == AssetRendition.rendition_id)
            .outerjoin(NearLink, linked)
            .outerjoin(best, best.c.id == NearLink.best_id)
            .outerjoin(own, own.c.id == NearLink.own_rendition_id)
            .where(AssetRendition.asset_id.in_(chunk))
            .order_by(AssetRendition.asset_id, AssetRendition.policy)
        )  # fmt: skip
        by_rendition: dict[int, list[int]] = defaultdict(list)
        for r in conn.execute(query):
            if r.own_rendition_id is not None:
                assets[r.asset_id].reuses.append(
                    ReuseRecord(r.policy, r.best_sha256, r.link_distance, r.own_sha256)
                )
            assets[r.asset_id].renditions.append(
                RenditionRecord(
                    r.policy,
                    r.sha256,
                    r.media_type,
                    r.width,
                    r.height,
                    r.size_bytes,
                    r.tokens,
                    json.loads(r.warnings),
                )
            )
            by_rendition[r.id].append(r.asset_id)
        _attach_uploads(conn, assets, by_rendition)
        query = select(Source.__table__).where(Source.asset_id.in_(chunk)).order_by(Source.path)
        for s in conn.execute(query):
            assets[s.asset_id].sources.append(
                SourceRecord(real(s.path, s.path_bytes), s.size_bytes, s.mtime_ns, s.last_seen_at)
            )
        query = select(Tag.asset_id, Tag.name).where(Tag.asset_id.in_(chunk)).order_by(Tag.name)
        for asset_id, name in conn.execute(query):
            assets[asset_id].tags.append(name)


def _attach_uploads(
    conn: Connection, assets: dict[int, AssetRecord], by_rendition: dict[int, list[int]]
) -> None:
    if not by_rendition:
        return
    query = (
        select(
            Upload.__table__,
            Rendition.sha256.label("rendition_sha256"),
            Remote.base_url,
            Remote.workspace_id.label("workspace"),
        )
        .join(Rendition, Rendition.id == Upload.rendition_id)
        .join(Remote, Remote.id == Upload.remote_id)
        .where(Upload.rendition_id.in_(list(by_rendition)))
        .order_by(Upload.id)
    )
    rows = conn.execute(query).all()
    labels: dict[int, list[str]] = defaultdict(list)
    named = select(WorkspaceLabel.remote_id, WorkspaceLabel.name).order_by(WorkspaceLabel.name)
    for remote_id, name in conn.execute(
        named.where(WorkspaceLabel.remote_id.in_({u.remote_id for u in rows}))
    ):
        labels[remote_id].append(name)
    for u in rows:
        record = UploadRecord(
            u.rendition_sha256,
            u.base_url,
            u.workspace,
            labels.get(u.remote_id, []),
            u.file_id,
            u.filename,
            u.state,
            u.created_at,
            u.expires_at,
            u.last_verified_at,
            u.error,
            u.origin,
        )
        for asset_id in by_rendition[u.rendition_id]:
            assets[asset_id].uploads.append(record)
