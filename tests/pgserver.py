"""A PostgreSQL server for the tests and the benchmarks: the one ``ASSETMGR_TEST_POSTGRES_URL``
names, or a throwaway one started here.

A throwaway server is made with the server binaries found on ``PATH`` or in Debian's
``/usr/lib/postgresql/<version>/bin``: ``initdb`` into a new folder under the system's temporary
folder, then ``pg_ctl start`` on a free loopback port (and a unix socket in that folder), run
as the ``postgres`` user when this process is root (the server refuses to run as root). It is
stopped and its folder removed by ``Server.stop``. Each caller gets fresh databases from
``Server.create_database`` and drops them with ``drop_database``.

To hold assetmgr to what a real server can be, the throwaway server is deliberately unlike a
developer's default: its session time zone is not UTC (Asia/Kathmandu, UTC+05:45), and, where
the server was built with ICU, its databases sort text as a locale does that ignores
punctuation at first (``und-u-ka-shifted``, as glibc's ``en_US.UTF-8`` does), so that a
query relying on byte order of paths is caught. ``durable=True`` keeps the server's default
durability (``fsync``); the tests turn it off, for speed.

Only the standard library and SQLAlchemy (with psycopg) are used: nothing of assetmgr.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

URL_ENV = "ASSETMGR_TEST_POSTGRES_URL"  # a server to use instead of starting one
REQUIRED_ENV = "ASSETMGR_TEST_POSTGRES"  # "required": no server is a failure, not a skip
SERVER_USER = "postgres"
TIME_ZONE = "Asia/Kathmandu"
ICU_LOCALE = "und-u-ka-shifted"
START_TIMEOUT = 60  # seconds


class Unavailable(Exception):
    """No PostgreSQL server can be had here; the message says why."""


def required() -> bool:
    return os.environ.get(REQUIRED_ENV, "").strip().lower() == "required"


def binaries() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``; None when none does."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(map(Path, versions), key=lambda p: _version(p.parent.name), reverse=True)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _version(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def admin_engine(url: str):
    """An engine that runs CREATE and DROP DATABASE (outside transactions) on ``url``'s server."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    try:
        import psycopg  # noqa: F401
    except ImportError as e:
        raise Unavailable("psycopg is not installed: pip install -e '.[test,postgres]'") from e
    return create_engine(psycopg_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)


def psycopg_url(url: str) -> str:
    """``url`` with psycopg (3) as its driver, as assetmgr reads a plain postgresql:// URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class Server:
    """A server to make databases on: ``admin_url`` names a database to connect to for that."""

    def __init__(self, admin_url: str, folder: Path | None = None, owner: str | None = None):
        self.admin_url = psycopg_url(admin_url)
        self.folder, self.owner = folder, owner  # a throwaway server's: stopped by ``stop``
        self.engine = admin_engine(self.admin_url)

    def url(self, database: str) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.admin_url).set(database=database).render_as_string(False)

    def create_database(self, prefix: str = "assetmgr_test") -> str:
        """A new, empty database (UTF8); its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        self.engine.dispose()
        if self.folder is None:
            return
        _run(
            [str(self.folder / "bin" / "pg_ctl"), "stop", "-D", str(self.folder / "data"),
             "-m", "immediate", "-w"],
            self.owner, check=False,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None


def server(durable: bool = False) -> Server:
    """The server ``ASSETMGR_TEST_POSTGRES_URL`` names, else a throwaway one (``start``)."""
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        found = Server(url)
        try:
            with found.engine.connect():
                pass
        except Exception as e:
            reason = str(getattr(e, "orig", None) or e).splitlines()[0]
            raise Unavailable(f"{URL_ENV}={url!r} cannot be reached: {reason}") from e
        return found
    return start(durable=durable)


def start(durable: bool = False) -> Server:
    """A new server of its own, in a new temporary folder; ``Server.stop`` ends it."""
    found = binaries()
    if found is None:
        raise Unavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in "
            "/usr/lib/postgresql/*/bin: apt-get install postgresql, or set "
            f"{URL_ENV} to a server's URL"
        )
    owner = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="assetmgr-pg-"))
    try:
        (folder / "bin").symlink_to(found)
        if owner is not None:
            account = pwd.getpwnam(owner)
            os.chown(folder, account.pw_uid, account.pw_gid)
        _initdb(folder, owner)
        port = _start(folder, owner, durable)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    made = Server(f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{port}/postgres", folder, owner)
    return made


def _server_user() -> str | None:
    """Who runs the server: this user, or ``postgres`` when this process is root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise Unavailable(
            f"running as root, and there is no {SERVER_USER!r} user to run the server as "
            "(the server refuses root): apt-get install postgresql creates it"
        ) from None
    return SERVER_USER


def _initdb(folder: Path, owner: str | None) -> None:
    base = [str(folder / "bin" / "initdb"), "-D", str(folder / "data"), "-U", SERVER_USER,
            "--auth=trust", "--encoding=UTF8", "--no-sync", "--locale=C"]  # fmt: skip
    icu = [*base, "--locale-provider=icu", f"--icu-locale={ICU_LOCALE}"]
    made = _run(icu, owner, check=False)
    if made.returncode != 0:  # a server built without ICU: plain C order
        shutil.rmtree(folder / "data", ignore_errors=True)
        made = _run(base, owner, check=False)
    if made.returncode != 0:
        raise Unavailable(f"initdb failed: {made.stderr.strip()[-500:]}")


def _start(folder: Path, owner: str | None, durable: bool) -> int:
    """Start the server on a free loopback port; the port."""
    options = {
        "listen_addresses": "127.0.0.1",
        "unix_socket_directories": str(folder),
        "timezone": TIME_ZONE,
        "max_connections": "200",
        "shared_buffers": "64MB",
    }
    if not durable:
        options.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    error = ""
    for _ in range(5):  # a port found free may be taken before the server binds it
        port = _free_port()
        settings = " ".join(f"-c {k}={v}" for k, v in {**options, "port": port}.items())
        started = _run(
            [str(folder / "bin" / "pg_ctl"), "start", "-D", str(folder / "data"), "-w",
             "-t", str(START_TIMEOUT), "-l", str(folder / "server.log"), "-o", settings],
            owner, check=False,
        )  # fmt: skip
        if started.returncode == 0:
            return port
        error = _tail(folder / "server.log") or started.stderr
        time.sleep(0.2)
    raise Unavailable(f"the PostgreSQL server did not start: {error.strip()[-500:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-1000:]
    except OSError:
        return ""


def _run(command: list[str], owner: str | None, check: bool = True):
    """Run a server command, as ``owner`` when given (this process is root then)."""
    options = (
        {"user": owner, "group": pwd.getpwnam(owner).pw_gid, "extra_groups": []} if owner else {}
    )
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    return subprocess.run(
        command, capture_output=True, text=True, check=check, env=env, cwd="/", **options
    )
