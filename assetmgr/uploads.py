"""Upload once: every distinct rendition reaches a remote exactly once.

``Uploader.push`` runs, for one remote:

1. recover: pending rows left by a process that died are resolved by listing
   the workspace: the hash-named file is adopted if it is there (extra copies
   deleted), else the row is dropped and the rendition uploaded again;
2. plan: the renditions of the given assets with no live upload here;
3. claim: pending rows are committed before any request (a partial unique
   index lets one process win each rendition);
4. send: a bounded thread pool uploads through the SDK; results come back to
   this thread, the only one that writes the catalogue;
5. reconcile: where an answer was lost, or the SDK had to retry (a retry after
   a lost response stores a second copy), the workspace is listed: lost uploads
   are adopted, and extra copies of a rendition are deleted.

The catalogue never claims an upload the remote does not have: a row becomes
``active`` only from the API's answer or from the file seen in a listing.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath

from .catalogue import Catalogue
from .errors import AuthError, UsageError
from .journal import Claim, Journal, PendingRow
from .limits import EXPIRY_SAFETY
from .models import utcnow
from .policies import DEFAULT_POLICY
from .records import AssetRecord, RenditionRecord
from .remote import RemoteSpec
from .renditions import load_bytes
from .store import RenditionStore

DEFAULT_JOBS = 8
MIN_EXPIRY, MAX_EXPIRY = 3600, 7_776_000
CLOCK_MARGIN = timedelta(minutes=10)  # between this machine's clock and the API's
SETTLE_SECONDS = 10  # on Ctrl-C or a fatal error, how long requests in flight may still answer
HASH_IN_NAME = re.compile(r"\.sha256-([0-9a-f]{64})\.[a-z]+$")
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
UNSAFE = re.compile(r'[<>:"|?*\\/\x00-\x1f]+')


@dataclass
class UploadOutcome:
    """What happened to one rendition in one remote."""

    rendition_sha256: str
    outcome: str  # uploaded | adopted | present | busy | failed
    file_id: str | None = None
    reason: str | None = None
    size_bytes: int = 0


@dataclass
class PushSummary:
    outcomes: list[UploadOutcome] = field(default_factory=list)
    deleted_duplicates: int = 0
    renditions: dict[str, str] = field(default_factory=dict)  # asset sha256 -> rendition sha256

    def by_asset(self) -> dict[str, UploadOutcome]:
        """asset sha256 -> the outcome of its rendition, for every asset the push covered."""
        by_rendition = {o.rendition_sha256: o for o in self.outcomes}
        return {a: by_rendition[r] for a, r in self.renditions.items() if r in by_rendition}

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.outcomes)

    def __str__(self) -> str:
        sent = sum(o.size_bytes for o in self.outcomes if o.outcome == "uploaded")
        parts = [
            f"{self.count('uploaded')} uploaded ({sent / 1e6:.1f} MB)",
            f"{self.count('present')} already there",
        ]
        parts += [f"{self.count(k)} {k}" for k in ("adopted", "busy", "failed") if self.count(k)]
        if self.deleted_duplicates:
            parts.append(f"{self.deleted_duplicates} duplicate copies deleted")
        return ", ".join(parts)


class Progress:
    """What a push reports as it goes (the CLI draws a bar from it); this one says nothing."""

    def planned(self, files: int, size_bytes: int) -> None:
        """How much is about to be uploaded."""

    def finished(self, outcome: UploadOutcome) -> None:
        """One upload is done (uploaded, failed...)."""


def upload_filename(source_path: str | None, rendition_sha256: str, media_type: str) -> str:
    """``<stem>.sha256-<hex>.<ext>``: readable, and names the rendition it holds."""
    stem = UNSAFE.sub("_", PurePath(source_path).stem if source_path else "image")[:80] or "image"
    return f"{stem}.sha256-{rendition_sha256}.{EXTENSIONS.get(media_type, 'bin')}"


def rendition_in(filename: str) -> str | None:
    match = HASH_IN_NAME.search(filename)
    return match.group(1) if match else None


def _rendition(record: AssetRecord, policy: str) -> RenditionRecord:
    return next(r for r in record.renditions if r.policy == policy)


def expiry_seconds(text: str | None) -> int | None:
    """``90m``, ``12h``, ``7d`` or seconds -> seconds, within the API's 1 hour..90 days."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"--expires-in {text!r}: give a number with s, m, h or d, e.g. 7d")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise UsageError(f"--expires-in {text!r}: the API takes 1h to 90d")
    return seconds


