"""Where the migrations are, and the newest revision, known without importing Alembic or SQLAlchemy.

Revision files are named ``NNNN_slug.py`` and hold revision ``NNNN``; a test keeps this
equal to Alembic's own answer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


def migrations_dir() -> Path:
    """The Alembic script folder: packaged in a wheel, top level in a checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "_migrations"
    return packaged if packaged.is_dir() else here.parent / "migrations"


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    names = [p.name.split("_", 1)[0] for p in (migrations_dir() / "versions").glob("*_*.py")]
    return max(names) if names else None
