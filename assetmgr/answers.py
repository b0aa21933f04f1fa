"""What the catalogue keeps of runs: the ``runs``, ``run_requests`` and ``message_batches``
rows, written from the one thread that holds the catalogue (worker threads hand their results
back to it), and read for ``runs`` and ``answers``.

Request states: ``pending`` (not sent, or sent and not answered: sent again), ``submitted`` (in
a Message Batch not yet collected), ``answered``, ``refused`` (``stop_reason: "refusal"``:
reported, never sent again), ``errored``, ``expired`` and ``canceled`` (sent again by the next
run). An answer is recorded once: a row already answered is never written again.

``run_copies`` holds the assets a run did not ask about (``run --skip-near``): each is given
the answer of the request that asked about its best copy, marked as a copy, at no cost.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, update

from .catalogue import CHUNK, Catalogue
from .models import (
    Asset,
    MessageBatch,
    Run,
    RunCopy,
    RunRequest,
    Tag,
    run_copies,
    run_requests,
    runs,
    utcnow,
)
from .runplan import DONE, RunPlan

UNFINISHED = ("submitting", "submitted")  # batch states: not yet collected
RETRY = ("pending", "errored", "expired", "canceled")  # sent by the next run


@dataclass
class Result:
    """What became of one request: its answer, or its error."""

    request_id: int
    state: str  # answered | refused | errored | expired | canceled
    text: str | None = None
    response: dict[str, Any] | None = None
    stop_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost: float | None = None
    error: str | None = None


@dataclass
class Due:
    """A request of a run to send: its row id and place in the plan."""

    request_id: int
    seq: int
    state: str


def answered_keys(catalogue: Catalogue, keys: Iterable[str]) -> set[str]:
    """Of ``keys``, those any run has answered (or seen refused)."""
    keys, found = sorted(set(keys)), set()
    with catalogue.reading() as conn:
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            query = select(RunRequest.key).where(RunRequest.key.in_(chunk),
                                                 RunRequest.state.in_(DONE))  # fmt: skip
            found.update(conn.execute(query).scalars())
    return found


def open_run(catalogue: Catalogue, plan: RunPlan, remote_id: int | None) -> int:
    """The run of ``plan``'s key, made now or found again, with a row for each request (an
    answer another run holds for the same request copied in) and one for each of its copies
    (``run_copies``); its id."""

    def work(conn) -> int:
        now = utcnow()
        values = dict(model=plan.ask.model.id, prompt=plan.ask.prompt, system=plan.ask.system,
                      options=json.dumps(plan.ask.options, sort_keys=True), remote_id=remote_id,
                      requests=len(plan.requests), images=plan.images,
                      estimated_tokens=sum(r.tokens for r in plan.requests),
                      estimated_cost=plan.cost(), batch=int(plan.batch), updated_at=now)  # fmt: skip
        run_id = conn.execute(select(Run.id).where(Run.key == plan.key)).scalar()
        if run_id is None:
            run_id = conn.execute(
                insert(runs).values(key=plan.key, created_at=now, **values).returning(Run.id)
            ).scalar_one()
        else:
            conn.execute(update(Run).where(Run.id == run_id).values(**values))
        have = set(
            conn.execute(select(RunRequest.seq).where(RunRequest.run_id == run_id)).scalars()
        )
        rows = [dict(run_id=run_id, seq=r.seq, key=r.key, assets=json.dumps(r.assets),
                     renditions=json.dumps(r.renditions), estimated_tokens=r.tokens,
                     state="pending", attempts=0)
                for r in plan.requests if r.seq not in have]  # fmt: skip
        if rows:
            conn.execute(insert(run_requests), rows)
            _copy_answers(conn, run_id, {row["key"] for row in rows})
        _record_copies(conn, run_id, plan)
        return run_id

    return catalogue.transaction(work)


ANSWER_COLUMNS = ("text", "response", "stop_reason", "input_tokens", "output_tokens",
                  "cache_read_tokens", "cache_write_tokens", "cost", "answered_at")  # fmt: skip


def _record_copies(conn, run_id: int, plan: RunPlan) -> None:
    """The run's copies, as the plan has them (the same key has the same copies)."""
    conn.execute(delete(run_copies).where(RunCopy.run_id == run_id))
    if plan.copies:
        conn.execute(insert(run_copies), [dict(run_id=run_id, asset=c.asset, copy_of=c.copy_of,
                                               distance=c.distance) for c in plan.copies])  # fmt: skip


def copies_of(conn, run_id: int) -> dict[str, list[tuple[str, int]]]:
    """The run's copies by the asset whose answer they get: (asset, distance), nearest first."""
    query = (select(RunCopy.copy_of, RunCopy.asset, RunCopy.distance)
             .where(RunCopy.run_id == run_id)
             .order_by(RunCopy.copy_of, RunCopy.distance, RunCopy.asset))  # fmt: skip
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for best, asset, d in conn.execute(query):
        found[best].append((asset, d))
    return found


