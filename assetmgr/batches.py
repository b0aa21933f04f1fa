"""Sending a run as Message Batches, crash-safe and never twice.

The journal (``message_batches``) follows the upload journal's discipline:

1. **Journal, then submit.** A row (``submitting``) naming the run, the remote and how many
   requests, with the requests marked ``submitted`` to it, is committed before the batch is
   created; the API's batch id is recorded as soon as it answers (``submitted``).
2. **Reconcile, never resubmit.** A ``submitting`` row found by a later run (its process died
   between the two) is looked for among the workspace's batches: one created around the time
   it was journalled (by the API's clock), with as many requests, and not journalled by any
   other row, is adopted; when there is none the create never took effect, and its requests
   go back to ``pending``.
3. **Collect in any order.** Results stream in as JSON Lines; each is mapped back to its request
   by ``custom_id`` (``req-<row id>``) and recorded as it arrives; a result recorded already
   is not written again, so a collection killed half-way is simply done again. When every
   result of a batch is recorded its row is ``collected``; requests it did not answer
   (errored, expired, canceled) are sent again by the next run, or now with ``retry_errors``.

Before a batch is submitted every file it refers to is live in the batch's workspace and will
not expire within 24 h and a margin (``limits.BATCH_HORIZON``): ``Library.run`` plans a batch
run with that horizon, and uploads that would expire sooner are retired here and made again.
Polling reads the batch's own counts and the API's clock (``expires_at`` is the API's).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update

from . import answers
from .answers import UNFINISHED, Result, file_ids
from .catalogue import CHUNK, Catalogue
from .errors import UsageError
from .models import MessageBatch, Rendition, RunRequest, Upload, UploadState, message_batches
from .runplan import batches as grouped
from .runs import Progress, result_of

if TYPE_CHECKING:
    from .library import Library
    from .remote import RemoteSpec
    from .runs import RunOutcome

POLL_ENV = "ASSETMGR_BATCH_POLL"  # seconds between looks at a batch in progress
DEFAULT_POLL = 30.0
MATCH_BEFORE = timedelta(minutes=10)  # a batch journalled at T was created at T +- this
MATCH_AFTER = timedelta(minutes=30)


def poll_seconds() -> float:
    """``ASSETMGR_BATCH_POLL`` (seconds, 0.01 to 3600), default 30."""
    text = os.environ.get(POLL_ENV, "")
    try:
        value = float(text) if text else DEFAULT_POLL
    except ValueError:
        raise UsageError(f"{POLL_ENV}={text!r}: give seconds between 0.01 and 3600") from None
    if not 0.01 <= value <= 3600:
        raise UsageError(f"{POLL_ENV}={text!r}: give seconds between 0.01 and 3600")
    return value


def run(
    library: Library,
    outcome: RunOutcome,
    remote: RemoteSpec,
    *,
    retry_errors: bool = False,
    progress: Progress | None = None,
) -> None:
    """Finish the run ``outcome`` as Message Batches: adopt or forget batches a dead process
    left, collect those pending, submit what is due, and wait for and collect those."""
    from .workspaces import Workspaces

    catalogue, run_id = library.catalogue, outcome.id
    progress = progress or Progress()
    client = library._messages_client(remote)
    workspaces = Workspaces(catalogue)
    remote_id = (workspaces.recorded(remote) or workspaces.provisional(remote)).remote_id
    reconcile(catalogue, client, run_id)
    for _ in range(2 if retry_errors else 1):
        due = answers.due(catalogue, run_id)
        progress.total += len(due)
        for group in grouped([(d, _params(outcome, d)) for d in due]):
            outcome.batches.append(submit(catalogue, client, run_id, remote_id, group, remote))
        for row_id, batch_id in pending(catalogue, run_id):
            if batch_id not in outcome.batches:
                outcome.batches.append(batch_id)
            wait_for(client, batch_id, progress, remote.base_url)
            outcome.results += collect(catalogue, client, outcome, row_id, batch_id, progress)
        if not answers.due(catalogue, run_id, ("errored", "expired", "canceled")):
            break


def _params(outcome: RunOutcome, due: answers.Due) -> dict:
    from .runs import params_of

    return params_of(outcome.plan, due.seq)


def submit(catalogue: Catalogue, client, run_id: int, remote_id: int, group, remote) -> str:
    """Journal ``group`` (of (Due, params)), then create its batch; the batch id."""
    from .messages_api import create_batch

    now = api_now(remote.base_url)

    def journal(conn) -> int:
        row = conn.execute(insert(message_batches).values(
            run_id=run_id, remote_id=remote_id, state="submitting", requests=len(group),
            journalled_at=now).returning(MessageBatch.id)).scalar_one()  # fmt: skip
        for d, params in group:
            conn.execute(update(RunRequest).where(RunRequest.id == d.request_id)
                         .values(state="submitted", batch_id=row,
                                 file_ids=json.dumps(file_ids(params))))  # fmt: skip
        return row

    row = catalogue.transaction(journal)
    items = [{"custom_id": answers.custom_id(d.request_id), "params": p} for d, p in group]
    info = create_batch(client, items)
    _submitted(catalogue, row, info.id, info.expires_at)
    return info.id


def _submitted(catalogue: Catalogue, row: int, batch_id: str, expires_at: datetime) -> None:
    with catalogue.writing() as conn:
        conn.execute(update(MessageBatch).where(MessageBatch.id == row)
                     .values(state="submitted", batch_id=batch_id, expires_at=expires_at))  # fmt: skip


def pending(catalogue: Catalogue, run_id: int) -> list[tuple[int, str]]:
    """The run's batches submitted and not yet collected: (row id, batch id)."""
    query = (select(MessageBatch.id, MessageBatch.batch_id)
             .where(MessageBatch.run_id == run_id, MessageBatch.state == "submitted")
             .order_by(MessageBatch.id))  # fmt: skip
    with catalogue.reading() as conn:
        return [tuple(row) for row in conn.execute(query)]


