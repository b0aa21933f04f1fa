"""Message Batches: create, retrieve, list, cancel, delete and results, with processing on the
emulator's clock.

Create checks the envelope and fails as a whole (400) when it is wrong: ``requests`` a list of
1 to 100,000 objects, each with a ``custom_id`` matching ``^[a-zA-Z0-9_-]{1,64}$`` (unique in
the batch) and a ``params`` object. What is inside ``params`` is checked when the item is
processed, by the same code as ``POST /v1/messages``: a wrong item ends ``errored`` with the
error that endpoint would answer, and the others are unaffected (the API validates params
asynchronously and reports errors in the results).

Processing (:class:`Timing`): item k of a batch created at C is processed at
``C + delay_seconds + k * item_seconds`` on the emulator's clock, against the state at that
moment (a file deleted or expired before then makes the item ``errored``). Counts stay
``processing`` until the batch ends: when its last item is processed, or at ``expires_at``
(C + 24 h), when the items not yet processed end ``expired``. Cancel makes the batch
``canceling`` at once; ``cancel_seconds`` later it ends, with the items not processed before the
cancel ``canceled``. Results stay downloadable for 29 days after creation; then ``archived_at``
is set and ``/results`` is 404. Item faults (:mod:`.faults`) make chosen items ``errored`` or
refused.

Processing happens when the state is looked at (:meth:`Batches.settle`, called before every API
request), each item at its own due time, so moving the clock far ahead gives the same results
as waiting.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import messages
from .caching import PromptCache
from .errors import ApiError, bad_request, new_id
from .faults import ITEM_ERRORS, Faults
from .store import Store, _parse_time, rfc3339

MAX_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1000 * 1000
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
WINDOW = timedelta(hours=24)
RESULTS_KEPT = timedelta(days=29)
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000
OUTCOMES = ("succeeded", "errored", "canceled", "expired")
# What the results answer is sent as: the type the SDKs ask for (``Accept``).
RESULTS_TYPE = "application/binary"


@dataclass
class Timing:
    """When batches are processed, in seconds of the emulator's clock."""

    delay_seconds: float = 5.0  # from creation to the first item
    item_seconds: float = 0.0  # between one item and the next
    cancel_seconds: float = 5.0  # from a cancel to the end of the batch

    def update(self, **settings) -> dict:
        unknown = set(settings) - {"delay_seconds", "item_seconds", "cancel_seconds"}
        if unknown:
            raise ValueError(f"unknown batch timing settings: {sorted(unknown)}")
        for name, value in settings.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number of seconds, 0 or more")
        for name, value in settings.items():
            setattr(self, name, float(value))
        return self.settings()

    def settings(self) -> dict:
        return {
            "delay_seconds": self.delay_seconds,
            "item_seconds": self.item_seconds,
            "cancel_seconds": self.cancel_seconds,
        }


@dataclass
class Item:
    custom_id: str
    params: dict
    result: dict | None = None  # the MessageBatchResult, once processed


@dataclass
class Batch:
    id: str
    workspace: str
    seq: int
    created_at: datetime
    start_at: datetime
    item_seconds: float
    cancel_seconds: float
    items: list[Item] = field(repr=False)
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    deleted: bool = False

    @property
    def expires_at(self) -> datetime:
        return self.created_at + WINDOW

    def due(self, k: int) -> datetime:
        return self.start_at + timedelta(seconds=k * self.item_seconds)

    @property
    def status(self) -> str:
        if self.ended_at is not None:
            return "ended"
        return "canceling" if self.cancel_initiated_at is not None else "in_progress"

    def archived_at(self, now: datetime) -> datetime | None:
        archived = self.created_at + RESULTS_KEPT
        return archived if self.ended_at is not None and now >= archived else None

    def counts(self) -> dict:
        counts = dict.fromkeys(("processing", *OUTCOMES), 0)
        if self.ended_at is None:
            counts["processing"] = len(self.items)
        else:
            for item in self.items:
                counts[item.result["type"]] += 1
        return counts

    def body(self, now: datetime, base_url: str) -> dict:
        """The MessageBatch object: every field of the SDK's type."""
        archived = self.archived_at(now)
        ended = self.ended_at is not None
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.counts(),
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.expires_at),
            "ended_at": rfc3339(self.ended_at) if ended else None,
            "cancel_initiated_at": _time_or_none(self.cancel_initiated_at),
            "archived_at": _time_or_none(archived),
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


