"""``verify``: is the catalogue true of its workspace? A plan first, then ``repair``.

``plan`` checks every upload of one remote against the API, and changes nothing:

- every active upload is looked up with ``GET /v1/files?ids[]=``, 100 at a time (one
  request per 100 uploads): found and alive is ``present``; absent (deleted behind the
  catalogue's back, or never there) is ``missing``; past its ``expires_at`` by the API's
  clock (``apiclock``, learnt from the same answers) is ``expired``. Uploads already
  marked missing or expired whose rendition has no live upload since are reported too;
- the workspace is listed once (cursor pages of 1,000) for files no row names:
  ``orphan`` and ``foreign`` files (``survey``);
- with ``sources``, every source file is hashed again: one that no longer holds its
  asset's bytes (``changed``) no longer vouches for it; one that is ``gone`` is noted.

Problems are what ``repair`` fixes: missing and expired uploads (uploaded again from the
store or a source file that still hashes right, each asking for the lifetime it asked
for before, or adopted when the workspace holds a copy), orphans to adopt, and changed
sources (forgotten). Extra copies, other catalogues' files and foreign files are noted
for ``gc``; they are no problem of this catalogue's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from .catalogue import Catalogue
from .journal import ACTIVE, EXPIRED, PENDING, Journal, UploadRow
from .limits import EXPIRY_SAFETY
from .models import UploadState
from .remote import RemoteSpec
from .survey import ADOPT, Known, Listed, by_rendition, classify
from .workspaces import Workspaces

MISSING = UploadState.MISSING.value


@dataclass(frozen=True)
class Finding:
    """An upload that is not what the catalogue says, or a source that changed."""

    kind: str  # missing | expired | changed | gone
    rendition_sha256: str | None = None
    file_id: str | None = None
    expires_at: datetime | None = None
    upload_id: int | None = None
    asset_sha256: str | None = None
    path: str | None = None


@dataclass
class VerifyPlan:
    """What ``verify`` found in one workspace: the plan ``repair`` applies."""

    remote: RemoteSpec
    workspace: str | None  # its id, as the API reports it
    base_url: str
    labels: list[str]
    present: int = 0
    pending: int = 0
    findings: list[Finding] = field(default_factory=list)
    listed: list[Listed] = field(default_factory=list)
    sources_checked: int | None = None  # None: not asked for
    lookups: int = 0  # ids[] requests made

    def of(self, kind: str) -> list:
        return [x for x in self.findings + self.listed if x.kind == kind]

    @property
    def to_adopt(self) -> list[Listed]:
        return [x for x in self.listed if x.action == ADOPT]

    @property
    def problems(self) -> int:
        """What repair fixes: missing and expired uploads, orphans to adopt, changed sources."""
        kinds = ("missing", "expired", "changed")
        return sum(f.kind in kinds for f in self.findings) + len(self.to_adopt)


@dataclass
class RepairReport:
    """What ``repair`` did, and the problems left."""

    uploaded: int = 0
    adopted: int = 0
    forgotten_sources: int = 0
    left: list[str] = field(default_factory=list)  # one line each

    def __str__(self) -> str:
        text = f"repaired: {self.uploaded} uploaded, {self.adopted} adopted"
        text += f", {self.forgotten_sources} changed sources forgotten"
        return text + (f"; {len(self.left)} problems left" if self.left else "")


@dataclass
class Checking:
    """How far ``plan`` has gone, for a progress display (read from another thread): the
    step (``uploads``, ``workspace``, ``sources``) and its items done of the total; and
    ``on_upload``, told of each active upload with what it was found to be."""

    step: str = "uploads"
    done: int = 0
    total: int = 0
    on_upload: Callable[[UploadRow, str], None] | None = None

    def begin(self, step: str, total: int = 0) -> None:
        self.step, self.done, self.total = step, 0, total

    def judged(self, row: UploadRow, kind: str) -> None:
        if self.on_upload is not None:
            self.on_upload(row, kind)


def plan(
    catalogue: Catalogue,
    spec: RemoteSpec,
    client,
    *,
    sources: bool = False,
    progress: Checking | None = None,
) -> VerifyPlan:
    """Check the uploads of the workspace ``spec`` names (see the module's docstring)."""
    progress = progress or Checking()
    workspaces = Workspaces(catalogue)
    here = workspaces.reach(spec, client)
    journal = Journal(catalogue, here)
    result = VerifyPlan(spec, here.workspace_id, here.base_url,
                        workspaces.labels([here.remote_id]).get(here.remote_id, []))  # fmt: skip
    rows = journal.rows()
    active = [r for r in rows if r.state == ACTIVE]
    found = _look_up(client, active, progress, result)
    now = client.clock.now()
    dead = _judge_uploads(result, active, found, now + EXPIRY_SAFETY, progress)
    _earlier_deaths(result, rows, dead)
    result.pending = sum(r.state == PENDING for r in rows)
    progress.begin("workspace")
    result.listed = classify(client.files(), _known(catalogue, journal, rows, dead), now)
    if sources:
        _check_sources(catalogue, result, progress)
    return result


def _look_up(client, active: list[UploadRow], progress: Checking, result: VerifyPlan) -> dict:
    """The remote files of the active uploads, counted in ``progress`` as each request ends
    and in ``result.lookups``."""
    progress.begin("uploads", len(active))

    def looked_up(count: int) -> None:
        progress.done += count
        result.lookups += 1

    return client.lookup([r.file_id for r in active], on_chunk=looked_up)


def _judge_uploads(
    result: VerifyPlan, active: list[UploadRow], found: dict, now, progress: Checking
) -> set[int]:
    """Present, missing or expired, for each active upload; the ids of the dead ones."""
    dead = set()
    for row in active:
        remote_file = found.get(row.file_id)
        if remote_file is not None and remote_file.live(now):
            result.present += 1
            progress.judged(row, "present")
            continue
        kind = "missing" if remote_file is None else "expired"
        progress.judged(row, kind)
        expires = remote_file.expires_at if remote_file is not None else row.expires_at
        result.findings.append(
            Finding(kind, row.rendition_sha256, row.file_id, expires, row.upload_id)
        )
        dead.add(row.upload_id)
    return dead


def _earlier_deaths(result: VerifyPlan, rows: list[UploadRow], dead: set[int]) -> None:
    """Renditions whose last upload here was found missing or expired before, and that have
    no live upload since."""
    live = {
        r.rendition_id for r in rows if r.state in (ACTIVE, PENDING) and r.upload_id not in dead
    }
    last: dict[int, UploadRow] = {}
    for row in rows:
        if row.state in (MISSING, EXPIRED) and row.rendition_id not in live:
            last[row.rendition_id] = row
    for row in last.values():
        result.findings.append(
            Finding(row.state, row.rendition_sha256, row.file_id, row.expires_at, row.upload_id)
        )


def _known(catalogue: Catalogue, journal: Journal, rows: list[UploadRow], dead: set[int]) -> Known:
    live: dict[str, str | None] = {}
    for r in rows:
        if r.state == PENDING:
            live.setdefault(r.rendition_sha256, None)
        elif r.state == ACTIVE and r.upload_id not in dead:
            live[r.rendition_sha256] = r.file_id
    named = {r.file_id for r in rows if r.file_id} | journal.file_ids_nearby()
    return Known(named, catalogue.rendition_sizes(), live)


def _check_sources(catalogue: Catalogue, result: VerifyPlan, progress: Checking) -> None:
    every = catalogue.all_sources()
    progress.begin("sources", len(every))
    for asset, path in every:
        kind = _source_problem(asset, path)
        if kind is not None:
            result.findings.append(Finding(kind, asset_sha256=asset, path=path))
        progress.done += 1
    result.sources_checked = len(every)


def _source_problem(asset: str, path: str) -> str | None:
    """``gone`` (or unreadable now: it vouches for nothing today), ``changed`` (no longer the
    asset's bytes), or None: the source still holds the asset."""
    from . import sourcefile
    from .limits import DEFAULT_LIMITS

    try:
        same = sourcefile.read(path, DEFAULT_LIMITS.max_file_bytes).sha256 == asset
    except sourcefile.Unusable:
        return "gone"
    return None if same else "changed"


# -- repair ---------------------------------------------------------------------------------


def repair(catalogue: Catalogue, found: VerifyPlan, uploader, progress=None) -> RepairReport:
    """Apply ``found``: forget changed sources; mark missing and expired uploads dead; then
    push the renditions they held, and those of orphans to adopt, through ``uploader`` (an
    ``Uploader`` of the same remote, whose listing is this plan's): each is adopted where
    the workspace holds it, else uploaded again, asking for the lifetime it had.
    ``progress`` (an ``uploads.Progress``) follows those uploads."""
    report = RepairReport()
    if uploader.listing is None:
        uploader.listing = by_rendition(found.listed)  # no need to list the workspace again
    changed = [f.path for f in found.findings if f.kind == "changed"]
    report.forgotten_sources = catalogue.forget_sources(changed)
    dead = {f.upload_id: f.kind for f in found.findings if f.kind in ("missing", "expired")}
    uploader.journal.checked({}, dead)
    wanted = {f.rendition_sha256 for f in found.findings if f.kind in ("missing", "expired")}
    wanted |= {x.rendition_sha256 for x in found.to_adopt}
    for policy, assets in _assets_by_policy(catalogue, sorted(wanted)).items():
        summary = uploader.push(assets, policy=policy, progress=progress)
        report.uploaded += summary.count("uploaded")
        report.adopted += summary.count("adopted")
        report.left += [
            f"sha256:{o.rendition_sha256[:12]}: {o.reason}"
            for o in summary.outcomes
            if o.outcome in ("failed", "busy")
        ]
    return report


def _assets_by_policy(catalogue: Catalogue, renditions: list[str]) -> dict[str, list[str]]:
    """policy -> the assets (one per rendition) whose rendition under it is among these."""
    chosen: dict[str, dict[str, str]] = defaultdict(dict)
    for asset, policy, rendition in catalogue.assets_of_renditions(renditions):
        chosen[policy].setdefault(rendition, asset)
    done: set[str] = set()
    result: dict[str, list[str]] = {}
    for policy in sorted(chosen):
        picks = {r: a for r, a in chosen[policy].items() if r not in done}
        done |= set(picks)
        if picks:
            result[policy] = sorted(set(picks.values()))
    return result
