"""Migrations, on SQLite and PostgreSQL: a fresh upgrade matches the models; an older catalogue
is upgraded without losing its uploads; processes opening one catalogue at once never race each
other's migration; the head is known without Alembic; the wheel carries the migrations and
migrates a new catalogue after a plain install."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from assetmgr import Catalogue, Library
from assetmgr.db import head_revision, migrations_dir
from assetmgr.models import metadata

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.backends()
def test_fresh_upgrade_matches_the_models(db):
    from assetmgr.db import make_engine, upgrade

    engine = make_engine(db.url)
    upgrade(engine)  # every migration, from nothing
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert set(inspect(conn).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    engine.dispose()


def schema(engine) -> dict:
    """Tables with their columns (in any order: a migration adds a column at the end),
    keys, indexes (partial ones with their condition) and constraints."""
    found = {}
    with engine.connect() as conn:
        seen = inspect(conn)
        for table in seen.get_table_names():
            found[table] = {
                "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in seen.get_columns(table)),
                "pk": seen.get_pk_constraint(table)["constrained_columns"],
                "fks": sorted((f["name"], tuple(f["constrained_columns"]), f["referred_table"]) for f in seen.get_foreign_keys(table)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]), _where(i)) for i in seen.get_indexes(table)),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in seen.get_unique_constraints(table)),
            }  # fmt: skip
    return found


def _where(index: dict) -> str | None:
    """A partial index's condition, as the backend reports it."""
    options = index.get("dialect_options", {})
    where = options.get("sqlite_where", options.get("postgresql_where"))
    return None if where is None else str(where)


def test_a_new_catalogue_made_from_the_models_equals_a_migrated_one(tmp_path):
    """A new SQLite catalogue is made from the models and stamped at head (no Alembic on
    the way); it must be exactly what the migrations make."""
    from assetmgr.db import make_engine, upgrade

    made = Catalogue.open(tmp_path / "made.db")
    migrated = make_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    upgrade(migrated)
    assert schema(made.engine) == schema(migrated)
    with made.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == head_revision()
    made.close()
    migrated.dispose()


def test_on_postgresql_the_models_equal_the_migrated_schema(postgres_server):
    """What the models would make (``create_all``) is what the migrations made: column types
    with their collation, keys, indexes with their conditions."""
    from sqlalchemy import create_engine

    from assetmgr.db import make_engine, upgrade

    made_url, migrated_url = postgres_server.create_database(), postgres_server.create_database()
    made, migrated = create_engine(made_url), make_engine(migrated_url)
    try:
        metadata.create_all(made)
        upgrade(migrated)
        made_schema, migrated_schema = schema(made), schema(migrated)
        migrated_schema.pop("alembic_version")
        assert made_schema == migrated_schema
        paths = made_schema["sources"]["columns"]
        assert ("path", 'TEXT COLLATE "C"', False) in paths
    finally:
        made.dispose()
        migrated.dispose()
        postgres_server.drop_database(made_url)
        postgres_server.drop_database(migrated_url)


def test_head_from_file_names_is_alembics_head():
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    assert ScriptDirectory.from_config(config).get_current_head() == head_revision()


def test_sqlite_settings(db_path):
    catalogue = Catalogue.open(db_path)
    with catalogue.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
    catalogue.close()


def test_an_older_catalogue_is_upgraded_on_open(db_path):
    """A catalogue left at an earlier revision (here: before the first) is brought to head."""
    from assetmgr.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{db_path}")
    upgrade(engine, "base")
    engine.dispose()
    catalogue = Catalogue.open(db_path)
    with catalogue.engine.connect() as conn:
        assert (
            conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            == head_revision()
        )
    catalogue.close()


# An upload recorded by an assetmgr of schema 0003, as its tables held it.
OLD_ROWS = [
    "INSERT INTO assets (id, sha256, format, media_type, width, height, mode, frames, "
    "size_bytes, created_at) VALUES (1, :asset, 'PNG', 'image/png', 64, 48, 'RGB', 1, 300, "
    ":now)",
    "INSERT INTO renditions (id, sha256, media_type, width, height, size_bytes, tokens, "
    "created_at) VALUES (1, :rendition, 'image/png', 64, 48, 300, 6, :now)",
    "INSERT INTO asset_renditions (asset_id, policy, rendition_id, warnings, created_at) "
    "VALUES (1, 'vision', 1, '[]', :now)",
    "INSERT INTO sources (id, asset_id, path, path_bytes, size_bytes, mtime_ns, inode, "
    "first_seen_at, last_seen_at) VALUES (1, 1, '/photos/a.png', NULL, 300, 1, 2, :now, :now)",
    "INSERT INTO remotes (id, base_url, workspace, created_at) VALUES "
    "(1, 'https://api.anthropic.com', 'default', :now)",
    "INSERT INTO uploads (id, rendition_id, remote_id, file_id, filename, size_bytes, state, "
    "created_at) VALUES (1, 1, 1, 'file_011', 'a.sha256-r.png', 300, 'active', :now)",
]


