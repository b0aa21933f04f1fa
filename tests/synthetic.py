"""Catalogues of many assets made without image files, for tests and benchmarks of scale.

``asset_batch(n)`` is one ``IngestBatch`` of ``n`` made-up PNG assets, each with its own
vision rendition (the asset's sha256 with its first ``0`` turned into an ``e``), written
through the catalogue's own write path. ``record_uploads`` records an active upload of every
rendition; ``upload_everything`` also makes each file in the emulator first.
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


def record_uploads(catalogue, remote_id: int, file_for) -> list:
    """An active upload, checked now and never expiring, of every rendition of ``catalogue``
    in the remote ``remote_id``; ``file_for(sha256)`` gives its (file id, file name, size).
    The file ids."""
    now = datetime.now(timezone.utc)
    with catalogue.writing() as conn:
        rows = []
        for rendition_id, sha in conn.exec_driver_sql("SELECT id, sha256 FROM renditions"):
            file_id, name, size = file_for(sha)
            rows.append(dict(rendition_id=rendition_id, remote_id=remote_id, file_id=file_id,
                             filename=name, size_bytes=size, state="active", created_at=now,
                             expires_at=None, last_verified_at=now))  # fmt: skip
        conn.execute(Upload.__table__.insert(), rows)
    return [row["file_id"] for row in rows]


def upload_everything(catalogue, emulator, remote_id: int, workspace: str = "default") -> list:
    """A file in ``emulator``'s ``workspace`` for every rendition of ``catalogue``, recorded
    as its active upload in the remote ``remote_id``; the file ids."""

    def made(sha: str) -> tuple[str, str, int]:
        name = f"img.sha256-{sha}.png"
        return emulator.store.add(workspace, name, "image/png", b"x" * 900).id, name, 900

    return record_uploads(catalogue, remote_id, made)
