"""The catalogue a test runs against, on either backend: SQLite (a file) or PostgreSQL (a fresh
database on the test server). Tests name it on the command line (``str(db)``: the file's path,
or the database's URL) and read it back with plain SQL (``rows``, ``count``, ``execute``;
parameters as ``:name``), the same on both."""

from __future__ import annotations

import sqlite3
from pathlib import Path

BACKENDS = ("sqlite", "postgresql")


class CatalogueDb:
    """A catalogue for one test; ``str()`` is what ``--db`` takes."""

    backend: str
    url: str
    path: Path | None = None

    def rows(self, sql: str, **params) -> list[tuple]:
        raise NotImplementedError

    def execute(self, sql: str, **params) -> None:
        raise NotImplementedError

    def exists(self) -> bool:
        """Whether the catalogue has been made (a process may be killed before it is)."""
        raise NotImplementedError

    def everything(self) -> bytes:
        """All the catalogue holds, as bytes to search: its files, or every row of every table."""
        raise NotImplementedError

    def count(self, sql: str, **params) -> int:
        """``SELECT count(*) ...``; 0 while there is no catalogue (or no such table) yet."""
        if not self.exists():
            return 0
        try:
            return self.rows(sql, **params)[0][0]
        except Exception as e:
            if _missing_table(e):
                return 0
            raise

    def close(self) -> None:
        pass


class SqliteDb(CatalogueDb):
    backend = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"

    def __str__(self) -> str:
        return str(self.path)

    def rows(self, sql: str, **params) -> list[tuple]:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def execute(self, sql: str, **params) -> None:
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            with conn:
                conn.execute(sql, params)
        finally:
            conn.close()

    def exists(self) -> bool:
        return self.path.exists()

    def everything(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.path.parent.iterdir() if p.is_file())


class PostgresDb(CatalogueDb):
    backend = "postgresql"

    def __init__(self, url: str):
        from sqlalchemy import create_engine

        self.url = url
        self.engine = create_engine(url, pool_size=1, max_overflow=2)

    def __str__(self) -> str:
        return self.url

    def rows(self, sql: str, **params) -> list[tuple]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def execute(self, sql: str, **params) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(sql), params)

    def exists(self) -> bool:
        return True  # the database is made before the test; its tables may not be

    def everything(self) -> bytes:
        from sqlalchemy import inspect

        with self.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
        return repr([self.rows(f'SELECT * FROM "{table}"') for table in tables]).encode()

    def close(self) -> None:
        self.engine.dispose()


def catalogue_db(db: CatalogueDb | Path | str) -> CatalogueDb:
    """``db`` as a ``CatalogueDb``: a path names a SQLite catalogue."""
    return db if isinstance(db, CatalogueDb) else SqliteDb(Path(db))


def _missing_table(error: Exception) -> bool:
    text = str(error)
    return (
        "no such table" in text or "UndefinedTable" in type(getattr(error, "orig", error)).__name__
    )