@dataclass
class _Job:
    claim: Claim
    asset: AssetRecord
    rendition: RenditionRecord
    filename: str


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
    ):
        self.catalogue, self.remote, self._client, self.jobs = catalogue, remote, client, jobs
        self.expires_in, self.store = expires_in, store or RenditionStore()
        self.journal = Journal(catalogue, remote)
        # Renditions a dead process may still have in flight: swept for copies after uploading.
        self.recovered: set[str] = set()
        self.retried: dict[str, int] = {}  # rendition sha256 -> upload id, leased until swept

    @property
    def client(self):
        """The SDK client, made (and the SDK imported) only when a request is due: a push
        with nothing to upload or check never pays for the import."""
        if self._client is None:
            from .files_api import FilesClient

            self._client = FilesClient(self.remote)
        return self._client

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
        started, summary = utcnow(), PushSummary()
        summary.deleted_duplicates += self.recover()
        jobs, present = self._plan(list(asset_shas), policy, summary, verify)
        summary.outcomes += present
        progress = progress or Progress()
        progress.planned(len(jobs), sum(job.rendition.size_bytes for job in jobs))
        unsure = self._send(jobs, summary, progress)
        if unsure or self.retried or self.recovered:
            summary.deleted_duplicates += self._reconcile(unsure, started, summary)
        return summary

    # -- 1. recover ----------------------------------------------------------

    def recover(self) -> int:
        """Resolve rows left by processes that died; return extra copies deleted."""
        now = utcnow()
        pending = self.journal.take_over(self.journal.stale(now))
        unswept = self.journal.take_over(self.journal.stale(now, "active"))
        if not pending and not unswept:
            return 0
        by_sha = self._remote_copies(newer_than=None)
        deleted = self._resolve(pending, by_sha)
        active = self.journal.active_files()
        for row in unswept:
            deleted += self._delete(
                [
                    f
                    for f in by_sha.get(row.rendition_sha256, [])
                    if f.id != active.get(row.rendition_sha256)
                ]
            )
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

    def _check(self, rendition_ids: list[int], verify: bool) -> None:
        """Look active uploads up on the remote; mark the missing and expired ones dead."""
        self.journal.expire_outdated(utcnow())
        due = self.journal.due_for_check(rendition_ids, utcnow(), verify)
        if not due:
            return
        found, server_now = self.client.lookup([file_id for _, file_id in due])
        now = max(filter(None, (server_now, utcnow()))) + EXPIRY_SAFETY
        alive, dead = {}, {}
        for upload_id, file_id in due:
            remote_file = found.get(file_id)
            if remote_file is None:
                dead[upload_id] = "missing"
            elif remote_file.expires_at is not None and remote_file.expires_at <= now:
                dead[upload_id] = "expired"
            else:
                alive[upload_id] = remote_file.expires_at
        self.journal.checked(alive, dead)

    def _plan(
        self, asset_shas: list[str], policy: str, summary: PushSummary, verify: bool
    ) -> tuple[list[_Job], list[UploadOutcome]]:
        """Claim what the remote lacks. Full records (for source paths) only of those assets."""
        wanted: dict[str, str] = {}  # rendition sha256 -> the first asset that has it
        for asset, rendition in self.catalogue.renditions_of(asset_shas, policy):
            wanted.setdefault(rendition, asset)
            summary.renditions[asset] = rendition
        ids = self.catalogue.rendition_ids(list(wanted))
        self._check(list(ids.values()), verify)
        lacking = set(self.journal.missing(list(ids.values())))
        missing = {sha for sha in wanted if ids[sha] in lacking}
        present = [
            UploadOutcome(sha, "present", file_id=fid)
            for sha, fid in self.journal.active_files().items()
            if sha in wanted and sha not in missing
        ]
        records = {
            r.sha256: r for r in self.catalogue.records(sorted({wanted[sha] for sha in missing}))
        }
        chosen = {
            sha: (records[wanted[sha]], _rendition(records[wanted[sha]], policy)) for sha in missing
        }
        names = {
            ids[sha]: upload_filename(a.sources[0].path if a.sources else None, sha, r.media_type)
            for sha, (a, r) in chosen.items()
        }
        claims = self.journal.claim(
            [ids[sha] for sha in missing],
            names,
            {ids[sha]: r.size_bytes for sha, (_, r) in chosen.items()},
        )
        won = {c.rendition_sha256 for c in claims}
        busy = [
            UploadOutcome(sha, "busy", reason="another process is uploading it")
            for sha in missing - won
        ]
        jobs = [_Job(c, *chosen[c.rendition_sha256], names[c.rendition_id]) for c in claims]
        return jobs, present + busy

    # -- 4. send --------------------------------------------------------------

    def _send(self, jobs: list[_Job], summary: PushSummary, progress) -> list[_Job]:
        unsure: list[_Job] = []
        pool = ThreadPoolExecutor(
            max_workers=max(1, self.jobs), thread_name_prefix="assetmgr-upload"
        )
        futures: dict[Future, _Job] = {pool.submit(self._upload_one, job): job for job in jobs}
        recorded: set[Future] = set()
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    outcome = self._record(futures[future], future, unsure)
                    recorded.add(future)
                    summary.outcomes.append(outcome)
                    progress.finished(outcome)
        except BaseException:
            self._abandon({f: job for f, job in futures.items() if f not in recorded}, unsure)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return unsure

    def _upload_one(self, job: _Job):
        data = load_bytes(job.asset, job.rendition, self.store)
        if data is None:
            return None
        return self.client.upload(job.filename, data, job.rendition.media_type, self.expires_in)

    def _record(self, job: _Job, future: Future, unsure: list[_Job]) -> UploadOutcome:
        from .files_api import RemoteUnsure, UploadRefused

        sha, upload_id = job.rendition.sha256, job.claim.upload_id
        try:
            result = future.result()
        except AuthError:
            raise
        except UploadRefused as e:
            self.journal.fail(upload_id, str(e))
            return UploadOutcome(sha, "failed", reason=str(e))
        except RemoteUnsure as e:
            unsure.append(job)
            return UploadOutcome(sha, "failed", reason=str(e))
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
        return UploadOutcome(sha, "uploaded", remote_file.id, size_bytes=job.rendition.size_bytes)

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

    def _reconcile(self, unsure: list[_Job], started: datetime, summary: PushSummary) -> int:
        """Adopt lost uploads; delete extra copies of what this run retried. Returns deletions."""
        by_sha = self._remote_copies(newer_than=started - CLOCK_MARGIN)
        rows = [
            PendingRow(
                j.claim.upload_id, j.claim.rendition_id, j.rendition.sha256, self.journal.owner
            )
            for j in unsure
        ]
        deleted = self._resolve(rows, by_sha)
        active = self.journal.active_files()
        lost = {row.rendition_sha256 for row in rows}
        for o in summary.outcomes:
            if (
                o.outcome == "failed"
                and o.rendition_sha256 in lost
                and o.rendition_sha256 in active
            ):
                o.outcome, o.file_id, o.reason = "adopted", active[o.rendition_sha256], None
        for sha in (set(self.retried) | self.recovered) - lost:
            deleted += self._delete([f for f in by_sha.get(sha, []) if f.id != active.get(sha)])
        self.journal.swept(list(self.retried.values()))
        return deleted

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
