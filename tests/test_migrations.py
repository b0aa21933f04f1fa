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
from assetmgr.models import Base

REPO = Path(__file__).resolve().parent.parent


def test_fresh_upgrade_matches_the_models(db_path):
    catalogue = Catalogue.open(db_path)
    with catalogue.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert set(inspect(conn).get_table_names()) == set(Base.metadata.tables) | {
            "alembic_version"
        }
    catalogue.close()


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
