"""Workspaces as the API reports them, and the labels people give them.

A remote is a base URL plus the workspace the API says a key acts on: every response
carries ``anthropic-workspace-id``. What a user types (``--workspace eu-team``,
``ASSETMGR_WORKSPACE``, or nothing: ``default``) is a label, recorded per base URL for the
workspace it reached the first time a request was made under it. So:

- two labels that reach one workspace share one remote row, and one set of uploads;
- a label whose key now reaches another workspace than the one recorded is an error
  (``WorkspaceMismatch``): nothing is uploaded to, or deleted from, the wrong place;
- a label never used before, and every label of a catalogue made before workspaces were
  learnt, names a remote whose ``workspace_id`` is not known yet. The first request of a
  run that makes requests anyway tells it (``learn``): the remote is then attached to
  its workspace, or merged into the remote already recorded for it, uploads included.

Nothing here makes a request of its own: ``recorded`` and ``provisional`` answer from
the catalogue (the lookup path reads the same rows with ``sqlite3``, ``lookup.remote_row``),
``learn`` is told what a response said, and ``reach`` asks the client it is given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, delete, select, update
from sqlalchemy.engine import Connection

from .catalogue import Catalogue, _dialect_insert
from .db import WORKSPACES_LOCK, one_at_a_time
from .errors import WorkspaceMismatch
from .models import LIVE_STATES, Remote, Upload, UploadState, WorkspaceLabel, utcnow
from .remote import RemoteSpec

SUPERSEDED = UploadState.SUPERSEDED.value


@dataclass(frozen=True)
class Workspace:
    """A remote row: where uploads live."""

    remote_id: int
    base_url: str
    workspace_id: str | None  # as the API reports it; None: not learnt yet
    clock_offset: float | None  # the API's clock minus this machine's, last seen

    def __str__(self) -> str:
        return f"{self.workspace_id or 'a workspace not yet seen'} at {self.base_url}"


class Workspaces:
    """The remotes and labels of one catalogue."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def recorded(self, spec: RemoteSpec) -> Workspace | None:
        """The remote ``spec``'s label names, from the catalogue alone; None when the label
        was never used here."""
        with self.catalogue.reading() as conn:
            return _by_label(conn, spec)

    def provisional(self, spec: RemoteSpec) -> Workspace:
        """The remote ``spec``'s label names, recorded now (its workspace not known yet)
        when the label is new."""
        found = self.recorded(spec)
        if found is not None:
            return found
        with self.catalogue.writing() as conn:
            one_at_a_time(conn, WORKSPACES_LOCK)  # two processes would both add the label
            found = _by_label(conn, spec)
            if found is None:
                remote_id = _new_remote(conn, spec.base_url, None)
                _label(conn, spec, remote_id)
                found = _by_label(conn, spec)
        return found

    def learn(self, spec: RemoteSpec, reported: str) -> Workspace:
        """A response to a request made under ``spec`` said the key acts on workspace
        ``reported``: check the label against it, record it, attach (or merge) the label's
        remote. Raises ``WorkspaceMismatch`` when the label was recorded for another."""
        with self.catalogue.writing() as conn:
            one_at_a_time(conn, WORKSPACES_LOCK)  # reads what it then attaches or merges
            mine = _by_label(conn, spec)
            if mine is not None and mine.workspace_id == reported:
                return mine
            if mine is not None and mine.workspace_id is not None:
                raise WorkspaceMismatch(spec.label, spec.base_url, mine.workspace_id, reported)
            target = _by_id(conn, spec.base_url, reported)
            if mine is None:
                remote_id = (
                    target.remote_id if target else _new_remote(conn, spec.base_url, reported)
                )
                _label(conn, spec, remote_id)
            elif target is None:
                _attach(conn, mine.remote_id, reported)
            else:
                _merge(conn, mine.remote_id, target.remote_id)
            return _by_label(conn, spec)

    def reach(self, spec: RemoteSpec, client) -> Workspace:
        """The workspace ``spec`` names, confirmed by the API: ``client`` (a ``FilesClient``)
        asks once if it has not been answered yet, which also tells the API's clock; the
        label is then checked or recorded (``learn``). When the API does not say, the label
        alone names it."""
        reported = client.workspace()
        found = self.learn(spec, reported) if reported else self.provisional(spec)
        client.expected_workspace = found.workspace_id
        return found

    def labels(self, remote_ids: list[int] | None = None) -> dict[int, list[str]]:
        """remote id -> its labels, in name order (of ``remote_ids``, or of every remote)."""
        query = select(WorkspaceLabel.remote_id, WorkspaceLabel.name).order_by(WorkspaceLabel.name)
        if remote_ids is not None:
            query = query.where(WorkspaceLabel.remote_id.in_(remote_ids))
        found: dict[int, list[str]] = defaultdict(list)
        with self.catalogue.reading() as conn:
            for remote_id, name in conn.execute(query):
                found[remote_id].append(name)
        return dict(found)

    def by_id(self, base_url: str, workspace_id: str) -> Workspace | None:
        with self.catalogue.reading() as conn:
            return _by_id(conn, base_url, workspace_id)

    def ensure(
        self, base_url: str, workspace_id: str, labels: list[str]
    ) -> tuple[Workspace, list[str]]:
        """The remote of ``workspace_id`` at ``base_url``, made if new, with ``labels`` given
        to it where they are free; returns it and the labels already given to another."""
        taken = []
        with self.catalogue.writing() as conn:
            found = _by_id(conn, base_url, workspace_id)
            remote_id = found.remote_id if found else _new_remote(conn, base_url, workspace_id)
            for name in labels:
                spec = RemoteSpec(base_url, name)
                other = _by_label(conn, spec)
                if other is None:
                    _label(conn, spec, remote_id)
                elif other.remote_id != remote_id and other.workspace_id is None:
                    _merge(conn, other.remote_id, remote_id)
                elif other.remote_id != remote_id:
                    taken.append(name)
            return _by_id(conn, base_url, workspace_id), taken


