"""Token estimates follow how Claude reads images today: ``renditions.tokens`` becomes the
visual-token count at the standard tier, ``ceil(w/28) * ceil(h/28)`` at the size the server reads
(``assetmgr.limits.served_tokens`` today), in place of the older width*height/750. No image is
read: the figure follows from each rendition's width and height. Both rules are written out
here, frozen: a later change of ``limits`` ships its own migration, and this one keeps
computing with the rules of its day.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHUNK = 1000
RENDITIONS = sa.table("renditions", sa.column("width"), sa.column("height"), sa.column("tokens"))


def upgrade() -> None:
    _recompute(_standard_tier_tokens)


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


def _standard_tier_tokens(width: int, height: int, edge: int = 1568, budget: int = 1568) -> int:
    """ceil(w/28) * ceil(h/28) at the size the standard tier reads: unchanged within 1568 px
    and 1568 patches, else the largest aspect-preserving size within both (the long side
    searched down, the short side rounded half to even)."""

    def patches(w: int, h: int) -> int:
        return -(-w // 28) * -(-h // 28)

    if max(width, height) <= edge and patches(width, height) <= budget:
        return patches(width, height)
    long, short = max(width, height), min(width, height)
    for side in range(min(long, edge), 0, -1):
        other, rest = divmod(side * short, long)
        other += 2 * rest > long or (2 * rest == long and other % 2)
        if patches(side, max(1, other)) <= budget:
            return patches(side, max(1, other))
    return 1
