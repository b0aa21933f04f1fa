"""``Library``: the Python API of assetmgr. Every CLI command is one call here.

    from assetmgr import Library
    with Library.open() as lib:
        for outcome in lib.add(["photos/"]):
            print(outcome.outcome, outcome.path)
        record = lib.show("3f7a9c")
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .catalogue import Catalogue
from .errors import UsageError
from .ingest import Ingest
from .errors import NotFound
from .records import AssetRecord, PolicyStats, RenditionRecord, Stats
from .renditions import DEFAULT_POLICY, load_bytes
from .store import RenditionStore

DEFAULT_PRICE = 3.0  # dollars per million input tokens, the figure the vision guide uses


class Library:
    """A catalogue of images, opened (and migrated) by ``Library.open``."""

    def __init__(self, catalogue: Catalogue, store: RenditionStore | None = None):
        self.catalogue = catalogue
        self.store = store or RenditionStore()

    @classmethod
    def open(cls, db: str | os.PathLike[str] | None = None) -> Library:
        """Open the catalogue at ``db`` (a path or SQLAlchemy URL), else as configured.

        Without ``db``: ``$ASSETMGR_DB``, else ``$ASSETMGR_HOME/catalogue.db``.
        """
        return cls(Catalogue.open(db))

    def close(self) -> None:
        self.catalogue.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        exclude: Iterable[str] = (),
        policy: str = DEFAULT_POLICY,
        jobs: int | None = None,
    ) -> Ingest:
        """Catalogue files and folders. Iterate the result for one ``Outcome`` per file."""
        return Ingest(self.catalogue, paths, exclude=exclude, policy=policy, jobs=jobs, store=self.store)

    def push(
        self,
        shas: Iterable[str] | None = None,
        *,
        workspace: str | None = None,
        workspace_id: str | None = None,
        policy: str = DEFAULT_POLICY,
        jobs: int | None = None,
        expires_in: int | None = None,
        verify: bool = False,
        progress=None,
    ):
        """Upload to the remote what it lacks of these assets' renditions (default: all assets).

        The remote is ``ANTHROPIC_BASE_URL`` plus ``workspace``; the key comes from the
        SDK's environment. Returns a ``PushSummary``.
        """
        from .remote import RemoteSpec
        from .uploads import DEFAULT_JOBS, Uploader

        remote = RemoteSpec.from_env(workspace, workspace_id)
        uploader = Uploader(self.catalogue, remote, jobs=jobs or DEFAULT_JOBS, expires_in=expires_in, store=self.store)
        targets = self.catalogue.shas() if shas is None else list(shas)
        return uploader.push(targets, policy=policy, verify=verify, progress=progress)

    def resolve(self, reference: str) -> str:
        """The sha256 of the asset a reference names (hash, prefix, ``sha256:``, or path)."""
        return self.catalogue.resolve(reference)

    def find(self, references: Sequence[str] = (), *, tag: str | None = None) -> list[str]:
        """The sha256s named by ``references`` (in order), or carrying ``tag``, or all."""
        if references and tag is not None:
            raise UsageError("name assets either by reference or by tag, not both")
        if references:
            return [self.resolve(r) for r in references]
        return self.catalogue.shas(tag=tag)

    def show(self, reference: str) -> AssetRecord:
        """Everything the catalogue knows about one asset."""
        return self.catalogue.records([self.resolve(reference)])[0]

    def assets(self, *, tag: str | None = None) -> list[AssetRecord]:
        """Every asset (with ``tag``, those carrying it), oldest first."""
        return self.catalogue.records(self.catalogue.shas(tag=tag))

    def rendition(self, reference: str, policy: str | None = None) -> tuple[RenditionRecord, bytes]:
        """The rendition of an asset (under ``policy``, default: vision if it has one) and its bytes."""
        record = self.show(reference)
        rendition = choose_rendition(record, policy)
        data = load_bytes(record, rendition, self.store)
        if data is None:
            raise NotFound(
                f"the {rendition.policy} rendition of {record.sha256[:12]} is not stored and no source "
                f"file with the asset's bytes is left ({len(record.sources)} known paths); add the file again"
            )
        return rendition, data

    def stats(self, price: float = DEFAULT_PRICE) -> Stats:
        """Assets, bytes and tokens per policy; ``price`` in dollars per million input tokens."""
        assets, size, rows = self.catalogue.totals()
        policies = [
            PolicyStats(policy, count, distinct, nbytes, tokens, tokens / count if count else 0.0,
                        tokens * price / 1e6, (tokens / count if count else 0.0) * 1000 * price / 1e6)
            for policy, count, distinct, nbytes, tokens in rows
        ]
        return Stats(assets, size, price, policies)

    def tag(self, references: Sequence[str], names: Sequence[str]) -> list[str]:
        """Put the tags ``names`` on the assets named; returns their sha256s."""
        shas = self.find(references)
        self.catalogue.add_tags(shas, _tag_names(names))
        return shas

    def untag(self, references: Sequence[str], names: Sequence[str]) -> list[str]:
        """Take the tags ``names`` off the assets named; returns their sha256s."""
        shas = self.find(references)
        self.catalogue.remove_tags(shas, _tag_names(names))
        return shas

    def tags(self) -> list[tuple[str, int]]:
        """Every tag with the number of assets carrying it."""
        return self.catalogue.tag_counts()


def choose_rendition(record: AssetRecord, policy: str | None) -> RenditionRecord:
    by_policy = {r.policy: r for r in record.renditions}
    wanted = policy or (DEFAULT_POLICY if DEFAULT_POLICY in by_policy else next(iter(by_policy), None))
    if wanted not in by_policy:
        raise NotFound(
            f"asset {record.sha256[:12]} has no {wanted or 'rendition'}; "
            f"run: assetmgr add PATH --policy {policy or DEFAULT_POLICY}"
        )
    return by_policy[wanted]


def _tag_names(names: Sequence[str]) -> list[str]:
    cleaned = [n.strip() for n in names]
    if not cleaned or any(not n or len(n) > 200 for n in cleaned):
        raise UsageError("a tag is 1 to 200 characters and not blank")
    return cleaned
