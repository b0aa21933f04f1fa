"""Uploads found by file id: an index on ``uploads.file_id``, for references that are a file
id (``show file_011CZk...``, ``serve``'s ``resolve``), which otherwise read every upload (the
unique constraint on ``(remote_id, file_id)`` does not serve a lookup by file id alone).

Revision ID: 0011
Revises: 0010
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.create_index(batch.f("ix_uploads_file_id"), ["file_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_index(batch.f("ix_uploads_file_id"))
