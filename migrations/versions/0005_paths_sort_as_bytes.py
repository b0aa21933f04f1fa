"""Paths sort by their bytes on PostgreSQL too: ``sources.path`` and ``rejections.path`` get
the "C" collation, so that a folder's paths are one range of the unique index whatever the
database's locale (SQLite always compares text so).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = ("sources", "rejections")


def upgrade() -> None:
    _collate_paths(sa.Text(), sa.Text(collation="C"))


def downgrade() -> None:
    _collate_paths(sa.Text(collation="C"), sa.Text())


def _collate_paths(old: sa.Text, new: sa.Text) -> None:
    """The path columns from ``old`` to ``new`` (on PostgreSQL; SQLite needs nothing)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "path", type_=new, existing_type=old, existing_nullable=False)