def _copy_answers(conn, run_id: int, keys: set[str]) -> None:
    """Answers other runs hold for these request keys, into this run's rows."""
    keys_list = sorted(keys)
    for start in range(0, len(keys_list), CHUNK):
        chunk = keys_list[start : start + CHUNK]
        columns = [RunRequest.key, RunRequest.state] + [run_requests.c[c] for c in ANSWER_COLUMNS]
        query = select(*columns).where(RunRequest.key.in_(chunk), RunRequest.state.in_(DONE),
                                       RunRequest.run_id != run_id)  # fmt: skip
        found = {row[0]: row for row in conn.execute(query)}
        for key, row in found.items():
            values = dict(zip(("state", *ANSWER_COLUMNS), row[1:]))
            conn.execute(update(RunRequest).where(RunRequest.run_id == run_id,
                                                  RunRequest.key == key).values(**values))  # fmt: skip


def due(catalogue: Catalogue, run_id: int, states: Sequence[str] = RETRY) -> list[Due]:
    """The run's requests in ``states``, in order."""
    query = (select(RunRequest.id, RunRequest.seq, RunRequest.state)
             .where(RunRequest.run_id == run_id, RunRequest.state.in_(states))
             .order_by(RunRequest.seq))  # fmt: skip
    with catalogue.reading() as conn:
        return [Due(*row) for row in conn.execute(query)]


def record(catalogue: Catalogue, results: Sequence[Result]) -> int:
    """Write results, in one transaction; a request answered already keeps its answer. How
    many rows were written."""
    if not results:
        return 0

    def work(conn) -> int:
        now, written = utcnow(), 0
        for r in results:
            values = dict(state=r.state, text=r.text, stop_reason=r.stop_reason,
                          response=json.dumps(r.response) if r.response is not None else None,
                          input_tokens=r.input_tokens, output_tokens=r.output_tokens,
                          cache_read_tokens=r.cache_read_tokens,
                          cache_write_tokens=r.cache_write_tokens, cost=r.cost, error=r.error,
                          attempts=RunRequest.attempts + 1,
                          answered_at=now if r.state in DONE else None)  # fmt: skip
            written += conn.execute(
                update(RunRequest)
                .where(RunRequest.id == r.request_id, RunRequest.state.not_in(DONE))
                .values(**values)
            ).rowcount
        return written

    return catalogue.transaction(work)


def counts(catalogue: Catalogue, run_id: int) -> dict[str, int]:
    query = (select(RunRequest.state, func.count()).where(RunRequest.run_id == run_id)
             .group_by(RunRequest.state))  # fmt: skip
    with catalogue.reading() as conn:
        return dict(conn.execute(query).all())


@dataclass
class RunRow:
    """A run as ``runs`` lists it."""

    id: int
    model: str
    prompt: str
    batch: bool
    requests: int
    images: int
    states: dict[str, int]
    estimated_tokens: int
    estimated_cost: float | None
    input_tokens: int
    output_tokens: int
    cost: float | None
    pending_batches: int
    created_at: datetime
    updated_at: datetime
    copies: int = 0  # assets answered by their best copy's request (run --skip-near)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["created_at"], d["updated_at"] = self.created_at.isoformat(), self.updated_at.isoformat()
        return d


def run_rows(catalogue: Catalogue, run_id: int | None = None) -> list[RunRow]:
    """Every run (or the one), oldest first, with its requests counted by state and its
    tokens and cost so far."""
    columns = (Run.id, Run.model, Run.prompt, Run.batch, Run.requests, Run.images,
               Run.estimated_tokens, Run.estimated_cost, Run.created_at, Run.updated_at)  # fmt: skip
    query = select(*columns).order_by(Run.id)
    if run_id is not None:
        query = query.where(Run.id == run_id)
    totals = select(RunRequest.run_id, RunRequest.state, func.count(),
                    func.coalesce(func.sum(RunRequest.input_tokens), 0)
                    + func.coalesce(func.sum(RunRequest.cache_read_tokens), 0)
                    + func.coalesce(func.sum(RunRequest.cache_write_tokens), 0),
                    func.coalesce(func.sum(RunRequest.output_tokens), 0),
                    func.sum(RunRequest.cost)).group_by(RunRequest.run_id, RunRequest.state)  # fmt: skip
    pending = (select(MessageBatch.run_id, func.count())
               .where(MessageBatch.state.in_(("submitting", "submitted")))
               .group_by(MessageBatch.run_id))  # fmt: skip
    copied = select(RunCopy.run_id, func.count()).group_by(RunCopy.run_id)
    with catalogue.reading() as conn:
        rows = conn.execute(query).all()
        copies = dict(conn.execute(copied).all())
        sums: dict[int, list] = defaultdict(lambda: [{}, 0, 0, None])
        for rid, state, count, tokens_in, tokens_out, spent in conn.execute(totals):
            entry = sums[rid]
            entry[0][state] = count
            entry[1] += int(tokens_in)
            entry[2] += int(tokens_out)
            if spent is not None:
                entry[3] = (entry[3] or 0.0) + float(spent)
        batches = dict(conn.execute(pending).all())
    out = []
    for row in rows:
        states, tokens_in, tokens_out, spent = sums[row.id]
        out.append(RunRow(row.id, row.model, row.prompt, bool(row.batch), row.requests,
                          row.images, states, row.estimated_tokens, row.estimated_cost,
                          tokens_in, tokens_out, spent, batches.get(row.id, 0),
                          row.created_at, row.updated_at, copies.get(row.id, 0)))  # fmt: skip
    return out