class Batches:
    """Every batch of every workspace, behind one lock; processing happens in :meth:`settle`."""

    def __init__(self, store: Store, cache: PromptCache, faults: Faults, timing: Timing):
        self.store, self.cache, self.faults, self.timing = store, cache, faults, timing
        self._lock = threading.RLock()
        self._batches: dict[str, Batch] = {}
        self._seq = 0

    # -- the endpoints ---------------------------------------------------------------------

    def create(self, workspace: str, raw: bytes) -> Batch:
        items = _items(messages.parse(raw))
        with self._lock:
            now = self.store.clock.now()
            self._seq += 1
            batch = Batch(
                id=new_id("msgbatch"),
                workspace=workspace,
                seq=self._seq,
                created_at=now,
                start_at=now + timedelta(seconds=self.timing.delay_seconds),
                item_seconds=self.timing.item_seconds,
                cancel_seconds=self.timing.cancel_seconds,
                items=items,
            )
            self._batches[batch.id] = batch
        return batch

    def get(self, workspace: str, batch_id: str) -> Batch:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None or batch.deleted or batch.workspace != workspace:
            raise ApiError(404, f"Message batch `{batch_id}` not found.")
        return batch

    def cancel(self, workspace: str, batch_id: str) -> Batch:
        with self._lock:
            batch = self.get(workspace, batch_id)
            self._settle(batch, self.store.clock.now())
            if batch.status == "ended":
                raise bad_request(
                    f"Message batch `{batch_id}` has already ended; only a batch in progress "
                    "can be canceled."
                )
            if batch.cancel_initiated_at is None:
                batch.cancel_initiated_at = self.store.clock.now()
            return batch

    def delete(self, workspace: str, batch_id: str) -> dict:
        with self._lock:
            batch = self.get(workspace, batch_id)
            if batch.status != "ended":
                raise bad_request(
                    f"Message batch `{batch_id}` cannot be deleted while it is "
                    f"{batch.status.replace('_', ' ')}; cancel it and wait for it to end."
                )
            batch.deleted = True
            for item in batch.items:
                item.params = {}  # a deleted batch is gone; its requests need not be kept
        return {"id": batch_id, "type": "message_batch_deleted"}

    def results(self, workspace: str, batch_id: str) -> bytes:
        """The JSON Lines file, one MessageBatchIndividualResponse a line, in no useful order
        (by a hash of ``custom_id``), so clients match results by ``custom_id``."""
        batch = self.get(workspace, batch_id)
        now = self.store.clock.now()
        if batch.ended_at is None:
            raise bad_request(
                f"Message batch `{batch_id}` is still {batch.status.replace('_', ' ')}; "
                "its results are ready once processing_status is 'ended'."
            )
        if batch.archived_at(now) is not None:
            raise ApiError(
                404,
                f"The results of message batch `{batch_id}` are no longer available: results "
                "are kept for 29 days after a batch is created.",
            )
        order = sorted(batch.items, key=lambda i: hashlib.sha256(i.custom_id.encode()).digest())
        lines = (
            json.dumps({"custom_id": i.custom_id, "result": i.result}, separators=(",", ":"))
            for i in order
        )
        return "".join(line + "\n" for line in lines).encode()

    def list_page(self, workspace: str, query: dict, now: datetime, base_url: str) -> dict:
        """A page, newest first: ``limit``, ``after_id`` (older), ``before_id`` (newer)."""
        limit = _limit(query)
        if "after_id" in query and "before_id" in query:
            raise bad_request("after_id and before_id cannot be used together.")
        with self._lock:
            listed = sorted(
                (b for b in self._batches.values() if b.workspace == workspace and not b.deleted),
                key=lambda b: b.seq,
                reverse=True,
            )
            if "after_id" in query:
                anchor = self._anchor(workspace, query, "after_id")
                older = [b for b in listed if b.seq < anchor]
                page, more = older[:limit], len(older) > limit
            elif "before_id" in query:
                anchor = self._anchor(workspace, query, "before_id")
                newer = [b for b in listed if b.seq > anchor]
                page, more = newer[-limit:], len(newer) > limit
            else:
                page, more = listed[:limit], len(listed) > limit
        return {
            "data": [b.body(now, base_url) for b in page],
            "has_more": more,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }

    def _anchor(self, workspace: str, query: dict, name: str) -> int:
        batch_id = query[name][-1]
        batch = self._batches.get(batch_id)
        if batch is None or batch.workspace != workspace:
            raise bad_request(f"{name}: no message batch `{batch_id}` to page from.")
        return batch.seq

    # -- processing ------------------------------------------------------------------------

    def settle(self) -> None:
        """Process every item whose time has come; end the batches that are done."""
        now = self.store.clock.now()
        with self._lock:
            for batch in list(self._batches.values()):
                if batch.ended_at is None:
                    self._settle(batch, now)

    def finish(self, batch_id: str | None = None) -> list[str]:
        """End one open batch (or all) now: items not processed yet are processed now (or
        canceled, for a batch being canceled). Returns the ids of the batches ended."""
        now = self.store.clock.now()
        done = []
        with self._lock:
            if batch_id is not None and batch_id not in self._batches:
                raise ApiError(404, f"Message batch `{batch_id}` not found.")
            chosen = [self._batches[batch_id]] if batch_id else list(self._batches.values())
            for batch in chosen:
                self._settle(batch, now)
                if batch.ended_at is not None:
                    continue
                outcome = {"type": "canceled"} if batch.cancel_initiated_at else None
                for item in batch.items:
                    if item.result is None:
                        item.result = outcome or self._process(batch, item, now)
                batch.ended_at = now
                done.append(batch.id)
        return done

    def _settle(self, batch: Batch, now: datetime) -> None:
        if batch.ended_at is not None:
            return
        if batch.cancel_initiated_at is not None:
            end = batch.cancel_initiated_at + timedelta(seconds=batch.cancel_seconds)
            if now >= end:
                self._close(batch, {"type": "canceled"}, end)
            return
        deadline = min(now, batch.expires_at)
        for k, item in enumerate(batch.items):
            due = batch.due(k)
            if due > deadline:
                break
            if item.result is None:
                item.result = self._process(batch, item, due)
        if batch.items[-1].result is not None:
            batch.ended_at = batch.due(len(batch.items) - 1)
        elif now >= batch.expires_at:
            self._close(batch, {"type": "expired"}, batch.expires_at)

    @staticmethod
    def _close(batch: Batch, outcome: dict, moment: datetime) -> None:
        for item in batch.items:
            if item.result is None:
                item.result = dict(outcome)
        batch.ended_at = moment

    def _process(self, batch: Batch, item: Item, moment: datetime) -> dict:
        fault = self.faults.item_outcome()
        if fault is not None and fault[0] == "error":
            kind, message = ITEM_ERRORS[fault[1]]
            text = f"{message} (injected by the assetmgr emulator)."
            error = ApiError(fault[1], text, error_type=kind)
            return {"type": "errored", "error": error.body(new_id("req"))}
        try:
            message = messages.reply(
                item.params,
                self.store,
                batch.workspace,
                self.cache,
                now=moment,
                service_tier="batch",
                refuse=fault is not None,
            )
        except ApiError as exc:
            return {"type": "errored", "error": exc.body(new_id("req"))}
        except Exception:
            # An emulator bug: the item errs as the API's 500 would, and the batch still ends.
            traceback.print_exc(file=sys.stderr)
            return {
                "type": "errored",
                "error": ApiError(500, "Internal server error").body(new_id("req")),
            }
        return {"type": "succeeded", "message": message}

    # -- state -----------------------------------------------------------------------------

    def all(self) -> list[Batch]:
        with self._lock:
            return sorted(self._batches.values(), key=lambda b: b.seq)

    def clear(self) -> None:
        with self._lock:
            self._batches.clear()

    def to_json(self) -> dict:
        with self._lock:
            return {"seq": self._seq, "batches": [_batch_to_json(b) for b in self.all()]}

    def load_json(self, data: dict | None) -> None:
        data = data or {}
        with self._lock:
            self._batches = {b["id"]: _batch_from_json(b) for b in data.get("batches", [])}
            self._seq = max([data.get("seq", 0), *(b.seq for b in self._batches.values())])


