"""``assetmgr doctor``: what assetmgr would use, checked, each with the fix when it is wrong.

``checks`` looks at the settings file, the catalogue (reachable; its schema at this assetmgr's
newest), the rendition store (writable), the credentials (present; never shown), the base
URL, the workspace the key reaches and the API (one small request, which also tells the
clock's skew), and what is installed (versions, optional formats). Each is a ``Check``:
its name, whether it is fine, what was found and, when it is not fine, what to do. Nothing
is created, migrated or uploaded: a catalogue that does not exist yet is reported as such.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata

from .errors import AssetmgrError
from .remote import CREDENTIAL_VARIABLES, NO_KEY, RemoteSpec

SKEW_WARNING = 60.0  # seconds between this machine's clock and the API's worth a word


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


def checks(db: str | None, remote: RemoteSpec, *, online: bool = True) -> list[Check]:
    """Every check, in order; ``online``: ask the API too."""
    key = _credentials()
    found = [
        _guarded("settings", _settings),
        _guarded("catalogue", lambda: _catalogue(db)),
        _guarded("store", _store),
        key,
        Check("base url", True, remote.base_url),
    ]
    if online:
        found += _api(remote, key.ok)
    return found + [_versions(), _formats()]


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    """``check()``, or what went wrong with it as a failed check."""
    try:
        return check()
    except (AssetmgrError, OSError) as e:
        return Check(name, False, str(e), _FIXES.get(name))


_FIXES = {
    "settings": "edit it (assetmgr config path), or assetmgr config unset KEY",
    "catalogue": "check --db / ASSETMGR_DB / `catalogue` in the settings (assetmgr config list)",
    "store": "make the folder writable, or point ASSETMGR_STORE (or `store`) elsewhere",
}


def _settings() -> Check:
    from . import settings

    where = settings.path()
    found = settings.read_file()
    if not where.exists():
        return Check("settings", True, f"{where} (none: defaults and environment)")
    return Check("settings", True, f"{where} ({len(found)} set)")


def _catalogue(db: str | None) -> Check:
    from .config import database_url
    from .db import catalogue_state, head_revision, shown_url

    url = database_url(db)
    shown = shown_url(url)
    try:
        revision = catalogue_state(url)
    except FileNotFoundError:
        return Check("catalogue", True, f"{shown}: not made yet (the first add makes it)")
    head = head_revision()
    if revision is None:
        return Check("catalogue", True, f"{shown}: empty (the first command makes it)")
    if revision != head:
        return Check("catalogue", False, f"{shown}: schema {revision}, this assetmgr's is {head}",
                     "any command that opens it upgrades it, e.g. assetmgr stats")  # fmt: skip
    return Check("catalogue", True, f"{shown}: schema {revision} (the newest)")


def _store() -> Check:
    from .config import store_dir

    folder = store_dir()
    probe = folder / f".doctor-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        reason = e.strerror or str(e)
        return Check("store", False, f"{folder}: cannot write ({reason})", _FIXES["store"])
    return Check("store", True, f"{folder} (writable)")


def _credentials() -> Check:
    present = [name for name in CREDENTIAL_VARIABLES if os.environ.get(name)]
    if not present:
        return Check("key", False, "no credentials in the environment", NO_KEY.partition(": ")[2])
    return Check("key", True, f"{present[0]} is set (not shown)")


def _api(remote: RemoteSpec, credentials: bool) -> list[Check]:
    """The API reached with one small request: the workspace the key acts on, the clock."""
    if not credentials:
        skipped = "not asked: no credentials"
        return [Check(name, False, skipped, "set ANTHROPIC_API_KEY first")
                for name in ("workspace", "api", "clock")]  # fmt: skip
    from .files_api import FilesClient

    started = time.monotonic()
    try:
        client = FilesClient(remote, max_retries=0)
        reported = client.workspace()
    except AssetmgrError as e:
        fix = "check the key and ANTHROPIC_BASE_URL (assetmgr emulator runs one locally)"
        return [Check("workspace", False, f"{remote.label}: not reached", fix),
                Check("api", False, f"{remote.base_url}: {e}", fix),
                Check("clock", False, "not known: the API did not answer", fix)]  # fmt: skip
    took = (time.monotonic() - started) * 1000
    shown = reported or "not reported by the API"
    offset = client.clock.offset or 0.0
    clock = Check("clock", True, f"{offset:+.0f} s from the API's")
    if abs(offset) > SKEW_WARNING:
        clock.ok = False
        clock.fix = "set this machine's clock (uploads' expiry is judged by the API's clock)"
    return [Check("workspace", True, f"{remote.label} -> {shown}"),
            Check("api", True, f"{remote.base_url} answered in {took:.0f} ms"), clock]  # fmt: skip


def _versions() -> Check:
    import sys

    parts = [f"assetmgr {_version('assetmgr')}", f"Python {sys.version.split()[0]}"]
    for package in ("anthropic", "pillow", "sqlalchemy", "alembic", "click", "numpy"):
        parts.append(f"{package} {_version(package)}")
    return Check("versions", True, ", ".join(parts))


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def _formats() -> Check:
    """Which optional sources and catalogues can be read here."""
    from PIL import features

    found = []
    for name, available, install in (
        ("HEIC", _importable("pillow_heif"), "pip install 'assetmgr[heic]'"),
        ("AVIF", features.check("avif"), "a Pillow built with AVIF (Pillow 11.3+ wheels)"),
        ("WebP", features.check("webp"), "a Pillow built with WebP"),
        ("PostgreSQL", _importable("psycopg"), "pip install 'assetmgr[postgres]'"),
    ):
        found.append(f"{name} {'yes' if available else 'no (' + install + ')'}")
    return Check("formats", True, ", ".join(found))


def _importable(module: str) -> bool:
    from importlib.util import find_spec

    return find_spec(module) is not None
