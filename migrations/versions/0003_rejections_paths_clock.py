"""Known rejections, exact bytes of non-UTF-8 paths, the API's clock per remote, and the
lifetime each upload asked for.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("path_bytes", sa.LargeBinary(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("inode", sa.BigInteger(), nullable=True),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejections")),
        sa.UniqueConstraint("path", name=op.f("uq_rejections_path")),
    )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("path_bytes", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("remotes") as batch:
        batch.add_column(sa.Column("clock_offset_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("clock_checked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("expires_in_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("expires_in_seconds")
    with op.batch_alter_table("remotes") as batch:
        batch.drop_column("clock_checked_at")
        batch.drop_column("clock_offset_seconds")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("path_bytes")
    op.drop_table("rejections")
