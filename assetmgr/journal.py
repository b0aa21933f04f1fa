"""The upload journal: rows in ``uploads`` that make uploading crash-safe and never twice.

Before a file is sent, a ``pending`` row naming the rendition and remote is
committed with a lease (owner and expiry). A partial unique index allows one
live (pending or active) row per rendition and remote, so of several processes
only one can claim a rendition. A lease is stale when it has expired, or when
its owner was a process on this machine that no longer runs (``kill -9``); a stale
row is resolved by looking for the hash-named file on the remote before anything
is uploaded again.

Leases and expiry are judged by the API's clock (``apiclock.ApiClock``), never this
machine's alone: processes on machines whose clocks disagree still agree on a lease. The
offset last seen is kept on the remote's row.

Across machines (a catalogue on PostgreSQL), a lease held by a process of another machine
(``owners``: the host part of its id is not this one's) is judged by its expiry alone: its
pid means nothing here, so it is respected until ``lease_expires_at`` has passed by the API's
clock, however dead the pid looks, and taken over after. So that expiry never cuts short
work that is still going on, a process renews its leases (``renew``, another ``LEASE`` from
now) at least every ``RENEW_EVERY`` while it works, whatever its uploads take; a lease
runs out only when its holder died, hung, or lost the catalogue for ``LEASE`` and more.

An upload that the SDK had to retry may have left a second copy behind (a lost
response, then a retry). Its row becomes ``active`` but keeps its lease until the
copies have been swept; should the process die first, the next run finds an active
row with a stale lease and sweeps then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, or_, select, update

from .apiclock import ApiClock
from .catalogue import Catalogue, _dialect_insert
from .limits import EXPIRY_MARGIN, EXPIRY_SAFETY, RECHECK_AFTER
from .models import Remote, Rendition, Upload, UploadOrigin, UploadState, utcnow
from .owners import is_dead as owner_is_dead
from .owners import new_owner
from .remote import RemoteSpec

if TYPE_CHECKING:
    from .workspaces import Workspace

PENDING, ACTIVE = UploadState.PENDING.value, UploadState.ACTIVE.value
FAILED, EXPIRED = UploadState.FAILED.value, UploadState.EXPIRED.value

LEASE = timedelta(minutes=15)
RENEW_EVERY = LEASE / 3  # a holder renews this often: two renewals may fail before it lapses


@dataclass(frozen=True)
class Claim:
    upload_id: int
    rendition_id: int
    rendition_sha256: str


@dataclass(frozen=True)
class UploadRow:
    """An upload row of the remote, with its rendition's hash and size."""

    upload_id: int
    rendition_id: int
    rendition_sha256: str
    rendition_size: int
    file_id: str | None
    state: str
    created_at: datetime | None
    expires_at: datetime | None
    expires_in_seconds: int | None


@dataclass(frozen=True)
class PendingRow:
    upload_id: int
    rendition_id: int
    rendition_sha256: str
    lease_owner: str | None
    lease_expires_at: datetime | None = None


