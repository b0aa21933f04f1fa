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
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .catalogue import AssetRow, Catalogue
from .errors import NotFound, RemoteError, UsageError
from .limits import BATCH_HORIZON, DEFAULT_LIMITS, STANDARD, Limits, Tier, near_distance
from .modelspec import DEFAULT_MODEL, ModelSpec, sendable, spec_for, warn
from .policies import DEFAULT_POLICY, POLICY_TIER, check, choose
from .records import (
    AddResult,
    AssetQuery,
    AssetRecord,
    ModelReading,
    Placement,
    PolicyStats,
    RenditionRecord,
    Stats,
)
from .references import not_catalogued, parse, tag_names
from .remote import RemoteSpec

if TYPE_CHECKING:  # the lookup path (block, request, show, ls) must not import Pillow or the SDK
    from .answers import RunRow
    from .blocks import ImageRef, MessageRequest
    from .collect import GcPlan
    from .ingest import Ingest
    from .messages_api import Answer
    from .removal import RmPlan
    from .reuse import ReuseReport
    from .runplan import RunPlan
    from .runs import Progress as RunProgress
    from .runs import RunOutcome
    from .store import RenditionStore
    from .transfer import ImportReport
    from .verify import RepairReport, VerifyPlan


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

    def add(self, paths: Iterable[str | os.PathLike[str]], **options) -> AddResult:
        """Catalogue files and folders, now: one ``Outcome`` per file, and the summary.
        ``options`` are those of ``ingest``."""
        run = self.ingest(paths, **options)
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
        remote: RemoteSpec | None = None,
        policy: str = DEFAULT_POLICY,
        jobs: int | None = None,
        expires_in: int | None = None,
        verify: bool = False,
        progress=None,
        outlive=None,
    ):
        """Upload to ``remote`` what it lacks of these assets' renditions (default: all assets).

        ``remote`` defaults to ``RemoteSpec.from_env()``: ``ANTHROPIC_BASE_URL`` plus
        ``$ASSETMGR_WORKSPACE``; the key comes from the SDK's environment. Returns a
        ``PushSummary``.
        """
        from .uploads import DEFAULT_JOBS, Uploader

        uploader = Uploader(
            self.catalogue,
            remote or RemoteSpec.from_env(),
            jobs=jobs or DEFAULT_JOBS,
            expires_in=expires_in,
            store=self.store,
            outlive=outlive,
        )
        targets = self.catalogue.shas() if shas is None else list(shas)
        return uploader.push(targets, policy=policy, verify=verify, progress=progress)

    def upload_session(
        self,
        *,
        policy: str = DEFAULT_POLICY,
        remote: RemoteSpec | None = None,
        jobs: int | None = None,
        expires_in: int | str | None = None,
        progress=None,
    ):
        """An ``UploadSession`` to ``remote`` (default: from the environment): submit assets as
        they are catalogued, learn each upload's outcome as it comes. ``expires_in``: seconds,
        or text such as ``7d``."""
        from .limits import expiry_seconds
        from .uploads import DEFAULT_JOBS, Uploader

        if isinstance(expires_in, str):
            expires_in = expiry_seconds(expires_in)
        remote = remote or RemoteSpec.from_env()
        uploader = Uploader(self.catalogue, remote, jobs=jobs or DEFAULT_JOBS,
                            expires_in=expires_in, store=self.store)  # fmt: skip
        return uploader.session(policy=policy, progress=progress)

    def resolve(self, reference: str) -> str:
        """The sha256 of the asset a reference names (rule: ``assetmgr.references``)."""
        return self.catalogue.resolve(reference)

    def find(self, references: Sequence[str] = (), *, tag: str | None = None) -> list[str]:
        """The sha256s named by ``references`` (in order), or carrying ``tag``, or all."""
        if references and tag is not None:
            raise UsageError("name assets either by reference or by tag, not both")
        if references:
            return self.resolve_many(references)
        return self.catalogue.shas(tag=tag)

    def resolve_many(self, references: Sequence[str]) -> list[str]:
        """``resolve`` for many references; full sha256s (and hashed files) in one query."""
        parsed = {text: parse(text) for text in dict.fromkeys(references)}
        full = [p for p in parsed.values() if p.full]
        known = self.catalogue.existing(sorted({p.digits for p in full}))
        unknown = [p for p in full if p.digits not in known]
        if unknown:
            raise not_catalogued(unknown)
        shas = {p.key: p.digits for p in full}
        for p in parsed.values():
            if p.key not in shas:
                shas[p.key] = self.catalogue.resolve(p)
        return [shas[parsed[r].key] for r in references]

    def model(self, model: str | ModelSpec | None = None) -> ModelSpec:
        """What assetmgr knows of ``model`` (default: ``claude-sonnet-5-5``): the table in
        ``modelspec``, with what ``models --refresh`` stored. A retired model is a
        ``UsageError``; an unknown or deprecated one gives a ``ModelWarning``."""
        if isinstance(model, ModelSpec):
            return model
        from .modelinfo import stored

        model = DEFAULT_MODEL if model is None else model
        return spec_for(model, stored(self.catalogue, model))

    def models(self) -> list[ModelSpec]:
        """Every model and family of the table, then every other model ``refresh_models``
        stored, with the stored figures; retired ones too. No warnings."""
        from .modelinfo import stored_all
        from .modelspec import MODELS, STORED, describe

        rows = {row["id"]: row for row in stored_all(self.catalogue)}
        ids = [*MODELS, *sorted(set(rows) - set(MODELS))]
        return [describe(m, {k: rows[m][k] for k in STORED} if m in rows else None) for m in ids]

    def refresh_models(self, *, remote: RemoteSpec | None = None) -> list[str]:
        """Ask ``GET /v1/models`` of ``remote`` (default: from the environment) about every
        model, and store the answer in the catalogue in place of the last; the ids stored."""
        from .modelinfo import replace_all
        from .models_api import fetch
        from .remote import require_credentials

        require_credentials()
        return replace_all(self.catalogue, fetch(remote or RemoteSpec.from_env()))

    def images(
        self,
        shas: Sequence[str],
        *,
        model: str | ModelSpec | None = None,
        policy: str | None = None,
        source: str = "file",
        upload: bool = True,
        url_template: str | None = None,
        remote: RemoteSpec | None = None,
    ) -> list[ImageRef]:
        """What requests to ``model`` (an id or a ``ModelSpec``; default: ``claude-sonnet-5-5``)
        need of each asset, in order: the rendition for the model's tier, unless ``policy``
        names one. For file sources, an asset with no live upload in ``remote`` (default: from
        the environment) is uploaded first (``upload=False``: an error listing them)."""
        from .blocks import check_source, with_url

        template = check_source(source, url_template)
        tier = self.model(model).tier
        check(policy, tier)
        remote = remote or RemoteSpec.from_env()
        refs = self._images(shas, policy, remote, tier)
        if source == "file":
            return self._with_uploads(refs, policy, remote, upload, tier)
        if source == "base64":
            return self._with_bytes(refs)
        return [with_url(r, template) for r in refs]

    def blocks(
        self, shas: Sequence[str], *, label: bool = False, source: str = "file", **options
    ) -> list[dict]:
        """The image content blocks of these assets, in order (``label``: ``Image N:`` before
        each). ``options`` are those of ``images``: model, policy, upload, url_template,
        remote."""
        from .blocks import content_blocks

        return content_blocks(
            self.images(shas, source=source, **options), source=source, label=label
        )

    def requests(
        self,
        shas: Sequence[str],
        *,
        prompt: str,
        model: str | ModelSpec | None = None,
        max_tokens: int = 1024,
        system: str | None = None,
        label: bool = False,
        source: str = "file",
        per_request: int | None = None,
        **options,
    ) -> Iterator[MessageRequest]:
        """Messages request bodies to ``model`` (default: ``claude-sonnet-5-5``) covering these
        assets, each with the rendition for the model's tier, split to the limits of the API
        and the model (``per_request``: at most this many images per request).

        Each is a dict to send as ``client.messages.create(**body)``; ``body.assets`` lists
        the sha256s it covers (not sent), to join answers back to assets, and ``body.tokens``
        estimates its input tokens. ``options`` are those of ``images``.
        """
        from .blocks import images_per_request, requests

        spec = self.model(model)
        images_per_request(spec, per_request)  # refused before anything is uploaded
        images = self.images(shas, model=spec, source=source, **options)
        return requests(images, prompt=prompt, model=spec, max_tokens=max_tokens, system=system,
                        source=source, label=label, per_request=per_request)  # fmt: skip

    def send(
        self, bodies: Iterable[dict], *, remote: RemoteSpec | None = None
    ) -> Iterator[tuple[dict, Answer]]:
        """Send request bodies to the Messages API of ``remote``, one by one; each with its
        ``Answer`` (text, token usage, the whole response). Sampling parameters the model
        rejects (temperature, top_p, top_k on the 5.x models) are left out, with a
        ``ModelWarning``; a body to a retired model is a ``UsageError``, before it is sent."""
        from .blocks import MessageRequest
        from .messages_api import client_for, send
        from .remote import require_credentials

        require_credentials()
        client = client_for(remote or RemoteSpec.from_env())
        for body in bodies:
            spec = body.spec if isinstance(body, MessageRequest) and body.spec else None
            payload, dropped = sendable(body, spec or self.model(body["model"]))
            if dropped:
                warn(f"{body['model']} takes no {', '.join(dropped)}: left out of the request")
            yield body, send(client, payload)

    def ask(
        self, shas: Sequence[str], *, prompt: str, model: str | ModelSpec | None = None, **options
    ) -> Iterator[tuple[MessageRequest, Answer]]:
        """``requests`` for these assets, sent: each body with its ``Answer``."""
        return self.send(
            self.requests(shas, prompt=prompt, model=model, **options),
            remote=options.get("remote"),
        )

    def run_plan(
        self,
        shas: Sequence[str],
        *,
        prompt: str,
        model: str | ModelSpec | None = None,
        system: str | None = None,
        max_tokens: int = 1024,
        per_request: int | None = None,
        label: bool = False,
        cache: str | None = None,
        batch: bool = False,
        policy: str | None = None,
        remote: RemoteSpec | None = None,
        skip_near: bool = False,
        near_distance: int | None = None,
    ) -> RunPlan:
        """What ``run`` would send for these assets: its requests (each with the rendition for
        the model's tier), which are answered already, the files still to upload, and the
        estimated tokens and cost (``RunPlan.lines``). Nothing is uploaded or sent.

        ``skip_near``: of each group of near-duplicates among these assets (``near_duplicates``
        at ``near_distance``), only the best copy is asked about; the others are the plan's
        ``copies``, answered by its request."""
        from .answers import answered_keys
        from .runplan import Ask, plan

        spec = self.model(model)
        ask = Ask(prompt, spec, max_tokens, system, per_request, label, cache)
        remote = remote or RemoteSpec.from_env()
        check(policy, spec.tier)
        if near_distance is not None and not skip_near:
            raise UsageError("--near-distance goes with --skip-near")
        shas, copies = self._skip_near(shas, near_distance) if skip_near else (shas, [])
        refs = self._images(shas, policy, remote, spec.tier, batch=batch)
        planned = plan(refs, ask, batch=batch, copies=copies)
        planned.answered = answered_keys(self.catalogue, [r.key for r in planned.requests])
        planned.to_upload = len(
            {i.rendition_sha256 for r in planned.due for i in r.images if i.file_id is None}
        )  # answered requests need no file
        return planned

    def _skip_near(self, shas: Sequence[str], distance: int | None):
        """``shas`` without their near-duplicates, and those as ``runplan.Copy``s of their
        group's best copy (``runplan.skip_near``)."""
        from .runplan import skip_near

        groups = self.near_duplicates(distance, among=shas).groups
        return skip_near(shas, [[(m.sha256, m.distance) for m in g.members] for g in groups])

    def run(
        self,
        shas: Sequence[str],
        *,
        prompt: str,
        dry_run: bool = False,
        max_cost: float | None = None,
        jobs: int | None = None,
        retry_errors: bool = False,
        progress: RunProgress | None = None,
        **options,
    ) -> RunOutcome:
        """Ask ``prompt`` of these assets and keep every answer in the catalogue; the run
        (``RunOutcome``: its id, plan, what was sent; ``.answers()`` iterates its answers).

        ``options`` are those of ``run_plan`` (model, system, max_tokens, per_request, label,
        cache, batch, policy, remote, skip_near, near_distance). Requests answered already (by this run or any other
        asking the same of the same images) are not sent again; the rest are sent ``jobs`` at a
        time, or as Message Batches with ``batch=True``. ``max_cost``: an ``OverBudget`` error,
        before anything is uploaded or sent, when the estimate of what is to send is over it.
        ``dry_run``: the plan only. ``retry_errors``: requests that fail are sent once more
        before returning (the next run sends them again anyway)."""
        from . import answers, runs
        from .errors import OverBudget
        from .runplan import plan
        from .workspaces import Workspaces

        remote = options["remote"] = options.get("remote") or RemoteSpec.from_env()
        planned = self.run_plan(shas, prompt=prompt, **options)
        if dry_run or not planned.requests:  # no assets: nothing to record either
            return runs.RunOutcome(self.catalogue, None, planned)
        estimate = planned.cost(planned.due)
        if max_cost is not None and planned.due and (estimate is None or estimate > max_cost):
            shown = f"${estimate:,.2f}" if estimate is not None else "unknown (no price)"
            raise OverBudget(f"the estimated cost of this run is {shown}, over --max-cost "
                             f"${max_cost:,.2f}; nothing was sent")  # fmt: skip
        if planned.due:
            from .remote import require_credentials

            require_credentials()
        if planned.to_upload:  # of the requests still due: answered ones need no file
            due = [image for request in planned.due for image in request.images]
            if planned.batch:
                self._retire_expiring(due, remote)
            uploaded = self._with_uploads(due, options.get("policy"), remote, True,
                                          planned.ask.model.tier, batch=planned.batch)  # fmt: skip
            by_rendition = {image.rendition_sha256: image for image in uploaded}
            refs = [by_rendition.get(image.rendition_sha256, image)
                    for request in planned.requests for image in request.images]  # fmt: skip
            fresh = plan(refs, planned.ask, batch=planned.batch, copies=planned.copies)
            fresh.answered, planned = planned.answered, fresh
        found = Workspaces(self.catalogue).recorded(remote)
        run_id = answers.open_run(self.catalogue, planned, found.remote_id if found else None)
        outcome = runs.RunOutcome(self.catalogue, run_id, planned)
        if planned.batch:
            from . import batches

            batches.run(self, outcome, remote, retry_errors=retry_errors, progress=progress)
            return outcome
        client = None
        for _ in range(2 if retry_errors else 1):
            due = answers.due(self.catalogue, run_id)
            if not due:
                break
            client = client or self._messages_client(remote)
            outcome.results += runs.send_direct(self.catalogue, planned, due, client,
                                                jobs=jobs or runs.DEFAULT_JOBS,
                                                progress=progress)  # fmt: skip
        return outcome

    def runs(self, run_id: int | None = None) -> list[RunRow]:
        """Every run in the catalogue (or the one), with its requests by state, tokens and cost
        so far, and its estimate."""
        from .answers import run_rows

        rows = run_rows(self.catalogue, run_id)
        if run_id is not None and not rows:
            raise NotFound(f"no run {run_id}; `assetmgr runs` lists them")
        return rows

    def answers(self, run_id: int) -> Iterator[dict]:
        """Every request of run ``run_id``, in order, with its assets, their tags, and its
        answer (or error)."""
        from .answers import answer_rows

        self.runs(run_id)
        return answer_rows(self.catalogue, run_id)

    def _retire_expiring(self, refs: list[ImageRef], remote: RemoteSpec) -> None:
        """Uploads of ``refs`` that would expire before a Message Batch ends: retired, so that
        they are made again before it is submitted."""
        from .batches import api_now, retire_expiring
        from .workspaces import Workspaces

        found = Workspaces(self.catalogue).recorded(remote)
        lacking = [r.rendition_sha256 for r in refs if r.file_id is None]
        if found is not None and lacking:
            before = api_now(remote.base_url) + BATCH_HORIZON
            retire_expiring(self.catalogue, found.remote_id, lacking, before)

    def _messages_client(self, remote: RemoteSpec):
        from .messages_api import client_for

        return client_for(remote)

    def _images(
        self,
        shas: Sequence[str],
        policy: str | None,
        remote: RemoteSpec,
        tier: Tier,
        batch: bool = False,
    ) -> list[ImageRef]:
        from .apiclock import live_rows
        from .blocks import image_refs
        from .workspaces import Workspaces

        found = Workspaces(self.catalogue).recorded(remote)
        remote_id = found.remote_id if found is not None else None
        horizon = BATCH_HORIZON if batch else None
        facts = self.catalogue.image_facts(sorted(set(shas)), remote_id)
        rows = live_rows(facts, remote.base_url, horizon)
        if rows is None:
            raise RemoteError(
                f"cannot reach the API at {remote.base_url} to read its clock, by which these "
                "uploads expire; try again when it answers"
            )
        return image_refs(shas, rows, policy, tier)

    def _with_uploads(
        self,
        refs: list[ImageRef],
        policy: str | None,
        remote: RemoteSpec,
        upload: bool,
        tier: Tier,
        batch: bool = False,
    ) -> list[ImageRef]:
        lacking = {r.asset_sha256: r.policy for r in refs if r.file_id is None}
        if not lacking:
            return refs
        missing = sorted(lacking)
        if not upload:
            shown = ", ".join(m[:12] for m in missing[:10]) + (" ..." if len(missing) > 10 else "")
            raise NotFound(
                f"{len(missing)} asset(s) have no live upload in {remote}: {shown}; "
                "run `assetmgr push`, or leave out --no-upload"
            )
        outlive = BATCH_HORIZON if batch else None
        for under in sorted(set(lacking.values())):
            self.push([s for s in missing if lacking[s] == under], remote=remote, policy=under,
                      outlive=outlive)  # fmt: skip
        fresh = {r.asset_sha256: r for r in self._images(missing, policy, remote, tier, batch)}
        failed = [s for s in missing if fresh[s].file_id is None]
        if failed:
            raise RemoteError(
                f"{len(failed)} asset(s) could not be uploaded: {', '.join(f[:12] for f in failed[:10])}"
            )
        return [fresh.get(r.asset_sha256, r) for r in refs]

    def _with_bytes(self, refs: list[ImageRef]) -> list[ImageRef]:
        from dataclasses import replace

        records = {
            r.sha256: r for r in self.catalogue.records(sorted({r.asset_sha256 for r in refs}))
        }
        data: dict[str, bytes] = {}
        for ref in refs:
            if ref.rendition_sha256 not in data:
                record = records[ref.asset_sha256]
                [rendition] = [x for x in record.renditions if x.policy == ref.policy]
                data[ref.rendition_sha256] = self._rendition_bytes(record, rendition)
        return [replace(r, data=data[r.rendition_sha256]) for r in refs]

    def show(self, reference: str) -> AssetRecord:
        """Everything the catalogue knows about one asset."""
        return self.catalogue.records([self.resolve(reference)])[0]

    def assets(
        self, *, tag: str | None = None, query: AssetQuery | None = None
    ) -> Iterator[AssetRecord]:
        """Every asset (with ``tag``, those carrying it; with ``query``, those it takes, in its
        order), oldest first, as full records.

        Streamed: read from the catalogue 500 at a time as you iterate, so memory stays
        flat however many there are (``list(...)`` for a list)."""
        return self.catalogue.iter_records(query or AssetQuery(tag=tag))

    def asset_rows(
        self, *, tag: str | None = None, query: AssetQuery | None = None
    ) -> Iterator[AssetRow]:
        """``assets`` as a listing needs them: sha256, format, size, bytes, tags, the first
        source path and when it was catalogued, streamed the same way at a fraction of the
        cost."""
        return self.catalogue.asset_rows(query or AssetQuery(tag=tag))

    def rendition(
        self, reference: str, policy: str | None = None, tier: Tier = STANDARD
    ) -> tuple[RenditionRecord, bytes]:
        """The rendition of an asset and its bytes: under ``policy``, else the one a model of
        ``tier`` reads (``policies.choose``; default: the standard tier's: vision, original)."""
        record = self.show(reference)
        by_policy = {r.policy: r for r in record.renditions}
        tier = POLICY_TIER.get(policy, tier) if policy else tier  # any policy asked for is read
        rendition = choose(record.sha256, policy, by_policy, tier)
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

    # -- keeping the catalogue true -------------------------------------------------------

    def whereis(self, reference: str) -> list[Placement]:
        """Every workspace that holds the asset named: its live uploads, from the catalogue
        (``verify`` checks them against the API)."""
        record = self.show(reference)
        policies: dict[str, list[str]] = {}
        for r in record.renditions:
            policies.setdefault(r.sha256, []).append(r.policy)
        return [
            Placement(
                record.sha256,
                policies.get(u.rendition_sha256, []),
                u.rendition_sha256,
                u.base_url,
                u.workspace,
                u.labels,
                u.file_id,
                u.created_at,
                u.expires_at,
                u.origin,
                u.last_verified_at,
            )  # fmt: skip
            for u in record.uploads
            if u.state == "active" and u.file_id
        ]

    def verify(
        self, *, remote: RemoteSpec | None = None, sources: bool = False, progress=None
    ) -> VerifyPlan:
        """Check every upload of ``remote`` (default: from the environment) against the API,
        list the workspace for orphans and foreign files, and with ``sources`` hash every
        source again; changes nothing. ``repair`` applies the plan. ``progress``, a
        ``verify.Checking``, follows the work."""
        from . import verify

        remote = remote or RemoteSpec.from_env()
        client = self._files_client(remote)
        return verify.plan(self.catalogue, remote, client, sources=sources, progress=progress)

    def repair(self, plan: VerifyPlan, *, jobs: int | None = None, progress=None) -> RepairReport:
        """Fix what ``verify`` found: upload missing and expired uploads again (or adopt a
        copy the workspace holds), adopt orphans, forget changed sources. ``progress`` (an
        ``uploads.Progress``) follows the uploads."""
        from . import verify
        from .uploads import DEFAULT_JOBS, Uploader

        uploader = Uploader(self.catalogue, plan.remote, jobs=jobs or DEFAULT_JOBS,
                            store=self.store)  # fmt: skip
        return verify.repair(self.catalogue, plan, uploader, progress)

    def gc_plan(self, *, remote: RemoteSpec | None = None, everything: bool = False) -> GcPlan:
        """What ``gc`` would delete in ``remote``'s workspace (``everything``: foreign files
        too); nothing is deleted."""
        from . import collect

        remote = remote or RemoteSpec.from_env()
        client = self._files_client(remote)
        return collect.plan(self.catalogue, remote, client, everything=everything)

    def gc(self, plan: GcPlan) -> int:
        """Delete what ``plan`` lists; how many files were deleted."""
        from . import collect

        return collect.apply(plan, self.catalogue, self._files_client(plan.remote))

    def rm_plan(
        self,
        references: Sequence[str],
        *,
        remote: RemoteSpec | None = None,
        remote_only: bool = False,
        keep_remote: bool = False,
    ) -> RmPlan:
        """What removing the assets named means (see ``removal``); changes nothing."""
        from . import removal

        shas = self._named(references)
        return removal.plan(self.catalogue, remote or RemoteSpec.from_env(), shas,
                            remote_only=remote_only, keep_remote=keep_remote)  # fmt: skip

    def rm(self, plan: RmPlan) -> None:
        """Carry ``plan`` out: delete its uploads, forget its assets and renditions."""
        from . import removal

        removal.apply(plan, self.catalogue, self.store, lambda: self._files_client(plan.remote))

    def export(self, *, with_paths: bool = False) -> Iterator[str]:
        """The catalogue as JSON Lines (``transfer``'s format), line by line, without newlines;
        source paths only ``with_paths``."""
        from .transfer import export

        return export(self.catalogue, with_paths=with_paths)

    def import_lines(self, lines: Iterable[str | bytes], *, name: str = "-") -> ImportReport:
        """Merge an export (its lines) into this catalogue, by hash; idempotent."""
        from .transfer import import_lines

        return import_lines(self.catalogue, lines, self._files_client, name=name)

    def _files_client(self, remote: RemoteSpec):
        from .files_api import FilesClient
        from .remote import require_credentials

        require_credentials()
        return FilesClient(remote)

    def stats(self, price: float | None = None, model: str | ModelSpec | None = None) -> Stats:
        """Assets, bytes and tokens per policy, priced at ``price`` dollars per million input
        tokens. With ``model``: the tokens at its tier, and by default its list price (a model
        without one needs ``price``); without: the standard tier (what every model reads at
        most) and by default $3, the vision guide's figure."""
        from .limits import served_tokens

        spec = self.model(model) if model is not None else None
        tier = spec.tier if spec else STANDARD
        price = _price(spec, price) if spec else DEFAULT_PRICE if price is None else price
        assets, size, rows = self.catalogue.totals()
        tokens: dict[str, int] = {}
        for policy, width, height, count in self.catalogue.shapes():
            tokens[policy] = tokens.get(policy, 0) + count * served_tokens(width, height, tier)
        policies = []
        for policy, count, distinct, nbytes in rows:
            total = tokens.get(policy, 0)
            average = total / count if count else 0.0
            policies.append(PolicyStats(policy, count, distinct, int(nbytes), total, average,
                                        total * price / 1e6, average * 1000 * price / 1e6))  # fmt: skip
        return Stats(assets, int(size), price, policies, spec and spec.id, tier.name)

    def readings(
        self, record: AssetRecord, model: str | ModelSpec | None = None
    ) -> list[ModelReading]:
        """What each model would read of the asset ``record`` and what one use costs: ``model``
        alone, else every model of the table that is not retired."""
        from .modelspec import table_ids

        if model is not None:
            specs = [self.model(model)]
        else:
            specs = [s for s in self.models() if s.id in table_ids() and s.lifecycle != "retired"]
        by_policy = {r.policy: r for r in record.renditions}
        return [_reading(record.sha256, by_policy, spec) for spec in specs]

    def tag(self, references: Sequence[str], names: Sequence[str]) -> list[str]:
        """Put the tags ``names`` on the assets named; returns their sha256s.

        A name that reads as a sha256 (6 or more hex digits) is refused.
        """
        names = tag_names(names)
        shas = self._named(references)
        self.catalogue.add_tags(shas, names)
        return shas

    def untag(self, references: Sequence[str], names: Sequence[str]) -> list[str]:
        """Take the tags ``names`` off the assets named; returns their sha256s.

        Any name goes, so that a hash-like tag an older version made can be taken off.
        """
        names = tag_names(names, new=False)
        shas = self._named(references)
        self.catalogue.remove_tags(shas, names)
        return shas

    def _named(self, references: Sequence[str]) -> list[str]:
        if not references:
            raise UsageError("name the assets: references (or --stdin)")
        return self.resolve_many(references)

    def tags(self) -> list[tuple[str, int]]:
        """Every tag with the number of assets carrying it."""
        return self.catalogue.tag_counts()

    def exact_duplicates(self) -> list[tuple[str, list[str]]]:
        """(asset sha256, its paths) of every asset seen at more than one path."""
        return self.catalogue.several_paths()

    def near_duplicates(
        self, distance: int | None = None, *, among: Sequence[str] | None = None, progress=None
    ) -> NearReport:
        """Groups of visually identical assets, best copy first (``dupes``); with ``among``
        (sha256s), groups of those assets only. Fingerprints the catalogue lacks are computed
        first from the stored renditions."""
        from . import dupes

        distance = near_distance(distance)
        wanted = None if among is None else set(among)
        rows, missing = self.catalogue.fingerprinted()
        if wanted is not None:
            missing = [sha for sha in missing if sha in wanted]
        computed, lost = 0, []
        if missing:
            computed, lost = dupes.backfill(self.catalogue, self.store, missing, progress)
            rows, _ = self.catalogue.fingerprinted()
        if wanted is not None:
            rows = [row for row in rows if row.sha256 in wanted]
        groups = dupes.near_groups(rows, distance, self.catalogue.decisions())
        return NearReport(groups, distance, computed, lost)

    def reuse_near(self, shas: Sequence[str], distance: int | None = None) -> ReuseReport:
        """Link those of these assets that are near-duplicates of another asset (the best copy
        of their group, among every asset) to its rendition: they use its uploads instead of
        their own (``reuse``). ``unlink`` undoes it."""
        from . import reuse

        found = self.near_duplicates(distance)
        report = reuse.ReuseReport(found.distance, computed=found.computed)
        pairs = reuse.candidates(found.groups, shas)
        return reuse.link(self.catalogue, self.store, pairs, report)

    def unlink(self, shas: Sequence[str] | None = None) -> list[str]:
        """Give these linked assets (None: every one) their own renditions back; the sha256s
        restored. An asset named that is not linked is a ``UsageError``, and nothing changes."""
        if shas is None:
            shas = sorted(self.catalogue.near_links())
        linked = self.catalogue.near_links(shas)
        alone = [sha for sha in shas if sha not in linked]
        if alone:
            raise UsageError(
                f"{alone[0][:12]} does not reuse another asset's rendition: "
                "`assetmgr show` says what it uses; nothing was changed"
            )
        return self.catalogue.unlink_near(shas)

    def mark(self, reference: str, other: str, *, same: bool) -> tuple[str, str]:
        """Decide that two assets show the same picture, or not, whatever their fingerprints
        say; ``dupes --near`` honours it from then on. Their sha256s."""
        a, b = self.resolve(reference), self.resolve(other)
        if a == b:
            raise UsageError("name two different assets")
        self.catalogue.decide(a, b, "same" if same else "different")
        return a, b


@dataclass
class NearReport:
    groups: list  # of dupes.NearGroup
    distance: int
    computed: int  # fingerprints computed first, from stored renditions
    lost: list[str]  # assets whose rendition bytes are nowhere to be had: not compared


def _price(spec: ModelSpec, price: float | None) -> float:
    """``price``, else the model's list price per million input tokens."""
    if price is not None:
        return price
    if spec.input_price is None:
        raise UsageError(
            f"no list price is known for {spec.id}; give --price DOLLARS (per million input tokens)"
        )
    return spec.input_price


def _reading(sha256: str, by_policy: dict[str, RenditionRecord], spec: ModelSpec) -> ModelReading:
    """What ``spec``'s model reads of an asset's renditions (``by_policy``)."""
    from .limits import served_tokens

    price = spec.input_price
    try:
        r = choose(sha256, None, by_policy, spec.tier)
    except NotFound as e:
        return ModelReading(spec.id, spec.tier.name, None, None, None, None, price, None, str(e))
    tokens = served_tokens(r.width, r.height, spec.tier)
    cost = None if price is None else tokens * price / 1e6
    return ModelReading(spec.id, spec.tier.name, r.policy, r.width, r.height, tokens, price, cost)
