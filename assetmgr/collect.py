"""``gc``: delete the files of a workspace that the catalogue does not need. Plan, then apply.

The plan lists the workspace (every page) and keeps every file a live upload row of the
catalogue names (and any a remote of the same server not yet seen may name). Of the rest
(``survey``), it deletes:

- hash-named files no row needs: extra copies of a rendition live here, expired files,
  copies whose size is not the rendition's, files of renditions this catalogue does not
  know (another catalogue's: import its export first if it shares the workspace);
- with ``everything`` (``--all``), foreign files too: names that carry no rendition hash.

It never deletes an orphan ``verify --repair`` would adopt, nor a file created within the
last ``GRACE`` (by the API's clock): an upload whose answer another process may still be
waiting for. Nothing is deleted until ``apply`` is called (the CLI's ``--yes``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .answers import files_in_use
from .catalogue import Catalogue
from .errors import UsageError
from .journal import ACTIVE, LEASE, PENDING, Journal
from .models import UploadState
from .remote import RemoteSpec
from .survey import ADOPT, Known, Listed, classify
from .workspaces import Workspaces

GRACE = LEASE  # files younger than this are left alone
DELETE_JOBS = 8


@dataclass
class GcPlan:
    """What ``gc`` would delete in one workspace, and what it leaves, with why."""

    remote: RemoteSpec
    workspace: str | None
    base_url: str
    remote_id: int
    delete: list[Listed] = field(default_factory=list)
    kept: list[tuple[Listed, str]] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return sum(x.size_bytes for x in self.delete)


def plan(catalogue: Catalogue, spec: RemoteSpec, client, *, everything: bool = False) -> GcPlan:
    """What to delete in the workspace ``spec`` names (see the module's docstring)."""
    here = Workspaces(catalogue).reach(spec, client)
    journal = Journal(catalogue, here)
    rows = journal.rows((ACTIVE, PENDING))
    live: dict[str, str | None] = {}
    for r in rows:
        live[r.rendition_sha256] = r.file_id if r.state == ACTIVE else live.get(r.rendition_sha256)
    named = {r.file_id for r in rows if r.file_id} | journal.file_ids_nearby()
    now = client.clock.now()
    listed = classify(client.files(), Known(named, catalogue.rendition_sizes(), live), now)
    result = GcPlan(spec, here.workspace_id, here.base_url, here.remote_id)
    in_use = files_in_use(catalogue, here.remote_id)
    for x in listed:
        why = BATCHED if x.file_id in in_use else _kept_because(x, everything, now)
        if why:
            result.kept.append((x, why))
        else:
            result.delete.append(x)
    return result


BATCHED = "a Message Batch not yet collected refers to it: run the run again to finish it"


def _kept_because(x: Listed, everything: bool, now) -> str | None:
    if x.action == ADOPT:
        return "an orphan to adopt: run `assetmgr verify --repair`"
    if x.kind == "foreign" and not everything:
        return "not hash-named: only `gc --all` deletes it"
    if now - x.created_at < GRACE:
        return "created in the last 15 minutes: an upload may still be waiting for its answer"
    return None


def apply(found: GcPlan, catalogue: Catalogue, client, jobs: int = DELETE_JOBS) -> int:
    """Delete what ``found`` lists; rows naming those files are marked deleted. Returns how
    many were deleted (a file already gone counts: the API says it is)."""
    here = Workspaces(catalogue).reach(found.remote, client)
    if here.remote_id != found.remote_id:
        raise UsageError("the workspace changed since gc listed it: run gc again")
    ids = [x.file_id for x in found.delete]
    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="assetmgr-gc") as pool:
        list(pool.map(client.delete, ids))
    Journal(catalogue, here).mark_files(ids, UploadState.DELETED.value)
    return len(ids)
