"""Migrations: a fresh upgrade matches the models; the head is known without Alembic;
the wheel carries the migrations and migrates a new catalogue after a plain install."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from assetmgr import Catalogue
from assetmgr.db import head_revision, migrations_dir
from assetmgr.models import metadata

REPO = Path(__file__).resolve().parent.parent


def test_fresh_upgrade_matches_the_models(db_path):
    from assetmgr.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{db_path}")
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
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]), {k: str(v) for k, v in i.get("dialect_options", {}).items()}.get("sqlite_where")) for i in seen.get_indexes(table)),
                "unique": sorted((u["name"], tuple(u["column_names"])) for u in seen.get_unique_constraints(table)),
            }  # fmt: skip
    return found


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


def test_reopening_does_not_import_alembic(db_path):
    Catalogue.open(db_path).close()
    code = f"import sys; from assetmgr import Catalogue; Catalogue.open({str(db_path)!r}); print('alembic' in sys.modules)"
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