# -- the create body ---------------------------------------------------------------------------


def _items(body: dict) -> list[Item]:
    requests = body.get("requests")
    if requests is None:
        raise bad_request("requests: Field required")
    if not isinstance(requests, list):
        raise bad_request("requests: Input should be a valid list")
    if not 1 <= len(requests) <= MAX_REQUESTS:
        raise bad_request(
            f"requests: a batch holds 1 to {MAX_REQUESTS} requests, got {len(requests)}"
        )
    items, seen = [], set()
    for k, request in enumerate(requests):
        at = f"requests.{k}"
        if not isinstance(request, dict):
            raise bad_request(f"{at}: Input should be a valid dictionary or object")
        custom_id = request.get("custom_id")
        if custom_id is None:
            raise bad_request(f"{at}.custom_id: Field required")
        if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
            raise bad_request(f"{at}.custom_id: String should match pattern '{CUSTOM_ID.pattern}'")
        if custom_id in seen:
            raise bad_request(
                f"{at}.custom_id: `{custom_id}` is used by more than one request; "
                "each custom_id must be unique within a batch."
            )
        seen.add(custom_id)
        params = request.get("params")
        if params is None:
            raise bad_request(f"{at}.params: Field required")
        if not isinstance(params, dict):
            raise bad_request(f"{at}.params: Input should be a valid dictionary or object")
        items.append(Item(custom_id, params))
    return items


