"""``rm``: forget assets, delete their uploads. Plan, then apply.

Forgetting an asset forgets its sources and tags, and each of its renditions that no
other asset shares: the rendition's row, its upload rows (in every workspace) and its
bytes in the rendition store. A rendition another asset shares stays, whole, uploads
included. The uploads of the renditions forgotten are deleted from the current workspace
first (``keep_remote``: left there, for ``gc``; uploads in other workspaces are always
left, and listed); ``remote_only`` deletes those uploads and forgets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .answers import files_in_use
from .catalogue import Catalogue
from .errors import UsageError
from .journal import Journal
from .models import UploadState
from .remote import RemoteSpec
from .store import RenditionStore
from .workspaces import Workspaces


@dataclass
class RmPlan:
    """What ``rm`` would do."""

    remote: RemoteSpec
    assets: list[str]
    forget: bool  # forget the assets (not --remote-only)
    renditions: list[str]  # forgotten (or, remote-only, whose uploads go)
    shared: list[str]  # renditions another asset shares: kept, uploads included
    delete: list[tuple[str, str]] = field(default_factory=list)  # (file id, rendition) here
    left: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (workspace, file id, rendition)
    remote_id: int | None = None


def plan(
    catalogue: Catalogue,
    spec: RemoteSpec,
    shas: list[str],
    *,
    remote_only: bool = False,
    keep_remote: bool = False,
) -> RmPlan:
    """What removing these assets means, from the catalogue alone (no request)."""
    if remote_only and keep_remote:
        raise UsageError(
            "--remote-only deletes the uploads and --keep-remote keeps them: choose one"
        )
    links = catalogue.rendition_links(shas)
    mine = sorted({link.rendition_sha256 for link in links if not link.shared})
    shared = sorted({link.rendition_sha256 for link in links if link.shared} - set(mine))
    result = RmPlan(spec, list(shas), not remote_only, mine, shared)
    here = Workspaces(catalogue).recorded(spec)
    result.remote_id = here.remote_id if here is not None else None
    for remote_id, workspace, file_id, rendition in catalogue.live_uploads(mine):
        if remote_id == result.remote_id and not keep_remote:
            result.delete.append((file_id, rendition))
        elif result.forget:
            result.left.append((workspace or "a workspace not yet seen", file_id, rendition))
    in_use = files_in_use(catalogue, result.remote_id) & {f for f, _ in result.delete}
    if in_use:
        raise UsageError(
            f"{len(in_use)} upload(s) of these assets are in a Message Batch not yet collected: "
            "run the run again to finish it first, or use --keep-remote"
        )
    return result


def apply(found: RmPlan, catalogue: Catalogue, store: RenditionStore, client_of) -> None:
    """Carry ``found`` out: delete its uploads here (``client_of()`` makes the client, only
    when there are some), then forget what it forgets."""
    if found.delete:
        client = client_of()
        here = Workspaces(catalogue).reach(found.remote, client)
        if here.remote_id != found.remote_id:
            raise UsageError("the workspace changed since rm planned: run rm again")
        ids = [file_id for file_id, _ in found.delete]
        for file_id in ids:
            client.delete(file_id)
        Journal(catalogue, here).mark_files(ids, UploadState.DELETED.value)
    if found.forget:
        catalogue.forget_assets(found.assets, found.renditions)
        for sha in found.renditions:
            try:
                store.forget(sha)
            except OSError:
                pass  # a store that cannot be written keeps a file no one needs