@pytest.mark.backends()
def test_an_older_catalogue_keeps_its_uploads_through_the_upgrade(db):
    from datetime import datetime, timezone

    from assetmgr.db import make_engine, upgrade

    engine = make_engine(db.url)
    upgrade(engine, "0003")
    engine.dispose()
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    stored = now if db.backend == "postgresql" else "2026-11-01 00:00:00.000000"  # as written
    for sql in OLD_ROWS:
        db.execute(sql, asset="a" * 64, rendition="b" * 64, now=stored)
    with Library.open(db.url) as lib:
        [upload] = lib.show("a" * 64).uploads
    assert (upload.file_id, upload.state, upload.created_at) == ("file_011", "active", now)
    assert db.rows("SELECT version_num FROM alembic_version") == [(head_revision(),)]


@pytest.mark.backends()
def test_the_upgrade_recomputes_token_estimates_by_the_visual_token_rule(db):
    """Renditions costed by the older width*height/750 rule get ceil(w/28)*ceil(h/28) at the
    size the standard tier reads, from their recorded size alone; a downgrade restores them."""
    from datetime import datetime, timezone

    from assetmgr.db import make_engine, upgrade

    engine = make_engine(db.url)
    upgrade(engine, "0005")
    now = datetime(2026, 11, 1, tzinfo=timezone.utc)
    stored = now if db.backend == "postgresql" else "2026-11-01 00:00:00.000000"
    shapes = {1: (1429, 804, 1532, 1508), 2: (1920, 1080, 1532, 1560), 3: (64, 48, 5, 6)}
    for key, (width, height, old, _) in shapes.items():
        db.execute(
            "INSERT INTO renditions (id, sha256, media_type, width, height, size_bytes, tokens, "
            "created_at) VALUES (:id, :sha, 'image/jpeg', :w, :h, 1000, :t, :now)",
            id=key, sha=str(key) * 64, w=width, h=height, t=old, now=stored,
        )  # fmt: skip
    upgrade(engine, "0006")
    new = {key: new for key, (_, _, _, new) in shapes.items()}
    assert dict(db.rows("SELECT id, tokens FROM renditions")) == new
    from alembic import command

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    old = {key: old for key, (_, _, old, _) in shapes.items()}
    assert dict(db.rows("SELECT id, tokens FROM renditions")) == old
    engine.dispose()


OPEN = """
import os, sys, time
from pathlib import Path
from assetmgr import Catalogue
import alembic.command, sqlalchemy  # imported before the start: they start together
Path(sys.argv[2], str(os.getpid())).touch()
while not Path(sys.argv[2], "go").exists():
    time.sleep(0.001)
Catalogue.open(sys.argv[1]).close()
"""


@pytest.mark.backends()
@pytest.mark.parametrize("start", ["new", "0001"])
def test_processes_opening_a_catalogue_at_once_never_race_its_migration(db, tmp_path, start):
    """Four processes open a new catalogue (or one at schema 0001) at the same moment: each
    opens it, and it is migrated once, to head."""
    from assetmgr.db import make_engine, upgrade

    if start != "new":
        engine = make_engine(db.url)
        upgrade(engine, start)
        engine.dispose()
    signals = tmp_path / "signals"
    signals.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, str(db), str(signals)], stderr=subprocess.PIPE, text=True
        )  # fmt: skip
        for _ in range(4)
    ]
    while len(list(signals.iterdir())) < 4 and all(p.poll() is None for p in procs):
        time.sleep(0.01)  # until every process is ready to open
    (signals / "go").touch()
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(errors)
    assert db.rows("SELECT version_num FROM alembic_version") == [(head_revision(),)]


@pytest.mark.backends()
def test_reopening_does_not_import_alembic(db):
    Catalogue.open(str(db)).close()
    code = f"import sys; from assetmgr import Catalogue; Catalogue.open({str(db)!r}); print('alembic' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_wheel_carries_migrations_and_migrates_a_new_catalogue(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = dist.glob("assetmgr-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "assetmgr/_migrations/env.py" in names
    assert any(n.startswith("assetmgr/_migrations/versions/0001_") for n in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    # The dependencies come from this interpreter's site-packages; assetmgr itself only
    # from the wheel (an editable install's .pth is not read from PYTHONPATH).
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    code = (
        "import assetmgr, assetmgr.db as d; from assetmgr import Catalogue\n"
        f"e = d.make_engine('sqlite:///' + {str(tmp_path / 'new.db')!r}); d.upgrade(e, '0001')\n"
        "e.dispose()  # an old catalogue: opening it runs the packaged migrations\n"
        f"c = Catalogue.open({str(tmp_path / 'new.db')!r})\n"
        "print(assetmgr.__file__); print(d.migrations_dir())\n"
        "print(c.engine.connect().exec_driver_sql('select version_num from alembic_version').scalar())"
    )
    result = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    module_file, migrations, version = result.stdout.split()
    assert module_file.startswith(str(env_dir))
    assert migrations.startswith(str(env_dir)) and migrations.endswith("_migrations")
    assert version == head_revision()
