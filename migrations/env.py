"""Alembic environment for the assetmgr catalogue.

assetmgr passes its own connection in ``config.attributes["connection"]`` (see
``assetmgr.db.upgrade``); the ``alembic`` command line builds one from
``alembic.ini`` instead. Batch mode lets SQLite alter tables.
"""

from alembic import context
from sqlalchemy import create_engine

from assetmgr.models import metadata

config = context.config
target_metadata = metadata


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata, render_as_batch=True, compare_type=True, **kwargs
    )


def run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as connection:
        _run(connection)


def _run(connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
