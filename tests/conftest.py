"""Shared fixtures: an isolated ASSETMGR_HOME (and cache folder, where the rendition store is)
per test, the corpus, image makers, CLI runner."""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from assetmgr.cli import cli
from assetmgr.remote import CREDENTIAL_VARIABLES
from tests import pgserver
from tests.backends import BACKENDS, CatalogueDb, PostgresDb, SqliteDb

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ASSETMGR_CORPUS", REPO.parent / "shared" / "corpus"))


CREDENTIALS = (*CREDENTIAL_VARIABLES, "ANTHROPIC_BASE_URL")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own catalogue folder (outside tmp_path), no inherited catalogue
    URL or workspace, no credentials (nothing may reach a real API), and `add` that does not
    upload unless a test asks for it (see ``uploading``)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ASSETMGR_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("ASSETMGR_NO_UPLOAD", "1")
    from assetmgr.settings import CONFIG_ENV, SETTINGS

    settings_env = [CONFIG_ENV, *(s.env for s in SETTINGS.values())]
    for name in ("ASSETMGR_DB", "ASSETMGR_STORE", "ASSETMGR_WORKSPACE", "ASSETMGR_WORKSPACE_ID",
                 "ASSETMGR_HOST", *settings_env, *CREDENTIALS):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def store_root(isolated_home) -> Path:
    """Where this test's rendition store is: the default, under its own cache folder."""
    return Path(os.environ["XDG_CACHE_HOME"]) / "assetmgr" / "renditions"


@pytest.fixture
def uploading(monkeypatch, anthropic_emulator):
    """`add` uploads, to a fresh emulator (the SDK's usual variables point at it)."""
    monkeypatch.delenv("ASSETMGR_NO_UPLOAD")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_emulator.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ASSETMGR_MAX_RETRIES", "6")
    return anthropic_emulator


@pytest.fixture
def emulated(anthropic_emulator_factory, monkeypatch):
    """Start an emulator with these settings and point `add`'s uploads at it."""

    def start(key="test-key", **settings):
        emulator = anthropic_emulator_factory(**settings)
        monkeypatch.delenv("ASSETMGR_NO_UPLOAD", raising=False)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
        monkeypatch.setenv("ASSETMGR_MAX_RETRIES", "6")
        return emulator

    return start


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "manifest.csv").is_file():
        pytest.fail(f"the image corpus is missing at {CORPUS}")
    return CORPUS


# -- the catalogue: SQLite, or PostgreSQL where a module asks for both --------------------------


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "backends(*names): run the module's catalogue tests on each backend named "
        "(sqlite, postgresql)",
    )


def pytest_generate_tests(metafunc):
    """Tests of a module marked ``backends(...)`` whose catalogue is ``db`` (or ``run``) run
    once per backend, with ids ``[sqlite]`` and ``[postgresql]``."""
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "backend" in metafunc.fixturenames:
        names = marker.args or BACKENDS
        metafunc.parametrize("backend", names, ids=list(names))


@pytest.fixture
def backend() -> str:
    """The catalogue's backend: SQLite, unless the module is marked ``backends(...)``."""
    return "sqlite"


@pytest.fixture(scope="session")
def postgres_server():
    """The PostgreSQL server of this test session (see ``tests/pgserver.py``): skips the test
    when none can be had, or fails it when ``ASSETMGR_TEST_POSTGRES=required``."""
    try:
        server = pgserver.server()
    except pgserver.Unavailable as e:
        if pgserver.required():
            pytest.fail(f"{pgserver.REQUIRED_ENV}=required, but {e}")
        pytest.skip(f"no PostgreSQL server: {e}")
    yield server
    server.stop()


@pytest.fixture
def db(backend, tmp_path_factory, request) -> CatalogueDb:
    """The test's catalogue: a SQLite file outside ``tmp_path`` (so tests can add all of
    ``tmp_path``), or a new database on the PostgreSQL server, dropped afterwards."""
    if backend == "sqlite":
        yield SqliteDb(tmp_path_factory.mktemp("db") / "catalogue.db")
        return
    server = request.getfixturevalue("postgres_server")
    catalogue = PostgresDb(server.create_database())
    yield catalogue
    catalogue.close()
    server.drop_database(catalogue.url)


@pytest.fixture
def db_path(db) -> Path:
    """The catalogue file of a test that reads the SQLite file itself."""
    if db.path is None:
        pytest.fail("this test reads the SQLite file itself: read through the db fixture")
    return db.path


class Cli:
    """Runs ``assetmgr`` in-process against one catalogue; keeps stdout and stderr apart."""

    def __init__(self, db: Path | CatalogueDb):
        self.db = db  # a path, or a CatalogueDb: str() of either is what --db takes
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        args = ["--db", str(self.db), *map(str, args)]
        result = self.runner.invoke(cli, args, input=input, prog_name="assetmgr")
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def json_lines(self, *args: str) -> list[dict]:
        result = self(*args, "--json")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def run(db) -> Cli:
    return Cli(db)


def image_bytes(size=(64, 48), color=None, fmt="PNG", mode="RGB", seed=0, **save) -> bytes:
    """A small generated image; distinct seeds give distinct bytes."""
    rng = random.Random(seed)
    color = color if color is not None else tuple(rng.randrange(256) for _ in range(len(mode)))
    image = Image.new(mode, size, color if mode != "1" else 1)
    image.putpixel(
        (0, 0), tuple(rng.randrange(256) for _ in range(len(mode))) if mode != "1" else 0
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def write_image(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(**kwargs))
    return path


# -- the real command in a subprocess ---------------------------------------------------------


def assetmgr(*args, db: Path | str | None = None, env: dict | None = None, **options):
    """Run ``python -m assetmgr`` (text mode, output captured unless redirected)."""
    command = [sys.executable, "-m", "assetmgr", *(["--db", str(db)] if db else []), *args]
    options.setdefault("capture_output", "stdout" not in options)
    if "stdout" in options:
        options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [str(a) for a in command],
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        **options,
    )


def error_line(result, code: int) -> str:
    """The one ``Error:`` line of a command that failed with ``code``; no traceback."""
    everything = (result.stdout or "") + result.stderr
    assert "Traceback" not in everything and "Exception ignored" not in everything, everything
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# -- real mounts: read-only, disk full --------------------------------------------------------


class Tmpfs:
    """A small tmpfs at ``path``, mounted for one test."""

    def __init__(self, path: Path, size: str):
        self.path = path
        path.mkdir()
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if mounted.returncode != 0:
            pytest.skip(
                "mounting a tmpfs was refused here, and the read-only and disk-full cases need "
                f"a real mount: {mounted.stderr.strip()}"
            )

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def fill(self, leave: int = 0) -> Path:
        """Fill the file system, leaving about ``leave`` bytes free."""
        filler = self.path / "filler"
        with open(filler, "wb") as f:
            try:
                f.write(b"\0" * max(os.statvfs(self.path).f_bavail * 4096 - leave, 0))
                f.flush()
            except OSError:
                pass
        return filler

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True)


@pytest.fixture
def tmpfs(tmp_path):
    mounts: list[Tmpfs] = []

    def mount(size: str = "4m") -> Tmpfs:
        mounts.append(Tmpfs(tmp_path / f"mnt{len(mounts)}", size))
        return mounts[-1]

    yield mount
    for m in mounts:
        m.unmount()
