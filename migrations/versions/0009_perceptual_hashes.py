"""What each asset looks like, for finding near-duplicates: a new table, ``perceptual_hashes``
(a perceptual hash under a named algorithm and version, a 4x4 thumbnail, the grey spread).
Existing assets get theirs from their stored renditions (``assetmgr dupes --near``).
And ``near_decisions``: what a user decided of two assets (``assetmgr dupes mark``).
Nothing else changes.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "perceptual_hashes",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=16), nullable=False),
        sa.Column("thumb", sa.String(length=96), nullable=False),
        sa.Column("spread", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_perceptual_hashes_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", "algorithm", name=op.f("pk_perceptual_hashes")),
    )

    op.create_table(
        "near_decisions",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_near_decisions_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["assets.id"],
            name=op.f("fk_near_decisions_other_id_assets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", "other_id", name=op.f("pk_near_decisions")),
    )


def downgrade() -> None:
    op.drop_table("near_decisions")
    op.drop_table("perceptual_hashes")
