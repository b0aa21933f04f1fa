"""Engines for catalogue URLs, and migration to head on open.

SQLite gets WAL, foreign keys and a busy timeout on every connection, so that
several processes can share one catalogue file. Write transactions on SQLite
start with ``BEGIN IMMEDIATE`` (ask for ``execution_options(write=True)``): a
deferred transaction that later wants to write can fail at once with "database
is locked" instead of waiting.

Alembic is imported only when the catalogue is not at the head revision, which
``schema_version`` reads from the migration file names.
"""

from __future__ import annotations

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from . import schema_version
from .errors import CatalogueError
from .schema_version import migrations_dir

BUSY_TIMEOUT_MS = 30_000


def head_revision() -> str:
    head = schema_version.head_revision()
    if head is None:
        raise CatalogueError(f"no migrations found in {migrations_dir()}; reinstall assetmgr")
    return head


def make_engine(url: str) -> Engine:
    """An engine for ``url``, with the SQLite settings above where they apply."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection):
        immediate = conn.get_execution_options().get("write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_wal(cursor) -> None:
    """Switch to WAL once (it is stored in the file). Switching takes a lock the busy timeout
    does not wait for, so two processes creating one catalogue retry here instead."""
    import sqlite3
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def current_revision(conn: Connection) -> str | None:
    """The catalogue's schema revision; None for a new (empty) catalogue."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def open_engine(url: str) -> Engine:
    """Open the catalogue at ``url`` and bring it to the head revision."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            due = current_revision(conn) != head_revision()
        if due:
            upgrade(engine)
    except SQLAlchemyError as e:
        engine.dispose()
        raise CatalogueError(f"cannot open catalogue {engine.url!r}: {_short(e)}") from e
    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations on ``engine`` up to ``revision``, in one transaction."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    with engine.connect().execution_options(write=True) as conn:
        with conn.begin():
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)


def _short(error: SQLAlchemyError) -> str:
    return str(getattr(error, "orig", None) or error).splitlines()[0]
