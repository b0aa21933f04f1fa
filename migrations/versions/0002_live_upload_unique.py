"""At most one live (pending or active) upload per rendition and remote.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "state IN ('pending', 'active')"


def upgrade() -> None:
    op.create_index(
        "uq_uploads_live",
        "uploads",
        ["rendition_id", "remote_id"],
        unique=True,
        sqlite_where=sa.text(LIVE),
        postgresql_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_uploads_live", table_name="uploads")
