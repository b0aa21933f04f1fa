"""Reuse of near-duplicates: ``near_links`` (an asset that uses its best copy's rendition under a
policy instead of its own: ``add --reuse-near``; the asset's own rendition and warnings are kept
on the row, so that ``dupes unlink`` gives them back) and ``run_copies`` (an asset a run did not
ask about because its best copy was asked: ``run --skip-near``; it gets that answer, marked as a
copy). New tables only; nothing else changes.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "near_links",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("best_id", sa.Integer(), nullable=True),
        sa.Column("own_rendition_id", sa.Integer(), nullable=False),
        sa.Column("own_warnings", sa.Text(), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_near_links_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["best_id"],
            ["assets.id"],
            name=op.f("fk_near_links_best_id_assets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["own_rendition_id"],
            ["renditions.id"],
            name=op.f("fk_near_links_own_rendition_id_renditions"),
        ),
        sa.PrimaryKeyConstraint("asset_id", "policy", name=op.f("pk_near_links")),
    )
    with op.batch_alter_table("near_links") as batch:
        batch.create_index(batch.f("ix_near_links_best_id"), ["best_id"], unique=False)
        batch.create_index(
            batch.f("ix_near_links_own_rendition_id"), ["own_rendition_id"], unique=False
        )
    op.create_table(
        "run_copies",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("copy_of", sa.String(length=64), nullable=False),
        sa.Column("distance", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_run_copies_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "asset", name=op.f("pk_run_copies")),
    )


def downgrade() -> None:
    op.drop_table("run_copies")
    op.drop_table("near_links")