def _workspace(row) -> Workspace | None:
    return None if row is None else Workspace(*row)


COLUMNS = (Remote.id, Remote.base_url, Remote.workspace_id, Remote.clock_offset_seconds)


def _by_label(conn: Connection, spec: RemoteSpec) -> Workspace | None:
    query = (
        select(*COLUMNS)
        .join(WorkspaceLabel, WorkspaceLabel.remote_id == Remote.id)
        .where(WorkspaceLabel.base_url == spec.base_url, WorkspaceLabel.name == spec.label)
    )
    return _workspace(conn.execute(query).first())


def _by_id(conn: Connection, base_url: str, workspace_id: str) -> Workspace | None:
    query = select(*COLUMNS).where(Remote.base_url == base_url, Remote.workspace_id == workspace_id)
    return _workspace(conn.execute(query).first())


def _new_remote(conn: Connection, base_url: str, workspace_id: str | None) -> int:
    row = {"base_url": base_url, "workspace_id": workspace_id, "created_at": utcnow()}
    return conn.execute(Remote.__table__.insert().values(**row)).inserted_primary_key[0]


def _label(conn: Connection, spec: RemoteSpec, remote_id: int) -> None:
    row = {"base_url": spec.base_url, "name": spec.label, "remote_id": remote_id,
           "created_at": utcnow()}  # fmt: skip
    conn.execute(_dialect_insert(conn, WorkspaceLabel.__table__).on_conflict_do_nothing(), [row])


def _attach(conn: Connection, remote_id: int, workspace_id: str) -> None:
    """A remote learns its workspace. Its uploads were never checked there: the next push
    looks them up before trusting them."""
    conn.execute(update(Remote).where(Remote.id == remote_id).values(workspace_id=workspace_id))
    _unverified(conn, remote_id)


def _merge(conn: Connection, source: int, target: int) -> None:
    """Move remote ``source`` (a label's, its workspace not known until now) into ``target``,
    the remote already recorded for that workspace: its uploads and labels. Where both hold
    a live upload of one rendition, ``target``'s stays live and the other is kept as
    ``superseded`` (its file is an extra copy, which ``gc`` deletes); a row naming a file
    ``target`` knows already is dropped."""
    known = select(Upload.file_id).where(Upload.remote_id == target, Upload.file_id.is_not(None))
    conn.execute(delete(Upload).where(Upload.remote_id == source, Upload.file_id.in_(known)))
    live_there = select(Upload.rendition_id).where(
        Upload.remote_id == target, Upload.state.in_(LIVE_STATES)
    )
    clash = and_(
        Upload.remote_id == source,
        Upload.state.in_(LIVE_STATES),
        Upload.rendition_id.in_(live_there),
    )
    conn.execute(delete(Upload).where(clash, Upload.state == UploadState.PENDING.value))
    conn.execute(
        update(Upload)
        .where(clash)
        .values(state=SUPERSEDED, lease_owner=None, lease_expires_at=None)
    )
    _unverified(conn, source)
    conn.execute(update(Upload).where(Upload.remote_id == source).values(remote_id=target))
    conn.execute(
        update(WorkspaceLabel).where(WorkspaceLabel.remote_id == source).values(remote_id=target)
    )
    conn.execute(delete(Remote).where(Remote.id == source))


def _unverified(conn: Connection, remote_id: int) -> None:
    conn.execute(
        update(Upload)
        .where(Upload.remote_id == remote_id, Upload.state == UploadState.ACTIVE.value)
        .values(last_verified_at=None)
    )
