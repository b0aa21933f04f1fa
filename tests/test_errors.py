"""Every expected failure is one line, ``Error: ...``, with its documented exit code, never a
traceback, and leaves the catalogue (or someone else's file) exactly as it was.

Each case runs the real command in a subprocess against real files. The read-only and
disk-full cases use a small tmpfs mounted for the test (this suite runs as root, where file
modes do not stop writes); they are skipped only where mounting is refused.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assetmgr.db import head_revision, with_driver
from assetmgr.errors import ExitCode, exit_code_table
from tests.conftest import Cli, assetmgr, error_line, write_image

README = Path(__file__).resolve().parent.parent / "README.md"


def catalogue_at(path: Path, images: Path, count: int = 3) -> Path:
    """A real catalogue at ``path`` holding ``count`` small images."""
    for i in range(count):
        write_image(images / f"{i}.png", seed=i, size=(40, 30))
    assert Cli(path)("add", images).exit_code == 0
    assert not Path(f"{path}-wal").exists()  # checkpointed and closed: all in the one file
    return path


@pytest.fixture
def catalogue(tmp_path, db_path) -> Path:
    return catalogue_at(db_path, tmp_path / "images")


def first_sha(db: Path) -> str:
    """Read without writing (immutable: no -shm file), so that it works on read-only mounts."""
    conn = sqlite3.connect(f"file:{db}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT sha256 FROM assets ORDER BY id").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def many_images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("many")
    for i in range(300):
        write_image(folder / f"{i:03}.png", seed=1000 + i, size=(8, 8))
    return folder


# -- the catalogue (exit 5) -------------------------------------------------------------


@pytest.mark.parametrize("revision", ["9999", "0000"])
def test_a_catalogue_from_a_newer_assetmgr_is_refused_and_untouched(catalogue, tmp_path, revision):
    with sqlite3.connect(catalogue) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()
    before = catalogue.read_bytes()
    write_image(tmp_path / "new" / "x.png", seed=99)
    for args in (["ls"], ["add", tmp_path / "new"], ["tag", "add", "t", "abcdef12"]):
        line = error_line(assetmgr(*args, db=catalogue), ExitCode.CATALOGUE)
        assert line == (
            f"Error: catalogue {catalogue} was made by a newer assetmgr (schema {revision}; "
            f"this one knows up to {head_revision()}): upgrade assetmgr"
        )
    assert catalogue.read_bytes() == before


def test_a_file_that_is_not_a_database_is_damaged(tmp_path):
    bogus = tmp_path / "catalogue.db"
    bogus.write_bytes(os.urandom(8192))
    before = bogus.read_bytes()
    line = error_line(assetmgr("ls", db=bogus), ExitCode.CATALOGUE)
    assert line == (
        f"Error: catalogue {bogus} is damaged (file is not a database): "
        "restore it from a backup or choose another --db"
    )
    assert bogus.read_bytes() == before


def test_damage_found_only_by_a_later_query(catalogue):
    """The schema and the version read fine; the ``sources`` table does not."""
    with sqlite3.connect(catalogue) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'sources'"
        ).fetchone()
    conn.close()
    with open(catalogue, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * page_size)
    before = catalogue.read_bytes()
    assert assetmgr("stats", db=catalogue).returncode == 0  # reads no sources: opening is fine
    line = error_line(assetmgr("ls", db=catalogue), ExitCode.CATALOGUE)
    assert line == (
        f"Error: catalogue {catalogue} is damaged (database disk image is malformed): "
        "restore it from a backup or choose another --db"
    )
    assert catalogue.read_bytes() == before


def test_another_programs_sqlite_file_is_refused_and_gets_no_tables(tmp_path):
    foreign = tmp_path / "app.db"
    with sqlite3.connect(foreign) as conn:
        for table in ("people", "pets", "visits", "invoices", "notes"):
            conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO people (name) VALUES ('Ada')")
    conn.close()
    before = foreign.read_bytes()
    write_image(tmp_path / "in" / "a.png", seed=1)
    for args in (["ls"], ["add", tmp_path / "in"]):
        line = error_line(assetmgr(*args, db=foreign), ExitCode.CATALOGUE)
        assert line == (
            f"Error: catalogue {foreign} is not an assetmgr catalogue (it holds tables invoices, "
            "notes, people, pets and 1 more); it was left untouched: choose another --db"
        )
    assert foreign.read_bytes() == before
    assert not Path(f"{foreign}-wal").exists() and not Path(f"{foreign}-shm").exists()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:cat?mode=memory&uri=true"]
)
def test_an_in_memory_catalogue_is_refused(url):
    line = error_line(assetmgr("ls", db=url), ExitCode.CATALOGUE)
    assert line == (
        f"Error: {url!r} is an in-memory catalogue, gone when assetmgr exits: "
        "give a file path or sqlite:///PATH"
    )


def test_an_unknown_url_scheme_names_the_accepted_forms():
    line = error_line(assetmgr("ls", db="foo://x"), ExitCode.CATALOGUE)
    assert line == (
        "Error: --db 'foo://x' is not a catalogue: give a file path, sqlite:///PATH, "
        "or a server URL such as postgresql+psycopg://USER@HOST/DB"
    )


@pytest.mark.parametrize(
    ("url", "module", "install"),
    [
        (
            "postgresql+psycopg://me:secret@127.0.0.1/assets",
            "psycopg",
            "pip install 'assetmgr[postgres]'",
        ),
        ("postgresql://me@127.0.0.1/assets", "psycopg", "pip install 'assetmgr[postgres]'"),
        ("mysql://me@127.0.0.1/assets", "MySQLdb", "pip install mysqlclient"),
    ],
)
def test_a_missing_driver_names_the_pip_command(url, module, install):
    hidden = f"import sys; sys.modules[{module!r}] = None; from assetmgr.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", hidden, "--db", url, "ls"], capture_output=True, text=True
    )  # the driver cannot be imported, installed here or not
    line = error_line(result, ExitCode.CATALOGUE)
    shown = with_driver(url).replace(":secret@", ":***@")  # postgresql:// means psycopg
    assert (
        line == f"Error: the catalogue at {shown} needs a driver that is not installed: {install}"
    )


def test_no_catalogue_can_be_made_in_a_missing_folder(tmp_path):
    target = tmp_path / "nope" / "catalogue.db"
    line = error_line(assetmgr("ls", db=target), ExitCode.CATALOGUE)
    assert line == (
        f"Error: cannot create catalogue {target}: folder {target.parent} does not exist; "
        "create it or choose another --db"
    )


# -- real mounts: read-only, disk full ----------------------------------------------------


def test_a_read_only_catalogue_answers_reads_and_refuses_writes(tmpfs, tmp_path):
    mount = tmpfs()
    db = catalogue_at(mount.path / "catalogue.db", tmp_path / "images")
    Cli(db)("tag", "add", "kept", first_sha(db))
    mount.read_only()
    before = db.read_bytes()
    sha = first_sha(db)
    listed = assetmgr("ls", "--json", db=db)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3, listed.stderr
    assert assetmgr("show", sha[:8], db=db).returncode == 0
    assert "3 assets" in assetmgr("stats", db=db).stdout
    assert assetmgr("tag", "ls", db=db).stdout.split() == ["1", "kept"]
    write_image(tmp_path / "more" / "new.png", seed=77)
    for args in (["tag", "add", "x", sha], ["tag", "rm", "kept", sha], ["add", tmp_path / "more"]):
        line = error_line(assetmgr(*args, db=db), ExitCode.CATALOGUE)
        assert line == (
            f"Error: catalogue {db} is read-only: commands that only read it work; "
            "to change it, make it writable or choose another --db"
        )
    assert db.read_bytes() == before
    assert sorted(p.name for p in mount.path.iterdir()) == ["catalogue.db"]


def test_no_catalogue_can_be_made_on_a_read_only_mount(tmpfs):
    mount = tmpfs()
    mount.read_only()
    target = mount.path / "catalogue.db"
    line = error_line(assetmgr("ls", db=target), ExitCode.CATALOGUE)
    assert line == (
        f"Error: cannot create catalogue {target}: folder {mount.path} is read-only; "
        "choose another --db"
    )


def test_a_read_only_catalogue_at_an_older_schema_asks_to_be_made_writable(tmpfs):
    from assetmgr.db import make_engine, upgrade

    mount = tmpfs()
    db = mount.path / "catalogue.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine, "0001")
    engine.dispose()
    mount.read_only()
    before = db.read_bytes()
    line = error_line(assetmgr("ls", db=db), ExitCode.CATALOGUE)
    assert line == (
        f"Error: catalogue {db} is read-only and at schema 0001; this assetmgr needs "
        f"schema {head_revision()}: make it writable once to upgrade it"
    )
    assert db.read_bytes() == before


@pytest.mark.parametrize("leave", [64 * 1024, 0], ids=["nearly-full", "full"])
def test_a_full_disk_under_the_catalogue_changes_nothing(tmpfs, tmp_path, many_images, leave):
    mount = tmpfs("2m")
    db = catalogue_at(mount.path / "catalogue.db", tmp_path / "images")
    before = db.read_bytes()
    filler = mount.fill(leave)
    line = error_line(assetmgr("add", many_images, db=db), ExitCode.CATALOGUE)
    assert line.startswith(f"Error: catalogue {db}: disk full (")
    assert line.endswith("); free some space and run the command again")
    assert db.read_bytes() == before
    filler.unlink()
    listed = assetmgr("ls", "--json", db=db)
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 3


# -- settings, credentials ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "21", "2.5"])
def test_a_bad_max_retries_stops_before_any_work(catalogue, tmp_path, value):
    before = catalogue.read_bytes()
    write_image(tmp_path / "new" / "n.png", seed=42)
    result = assetmgr("add", tmp_path / "new", db=catalogue, env={"ASSETMGR_MAX_RETRIES": value})
    line = error_line(result, ExitCode.USAGE)
    assert line == f"Error: ASSETMGR_MAX_RETRIES={value!r}: give a whole number from 0 to 20"
    assert catalogue.read_bytes() == before


def test_ask_without_a_key_stops_before_sending(catalogue):
    before = catalogue.read_bytes()
    result = assetmgr(
        "ask", first_sha(catalogue), "--source", "base64", "--prompt", "What is it?", db=catalogue
    )
    line = error_line(result, ExitCode.AUTH)
    assert line.startswith("Error: no API key: set ANTHROPIC_API_KEY")
    assert result.stdout == ""
    assert catalogue.read_bytes() == before


# -- the local machine (exit 8), and stdout -----------------------------------------------


def test_the_emulator_on_a_busy_port():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = assetmgr("emulator", "--port", port)
    line = error_line(result, ExitCode.LOCAL)
    assert line == (
        f"Error: port {port} on 127.0.0.1 is in use; choose another with --port "
        "(0 picks a free one)"
    )
    assert result.stdout == ""


@pytest.fixture
def dev_full() -> Path:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    return Path("/dev/full")


def test_cat_to_a_full_device(catalogue, dev_full):
    sha = first_sha(catalogue)
    line = error_line(assetmgr("cat", sha, "-o", dev_full, db=catalogue), ExitCode.LOCAL)
    assert line == "Error: cannot write /dev/full: disk full; free some space or write elsewhere"
    with open(dev_full, "w") as full:
        result = assetmgr("cat", sha, db=catalogue, stdout=full)
    line = error_line(result, ExitCode.LOCAL)
    assert line == "Error: cannot write to stdout: disk full; free some space or write elsewhere"


def test_listing_into_a_full_device(catalogue, dev_full):
    with open(dev_full, "w") as full:
        for args in (["ls", "--json"], ["--help"]):
            error_line(assetmgr(*args, db=catalogue, stdout=full), ExitCode.LOCAL)


def test_cat_onto_a_full_disk_keeps_the_old_file(tmpfs, catalogue):
    mount = tmpfs("1m")
    target = mount.path / "out.png"
    target.write_bytes(b"an older file, kept whole")
    mount.fill()
    line = error_line(
        assetmgr("cat", first_sha(catalogue), "-o", target, db=catalogue), ExitCode.LOCAL
    )
    assert line == f"Error: cannot write {target}: disk full; free some space or write elsewhere"
    assert target.read_bytes() == b"an older file, kept whole"
    assert sorted(p.name for p in mount.path.iterdir()) == ["filler", "out.png"]


def test_a_closed_pipe_stops_quietly(tmp_path, db_path, many_images):
    """``assetmgr ls --json | head -1``: far more output than a pipe holds, reader gone."""
    assert Cli(db_path)("add", many_images).exit_code == 0
    command = [sys.executable, "-m", "assetmgr", "--db", str(db_path), "ls", "--json"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout.readline().startswith('{"sha256": ')
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == ExitCode.PIPE_CLOSED == 141
    assert stderr == ""


# -- the exit-code table: one source ------------------------------------------------------


def test_the_readme_table_is_rendered_from_exit_code():
    section = README.read_text().split("### Exit codes", 1)[1]
    table = "".join(re.findall(r"^\|.*\|\n", section.split("\n## ", 1)[0], re.M))
    assert table == exit_code_table()


def test_help_lists_every_exit_code_with_its_meaning():
    out = assetmgr("--help").stdout
    for code in ExitCode:
        assert re.search(rf"^\s+{code.value}\s+{re.escape(code.meaning)}$", out, re.M), code
