"""The upload journal: rows in ``uploads`` that make uploading crash-safe and never twice.

Before a file is sent, a ``pending`` row naming the rendition and remote is
committed with a lease (owner and expiry). A partial unique index allows one
live (pending or active) row per rendition and remote, so of several processes
only one can claim a rendition. A lease is stale when it has expired, or when
its owner was a process on this host that no longer runs (``kill -9``); a stale
row is resolved by looking for the hash-named file on the remote before anything
is uploaded again.

An upload that the SDK had to retry may have left a second copy behind (a lost
response, then a retry). Its row becomes ``active`` but keeps its lease until the
copies have been swept; should the process die first, the next run finds an active
row with a stale lease and sweeps then.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update

from .catalogue import Catalogue, _dialect_insert
from .limits import EXPIRY_SAFETY
from .models import Remote, Rendition, Upload, utcnow
from .remote import RemoteSpec

LEASE = timedelta(minutes=15)
RECHECK_AFTER = timedelta(days=1)  # an active upload unchecked this long is looked up again
EXPIRY_MARGIN = timedelta(hours=1)  # and so is one that expires this soon


@dataclass(frozen=True)
class Claim:
    upload_id: int
    rendition_id: int
    rendition_sha256: str


@dataclass(frozen=True)
class PendingRow:
    upload_id: int
    rendition_id: int
    rendition_sha256: str
    lease_owner: str | None


def new_owner() -> str:
    """``host:pid:random``: who holds a lease, and how to tell that it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that is gone."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: only its lease expiry tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Journal:
    """Upload rows of one remote, for one owner (this process)."""

    def __init__(self, catalogue: Catalogue, remote: RemoteSpec):
        self.catalogue = catalogue
        self.owner = new_owner()
        self.remote_id = self._remote_id(remote)

    def _remote_id(self, remote: RemoteSpec) -> int:
        row = {
            "base_url": remote.base_url,
            "workspace": remote.workspace,
            "workspace_id": remote.workspace_id,
            "created_at": utcnow(),
        }
        with self.catalogue.writing() as conn:
            conn.execute(_dialect_insert(conn, Remote.__table__).on_conflict_do_nothing(), [row])
            return conn.execute(
                select(Remote.id).where(
                    Remote.base_url == remote.base_url, Remote.workspace == remote.workspace
                )
            ).scalar_one()

    def expire_outdated(self, now: datetime) -> None:
        """Active uploads whose ``expires_at`` has passed (or nearly) are dead: mark them so."""
        now = now + EXPIRY_SAFETY
        with self.catalogue.writing() as conn:
            conn.execute(
                update(Upload)
                .where(
                    Upload.remote_id == self.remote_id,
                    Upload.state == "active",
                    Upload.expires_at.is_not(None),
                    Upload.expires_at <= now,
                )
                .values(state="expired")
            )

    def missing(self, rendition_ids: list[int]) -> list[int]:
        """Of ``rendition_ids``, those with no live upload in this remote."""
        live: set[int] = set()
        with self.catalogue.engine.connect() as conn:
            for start in range(0, len(rendition_ids), 500):
                chunk = rendition_ids[start : start + 500]
                live.update(
                    conn.execute(
                        select(Upload.rendition_id).where(
                            Upload.remote_id == self.remote_id,
                            Upload.rendition_id.in_(chunk),
                            Upload.state.in_(("pending", "active")),
                        )
                    ).scalars()
                )
        return [r for r in rendition_ids if r not in live]

    def claim(
        self, rendition_ids: list[int], filenames: dict[int, str], sizes: dict[int, int]
    ) -> list[Claim]:
        """Commit pending rows for ``rendition_ids``; return the ones this process won."""
        now = utcnow()
        rows = [
            {
                "rendition_id": r,
                "remote_id": self.remote_id,
                "filename": filenames[r],
                "size_bytes": sizes[r],
                "state": "pending",
                "created_at": now,
                "lease_owner": self.owner,
                "lease_expires_at": now + LEASE,
            }
            for r in rendition_ids
        ]
        with self.catalogue.writing() as conn:
            if rows:
                conn.execute(_dialect_insert(conn, Upload.__table__).on_conflict_do_nothing(), rows)
            won = conn.execute(
                select(Upload.id, Upload.rendition_id, Rendition.sha256)
                .join(Rendition, Rendition.id == Upload.rendition_id)
                .where(
                    Upload.remote_id == self.remote_id,
                    Upload.lease_owner == self.owner,
                    Upload.state == "pending",
                )
            ).all()
        wanted = set(rendition_ids)
        return [Claim(*row) for row in won if row.rendition_id in wanted]

    def stale(self, now: datetime, state: str = "pending") -> list[PendingRow]:
        """Rows of this remote in ``state`` whose lease holder is gone or whose lease ran out
        (for ``active`` rows: uploads whose extra copies were never swept)."""
        with self.catalogue.engine.connect() as conn:
            rows = conn.execute(
                select(
                    Upload.id,
                    Upload.rendition_id,
                    Rendition.sha256,
                    Upload.lease_owner,
                    Upload.lease_expires_at,
                )
                .join(Rendition, Rendition.id == Upload.rendition_id)
                .where(
                    Upload.remote_id == self.remote_id,
                    Upload.state == state,
                    or_(Upload.state == "pending", Upload.lease_expires_at.is_not(None)),
                )
            ).all()
        return [
            PendingRow(*r[:4])
            for r in rows
            if r.lease_owner != self.owner
            and (r.lease_expires_at <= now or owner_is_dead(r.lease_owner))
        ]

    def take_over(self, rows: list[PendingRow]) -> list[PendingRow]:
        """Move the leases of stale ``rows`` to this process; the rows it got (others may race)."""
        now, taken = utcnow(), []
        with self.catalogue.writing() as conn:
            for row in rows:
                result = conn.execute(
                    update(Upload)
                    .where(
                        Upload.id == row.upload_id,
                        Upload.state.in_(("pending", "active")),
                        or_(
                            Upload.lease_owner == row.lease_owner,
                            and_(Upload.lease_owner.is_(None), row.lease_owner is None),
                        ),
                    )
                    .values(lease_owner=self.owner, lease_expires_at=now + LEASE)
                )
                if result.rowcount == 1:
                    taken.append(row)
        return taken

    def activate(
        self,
        upload_id: int,
        file_id: str,
        created_at: datetime,
        expires_at: datetime | None,
        *,
        copies_possible: bool = False,
    ) -> None:
        """The upload is on the remote. With ``copies_possible`` the lease stays until ``swept``."""
        lease = {} if copies_possible else {"lease_owner": None, "lease_expires_at": None}
        with self.catalogue.writing() as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(
                    state="active",
                    file_id=file_id,
                    created_at=created_at,
                    expires_at=expires_at,
                    last_verified_at=utcnow(),
                    error=None,
                    **lease,
                )
            )

    def swept(self, upload_ids: list[int]) -> None:
        """Extra copies of these active uploads are gone: release their leases."""
        if upload_ids:
            with self.catalogue.writing() as conn:
                conn.execute(
                    update(Upload)
                    .where(Upload.id.in_(upload_ids), Upload.state == "active")
                    .values(lease_owner=None, lease_expires_at=None)
                )

    def fail(self, upload_id: int, message: str) -> None:
        """The API refused it: keep the row, with the API's message, out of the live set."""
        with self.catalogue.writing() as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(state="failed", error=message, lease_owner=None, lease_expires_at=None)
            )

    def forget(self, upload_ids: list[int]) -> None:
        """Pending rows whose request never created a file: remove them."""
        if upload_ids:
            with self.catalogue.writing() as conn:
                conn.execute(
                    delete(Upload).where(Upload.id.in_(upload_ids), Upload.state == "pending")
                )

    def release(self, upload_ids: list[int]) -> None:
        """Pending rows whose outcome is unknown: leave them for the next run to resolve."""
        if upload_ids:
            with self.catalogue.writing() as conn:
                conn.execute(
                    update(Upload)
                    .where(Upload.id.in_(upload_ids), Upload.state == "pending")
                    .values(lease_expires_at=utcnow())
                )

    def due_for_check(
        self, rendition_ids: list[int], now: datetime, everything: bool
    ) -> list[tuple[int, str]]:
        """(upload id, file id) of active uploads to check against the remote: all of them,
        or those unchecked for a day or expiring (by this machine's clock) within the hour."""
        query = select(Upload.id, Upload.file_id, Upload.last_verified_at, Upload.expires_at).where(
            Upload.remote_id == self.remote_id, Upload.state == "active"
        )
        wanted, due = set(rendition_ids), []
        with self.catalogue.engine.connect() as conn:
            rows = conn.execute(query.add_columns(Upload.rendition_id)).all()
        for upload_id, file_id, verified, expires, rendition_id in rows:
            stale = verified is None or now - verified > RECHECK_AFTER
            expiring = expires is not None and expires - now < EXPIRY_MARGIN
            if rendition_id in wanted and (everything or stale or expiring):
                due.append((upload_id, file_id))
        return due

    def checked(self, alive: dict[int, datetime | None], dead: dict[int, str]) -> None:
        """Record a check: ``alive`` upload ids (with the remote's expires_at), ``dead`` ones with their new state."""
        now = utcnow()
        with self.catalogue.writing() as conn:
            for upload_id, expires_at in alive.items():
                conn.execute(
                    update(Upload)
                    .where(Upload.id == upload_id)
                    .values(last_verified_at=now, expires_at=expires_at)
                )
            for upload_id, state in dead.items():
                conn.execute(
                    update(Upload)
                    .where(Upload.id == upload_id, Upload.state == "active")
                    .values(state=state, last_verified_at=now)
                )

    def active_files(self) -> dict[str, str]:
        """rendition sha256 -> file id of every active upload in this remote."""
        with self.catalogue.engine.connect() as conn:
            rows = conn.execute(
                select(Rendition.sha256, Upload.file_id)
                .join(Rendition, Rendition.id == Upload.rendition_id)
                .where(Upload.remote_id == self.remote_id, Upload.state == "active")
            )
            return {sha: file_id for sha, file_id in rows}