def reconcile(catalogue: Catalogue, client, run_id: int) -> None:
    """Rows of the run left ``submitting`` by a process that died: adopt the batch each
    created, or give its requests back (``pending``) when it created none."""
    from .messages_api import list_batches

    query = select(MessageBatch.id, MessageBatch.requests, MessageBatch.journalled_at).where(
        MessageBatch.run_id == run_id, MessageBatch.state == "submitting"
    )
    with catalogue.reading() as conn:
        left = conn.execute(query).all()
        known = set(conn.execute(select(MessageBatch.batch_id)
                                 .where(MessageBatch.batch_id.is_not(None))).scalars())  # fmt: skip
    if not left:
        return
    earliest = min(row.journalled_at for row in left) - MATCH_BEFORE
    candidates = []
    for info in list_batches(client):
        if info.created_at < earliest:
            break  # newest first: the rest are older still
        if info.id not in known:
            candidates.append(info)
    for row in left:
        found = [c for c in candidates if c.total == row.requests
                 and row.journalled_at - MATCH_BEFORE <= c.created_at <= row.journalled_at + MATCH_AFTER]  # fmt: skip
        if found:
            chosen = min(
                found, key=lambda c: abs((c.created_at - row.journalled_at).total_seconds())
            )
            candidates.remove(chosen)
            _submitted(catalogue, row.id, chosen.id, chosen.expires_at)
        else:
            _forget(catalogue, row.id)


def _forget(catalogue: Catalogue, row: int) -> None:
    """A journalled batch that was never created: its requests are due again."""
    with catalogue.writing() as conn:
        conn.execute(update(RunRequest).where(RunRequest.batch_id == row,
                                              RunRequest.state == "submitted")
                     .values(state="pending", batch_id=None))  # fmt: skip
        conn.execute(update(MessageBatch).where(MessageBatch.id == row).values(state="lost"))


def wait_for(client, batch_id: str, progress: Progress, base_url: str) -> None:
    """Poll the batch until it ends, showing its counts (and, by the API's clock, how long it
    has before it expires) on the progress line."""
    from .messages_api import retrieve_batch

    interval = poll_seconds()
    while True:
        info = retrieve_batch(client, batch_id)
        if info.status == "ended":
            progress.note = f"batch {batch_id} ended"
            return
        left = info.expires_at - api_now(base_url)
        hours = max(left.total_seconds(), 0) / 3600
        progress.note = (f"batch {batch_id}: {info.status}, {info.counts['processing']:,} "
                         f"processing; expires in {hours:.1f} h")  # fmt: skip
        time.sleep(interval)


def api_now(base_url: str) -> datetime:
    """The API's time (its ``Date``), or this machine's when it cannot be read."""
    from .apiclock import probe, utcnow

    clock = probe(base_url)
    return clock.now() if clock else utcnow()


def collect(
    catalogue: Catalogue, client, outcome: RunOutcome, row: int, batch_id: str, progress: Progress
) -> list[Result]:
    """Record every result of the ended batch as it streams in; then close its row, and
    give back (``pending``) any request of it the results did not name."""
    from .messages_api import batch_results

    recorded: list[Result] = []
    for custom, item in batch_results(client, batch_id):
        request_id = answers.request_id(custom)
        if request_id is None:
            continue  # not one of assetmgr's
        result = _result(request_id, item, outcome)
        if answers.record(catalogue, [result]):
            recorded.append(result)
            progress.finished(result)
    with catalogue.writing() as conn:
        conn.execute(update(RunRequest).where(RunRequest.batch_id == row,
                                              RunRequest.state == "submitted")
                     .values(state="pending"))  # fmt: skip
        conn.execute(update(MessageBatch).where(MessageBatch.id == row)
                     .values(state="collected"))  # fmt: skip
    return recorded


def _result(request_id: int, item: dict, outcome: RunOutcome) -> Result:
    kind = item.get("type")
    if kind == "succeeded":
        return result_of(request_id, item["message"], outcome.plan, batch=True)
    if kind == "errored":
        error = (item.get("error") or {}).get("error") or {}
        text = f"{error.get('type', 'error')}: {error.get('message', '')}".strip()
        return Result(request_id, "errored", error=text)
    return Result(request_id, kind if kind in ("expired", "canceled") else "errored",
                  error=f"the batch item {kind}")  # fmt: skip


# -- what gc, rm and planning need to know ---------------------------------------------------


def unfinished_count(catalogue: Catalogue) -> int:
    with catalogue.reading() as conn:
        query = select(func.count()).select_from(message_batches)
        return conn.execute(query.where(MessageBatch.state.in_(UNFINISHED))).scalar_one()


def retire_expiring(
    catalogue: Catalogue, remote_id: int, renditions: Sequence[str], before: datetime
) -> int:
    """Active uploads of these renditions in ``remote_id`` that expire before ``before`` (by
    the API's clock) are marked expired, so that the next push makes them again; how many."""
    retired = 0
    shas = sorted(set(renditions))
    with catalogue.writing() as conn:
        for start in range(0, len(shas), CHUNK):
            ids = select(Rendition.id).where(Rendition.sha256.in_(shas[start : start + CHUNK]))
            retired += conn.execute(update(Upload).where(
                Upload.remote_id == remote_id, Upload.rendition_id.in_(ids),
                Upload.state == UploadState.ACTIVE.value, Upload.expires_at.is_not(None),
                Upload.expires_at <= before).values(state=UploadState.EXPIRED.value)).rowcount  # fmt: skip
    return retired
