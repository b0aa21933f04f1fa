"""Where assetmgr keeps its files, and how a catalogue location is chosen.

Order of precedence for the catalogue (first that is set wins):

1. an explicit argument (``--db`` on the command line, ``url=`` in Python);
2. the ``ASSETMGR_DB`` environment variable (a path or any SQLAlchemy URL);
3. ``$ASSETMGR_HOME/catalogue.db``, where ``ASSETMGR_HOME`` defaults to the
   platform's user data folder (``click.get_app_dir("assetmgr")``).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "assetmgr"
HOME_ENV = "ASSETMGR_HOME"
DB_ENV = "ASSETMGR_DB"
CATALOGUE_FILE = "catalogue.db"


def user_dir() -> Path:
    """The folder assetmgr keeps its files in (created if missing)."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        path = Path(configured).expanduser()
    else:
        import click  # only here: the rest of this module must not need click

        path = Path(click.get_app_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(explicit: str | os.PathLike[str] | None = None) -> str:
    """The SQLAlchemy URL of the catalogue to open, by the order above."""
    chosen = explicit or os.environ.get(DB_ENV)
    if not chosen:
        return sqlite_url(user_dir() / CATALOGUE_FILE)
    text = os.fspath(chosen)
    if "://" in text:
        return text
    return sqlite_url(Path(text).expanduser())


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file, absolute so that a later ``chdir`` cannot move it."""
    return f"sqlite:///{path.resolve()}"
