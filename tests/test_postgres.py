"""A catalogue on PostgreSQL: the URLs and drivers, what a server can be unlike SQLite (a session
time zone that is not UTC, a locale that sorts paths its own way, another encoding), errors in
one line, and every command working on it."""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.engine import make_url

from assetmgr import Library
from assetmgr.db import with_driver
from tests.backends import PostgresDb
from tests.conftest import assetmgr, error_line, write_image

pytestmark = pytest.mark.backends("postgresql")  # tests with a catalogue (``db``): on a server


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections are refused


# -- URLs and drivers ---------------------------------------------------------------------


def test_a_plain_postgresql_url_means_psycopg():
    assert with_driver("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert with_driver("postgres://u:p@h:5433/db") == "postgresql+psycopg://u:p@h:5433/db"
    for url in ("postgresql+psycopg://u@h/db", "postgresql+pg8000://u@h/db", "sqlite:///x.db"):
        assert with_driver(url) == url


def test_another_missing_driver_is_named_too():
    pytest.importorskip("psycopg")  # the one assetmgr ships; pg8000 is not installed
    url = f"postgresql+pg8000://someone@127.0.0.1:{closed_port()}/catalogue"
    line = error_line(assetmgr("ls", db=url), 5)
    assert line.endswith("needs a driver that is not installed: pip install pg8000")


def test_a_server_out_of_reach_is_one_line_without_the_password():
    pytest.importorskip("psycopg")
    url = f"postgresql://someone:s3cret@127.0.0.1:{closed_port()}/catalogue"
    line = error_line(assetmgr("ls", db=url), 5)
    assert line.startswith("Error: catalogue postgresql+psycopg://someone:***@127.0.0.1:")
    assert "s3cret" not in line


# -- on a server -------------------------------------------------------------------------------


def test_every_command_works_on_postgresql(tmp_path, run, uploading, db):
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(300, 200))
    plain = db.url.replace("postgresql+psycopg://", "postgresql://")  # the same catalogue
    added = assetmgr("add", tmp_path / "in", "--tag", "shots", "--json", db=plain)
    assert added.returncode == 0, added.stderr
    records = [json.loads(line) for line in added.stdout.splitlines()]
    assert {r["upload"] for r in records} == {"uploaded"}
    sha = records[0]["sha256"]
    [block] = json.loads(run("block", sha[:8]).stdout)
    assert block["source"] == {"type": "file", "file_id": records[0]["file_id"]}
    requested = run("request", "--tag", "shots", "--prompt", "Which?").stdout.splitlines()
    [body] = [json.loads(line) for line in requested]
    assert sum(c["type"] == "image" for c in body["messages"][0]["content"]) == 3
    assert len(run.json_lines("ls")) == 3 and sha in run("show", sha).stdout
    assert run("tag", "rm", "shots", sha).exit_code == 0
    assert "shots" in run("tag", "ls").stdout and run("stats").exit_code == 0
    assert run("push").exit_code == 0 and len(uploading.files()) == 3


def test_times_come_back_in_utc_whatever_the_sessions_time_zone(tmp_path, db):
    zone = db.rows("SHOW timezone")[0][0]
    write_image(tmp_path / "a.png", seed=1)
    with Library.open(db.url) as lib:
        [outcome] = lib.add([tmp_path])
        record = lib.show(outcome.sha256)
    assert record.created_at.utcoffset() == timedelta(0), zone
    assert record.sources[0].last_seen_at.utcoffset() == timedelta(0), zone


