"""Engines for catalogue URLs, migration to head on open, and database errors in words.

SQLite gets foreign keys and a busy timeout on every connection, and WAL once the file is
known to be a catalogue, so that several processes can share one catalogue file. Write
transactions on SQLite start with ``BEGIN IMMEDIATE`` (ask for
``execution_options(write=True)``): a deferred transaction that later wants to write can
fail at once with "database is locked" instead of waiting.

Opening never writes a byte to what it must not change: a catalogue made by a newer
assetmgr, another program's database, a damaged file. A SQLite catalogue that cannot be
written (a read-only file, folder or mount) is opened read-only, so that commands that only
read still work; in a read-only folder with no ``-wal`` file left, it is opened as immutable,
because reading a WAL database otherwise needs a ``-shm`` file SQLite cannot create there.

``translated`` turns the database errors that are about the catalogue itself (damaged,
read-only, disk full, locked, unreachable) into one-line ``CatalogueError``s; ``Catalogue``
reads and writes through it.

Alembic is imported only when an existing catalogue is not at the head revision, which
``schema_version`` reads from the migration file names; a new SQLite catalogue is made
straight from the models and stamped at head.

On PostgreSQL (``postgresql+psycopg://``; a plain ``postgresql://`` URL means psycopg 3
too, the driver of the ``postgres`` extra) a new catalogue is made by the migrations.
Processes that open one catalogue at once never race each other's migration: on SQLite
the upgrade is one ``BEGIN IMMEDIATE`` transaction, on PostgreSQL one transaction that
first takes an advisory lock; a process that waited finds the schema at head and does
nothing (Alembic reads the revision after the lock).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
)

from . import schema_version
from .errors import CatalogueError
from .schema_version import migrations_dir

BUSY_TIMEOUT_MS = 30_000
ACCEPTED = "a file path, sqlite:///PATH, or a server URL such as postgresql+psycopg://USER@HOST/DB"
POSTGRES_EXTRA = "pip install 'assetmgr[postgres]'"  # psycopg 3, with its own libpq
# What installs the driver a URL names (dialect+driver, as SQLAlchemy resolves it).
DRIVERS = {
    "postgresql+psycopg": POSTGRES_EXTRA,
    "postgresql+psycopg2": "pip install psycopg2-binary",
    "postgresql+pg8000": "pip install pg8000",
    "mysql+mysqldb": "pip install mysqlclient",
    "mysql+pymysql": "pip install pymysql",
    "mariadb+mysqldb": "pip install mysqlclient",
    "mariadb+pymysql": "pip install pymysql",
}
NEARLY_FULL = 1 << 20  # bytes free below which an I/O error on the catalogue means a full disk
# Plain URLs of a server and the driver they mean here: SQLAlchemy's default for postgresql://
# is psycopg2, which assetmgr does not ship; psycopg 3 is the ``postgres`` extra.
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
MIGRATION_LOCK = int.from_bytes(b"assetmgr", "big")  # the advisory lock migrations take
WORKSPACES_LOCK = MIGRATION_LOCK + 1  # the one ``Workspaces`` takes to record remotes
# SQLSTATE classes and codes that are about the server or the database, not a query's bug:
# connection (08), resources such as a full disk (53), shutdown (57), system errors (58),
# a read-only transaction, a missing privilege, a serialization failure or deadlock.
CATALOGUE_STATES = ("08", "53", "57", "58", "25006", "42501", "40001", "40P01")


def head_revision() -> str:
    head = schema_version.head_revision()
    if head is None:
        raise CatalogueError(f"no migrations found in {migrations_dir()}; reinstall assetmgr")
    return head


def known_revisions() -> set[str]:
    return {p.name.split("_", 1)[0] for p in (migrations_dir() / "versions").glob("*_*.py")}


def make_engine(url: str) -> Engine:
    """An engine for ``url``, with the SQLite settings above where they apply."""
    url = with_driver(url)
    if not url.startswith("sqlite"):
        return _create(url, pool_pre_ping=True)
    path = sqlite_path(url)
    if path is not None and not _writable(path):
        uri = _read_only_uri(path)
        engine = _create(url, creator=lambda: sqlite3.connect(uri, uri=True, **_sqlite_args()))
    else:
        engine = _create(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    _configure_sqlite(engine)
    return engine


def with_driver(url: str) -> str:
    """``url`` with the driver assetmgr uses for it named: ``postgresql://`` (and
    ``postgres://``) mean ``postgresql+psycopg://``; other URLs are left as they are."""
    scheme, sep, rest = url.partition("://")
    driver = DEFAULT_DRIVERS.get(scheme.lower()) if sep else None
    return f"{driver}://{rest}" if driver else url


