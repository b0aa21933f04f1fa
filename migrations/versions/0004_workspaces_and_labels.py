"""Workspaces as the API reports them; what the user typed becomes a label of one.

A remote was a base URL plus the name given with ``--workspace``. Now it is a base URL
plus the workspace id the API reports for the key, and names are labels kept apart in
``workspace_labels``. Each existing remote keeps its uploads and gets its old name as a
label; its workspace id is left unknown (None) and learnt the first time a run reaches
it, which attaches its uploads to the real workspace (``workspaces.py``): they are marked
unverified, so that the next push looks them up there, which is also the request that
tells the workspace. Base URLs are
normalised as ``remote.normalise_url`` does now (a clash of two spellings of one server
under one name keeps both, the later one labelled ``NAME~ID``). Upload rows learn how
they came to be (``origin``).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from assetmgr.remote import normalise_url

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_id"],
            ["remotes.id"],
            name=op.f("fk_workspace_labels_remote_id_remotes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_labels")),
        sa.UniqueConstraint("base_url", "name", name=op.f("uq_workspace_labels_base_url")),
    )
    op.create_index(
        op.f("ix_workspace_labels_remote_id"), "workspace_labels", ["remote_id"], unique=False
    )
    _labels_from_names()
    op.execute("UPDATE uploads SET last_verified_at = NULL WHERE state = 'active'")
    with op.batch_alter_table("remotes") as batch:
        batch.drop_constraint("uq_remotes_base_url", type_="unique")
        batch.drop_column("workspace")
        batch.create_unique_constraint("uq_remotes_base_url", ["base_url", "workspace_id"])
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(
            sa.Column("origin", sa.String(length=16), server_default="uploaded", nullable=False)
        )


def _labels_from_names() -> None:
    """Each remote's name becomes its label; its base URL is normalised; the workspace id
    it was sent with (a header value, not necessarily what the API reports) is dropped."""
    conn = op.get_bind()
    remotes = sa.table(
        "remotes",
        sa.column("id"),
        sa.column("base_url"),
        sa.column("workspace"),
        sa.column("workspace_id"),
        sa.column("created_at"),
    )
    labels = sa.table(
        "workspace_labels",
        sa.column("base_url"),
        sa.column("name"),
        sa.column("remote_id"),
        sa.column("created_at"),
    )
    taken: set[tuple[str, str]] = set()
    rows = conn.execute(
        sa.select(
            remotes.c.id, remotes.c.base_url, remotes.c.workspace, remotes.c.created_at
        ).order_by(remotes.c.id)
    ).all()
    for id_, base_url, name, created in rows:
        url = normalise_url(base_url)
        label = name if (url, name) not in taken else f"{name}~{id_}"
        taken.add((url, label))
        conn.execute(
            remotes.update().where(remotes.c.id == id_).values(base_url=url, workspace_id=None)
        )
        conn.execute(
            labels.insert().values(base_url=url, name=label, remote_id=id_, created_at=created)
        )


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("remotes") as batch:
        batch.add_column(sa.Column("workspace", sa.String(length=200), nullable=True))
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE remotes SET workspace = COALESCE((SELECT min(name) FROM workspace_labels l "
            "WHERE l.remote_id = remotes.id), 'remote-' || id)"
        )
    )
    with op.batch_alter_table("remotes") as batch:
        batch.drop_constraint("uq_remotes_base_url", type_="unique")
        batch.alter_column("workspace", nullable=False, existing_type=sa.String(length=200))
        batch.create_unique_constraint("uq_remotes_base_url", ["base_url", "workspace"])
    op.drop_index(op.f("ix_workspace_labels_remote_id"), table_name="workspace_labels")
    op.drop_table("workspace_labels")