def test_paths_compare_as_bytes_whatever_the_databases_locale(tmp_path, postgres_server):
    """A database that sorts as glibc's en_US.UTF-8 does (punctuation ignored at first): the
    stat cache's range for folder ``in`` must still hold ``in/...``, and an asset's paths
    come in byte order (its first path is the one SQLite would name)."""
    url = postgres_server.create_database()
    name = make_url(url).database
    try:
        postgres_server.drop_database(url)
        with postgres_server.engine.connect() as conn:
            conn.exec_driver_sql(
                f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                "LOCALE_PROVIDER icu ICU_LOCALE 'und-u-ka-shifted' LOCALE 'C'"
            )
    except Exception as e:
        pytest.skip(f"this server has no ICU collations: {e}")
    db = PostgresDb(url)
    try:
        assert db.rows("SELECT '/x/in/foo' < '/x/in0'") == [(False,)]  # the locale's order
        for n, folder in enumerate(("in", "in-b", "in.c", "in0", "In")):
            for i in range(3):
                write_image(tmp_path / folder / f"{i}.png", seed=100 + 3 * n + i)  # distinct
        same = [tmp_path / "in" / "9.png", tmp_path / "in-b" / "9.png"]  # not ICU's order
        for path in same:
            write_image(path, seed=999)
        with Library.open(url) as lib:
            [outcome] = [o for o in lib.add([tmp_path]) if o.path == str(same[1])]
            assert lib.ingest([tmp_path / "in"]).to_read == []  # every file found unchanged
            assert lib.ingest([tmp_path]).to_read == []
            paths = [s.path for s in lib.show(outcome.sha256).sources]
            [row] = [r for r in lib.catalogue.asset_rows() if r.sha256 == outcome.sha256]
        assert paths == sorted(map(str, same)) and row.path == str(same[1])  # "-" < "/"
    finally:
        db.close()
        postgres_server.drop_database(url)


def test_a_database_not_in_utf8_is_refused_before_anything_is_made(postgres_server):
    url = postgres_server.create_database()
    name = make_url(url).database
    postgres_server.drop_database(url)
    with postgres_server.engine.connect() as conn:
        conn.exec_driver_sql(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'LATIN1' LOCALE 'C'"
        )
    db = PostgresDb(url)
    try:
        line = error_line(assetmgr("ls", db=url), 5)
        assert "uses the encoding LATIN1; a catalogue needs UTF8" in line
        assert db.rows("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]
    finally:
        db.close()
        postgres_server.drop_database(url)


def test_a_role_that_may_not_write_gets_one_line(tmp_path, db, postgres_server):
    write_image(tmp_path / "a.png", seed=1)
    assert assetmgr("add", tmp_path, db=db).returncode == 0
    reader = f"reader_{make_url(db.url).database[-12:]}"
    db.execute(f"CREATE ROLE {reader} LOGIN")
    db.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}")
    url = make_url(db.url).set(username=reader).render_as_string(hide_password=False)
    try:
        assert len(assetmgr("ls", "--json", db=url).stdout.splitlines()) == 1  # it may read
        write_image(tmp_path / "b.png", seed=2)
        line = error_line(assetmgr("add", tmp_path, db=url), 5)
        assert "permission denied" in line and "choose another --db" in line
    finally:
        db.execute(f"DROP OWNED BY {reader}")
        db.execute(f"DROP ROLE {reader}")


def test_a_transaction_aborted_to_break_a_deadlock_runs_again(tmp_path, db):
    """Two writers take two rows in opposite orders: the server aborts one to break the
    deadlock, and ``Catalogue.transaction`` runs that one again; both succeed."""
    from sqlalchemy import update

    from assetmgr import Catalogue
    from assetmgr.models import Asset

    for i in range(2):
        write_image(tmp_path / f"{i}.png", seed=i)
    with Library.open(db.url) as lib:
        lib.add([tmp_path])
    first, second = (i for (i,) in db.rows("SELECT id FROM assets ORDER BY id"))
    barrier, attempts, errors = threading.Barrier(2), Counter(), []

    def writer(name: str, ids: tuple[int, int]) -> None:
        def work(conn) -> None:
            attempts[name] += 1
            conn.execute(update(Asset).where(Asset.id == ids[0]).values(mode=name))
            if attempts[name] == 1:
                barrier.wait(timeout=30)  # both hold their first row
            conn.execute(update(Asset).where(Asset.id == ids[1]).values(mode=name))

        with Catalogue.open(db.url) as catalogue:
            try:
                catalogue.transaction(work)
            except Exception as e:
                errors.append(e)

    threads = [threading.Thread(target=writer, args=("a", (first, second))),
               threading.Thread(target=writer, args=("b", (second, first)))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and sorted(attempts.values()) == [1, 2]
    assert len({mode for (mode,) in db.rows("SELECT mode FROM assets")}) == 1  # one won last