def sqlite_path(url: str | URL) -> str | None:
    """The file of a SQLite URL naming a plain path; None for anything else."""
    if not str(url).startswith("sqlite"):
        return None
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database.startswith("file:") or parsed.query:
        return None
    return database or None


def _create(url: str, **options) -> Engine:
    """``create_engine``, with a URL it cannot use or a driver that is missing in words."""
    try:
        return create_engine(url, **options)
    except (ArgumentError, NoSuchModuleError) as e:
        raise CatalogueError(f"--db {_shown(url)!r} is not a catalogue: give {ACCEPTED}") from e
    except ImportError as e:
        raise CatalogueError(_missing_driver(url, e)) from e


def _missing_driver(url: str, error: ImportError) -> str:
    parsed = make_url(url)
    name = f"{parsed.get_backend_name()}+{parsed.get_driver_name()}"
    install = DRIVERS.get(name, f"pip install the Python module {error.name or '?'}")
    return f"the catalogue at {_shown(url)} needs a driver that is not installed: {install}"


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _writable(path: str) -> bool:
    """Whether SQLite can write the catalogue at ``path`` (and its -wal, -shm files).
    Raises ``CatalogueError`` when there is no catalogue and none can be made."""
    file, folder = Path(path), Path(path).parent
    if file.is_dir():
        raise CatalogueError(f"catalogue {path} is a folder: give the path of a file in it")
    if file.exists():
        return os.access(file, os.W_OK) and os.access(folder, os.W_OK)
    if not folder.is_dir():
        raise CatalogueError(
            f"cannot create catalogue {path}: folder {folder} does not exist; "
            "create it or choose another --db"
        )
    if not os.access(folder, os.W_OK):
        raise CatalogueError(
            f"cannot create catalogue {path}: folder {folder} is read-only; choose another --db"
        )
    return True


def _read_only_uri(path: str) -> str:
    """SQLite's URI for reading ``path`` without writing. With no -wal file in a folder no one
    can write, the file cannot change, and ``immutable`` lets SQLite read it without -shm."""
    frozen = not os.access(Path(path).parent, os.W_OK) and not os.path.exists(f"{path}-wal")
    return f"file:{quote(path)}?mode=ro" + ("&immutable=1" if frozen else "")


