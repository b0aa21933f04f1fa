"""What the catalogue keeps of ``GET /v1/models``: the ``model_info`` rows ``assetmgr models
--refresh`` stores (one transaction, from the calling thread) and ``Library.model`` reads.

Rows are plain dicts of the table's columns; ``capabilities`` is kept as JSON text. The fast
path reads the same rows with ``sqlite3`` (``lookup.stored_model``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from .catalogue import Catalogue
from .models import ModelInfo, model_info, utcnow
from .modelspec import STORED

COLUMNS = tuple(c.name for c in model_info.columns)


def stored(catalogue: Catalogue, model: str) -> dict[str, Any] | None:
    """The stored row of ``model`` (exact id), with the fields ``modelspec.spec_for`` takes."""
    query = select(*(model_info.c[name] for name in STORED)).where(ModelInfo.id == model)
    with catalogue.reading() as conn:
        row = conn.execute(query).first()
    return dict(zip(STORED, row)) if row else None


def stored_all(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Every stored row, by id, with ``capabilities`` as a dict."""
    with catalogue.reading() as conn:
        rows = conn.execute(select(model_info).order_by(ModelInfo.id)).all()
    return [_read(dict(zip(COLUMNS, row))) for row in rows]


def replace_all(catalogue: Catalogue, rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Store ``rows`` (from ``models_api.fetch``) in place of every stored row: the API's list is
    the whole truth of its moment. Returns the ids stored."""
    now = utcnow()
    values = [_written(row, now) for row in {row["id"]: row for row in rows}.values()]
    with catalogue.writing() as conn:
        conn.execute(delete(model_info))
        if values:
            conn.execute(insert(model_info), values)
    return [v["id"] for v in values]


def _written(row: Mapping[str, Any], now) -> dict[str, Any]:
    values = {name: row.get(name) for name in COLUMNS if name != "fetched_at"}
    if values["capabilities"] is not None:
        values["capabilities"] = json.dumps(values["capabilities"], sort_keys=True)
    return {**values, "fetched_at": now}


def _read(row: dict[str, Any]) -> dict[str, Any]:
    if row["capabilities"]:
        try:
            row["capabilities"] = json.loads(row["capabilities"])
        except ValueError:
            row["capabilities"] = None
    return row
