"""Catalogues of many assets made without image files, for tests and benchmarks of scale.

``asset_batch(n)`` is one ``IngestBatch`` of ``n`` made-up PNG assets, each with its own
vision rendition (the asset's sha256 with its first ``0`` turned into an ``e``), written
through the catalogue's own write path. ``upload_everything`` then makes a file in the
emulator for every rendition and records it as an active upload checked now.
"""

from __future__ import annotations

from datetime import datetime, timezone

from assetmgr.catalogue import IngestBatch
from assetmgr.models import Upload


def asset_batch(n: int, *, sources: bool = False) -> tuple[IngestBatch, list[str]]:
    """The batch and the assets' sha256s, in order; with ``sources``, one made-up path each."""
    batch, shas = IngestBatch.new(), [f"{i:064x}" for i in range(n)]
    for i, sha in enumerate(shas):
        rendition = sha.replace("0", "e", 1)
        batch.assets.append(dict(sha256=sha, format="PNG", media_type="image/png", width=64,
                                 height=48, mode="RGB", frames=1, orientation=None,
                                 size_bytes=1000))  # fmt: skip
        batch.renditions.append(dict(sha256=rendition, media_type="image/png", width=64,
                                     height=48, size_bytes=900, tokens=5))  # fmt: skip
        batch.links.append((sha, "vision", rendition, []))
        if sources:
            batch.sources.append((f"/nowhere/{i:05}.png", sha, 1000, 1, i))
    return batch, shas


def upload_everything(catalogue, emulator, remote_id: int, workspace: str = "default") -> list:
    """A file in ``emulator``'s ``workspace`` for every rendition of ``catalogue``, recorded
    as its active upload in the remote ``remote_id``; the file ids."""
    now = datetime.now(timezone.utc)
    with catalogue.writing() as conn:
        rows, file_ids = [], []
        for rendition_id, sha in conn.exec_driver_sql("SELECT id, sha256 FROM renditions"):
            name = f"img.sha256-{sha}.png"
            made = emulator.store.add(workspace, name, "image/png", b"x" * 900)
            file_ids.append(made.id)
            rows.append(dict(rendition_id=rendition_id, remote_id=remote_id, file_id=made.id,
                             filename=name, size_bytes=900, state="active", created_at=now,
                             last_verified_at=now))  # fmt: skip
        conn.execute(Upload.__table__.insert(), rows)
    return file_ids
