"""Upload once: every distinct rendition reaches a remote exactly once.

An ``UploadSession`` (``Uploader.session``; ``Uploader.push`` is one session over a list
of assets) runs, for one remote:

1. recover: pending rows left by a process that died are resolved by listing
   the workspace: the hash-named file is adopted if it is there (extra copies
   deleted), else the row is dropped and the rendition uploaded again;
2. plan: the renditions of the given assets with no live upload here;
3. claim: pending rows are committed before any request (a partial unique
   index lets one process win each rendition);
4. send: a bounded thread pool uploads through the SDK; results come back to
   the session's thread, the only one that writes the catalogue. ``add`` submits
   each batch of files as soon as it is recorded, and learns each upload's
   outcome as it comes (``poll``), so uploading overlaps reading;
5. reconcile: where an answer was lost, or the SDK had to retry (a retry after
   a lost response stores a second copy), the workspace is listed: lost uploads
   are adopted, and extra copies of a rendition are deleted.

The catalogue never claims an upload the remote does not have: a row becomes
``active`` only from the API's answer or from the file seen in a listing. Leases,
expiry and the window a reconcile lists are judged by the API's clock (``ApiClock``);
a session renews its leases while it works (``Journal.renew``), so that processes on
other machines, which judge them by expiry alone, never take over uploads still under way.
A replacement for an expired or missing upload asks for the lifetime the old one had.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath

from .catalogue import AssetSources, Catalogue, RenditionFacts
from .errors import AuthError, RemoteError
from .journal import RENEW_EVERY, Claim, Journal, PendingRow
from .limits import EXPIRY_MARGIN, EXPIRY_SAFETY
from .models import UploadOrigin, UploadState, utcnow
from .policies import DEFAULT_POLICY
from .records import PushSummary, UploadOutcome
from .remote import RemoteSpec
from .renditions import load_bytes
from .store import RenditionStore
from .workspaces import Workspaces

DEFAULT_JOBS = 8
PLAN_CHUNK = 500  # renditions planned and claimed at a time
RECONCILE_MARGIN = timedelta(minutes=2)  # files created this long before a run began are listed
UNANSWERED_LIMIT = 4  # requests in a row with no answer, before a session stops sending
SETTLE_SECONDS = 10  # on Ctrl-C or a fatal error, how long requests in flight may still answer
HASH_IN_NAME = re.compile(r"\.sha256-([0-9a-f]{64})\.[a-z]+$")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
NO_ANSWER = "no answer from the API (it may be unreachable); run again"
UNSAFE = re.compile(r'[<>:"|?*\\/\x00-\x1f]+')


class Progress:
    """What a push reports as it goes (the CLI draws a bar from it); this one says nothing."""

    def planned(self, files: int, size_bytes: int) -> None:
        """This much more is about to be uploaded."""

    def finished(self, outcome: UploadOutcome) -> None:
        """One upload is done (uploaded, failed...)."""


def upload_filename(source_path: str | None, rendition_sha256: str, media_type: str) -> str:
    """``<stem>.sha256-<hex>.<ext>``: readable, and names the rendition it holds."""
    stem = UNSAFE.sub("_", PurePath(source_path).stem if source_path else "image")[:80] or "image"
    return f"{stem}.sha256-{rendition_sha256}.{EXTENSIONS.get(media_type, 'bin')}"


def rendition_in(filename: str) -> str | None:
    match = HASH_IN_NAME.search(filename)
    return match.group(1) if match else None


def adoptable(files: list, job: _Job, now: datetime):
    """The file among ``files`` (the workspace's, named for ``job``'s rendition) to adopt
    instead of uploading, or None.

    The API gives no content hash, so this trusts the name and the size: the name carries
    the sha256 of the bytes assetmgr sent under it (``upload_filename``), and only assetmgr
    names files so; the size must be the rendition's to the byte. A file that expires
    within the hour (at ``now``, the API's time plus that margin) is not taken, nor one
    that expires at all for an upload meant never to; of several, the oldest."""
    fits = [
        f
        for f in files
        if f.size_bytes == job.rendition.size_bytes
        and f.live(now)
        and (job.expires_in is not None or f.expires_at is None)
    ]
    return min(fits, key=lambda f: (f.created_at, f.id)) if fits else None


@dataclass(slots=True)
class _Job:
    """One upload to make: its claim, the rendition's facts, and the asset's source paths
    (to derive the bytes again when the store has none), not the asset's whole record. A
    plan holds one per upload until it is sent, so nothing here is held twice."""

    upload_id: int  # of the pending row claimed for it
    rendition: RenditionFacts
    asset: AssetSources
    expires_in: int | None

    @property
    def claim(self) -> Claim:
        return Claim(self.upload_id, self.rendition.id, self.rendition.sha256)

    @property
    def path(self) -> str | None:
        """A source path of the rendition, to name it to people."""
        return self.asset.paths[0] if self.asset.paths else None

    @property
    def filename(self) -> str:
        """The name it is uploaded under (made again when needed, not kept)."""
        return _filename(self.rendition, self.asset)


def _filename(rendition: RenditionFacts, asset: AssetSources) -> str:
    path = asset.paths[0] if asset.paths else None
    return upload_filename(path, rendition.sha256, rendition.media_type)


class Uploader:
    """Pushes renditions of catalogued assets to one remote."""

    def __init__(
        self,
        catalogue: Catalogue,
        remote: RemoteSpec,
        *,
        client=None,
        jobs: int = DEFAULT_JOBS,
        expires_in: int | None = None,
        store: RenditionStore | None = None,
        outlive: timedelta | None = None,
    ):
        self.catalogue, self.remote, self._client, self.jobs = catalogue, remote, client, jobs
        # A copy in the workspace is adopted only if it lives this long yet (a Message Batch
        # needs its files for 24 h and more).
        self.outlive = max(EXPIRY_MARGIN, outlive or EXPIRY_MARGIN)
        self.expires_in, self.store = expires_in, store or RenditionStore()
        self.workspaces = Workspaces(catalogue)
        self.journal = Journal(catalogue, self.workspaces.provisional(remote))
        self.clock = self.journal.clock
        self.confirmed = False  # the workspace the API reports was checked against the label
        self.listing: dict[str, list] | None = None  # the workspace's hash-named files, once
        # Renditions a dead process may still have in flight: swept for copies after uploading.
        self.recovered: set[str] = set()
        self.retried: dict[str, int] = {}  # rendition sha256 -> upload id, leased until swept

    @property
    def client(self):
        """The SDK client, made (and the SDK imported) only when a request is due: a push
        with nothing to upload or check never pays for the import."""
        if self._client is None:
            from .files_api import FilesClient

            self._client = FilesClient(self.remote, clock=self.clock)
            self._client.expected_workspace = self.journal.workspace.workspace_id
        return self._client

    def confirm_workspace(self) -> bool:
        """Settle which workspace this run acts on, once a request has shown it: the label
        is checked against it, or recorded for it (``Workspaces.learn``), and the journal
        goes on in the remote it names (another label's, when it reaches the same
        workspace). Raises ``WorkspaceMismatch`` for a workspace the label was not recorded
        for. Returns whether the journal moved to another remote."""
        if self.confirmed or self._client is None:
            return False
        reported = self.client.reported_workspace
        if reported is None:
            return False  # no answer yet, or the API does not say: the label names it
        before = self.journal.remote_id
        self.journal.use(self.workspaces.learn(self.remote, reported))
        self.client.expected_workspace = reported
        self.confirmed = True
        return self.journal.remote_id != before

    def push(
        self,
        asset_shas: Iterable[str],
        *,
        policy: str = DEFAULT_POLICY,
        verify: bool = False,
        progress: Progress | None = None,
    ) -> PushSummary:
        """Upload what this remote lacks of ``asset_shas``' renditions under ``policy``.

        Active uploads are looked up first (all of them with ``verify``; otherwise those
        unchecked for a day or about to expire): a missing or expired one is replaced.
        """
        with self.session(policy=policy, verify=verify, progress=progress) as session:
            session.submit(list(asset_shas))
            session.close()
        return session.summary

    def session(
        self,
        *,
        policy: str = DEFAULT_POLICY,
        verify: bool = False,
        progress: Progress | None = None,
    ) -> UploadSession:
        """A session to submit assets to as they become known (see ``UploadSession``)."""
        return UploadSession(self, policy, verify, progress or Progress())

    # -- 1. recover ----------------------------------------------------------

    def recover(self) -> int:
        """Resolve rows left by processes that died; return extra copies deleted."""
        held = self.journal.leased_by_others(UploadState.PENDING.value)
        held_active = self.journal.leased_by_others(UploadState.ACTIVE.value)
        if not held and not held_active:
            return 0
        if not self.clock.measured:
            self.client.measure_clock()  # leases are judged by the API's clock
        self.confirm_workspace()
        pending = self.journal.take_over(self.journal.stale(held))
        unswept = self.journal.take_over(self.journal.stale(held_active))
        if not pending and not unswept:
            return 0
        by_sha = self.listing = self._remote_copies(newer_than=None)
        deleted = self._resolve(pending, by_sha)
        active = self.journal.active_files([row.rendition_sha256 for row in unswept])
        for row in unswept:
            sha = row.rendition_sha256
            deleted += self._delete([f for f in by_sha.get(sha, []) if f.id != active.get(sha)])
        self.journal.swept([row.upload_id for row in unswept])
        return deleted

    def _resolve(self, rows: list[PendingRow], by_sha: dict[str, list]) -> int:
        deleted, forget = 0, []
        for row in rows:
            copies = by_sha.get(row.rendition_sha256, [])
            if not copies:
                forget.append(row.upload_id)
                self.recovered.add(row.rendition_sha256)
                continue
            keep, *extra = sorted(copies, key=lambda f: (f.created_at, f.id))
            self.journal.activate(row.upload_id, keep.id, keep.created_at, keep.expires_at)
            deleted += self._delete(extra)
        self.journal.forget(forget)
        return deleted

    # -- 2. plan and 3. claim -------------------------------------------------

    def _check(self, rendition_ids: list[int], verify: bool, expired: bool) -> bool:
        """Look active uploads up on the remote; mark the missing and expired ones dead. Where
        uploads expire, first learn the API's clock (expiry is judged by it) and mark those
        past their time, unless ``expired`` says that was done; returns whether it was."""
        if not expired and (verify or self.journal.any_expiring(rendition_ids)):
            if not self.clock.measured:
                self.client.measure_clock()
            self.journal.expire_outdated()
            expired = True
        due = self.journal.due_for_check(rendition_ids, verify)
        if not due:
            return expired
        found = self.client.lookup([file_id for _, file_id in due])
        self.confirm_workspace()
        now = self.clock.now() + EXPIRY_SAFETY  # just measured: the API's own time
        alive, dead = {}, {}
        for upload_id, file_id in due:
            remote_file = found.get(file_id)
            if remote_file is None:
                dead[upload_id] = UploadState.MISSING.value
            elif remote_file.expires_at is not None and remote_file.expires_at <= now:
                dead[upload_id] = UploadState.EXPIRED.value
            else:
                alive[upload_id] = remote_file.expires_at
        self.journal.checked(alive, dead)
        return expired

    def _plan(
        self, wanted: dict[str, str], policy: str, verify: bool
    ) -> tuple[list[_Job], list[UploadOutcome]]:
        """Claim what the remote lacks of ``wanted`` (rendition sha256 -> an asset that has
        it), ``PLAN_CHUNK`` renditions at a time: each chunk is checked, looked up in the
        journal and claimed on its own, with a fixed number of queries, and keeps of each
        rendition it claims only what its upload needs (``_Job``)."""
        jobs: list[_Job] = []
        known: list[UploadOutcome] = []
        try:
            self._plan_chunks(list(wanted), policy, verify, wanted, jobs, known)
        except BaseException:  # nothing was sent for the claims made so far: drop them
            self.journal.forget([job.upload_id for job in jobs])
            raise
        return jobs, known

    def _plan_chunks(self, shas, policy, verify, wanted, jobs, known) -> None:
        expired = False  # outdated uploads marked dead: once a plan is enough
        for start in range(0, len(shas), PLAN_CHUNK):
            chunk = shas[start : start + PLAN_CHUNK]
            facts = self.catalogue.rendition_facts(chunk, policy)
            ids = [facts[sha].id for sha in chunk]
            expired = self._check(ids, verify, expired)
            lacking = set(self.journal.missing(ids))
            missing = [sha for sha in chunk if facts[sha].id in lacking]
            active = self.journal.active_files(
                [sha for sha in chunk if facts[sha].id not in lacking]
            )
            # The chunk's own strings, not the copies the query read back: these outcomes
            # stay until the session ends, and one string per rendition is enough.
            known += [
                UploadOutcome(sha, "present", file_id=active[sha]) for sha in chunk if sha in active
            ]
            if missing:
                jobs += self._claim([facts[sha] for sha in missing], wanted, known)

    def _claim(
        self, renditions: list[RenditionFacts], wanted: dict[str, str], known: list[UploadOutcome]
    ) -> list[_Job]:
        """Claim ``renditions`` (which this remote lacks); a job for each one won, and a
        ``busy`` outcome in ``known`` for each another process holds."""
        origins = self.catalogue.source_paths(sorted({wanted[r.sha256] for r in renditions}))
        chosen = {r.id: (r, origins[wanted[r.sha256]]) for r in renditions}
        lifetimes = self._lifetimes(list(chosen))
        claims = self.journal.claim(
            list(chosen),
            {id_: _filename(r, asset) for id_, (r, asset) in chosen.items()},
            {r.id: r.size_bytes for r in renditions},
            lifetimes,
        )
        won = {c.rendition_id for c in claims}
        known += [
            UploadOutcome(r.sha256, "busy", reason="another process is uploading it")
            for r in renditions
            if r.id not in won
        ]
        jobs = [
            _Job(c.upload_id, *chosen[c.rendition_id], lifetimes.get(c.rendition_id))
            for c in claims
        ]
        try:
            return self._adopt(jobs, known) if jobs else jobs
        except BaseException:  # a refused key, Ctrl-C: nothing was sent for these claims
            self.journal.forget([job.upload_id for job in jobs])
            raise

    def _adopt(self, jobs: list[_Job], known: list[UploadOutcome]) -> list[_Job]:
        """Of the renditions about to be uploaded, adopt those the workspace holds already
        (another catalogue uploaded them): an ``adopted`` outcome in ``known`` for each; the
        jobs left to send. The workspace is listed once per run, and only when something
        is to be uploaded."""
        if self.listing is None:
            self.listing = self._remote_copies(newer_than=None)
            if self.confirm_workspace():
                jobs = self._still_claimed(jobs, known)
        now = self.clock.now() + self.outlive
        left = []
        for job in jobs:
            found = adoptable(self.listing.get(job.rendition.sha256, []), job, now)
            if found is None:
                left.append(job)
                continue
            self.journal.activate(job.upload_id, found.id, found.created_at, found.expires_at,
                                  origin=UploadOrigin.ADOPTED.value)  # fmt: skip
            known.append(UploadOutcome(job.rendition.sha256, "adopted", found.id, path=job.path))
        return left

    def _still_claimed(self, jobs: list[_Job], known: list[UploadOutcome]) -> list[_Job]:
        """The jobs whose claims survived the move into another label's remote: the others'
        renditions were live there already (``present`` outcomes in ``known``)."""
        mine = self.journal.claimed([job.upload_id for job in jobs])
        gone = [job for job in jobs if job.upload_id not in mine]
        active = self.journal.active_files([job.rendition.sha256 for job in gone])
        for job in gone:
            sha = job.rendition.sha256
            outcome = "present" if sha in active else "busy"
            known.append(UploadOutcome(sha, outcome, active.get(sha), path=job.path))
        return [job for job in jobs if job.upload_id in mine]

    def _lifetimes(self, rendition_ids: list[int]) -> dict[int, int | None]:
        """The lifetime each upload asks for: the one given, else what the upload it
        replaces asked for (none: it never expires); at least ``outlive`` and a margin."""
        if self.expires_in is not None:
            found = dict.fromkeys(rendition_ids, self.expires_in)
        else:
            found = dict(self.journal.lifetimes(rendition_ids))
        least = int((self.outlive + EXPIRY_MARGIN).total_seconds())  # what a batch needs
        return {k: v if v is None or self.outlive == EXPIRY_MARGIN else max(v, least)
                for k, v in found.items()}  # fmt: skip

    # -- 4. send --------------------------------------------------------------

    def _upload_one(self, job: _Job):
        data = load_bytes(job.asset, job.rendition, self.store, keep=True)
        if data is None:
            return None
        return self.client.upload(job.filename, data, job.rendition.media_type, job.expires_in)

    def _record(self, job: _Job, future: Future, unsure: list[_Job]) -> UploadOutcome | None:
        """The outcome of a finished request, recorded; None while it is unsure (the
        reconcile decides)."""
        from .files_api import RemoteUnsure, UploadRefused

        sha, upload_id = job.rendition.sha256, job.claim.upload_id
        path = job.path
        try:
            result = future.result()
        except AuthError:
            raise
        except UploadRefused as e:
            self.journal.fail(upload_id, str(e))
            return UploadOutcome(sha, "failed", reason=str(e), path=path)
        except RemoteUnsure:
            unsure.append(job)
            return None
        if result is None:
            self.journal.forget([upload_id])
            return UploadOutcome(
                sha,
                "failed",
                reason="no stored rendition and no source file with its bytes is left",
            )
        remote_file, retries = result
        self.journal.activate(
            upload_id,
            remote_file.id,
            remote_file.created_at,
            remote_file.expires_at,
            copies_possible=retries > 0,
        )
        if retries:
            self.retried[sha] = upload_id
        size = job.rendition.size_bytes
        return UploadOutcome(sha, "uploaded", remote_file.id, size_bytes=size, path=path)

    def _abandon(self, futures: dict[Future, _Job], unsure: list[_Job]) -> None:
        """On Ctrl-C or a fatal error, settle every row not yet recorded: a refused or never
        sent request is forgotten, a finished upload recorded, one in flight left to resolve."""
        from .files_api import UploadRefused

        forget, release = [], [job.claim.upload_id for job in unsure]
        cancelled = {f for f in futures if f.cancel()}
        wait(set(futures) - cancelled, timeout=SETTLE_SECONDS)  # let requests in flight answer
        for future, job in futures.items():
            if future in cancelled or future.cancelled():
                forget.append(job.claim.upload_id)
            elif not future.done():
                release.append(job.claim.upload_id)
            elif isinstance(future.exception(), (AuthError, UploadRefused)):
                forget.append(job.claim.upload_id)
            elif future.exception() is not None or future.result() is None:
                release.append(job.claim.upload_id)
            else:
                remote_file, retries = future.result()
                self.journal.activate(
                    job.claim.upload_id,
                    remote_file.id,
                    remote_file.created_at,
                    remote_file.expires_at,
                    copies_possible=retries > 0,
                )
        self.journal.forget(forget)
        self.journal.release(release)

    # -- 5. reconcile ----------------------------------------------------------

    def _reconcile(
        self, unsure: list[_Job], started: datetime
    ) -> tuple[int, dict[str, UploadOutcome]]:
        """Adopt lost uploads; delete extra copies of what this run retried. Returns the
        deletions and the outcomes of the ``unsure`` uploads."""
        by_sha = self._remote_copies(newer_than=self._window(started))
        rows = [
            PendingRow(
                j.claim.upload_id, j.claim.rendition_id, j.rendition.sha256, self.journal.owner
            )
            for j in unsure
        ]
        deleted = self._resolve(rows, by_sha)
        lost = {row.rendition_sha256 for row in rows}
        active = self.journal.active_files(sorted(lost | set(self.retried) | self.recovered))
        outcomes = {}
        for job in unsure:
            sha = job.rendition.sha256
            path = job.path
            outcomes[sha] = (
                UploadOutcome(
                    sha, "adopted", active[sha], size_bytes=job.rendition.size_bytes, path=path
                )
                if sha in active
                else UploadOutcome(sha, "failed", reason=NO_ANSWER, path=path)
            )
        for sha in (set(self.retried) | self.recovered) - lost:
            deleted += self._delete([f for f in by_sha.get(sha, []) if f.id != active.get(sha)])
        self.journal.swept(list(self.retried.values()))
        return deleted, outcomes

    def _window(self, started: datetime) -> datetime | None:
        """Files created since ``started`` (this machine's clock), on the API's clock; None
        (every file) when the API's clock was never seen."""
        if not self.clock.measured:
            return None
        return self.clock.from_local(started) - RECONCILE_MARGIN

    def _remote_copies(self, newer_than: datetime | None) -> dict[str, list]:
        by_sha: dict[str, list] = defaultdict(list)
        for remote_file in self.client.files(newer_than=newer_than):
            sha = rendition_in(remote_file.filename)
            if sha:
                by_sha[sha].append(remote_file)
        return by_sha

    def _delete(self, files: list) -> int:
        for remote_file in files:
            self.client.delete(remote_file.id)
        return len(files)


class UploadSession:
    """Assets submitted as they become known; their uploads run in a thread pool and are
    recorded by the thread that calls ``submit``, ``poll`` or ``close`` (the only one that
    writes the catalogue). ``close`` waits for every upload and reconciles; ``abandon`` (also
    on leaving it as a context manager by an exception) settles what is in flight."""

    def __init__(self, uploader: Uploader, policy: str, verify: bool, progress: Progress):
        self.uploader, self.policy, self.verify, self.progress = uploader, policy, verify, progress
        self.summary = PushSummary()
        self.started = utcnow()
        self.recovered = False
        self.pool: ThreadPoolExecutor | None = None
        self.futures: dict[Future, _Job] = {}
        self.unsure: list[_Job] = []
        self.in_flight: set[str] = set()  # renditions sent or unsure, not yet decided
        # rendition -> its assets; a list (a rendition rarely has more than one asset), which
        # costs a quarter of a set: a push of every asset keeps one per rendition
        self.assets_of: dict[str, list[str]] = defaultdict(list)
        self.decided: dict[str, UploadOutcome] = {}  # rendition -> its outcome
        self.fresh: list[tuple[str, UploadOutcome]] = []  # (asset, outcome) not yet polled
        self.unanswered = 0  # requests in a row that got no answer
        self.broken: str | None = None  # why nothing more is sent
        self.closed = False
        self.renewed = time.monotonic()  # when this session's leases were last renewed

    def __enter__(self) -> UploadSession:
        return self

    def __exit__(self, kind, error, tb) -> None:
        if kind is not None:
            self.abandon()

    def submit(self, asset_shas: list[str]) -> None:
        """Plan, claim and start the uploads these assets' renditions need."""
        if not self.recovered:
            self.summary.deleted_duplicates += self.uploader.recover()
            self.recovered = True
        self._keep_leases()
        wanted: dict[str, str] = {}
        for asset, rendition in self.uploader.catalogue.renditions_of(asset_shas, self.policy):
            self.summary.renditions[asset] = rendition
            assets = self.assets_of[rendition]
            if asset not in assets:
                assets.append(asset)
            if rendition in self.decided:
                self.fresh.append((asset, self.decided[rendition]))
            elif rendition not in self.in_flight:
                wanted.setdefault(rendition, asset)
        if not wanted:
            return
        if self.broken:
            for rendition in wanted:
                self._decide(UploadOutcome(rendition, "failed", reason=self.broken), sent=False)
            return
        jobs, known = self.uploader._plan(wanted, self.policy, self.verify)
        for outcome in known:
            self._decide(outcome, sent=False)
        if jobs:
            self._start(jobs)

    def poll(self, timeout: float = 0) -> list[tuple[str, UploadOutcome]]:
        """(asset, outcome) pairs decided since the last call, after recording what finished
        within ``timeout`` seconds."""
        self._collect(timeout)
        fresh, self.fresh = self.fresh, []
        return fresh

    def _collect(self, timeout: float) -> None:
        if not self.futures:
            return
        self._keep_leases()
        done, _ = wait(set(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            job = self.futures[future]
            outcome = self.uploader._record(job, future, self.unsure)  # raises on a refused key
            del self.futures[future]
            self.unanswered = self.unanswered + 1 if outcome is None else 0
            if outcome is not None:
                self.in_flight.discard(job.rendition.sha256)
                self._decide(outcome)
        if self.unanswered >= max(UNANSWERED_LIMIT, self.uploader.jobs) and not self.broken:
            self._stop_sending()

    def _keep_leases(self) -> None:
        """Renew this session's leases when ``RENEW_EVERY`` has passed since the last time."""
        if time.monotonic() - self.renewed >= RENEW_EVERY.total_seconds():
            self.uploader.journal.renew()
            self.renewed = time.monotonic()

    def _stop_sending(self) -> None:
        """The API stopped answering: send nothing more (requests not started are dropped;
        the reconcile settles those that were)."""
        self.broken = NO_ANSWER
        dropped = [(f, job) for f, job in self.futures.items() if f.cancel()]
        self.uploader.journal.forget([job.claim.upload_id for _, job in dropped])
        for future, job in dropped:
            del self.futures[future]
            self.in_flight.discard(job.rendition.sha256)
            self._decide(UploadOutcome(job.rendition.sha256, "failed", reason=NO_ANSWER))

    def close(self) -> list[tuple[str, UploadOutcome]]:
        """Wait for every upload, reconcile, save the API's clock; the last (asset, outcome)
        pairs."""
        try:
            while self.futures:
                self._collect(timeout=1.0)
        except BaseException:
            self.abandon()
            raise
        self.closed = True
        if self.unsure or self.uploader.retried or self.uploader.recovered:
            self._reconcile()
        self._shutdown()
        self.uploader.journal.save_clock()
        return self.poll()

    def _reconcile(self) -> None:
        try:
            deleted, outcomes = self.uploader._reconcile(self.unsure, self.started)
        except AuthError:
            self.abandon()
            raise
        except RemoteError as e:  # the API is out of reach: the next run settles these
            self.uploader.journal.release([job.claim.upload_id for job in self.unsure])
            reason = f"{NO_ANSWER} ({e})"
            deleted, outcomes = 0, {j.rendition.sha256: UploadOutcome(j.rendition.sha256, "failed", reason=reason) for j in self.unsure}  # fmt: skip
        self.summary.deleted_duplicates += deleted
        self.unsure, self.in_flight = [], set()
        for outcome in outcomes.values():
            self._decide(outcome)

    def _start(self, jobs: list[_Job]) -> None:
        self.uploader.client  # noqa: B018 (made here, not in a worker thread)
        if self.pool is None:
            workers = max(1, self.uploader.jobs)
            self.pool = ThreadPoolExecutor(workers, thread_name_prefix="assetmgr-upload")
        self.progress.planned(len(jobs), sum(job.rendition.size_bytes for job in jobs))
        for job in jobs:
            self.futures[self.pool.submit(self.uploader._upload_one, job)] = job
            self.in_flight.add(job.rendition.sha256)

    def _decide(self, outcome: UploadOutcome, *, sent: bool = True) -> None:
        sha = outcome.rendition_sha256
        self.decided[sha] = outcome
        self.summary.outcomes.append(outcome)
        if sent:
            self.progress.finished(outcome)
        self.fresh += [(asset, outcome) for asset in sorted(self.assets_of[sha])]

    def abandon(self) -> None:
        """Stop: settle every upload not yet recorded (see ``Uploader._abandon``)."""
        if self.closed and not self.futures and not self.unsure:
            return
        try:
            self.uploader._abandon(dict(self.futures), self.unsure)
        finally:
            self.futures, self.unsure, self.in_flight = {}, [], set()
            self._shutdown()

    def _shutdown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
