"""Token estimates follow how Claude reads images today: ``renditions.tokens`` becomes the
visual-token count at the standard tier, ``ceil(w/28) * ceil(h/28)`` at the size the server reads
(``assetmgr.limits.served_tokens``), in place of the older width*height/750. No image is read:
the figure follows from each rendition's width and height. A later change of the rule ships its
own migration, so this one keeps computing with the rule of its day.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from assetmgr.limits import served_tokens

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHUNK = 1000
RENDITIONS = sa.table("renditions", sa.column("width"), sa.column("height"), sa.column("tokens"))


def upgrade() -> None:
    _recompute(served_tokens)


def downgrade() -> None:
    _recompute(lambda width, height: -(-_old_served(width, height) // 750))


def _recompute(rule) -> None:
    """Every rendition's ``tokens`` by ``rule(width, height)``: one statement per shape."""
    bind = op.get_bind()
    shapes = bind.execute(sa.select(RENDITIONS.c.width, RENDITIONS.c.height).distinct()).all()
    update = (
        RENDITIONS.update()
        .where(RENDITIONS.c.width == sa.bindparam("w"), RENDITIONS.c.height == sa.bindparam("h"))
        .values(tokens=sa.bindparam("t"))
    )
    for start in range(0, len(shapes), CHUNK):
        rows = [{"w": w, "h": h, "t": rule(w, h)} for w, h in shapes[start : start + CHUNK]]
        bind.execute(update, rows)


def _old_served(width: int, height: int) -> int:
    """The older rule's served area: long edge 1568 px and about 1.15 MP, never up."""
    scale = min(1.0, 1568 / max(width, height), (1_150_000 / (width * height)) ** 0.5)
    if scale >= 1.0:
        return width * height
    return max(1, int(width * scale)) * max(1, int(height * scale))