class Journal:
    """Upload rows of one remote, for one owner (this process)."""

    def __init__(self, catalogue: Catalogue, remote: RemoteSpec | Workspace):
        from .workspaces import Workspaces

        self.catalogue = catalogue
        self.owner = new_owner()
        if isinstance(remote, RemoteSpec):
            remote = Workspaces(catalogue).provisional(remote)
        self.workspace = remote
        self.remote_id = remote.remote_id
        self.clock = ApiClock(remote.clock_offset)

    def use(self, workspace: Workspace) -> None:
        """Go on in ``workspace``: the remote this journal's was attached or merged to."""
        self.workspace, self.remote_id = workspace, workspace.remote_id

    def save_clock(self) -> None:
        """Remember the API's clock offset measured by this process, for later judgements."""
        if self.clock.measured:
            with self.catalogue.writing() as conn:
                conn.execute(
                    update(Remote)
                    .where(Remote.id == self.remote_id)
                    .values(clock_offset_seconds=self.clock.offset, clock_checked_at=utcnow())
                )

    def expire_outdated(self) -> None:
        """Active uploads whose ``expires_at`` has passed (or nearly), by the API's clock, are
        dead: mark them so."""
        now = self.clock.now() + EXPIRY_SAFETY
        with self.catalogue.writing() as conn:
            conn.execute(
                update(Upload)
                .where(
                    Upload.remote_id == self.remote_id,
                    Upload.state == ACTIVE,
                    Upload.expires_at.is_not(None),
                    Upload.expires_at <= now,
                )
                .values(state=EXPIRED)
            )

    def missing(self, rendition_ids: list[int]) -> list[int]:
        """Of ``rendition_ids``, those with no live upload in this remote."""
        live: set[int] = set()
        with self.catalogue.reading() as conn:
            for start in range(0, len(rendition_ids), 500):
                chunk = rendition_ids[start : start + 500]
                live.update(
                    conn.execute(
                        select(Upload.rendition_id).where(
                            Upload.remote_id == self.remote_id,
                            Upload.rendition_id.in_(chunk),
                            Upload.state.in_((PENDING, ACTIVE)),
                        )
                    ).scalars()
                )
        return [r for r in rendition_ids if r not in live]

    def claim(
        self,
        rendition_ids: list[int],
        filenames: dict[int, str],
        sizes: dict[int, int],
        expires_in: dict[int, int | None],
    ) -> list[Claim]:
        """Commit pending rows for ``rendition_ids`` (each asking for its lifetime); return
        the ones this process won."""
        now = self.clock.now()
        rows = [  # in one order in every process: concurrent claims wait, never deadlock
            {
                "rendition_id": r,
                "remote_id": self.remote_id,
                "filename": filenames[r],
                "size_bytes": sizes[r],
                "state": PENDING,
                "created_at": now,
                "expires_in_seconds": expires_in.get(r),
                "lease_owner": self.owner,
                "lease_expires_at": now + LEASE,
            }
            for r in sorted(set(rendition_ids))
        ]
        mine = (
            select(Upload.id, Upload.rendition_id, Rendition.sha256)
            .join(Rendition, Rendition.id == Upload.rendition_id)
            .where(
                Upload.remote_id == self.remote_id,
                Upload.lease_owner == self.owner,
                Upload.state == PENDING,
            )
        )
        won = []
        with self.catalogue.writing() as conn:
            if rows:
                conn.execute(_dialect_insert(conn, Upload.__table__).on_conflict_do_nothing(), rows)
            for chunk in _chunks(sorted(set(rendition_ids))):  # the rows this call is about
                won += conn.execute(mine.where(Upload.rendition_id.in_(chunk))).all()
        return [Claim(*row) for row in won]

    def claimed(self, upload_ids: list[int]) -> set[int]:
        """Of these rows, those still pending in this remote under this process's lease."""
        found: set[int] = set()
        with self.catalogue.reading() as conn:
            for chunk in _chunks(upload_ids):
                found.update(
                    conn.execute(
                        select(Upload.id).where(
                            Upload.id.in_(chunk),
                            Upload.remote_id == self.remote_id,
                            Upload.state == PENDING,
                            Upload.lease_owner == self.owner,
                        )
                    ).scalars()
                )
        return found

    def leased_by_others(self, state: str = PENDING) -> list[PendingRow]:
        """Rows of this remote in ``state`` that another process holds (for ``active`` rows:
        uploads whose extra copies were never swept)."""
        with self.catalogue.reading() as conn:
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
                    or_(Upload.state == PENDING, Upload.lease_expires_at.is_not(None)),
                )
            ).all()
        return [PendingRow(*r) for r in rows if r.lease_owner != self.owner]

    def stale(self, rows: list[PendingRow]) -> list[PendingRow]:
        """Of ``rows``, those whose holder is gone or whose lease ran out by the API's clock."""
        now = self.clock.now()
        return [
            r
            for r in rows
            if r.lease_expires_at is None
            or r.lease_expires_at <= now
            or owner_is_dead(r.lease_owner)
        ]

    def take_over(self, rows: list[PendingRow]) -> list[PendingRow]:
        """Move the leases of stale ``rows`` to this process; the rows it got (others may race)."""
        now, taken = self.clock.now(), []
        with self.catalogue.writing() as conn:
            for row in sorted(rows, key=lambda r: r.upload_id):
                result = conn.execute(
                    update(Upload)
                    .where(
                        Upload.id == row.upload_id,
                        Upload.state.in_((PENDING, ACTIVE)),
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

    def renew(self) -> int:
        """Extend every lease this process holds in this remote to ``LEASE`` from now, by
        the API's clock; the number of rows renewed. Call it at least every ``RENEW_EVERY``
        while working (``uploads.UploadSession`` does)."""
        with self.catalogue.writing() as conn:
            result = conn.execute(
                update(Upload)
                .where(
                    Upload.remote_id == self.remote_id,
                    Upload.lease_owner == self.owner,
                    Upload.state.in_((PENDING, ACTIVE)),
                )
                .values(lease_expires_at=self.clock.now() + LEASE)
            )
        return result.rowcount

    def activate(
        self,
        upload_id: int,
        file_id: str,
        created_at: datetime,
        expires_at: datetime | None,
        *,
        copies_possible: bool = False,
        origin: str = UploadOrigin.UPLOADED.value,
    ) -> None:
        """The upload is on the remote (sent by this catalogue, or ``origin="adopted"``:
        found there). With ``copies_possible`` the lease stays until ``swept``."""
        lease = {} if copies_possible else {"lease_owner": None, "lease_expires_at": None}
        with self.catalogue.writing() as conn:
            # A row that gave the file up (marked missing or expired) was wrong: the API has
            # just shown it alive. This row takes its place.
            conn.execute(
                delete(Upload).where(
                    Upload.remote_id == self.remote_id,
                    Upload.file_id == file_id,
                    Upload.id != upload_id,
                    Upload.state.not_in((PENDING, ACTIVE)),
                )
            )
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(
                    state=ACTIVE,
                    file_id=file_id,
                    created_at=created_at,
                    expires_at=expires_at,
                    last_verified_at=self.clock.now(),
                    error=None,
                    origin=origin,
                    **lease,
                )
            )

    def swept(self, upload_ids: list[int]) -> None:
        """Extra copies of these active uploads are gone: release their leases."""
        if upload_ids:
            with self.catalogue.writing() as conn:
                conn.execute(
                    update(Upload)
                    .where(Upload.id.in_(upload_ids), Upload.state == ACTIVE)
                    .values(lease_owner=None, lease_expires_at=None)
                )

    def fail(self, upload_id: int, message: str) -> None:
        """The API refused it: keep the row, with the API's message, out of the live set."""
        with self.catalogue.writing() as conn:
            conn.execute(
                update(Upload)
                .where(Upload.id == upload_id)
                .values(state=FAILED, error=message, lease_owner=None, lease_expires_at=None)
            )

    def forget(self, upload_ids: list[int]) -> None:
        """Pending rows whose request never created a file: remove them."""
        if upload_ids:
            with self.catalogue.writing() as conn:
                conn.execute(
                    delete(Upload).where(Upload.id.in_(upload_ids), Upload.state == PENDING)
                )

    def release(self, upload_ids: list[int]) -> None:
        """Pending rows whose outcome is unknown: leave them for the next run to resolve."""
        if upload_ids:
            with self.catalogue.writing() as conn:
                conn.execute(
                    update(Upload)
                    .where(Upload.id.in_(upload_ids), Upload.state == PENDING)
                    .values(lease_expires_at=self.clock.now())
                )

    def any_expiring(self, rendition_ids: list[int]) -> bool:
        """Whether an active upload of these renditions here has an expiry time."""
        with self.catalogue.reading() as conn:
            for chunk in _chunks(rendition_ids):
                found = conn.execute(
                    select(Upload.id)
                    .where(Upload.remote_id == self.remote_id, Upload.state == ACTIVE)
                    .where(Upload.rendition_id.in_(chunk), Upload.expires_at.is_not(None))
                    .limit(1)
                ).first()
                if found is not None:
                    return True
        return False

    def due_for_check(self, rendition_ids: list[int], everything: bool) -> list[tuple[int, str]]:
        """(upload id, file id) of active uploads of ``rendition_ids`` to check against the
        remote: all of them, or those unchecked for a day or expiring within the hour, by the
        API's clock."""
        now, due = self.clock.now(), []
        with self.catalogue.reading() as conn:
            for chunk in _chunks(rendition_ids):
                rows = conn.execute(
                    select(Upload.id, Upload.file_id, Upload.last_verified_at, Upload.expires_at)
                    .where(Upload.remote_id == self.remote_id, Upload.state == ACTIVE)
                    .where(Upload.rendition_id.in_(chunk))
                )
                for upload_id, file_id, verified, expires in rows:
                    stale = verified is None or now - verified > RECHECK_AFTER
                    expiring = expires is not None and expires - now < EXPIRY_MARGIN
                    if everything or stale or expiring:
                        due.append((upload_id, file_id))
        return due

    def checked(self, alive: dict[int, datetime | None], dead: dict[int, str]) -> None:
        """Record a check: ``alive`` upload ids (with the remote's expires_at), ``dead`` ones
        with their new state."""
        now = self.clock.now()
        with self.catalogue.writing() as conn:
            for upload_id, expires_at in sorted(alive.items()):
                conn.execute(
                    update(Upload)
                    .where(Upload.id == upload_id)
                    .values(last_verified_at=now, expires_at=expires_at)
                )
            for upload_id, state in sorted(dead.items()):
                conn.execute(
                    update(Upload)
                    .where(Upload.id == upload_id, Upload.state == ACTIVE)
                    .values(state=state, last_verified_at=now)
                )

    def active_files(self, shas: list[str] | None = None) -> dict[str, str]:
        """rendition sha256 -> file id of active uploads in this remote (of ``shas``, or all)."""
        query = (
            select(Rendition.sha256, Upload.file_id)
            .join(Rendition, Rendition.id == Upload.rendition_id)
            .where(Upload.remote_id == self.remote_id, Upload.state == ACTIVE)
        )
        found: dict[str, str] = {}
        with self.catalogue.reading() as conn:
            if shas is None:
                return dict(conn.execute(query).all())
            for chunk in _chunks(shas):
                # By rendition id, through its index: matched on the hash after the join,
                # SQLite would walk every upload of the remote for each chunk.
                ids = select(Rendition.id).where(Rendition.sha256.in_(chunk))
                found.update(conn.execute(query.where(Upload.rendition_id.in_(ids))).all())
        return found

    def lifetimes(self, rendition_ids: list[int]) -> dict[int, int]:
        """The lifetime (seconds) the latest upload of each rendition here asked for, where it
        asked for one: a replacement asks for the same."""
        found: dict[int, int] = {}
        with self.catalogue.reading() as conn:
            for chunk in _chunks(rendition_ids):
                rows = conn.execute(
                    select(
                        Upload.rendition_id,
                        Upload.expires_in_seconds,
                        Upload.created_at,
                        Upload.expires_at,
                    )
                    .where(Upload.remote_id == self.remote_id, Upload.rendition_id.in_(chunk))
                    .order_by(Upload.id)
                )
                for rendition_id, seconds, created, expires in rows:
                    if seconds is None and expires is not None and created is not None:
                        seconds = round((expires - created).total_seconds())
                    if seconds:
                        found[rendition_id] = seconds
                    else:
                        found.pop(rendition_id, None)
        return found

    # -- what verify, gc and rm need ------------------------------------------------------

    def rows(self, states: tuple[str, ...] | None = None) -> list[UploadRow]:
        """Every upload row of this remote (in ``states``), oldest first."""
        query = (
            select(
                Upload.id,
                Upload.rendition_id,
                Rendition.sha256,
                Rendition.size_bytes,
                Upload.file_id,
                Upload.state,
                Upload.created_at,
                Upload.expires_at,
                Upload.expires_in_seconds,
            )  # fmt: skip
            .join(Rendition, Rendition.id == Upload.rendition_id)
            .where(Upload.remote_id == self.remote_id)
            .order_by(Upload.id)
        )
        if states is not None:
            query = query.where(Upload.state.in_(states))
        with self.catalogue.reading() as conn:
            return [UploadRow(*row) for row in conn.execute(query)]

    def file_ids_nearby(self) -> set[str]:
        """File ids of live uploads in remotes of this base URL whose workspace is not
        known yet: they may be this one, and nothing they name may be deleted."""
        unknown = select(Remote.id).where(
            Remote.base_url == self.workspace.base_url, Remote.workspace_id.is_(None)
        )
        query = select(Upload.file_id).where(
            Upload.remote_id.in_(unknown), Upload.state.in_((PENDING, ACTIVE))
        )
        with self.catalogue.reading() as conn:
            return {f for (f,) in conn.execute(query) if f}

    def mark(self, upload_ids: list[int], state: str) -> None:
        """Set the state of these rows (``deleted``: their files were deleted on purpose)."""
        with self.catalogue.writing() as conn:
            for chunk in _chunks(upload_ids):
                conn.execute(
                    update(Upload)
                    .where(Upload.id.in_(chunk))
                    .values(state=state, lease_owner=None, lease_expires_at=None)
                )

    def mark_files(self, file_ids: list[str], state: str) -> None:
        """Set the state of the rows of this remote naming these files."""
        with self.catalogue.writing() as conn:
            for chunk in _chunks(file_ids):
                conn.execute(
                    update(Upload)
                    .where(Upload.remote_id == self.remote_id, Upload.file_id.in_(chunk))
                    .values(state=state, lease_owner=None, lease_expires_at=None)
                )


def _chunks(items: list, size: int = 500):
    for start in range(0, len(items), size):
        yield items[start : start + size]