def _sqlite_args() -> dict:
    return {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
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
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return  # where WAL cannot work, SQLite keeps the old mode: that still works
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _check_server(conn: Connection, url: URL) -> None:
    """Refuse, before making a catalogue in it, a PostgreSQL database whose encoding cannot
    hold every path (names are stored as UTF-8 text)."""
    encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
    if encoding != "UTF8":
        raise CatalogueError(
            f"{where(url)} uses the encoding {encoding}; a catalogue needs UTF8: "
            f"create the database with ENCODING 'UTF8' (TEMPLATE template0)"
        )


def current_revision(conn: Connection) -> str | None:
    """The catalogue's schema revision; None for a new (empty) catalogue."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def open_engine(url: str) -> Engine:
    """Open the catalogue at ``url`` and bring it to the head revision."""
    engine = make_engine(url)
    try:
        with translated(engine):
            with engine.connect() as conn:
                if conn.dialect.name == "postgresql":  # the looks below see one snapshot, so
                    # that another process's migration cannot commit between two of them
                    conn.execution_options(isolation_level="REPEATABLE READ")
                revision = current_revision(conn)
                _refuse_foreign(conn, revision, engine.url)
                if revision is None and conn.dialect.name == "postgresql":
                    _check_server(conn, engine.url)
                conn.rollback()
                writable = sqlite_path(engine.url) is None or _writable(engine.url.database)
                if conn.dialect.name == "sqlite" and writable:
                    _use_wal(conn.connection.dbapi_connection.cursor())
            if revision != head_revision():
                if not writable:
                    schema = f"at schema {revision}" if revision else "empty"
                    raise CatalogueError(
                        f"{where(engine.url)} is read-only and {schema}; this assetmgr needs "
                        f"schema {head_revision()}: make it writable once to upgrade it"
                    )
                new = revision is None and engine.dialect.name == "sqlite"
                if not (new and create(engine)):
                    upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def catalogue_state(url: str) -> str | None:
    """The schema revision of the catalogue at ``url`` (None: empty), read without creating,
    changing or migrating anything; a ``CatalogueError`` when it cannot be read, is another
    program's or a newer assetmgr's, and ``FileNotFoundError`` for a SQLite file not made yet."""
    path = sqlite_path(with_driver(url))
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(path)
    engine = make_engine(url)
    try:
        with translated(engine), engine.connect() as conn:
            revision = current_revision(conn)
            _refuse_foreign(conn, revision, engine.url)
            return revision
    finally:
        engine.dispose()


def create(engine: Engine) -> bool:
    """Make a new SQLite catalogue at the head revision straight from the models, without
    Alembic (its import and the migrations cost about half a second; the tests hold the
    result equal to what the migrations make). Another process creating it at the same time
    waits for this one's write transaction, then finds it made. False when the database is
    not empty after all: the migrations take it from there."""
    from .models import metadata

    with engine.connect().execution_options(write=True) as conn, conn.begin():
        tables = inspect(conn).get_table_names()
        if tables:
            return "alembic_version" in tables and current_revision(conn) is not None
        metadata.create_all(conn)
        conn.exec_driver_sql(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES (?)", (head_revision(),))
    return True


def _refuse_foreign(conn: Connection, revision: str | None, url: URL) -> None:
    """Refuse, before writing anything, a database that is not an assetmgr catalogue this
    version can use: one made by a newer assetmgr, or another program's."""
    if revision in known_revisions():
        return
    tables = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
    if revision is None and not tables:
        return  # a new, empty database: it becomes a catalogue
    if revision is not None and (re.fullmatch(r"\d{4}", revision) or "assets" in tables):
        raise CatalogueError(
            f"{where(url)} was made by a newer assetmgr (schema {revision}; this one knows "
            f"up to {head_revision()}): upgrade assetmgr"
        )
    shown = ", ".join(tables[:4]) + (f" and {len(tables) - 4} more" if len(tables) > 4 else "")
    detail = f"it holds tables {shown}" if tables else f"its schema is {revision!r}"
    raise CatalogueError(
        f"{where(url)} is not an assetmgr catalogue ({detail}); it was left untouched: "
        "choose another --db"
    )


def one_at_a_time(conn: Connection, key: int) -> None:
    """Make the rest of ``conn``'s write transaction run in one process at a time, for work
    that reads, then writes what it did not find. SQLite's write transactions already do
    (``BEGIN IMMEDIATE``); on PostgreSQL, an advisory lock held until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the Alembic migrations on ``engine`` up to ``revision``, in one transaction that
    one process at a time runs (see the module docstring)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    with engine.connect().execution_options(write=True) as conn:
        with _foreign_keys_deferred(conn), conn.begin():
            one_at_a_time(conn, MIGRATION_LOCK)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            _check_foreign_keys(conn)


@contextmanager
def _foreign_keys_deferred(conn: Connection) -> Iterator[None]:
    """On SQLite, foreign keys off while migrations run: batch mode rebuilds a table by
    copying it and dropping the old one, and with foreign keys on, that drop would delete
    (or refuse to delete) the rows that refer to it. The pragma must be set outside a
    transaction, on the driver's connection; it is checked before commit and set on again."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def _check_foreign_keys(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise CatalogueError(
                f"a migration left {len(broken)} rows referring to nothing (first in table "
                f"{broken[0][0]}); the catalogue was left as it was: please report this"
            )


