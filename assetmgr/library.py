"""``Library``: the Python API of assetmgr. Every CLI command is one call here.

from assetmgr import Library
with Library.open() as lib:
    for outcome in lib.add(["photos/"]):
        print(outcome.outcome, outcome.path)
    record = lib.show("3f7a9c")
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from .catalogue import HEX, Catalogue, ImageFacts
from .errors import NotFound, RemoteError, UsageError
from .hashing import PREFIX
from .limits import DEFAULT_LIMITS, EXPIRY_SAFETY, Limits
from .policies import DEFAULT_POLICY, choose, missing_message
from .records import AddResult, AssetRecord, PolicyStats, RenditionRecord, Stats

if TYPE_CHECKING:  # the lookup path (block, request, show, ls) must not import Pillow or the SDK
    from .blocks import ImageRef, MessageRequest
    from .ingest import Ingest
    from .store import RenditionStore


DEFAULT_PRICE = 3.0  # dollars per million input tokens, the figure the vision guide uses


class Library:
    """A catalogue of images, opened (and migrated) by ``Library.open``."""

    def __init__(self, catalogue: Catalogue, store: RenditionStore | None = None):
        self.catalogue = catalogue
        self._store = store

    @property
    def store(self) -> RenditionStore:
        if self._store is None:
            from .store import RenditionStore

            self._store = RenditionStore()
        return self._store

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
        limits: Limits | None = None,
    ) -> AddResult:
        """Catalogue files and folders, now: one ``Outcome`` per file, and the summary."""
        run = self.ingest(paths, exclude=exclude, policy=policy, jobs=jobs, limits=limits)
        return AddResult(list(run), run.summary)

    def ingest(
        self,
        paths: Iterable[str | os.PathLike[str]],
        *,
        exclude: Iterable[str] = (),
        policy: str = DEFAULT_POLICY,
        jobs: int | None = None,
        limits: Limits | None = None,
    ) -> Ingest:
        """``add`` as it goes: iterate the result for each ``Outcome`` once it is recorded
        (the walk is done on the call; files are read as you iterate)."""
        from .ingest import Ingest

        return Ingest(self.catalogue, paths, exclude=exclude, policy=policy, jobs=jobs,
                      store=self.store, limits=limits or DEFAULT_LIMITS)  # fmt: skip

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
        uploader = Uploader(
            self.catalogue,
            remote,
            jobs=jobs or DEFAULT_JOBS,
            expires_in=expires_in,
            store=self.store,
        )
        targets = self.catalogue.shas() if shas is None else list(shas)
        return uploader.push(targets, policy=policy, verify=verify, progress=progress)

    def upload_session(
        self,
        *,
        policy: str = DEFAULT_POLICY,
        workspace: str | None = None,
        workspace_id: str | None = None,
        jobs: int | None = None,
        expires_in: int | str | None = None,
        progress=None,
    ):
        """An ``UploadSession``: submit assets as they are catalogued, learn each upload's
        outcome as it comes. ``expires_in``: seconds, or text such as ``7d``."""
        from .remote import RemoteSpec
        from .uploads import DEFAULT_JOBS, Uploader, expiry_seconds

        if isinstance(expires_in, str):
            expires_in = expiry_seconds(expires_in)
        remote = RemoteSpec.from_env(workspace, workspace_id)
        uploader = Uploader(self.catalogue, remote, jobs=jobs or DEFAULT_JOBS,
                            expires_in=expires_in, store=self.store)  # fmt: skip
        return uploader.session(policy=policy, progress=progress)

    def resolve(self, reference: str) -> str:
        """The sha256 of the asset a reference names (hash, prefix, ``sha256:``, or path)."""
        return self.catalogue.resolve(reference)

    def find(self, references: Sequence[str] = (), *, tag: str | None = None) -> list[str]:
        """The sha256s named by ``references`` (in order), or carrying ``tag``, or all."""
        if references and tag is not None:
            raise UsageError("name assets either by reference or by tag, not both")
        if references:
            return self.resolve_many(references)
        return self.catalogue.shas(tag=tag)

    def resolve_many(self, references: Sequence[str]) -> list[str]:
        """``resolve`` for many references; full sha256s are checked in one query."""
        keys = [_full_hash(r) for r in references]
        known = self.catalogue.existing([k for k in keys if k])
        unknown = [r for r, k in zip(references, keys) if k and k not in known]
        if unknown:
            shown = ", ".join(u.strip()[:16] for u in unknown[:5]) + (
                " ..." if len(unknown) > 5 else ""
            )
            raise NotFound(f"{len(unknown)} reference(s) name no catalogued asset: {shown}")
        return [k or self.resolve(r) for r, k in zip(references, keys)]

    def images(
        self,
        shas: Sequence[str],
        *,
        policy: str | None = None,
        source: str = "file",
        upload: bool = True,
        workspace: str | None = None,
        workspace_id: str | None = None,
        url_template: str | None = None,
    ) -> list[ImageRef]:
        """What requests need of each asset, in order. For file sources, an asset with no live
        upload in the remote is uploaded first (``upload=False``: an error listing them)."""
        from .blocks import ImageRef
        from .remote import RemoteSpec

        remote = RemoteSpec.from_env(workspace, workspace_id)
        facts = self._facts(shas, policy, remote)
        if source == "file":
            facts = self._with_uploads(shas, facts, remote, upload)
        refs = [
            ImageRef(
                f.asset_sha256,
                f.rendition_sha256,
                f.media_type,
                f.width,
                f.height,
                f.size_bytes,
                f.file_id,
            )
            for f in (facts[s] for s in shas)
        ]
        if source == "base64":
            records = {r.sha256: r for r in self.catalogue.records(sorted(set(shas)))}
            refs = [
                self._with_bytes(r, records[r.asset_sha256], facts[r.asset_sha256].policy)
                for r in refs
            ]
        if source == "url":
            refs = [_with_url(r, url_template) for r in refs]
        return refs

    def blocks(
        self, shas: Sequence[str], *, label: bool = False, source: str = "file", **options
    ) -> list[dict]:
        """The image content blocks of these assets, in order (``label``: ``Image N:`` before each)."""
        from .blocks import content_blocks

        return content_blocks(
            self.images(shas, source=source, **options), source=source, label=label
        )

    def requests(
        self,
        shas: Sequence[str],
        *,
        prompt: str,
        model: str,
        max_tokens: int = 1024,
        system: str | None = None,
        label: bool = False,
        source: str = "file",
        **options,
    ) -> Iterator[MessageRequest]:
        """Messages request bodies covering these assets, split to the API's limits.

        Each is a dict to send as ``client.messages.create(**body)``; ``body.assets`` lists
        the sha256s it covers (not sent), to join answers back to assets.
        """
        from .blocks import requests

        images = self.images(shas, source=source, **options)
        return requests(
            images,
            prompt=prompt,
            model=model,
            max_tokens=max_tokens,
            system=system,
            source=source,
            label=label,
        )

    def _facts(self, shas: Sequence[str], policy: str | None, remote) -> dict[str, ImageFacts]:
        from .models import utcnow

        by_asset: dict[str, dict[str, ImageFacts]] = {}
        for f in self.catalogue.image_facts(
            shas, remote.base_url, remote.workspace, utcnow() + EXPIRY_SAFETY
        ):
            by_asset.setdefault(f.asset_sha256, {})[f.policy] = f
        chosen = {}
        for sha in shas:
            options = by_asset.get(sha, {})
            wanted = choose(policy, options)
            if wanted is None:
                raise NotFound(missing_message(sha, policy))
            chosen[sha] = options[wanted]
        return chosen

    def _with_uploads(
        self, shas, facts: dict[str, ImageFacts], remote, upload: bool
    ) -> dict[str, ImageFacts]:
        missing = sorted({s for s in shas if facts[s].file_id is None})
        if not missing:
            return facts
        if not upload:
            shown = ", ".join(m[:12] for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise NotFound(
                f"{len(missing)} asset(s) have no live upload in {remote}: {shown}; "
                "run `assetmgr push`, or leave out --no-upload"
            )
        for policy in sorted({facts[s].policy for s in missing}):
            self.push(
                [s for s in missing if facts[s].policy == policy],
                workspace=remote.workspace,
                workspace_id=remote.workspace_id,
                policy=policy,
            )
        facts = {**facts, **self._facts(missing, None, remote)}
        failed = [s for s in missing if facts[s].file_id is None]
        if failed:
            raise RemoteError(
                f"{len(failed)} asset(s) could not be uploaded: {', '.join(f[:12] for f in failed[:10])}"
            )
        return facts

    def _with_bytes(self, ref: ImageRef, record: AssetRecord, policy: str) -> ImageRef:
        from dataclasses import replace

        rendition = choose_rendition(record, policy)
        return replace(ref, data=self._rendition_bytes(record, rendition))

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
        return rendition, self._rendition_bytes(record, rendition)

    def _rendition_bytes(self, record: AssetRecord, rendition: RenditionRecord) -> bytes:
        from .renditions import load_bytes

        data = load_bytes(record, rendition, self.store)
        if data is None:
            raise NotFound(
                f"the {rendition.policy} rendition of {record.sha256[:12]} is not stored and no source "
                f"file with the asset's bytes is left ({len(record.sources)} known paths); add the file again"
            )
        return data

    def stats(self, price: float = DEFAULT_PRICE) -> Stats:
        """Assets, bytes and tokens per policy; ``price`` in dollars per million input tokens."""
        assets, size, rows = self.catalogue.totals()
        policies = [
            PolicyStats(
                policy,
                count,
                distinct,
                nbytes,
                tokens,
                tokens / count if count else 0.0,
                tokens * price / 1e6,
                (tokens / count if count else 0.0) * 1000 * price / 1e6,
            )
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
    wanted = choose(policy, by_policy)
    if wanted is None:
        raise NotFound(missing_message(record.sha256, policy))
    return by_policy[wanted]


def _full_hash(reference: str) -> str | None:
    """The sha256 a reference spells out in full (not a path on disk), else None."""
    text = reference.strip().lower()
    text = text[len(PREFIX) :] if text.startswith(PREFIX) else text
    if len(text) == 64 and HEX.fullmatch(text) and not os.path.isfile(reference.strip()):
        return text
    return None


def _with_url(ref: ImageRef, template: str | None) -> ImageRef:
    from dataclasses import replace

    if not template:
        raise UsageError(
            "--source url needs --url-template, e.g. 'https://cdn.example.com/{sha256}.{ext}'"
        )
    ext = ref.media_type.split("/")[1].replace("jpeg", "jpg")
    return replace(
        ref, url=template.format(sha256=ref.rendition_sha256, asset=ref.asset_sha256, ext=ext)
    )


def _tag_names(names: Sequence[str]) -> list[str]:
    cleaned = [n.strip() for n in names]
    if not cleaned or any(not n or len(n) > 200 for n in cleaned):
        raise UsageError("a tag is 1 to 200 characters and not blank")
    return cleaned
