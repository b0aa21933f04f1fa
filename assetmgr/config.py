"""Where assetmgr keeps its files, and how a catalogue location is chosen.

Order of precedence for the catalogue (first that is set wins):

1. an explicit argument (``--db`` on the command line, ``url=`` in Python);
2. the ``ASSETMGR_DB`` environment variable (a path or any SQLAlchemy URL);
3. ``catalogue`` in the settings file (``settings.py``; a path there is relative to the file);
4. ``$ASSETMGR_HOME/catalogue.db``, where ``ASSETMGR_HOME`` defaults to the
   platform's user data folder (``click.get_app_dir("assetmgr")``).

The rendition store (``store_dir``) is a folder of its own, which a team may share:

1. ``ASSETMGR_STORE``, else ``store`` in the settings file;
2. ``$ASSETMGR_HOME/renditions``, where stores were kept before, when it exists and the
   new default does not (an existing store keeps working where it is; nothing is moved);
3. ``$XDG_CACHE_HOME/assetmgr/renditions``, else ``~/.cache/assetmgr/renditions``.

Other settings from the environment are read and checked here, and only here:
``check_environment`` reads them all, so that the CLI stops on a bad value before any work.
They are ``ASSETMGR_MAX_RETRIES`` and ``ASSETMGR_HOST`` (the name this machine goes by in
the ids of the processes at work, ``owners.py``: by default the host name).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import CatalogueError, UsageError

APP_NAME = "assetmgr"
HOME_ENV = "ASSETMGR_HOME"
DB_ENV = "ASSETMGR_DB"
CATALOGUE_FILE = "catalogue.db"
STORE_ENV = "ASSETMGR_STORE"
STORE_FOLDER = "renditions"
MAX_RETRIES_ENV = "ASSETMGR_MAX_RETRIES"
DEFAULT_MAX_RETRIES = 4
MOST_RETRIES = 20  # the SDK backs off up to 8 s a try: 20 retries is minutes per request
HOST_ENV = "ASSETMGR_HOST"
HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # no ':' (owner ids are host:pid:random)


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


def store_dir() -> Path:
    """The rendition store's folder, by the order above (not created here)."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return Path(configured).expanduser()
    from_file = _file_path("store")
    if from_file is not None:
        return from_file
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    default = Path(cache).expanduser() / APP_NAME / STORE_FOLDER
    legacy = user_dir() / STORE_FOLDER
    if legacy.is_dir() and not default.exists():
        return legacy
    return default


SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def own_paths(catalogue_file: str | os.PathLike[str] | None, store: Path) -> list[str]:
    """assetmgr's own files and folders, which an ``add`` of a folder holding them passes
    by: the SQLite catalogue (None: not a file) with its side files, and the rendition
    store."""
    own = [os.fspath(store)]
    if catalogue_file is not None:
        base = os.fspath(catalogue_file)
        own += [base, *(base + suffix for suffix in SQLITE_SIDE_FILES)]
    return own


def database_url(explicit: str | os.PathLike[str] | None = None) -> str:
    """The SQLAlchemy URL of the catalogue to open, by the order above."""
    chosen = explicit or os.environ.get(DB_ENV)
    if not chosen:
        from . import settings

        chosen = settings.read_file().get("catalogue")
        if chosen and "://" not in chosen:
            chosen = str(_file_path("catalogue"))
    if not chosen:
        return sqlite_url(user_dir() / CATALOGUE_FILE)
    text = os.fspath(chosen)
    if "://" in text:
        refuse_in_memory(text)
        return text
    return sqlite_url(Path(text).expanduser())


def refuse_in_memory(url: str) -> None:
    """An in-memory SQLite catalogue would vanish with the process that made it: refuse it."""
    scheme, _, rest = url.partition("://")
    if not scheme.lower().startswith("sqlite"):
        return
    path = rest[1:] if rest.startswith("/") else rest
    name = path.partition("?")[0]
    if name in ("", ":memory:") or name.startswith("file::memory:") or "mode=memory" in rest:
        raise CatalogueError(
            f"{url!r} is an in-memory catalogue, gone when assetmgr exits: "
            "give a file path or sqlite:///PATH"
        )


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file, absolute so that a later ``chdir`` cannot move it."""
    return f"sqlite:///{path.resolve()}"


def max_retries() -> int:
    """How many times the SDK retries a request that failed for a passing reason:
    ``ASSETMGR_MAX_RETRIES``, else the settings file's ``max_retries``, a whole number from 0
    to 20, default 4."""
    if not os.environ.get(MAX_RETRIES_ENV, "").strip():
        from . import settings

        found = settings.read_file().get("max_retries")
        if found is not None:
            if found > MOST_RETRIES:
                raise UsageError(f"max_retries = {found} in {settings.path()}: at most 20")
            return found
    return _whole_number(MAX_RETRIES_ENV, DEFAULT_MAX_RETRIES, 0, MOST_RETRIES)


def _file_path(key: str) -> Path | None:
    """A path the settings file gives (``catalogue``, ``store``): ``~`` expanded, and relative
    to the file's folder."""
    from . import settings

    found = settings.read_file().get(key)
    if not found:
        return None
    return settings.path().parent / Path(found).expanduser()


def host_name() -> str:
    """The name of this machine in owner ids: ``ASSETMGR_HOST``, else the host name.

    Processes that share a catalogue judge each other's leases by it: one with this name is
    on this machine, and its process id can be checked here. Set it where host names are not
    unique among the machines sharing a catalogue (containers with a fixed host name)."""
    text = os.environ.get(HOST_ENV, "").strip()
    if not text:
        import socket  # only here: the lookup path reads this module

        return socket.gethostname()
    if not HOST_NAME.fullmatch(text):
        raise UsageError(
            f"{HOST_ENV}={text!r}: give a name of 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return text


def check_environment() -> None:
    """Read every setting taken from the environment; a bad one raises ``UsageError``. (The
    settings file is checked by the command that reads it: ``config`` must mend a bad one.)"""
    _whole_number(MAX_RETRIES_ENV, DEFAULT_MAX_RETRIES, 0, MOST_RETRIES)
    host_name()


def _whole_number(name: str, default: int, low: int, high: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit() and low <= int(text) <= high):
        raise UsageError(f"{name}={text!r}: give a whole number from {low} to {high}")
    return int(text)