def answer_rows(catalogue: Catalogue, run_id: int) -> Iterator[dict[str, Any]]:
    """One dict per request of the run, in order: its assets (with their tags), renditions,
    state, answer text, stop reason, usage, cost and error (``copy_of`` and ``distance``
    None); after each, one dict per copy (``run --skip-near``) of an asset it asked about:
    that copy alone with the request's answer, ``copy_of`` its best copy, the ``distance``
    between them, and the rendition that was sent in its place; no usage, no cost."""
    columns = (RunRequest.id, RunRequest.seq, RunRequest.assets, RunRequest.renditions,
               RunRequest.state, RunRequest.text, RunRequest.stop_reason,
               RunRequest.input_tokens, RunRequest.output_tokens, RunRequest.cache_read_tokens,
               RunRequest.cache_write_tokens, RunRequest.cost, RunRequest.error)  # fmt: skip
    query = select(*columns).where(RunRequest.run_id == run_id).order_by(RunRequest.seq)
    with catalogue.reading() as conn:
        rows = conn.execute(query).all()
        copies = copies_of(conn, run_id)
    shas = {sha for row in rows for sha in json.loads(row.assets)}
    shas.update(asset for found in copies.values() for asset, _ in found)
    tags = tags_of(catalogue, sorted(shas))
    for row in rows:
        assets = json.loads(row.assets)
        answer = {
            "run": run_id,
            "request": row.seq,
            "custom_id": custom_id(row.id),
            "assets": assets,
            "renditions": json.loads(row.renditions),
            "tags": [tags.get(sha, []) for sha in assets],
            "state": row.state,
            "text": row.text,
            "stop_reason": row.stop_reason,
            "truncated": row.stop_reason == "max_tokens",
            "usage": {
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "cache_read_input_tokens": row.cache_read_tokens,
                "cache_creation_input_tokens": row.cache_write_tokens,
            },  # fmt: skip
            "cost": row.cost,
            "error": row.error,
            "copy_of": None,
            "distance": None,
        }
        yield answer
        for best, rendition in zip(assets, answer["renditions"]):
            for asset, d in copies.get(best, ()):
                yield _copy_row(answer, asset, best, d, rendition, tags.get(asset, []))


def _copy_row(answer: dict, asset: str, best: str, d: int, rendition: str, tags) -> dict:
    """A copy's row: the answer of its best copy's request, which cost it nothing."""
    done = answer["state"] in DONE
    usage = {name: 0 if done else None for name in answer["usage"]}
    return {**answer, "assets": [asset], "renditions": [rendition], "tags": [tags],
            "usage": usage, "cost": 0.0 if done else None, "copy_of": best, "distance": d}  # fmt: skip


def tags_of(catalogue: Catalogue, shas: Sequence[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    with catalogue.reading() as conn:
        for start in range(0, len(shas), CHUNK):
            chunk = shas[start : start + CHUNK]
            query = (select(Asset.sha256, Tag.name).join(Tag, and_(Tag.asset_id == Asset.id))
                     .where(Asset.sha256.in_(chunk)).order_by(Asset.sha256, Tag.name))  # fmt: skip
            for sha, name in conn.execute(query):
                found[sha].append(name)
    return found


def custom_id(request_id: int) -> str:
    """The ``custom_id`` of a request in a Message Batch: its row id, which maps back."""
    return f"req-{request_id}"


def request_id(custom: str) -> int | None:
    head, _, number = custom.partition("-")
    return int(number) if head == "req" and number.isdigit() else None


def file_ids(params: dict) -> list[str]:
    """The file ids a request's params refer to, in order."""
    return [block["source"]["file_id"] for message in params["messages"]
            for block in message["content"] if isinstance(block, dict)
            and block.get("type") == "image" and block["source"].get("type") == "file"]  # fmt: skip


def files_in_use(catalogue: Catalogue, remote_id: int | None) -> set[str]:
    """File ids of ``remote_id`` that a batch not yet collected refers to: they must outlive it
    (``gc`` keeps them, ``rm`` refuses to delete them)."""
    if remote_id is None:
        return set()
    query = (select(RunRequest.file_ids)
             .join(MessageBatch, RunRequest.batch_id == MessageBatch.id)
             .where(MessageBatch.remote_id == remote_id, MessageBatch.state.in_(UNFINISHED),
                    RunRequest.state == "submitted", RunRequest.file_ids.is_not(None)))  # fmt: skip
    with catalogue.reading() as conn:
        return {file_id for (text,) in conn.execute(query) for file_id in json.loads(text)}