# -- errors ---------------------------------------------------------------------------------


@contextmanager
def translated(engine: Engine) -> Iterator[None]:
    """Database errors about the catalogue itself come out as ``CatalogueError``; others (a
    constraint, bad SQL: bugs) pass through as they are."""
    try:
        yield
    except Exception as e:
        if not _about_the_catalogue(e, engine):
            raise
        raise catalogue_error(e, engine.url) from e


def _about_the_catalogue(error: Exception, engine: Engine) -> bool:
    if _sqlstate(error).startswith(CATALOGUE_STATES):
        return True
    if isinstance(error, DBAPIError):
        return isinstance(error, OperationalError) or type(error) is DatabaseError
    dbapi = getattr(engine.dialect, "loaded_dbapi", None)  # raw cursors raise the driver's own
    return dbapi is not None and (
        isinstance(error, dbapi.OperationalError) or type(error) is dbapi.DatabaseError
    )


def conflicted(error: BaseException | None) -> bool:
    """Whether ``error`` is a server aborting a transaction to break a deadlock or a
    serialization conflict with another one: the transaction may simply run again."""
    return error is not None and _sqlstate(error) in ("40001", "40P01")


def _sqlstate(error: BaseException) -> str:
    """A server's SQLSTATE for ``error`` (PostgreSQL through psycopg); "" when none."""
    return getattr(getattr(error, "orig", None) or error, "sqlstate", None) or ""


def catalogue_error(error: Exception, url: URL) -> CatalogueError:
    """One line that says what is wrong with the catalogue and what to do."""
    cause = getattr(error, "orig", None) or error
    message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    code = getattr(cause, "sqlite_errorname", "")
    state = _sqlstate(error)
    if state == "42501":
        return CatalogueError(
            f"{where(url)}: permission denied ({message}): ask the database's owner for "
            "access, or choose another --db"
        )
    if code.startswith("SQLITE_READONLY") or "readonly database" in message or state == "25006":
        return CatalogueError(
            f"{where(url)} is read-only: commands that only read it work; to change it, "
            "make it writable or choose another --db"
        )
    io_error = code.startswith(("SQLITE_IOERR", "SQLITE_CANTOPEN"))
    if (
        code.startswith("SQLITE_FULL")
        or state.startswith("53100")
        or "disk is full" in message
        or "No space left" in message
        or (io_error and _disk_full(url))
    ):
        return CatalogueError(
            f"{where(url)}: disk full ({message}); free some space and run the command again"
        )
    if code.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in message:
        return CatalogueError(
            f"{where(url)} is damaged ({message}): restore it from a backup or choose another --db"
        )
    if code.startswith("SQLITE_BUSY") or "database is locked" in message:
        return CatalogueError(
            f"{where(url)} stayed locked by another process for {BUSY_TIMEOUT_MS // 1000} s: "
            "try again"
        )
    return CatalogueError(f"{where(url)}: {message}")


def shown_url(url: str) -> str:
    """A catalogue's path, or its URL with no password."""
    return sqlite_path(url) or _shown(url)


def where(url: URL) -> str:
    """How messages name the catalogue: "catalogue PATH", or its URL with no password."""
    return f"catalogue {sqlite_path(url) or url.render_as_string(hide_password=True)}"


def _disk_full(url: URL) -> bool:
    path = sqlite_path(url)
    try:
        return path is not None and shutil.disk_usage(Path(path).parent).free < NEARLY_FULL
    except OSError:
        return False