def _limit(query: dict) -> int:
    raw = query.get("limit", [str(DEFAULT_LIMIT)])[-1]
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit: Input should be a valid integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit: must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def _time_or_none(moment: datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


# -- persistence -------------------------------------------------------------------------------

_TIMES = ("created_at", "start_at", "cancel_initiated_at", "ended_at")


def _batch_to_json(batch: Batch) -> dict:
    data: dict[str, Any] = {
        "id": batch.id,
        "workspace": batch.workspace,
        "seq": batch.seq,
        "item_seconds": batch.item_seconds,
        "cancel_seconds": batch.cancel_seconds,
        "deleted": batch.deleted,
        "items": [[i.custom_id, i.params, i.result] for i in batch.items],
    }
    for name in _TIMES:
        data[name] = _time_or_none(getattr(batch, name))
    return data


def _batch_from_json(data: dict) -> Batch:
    times = {n: _parse_time(data[n]) if data.get(n) else None for n in _TIMES}
    items = [Item(custom_id, params, result) for custom_id, params, result in data["items"]]
    return Batch(
        id=data["id"],
        workspace=data["workspace"],
        seq=data["seq"],
        item_seconds=data["item_seconds"],
        cancel_seconds=data["cancel_seconds"],
        deleted=data["deleted"],
        items=items,
        **times,
    )
