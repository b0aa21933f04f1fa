"""Fault injection: latency, error responses, lost responses, and the outcome of batch items.

Request faults apply to every API endpoint (Files, Messages, Models, Message Batches). Lost
responses apply to the requests that create something (uploads and batch creations): the thing is
created, the client never hears of it. Item faults decide, when a Message Batch item is processed,
that it ends ``errored`` (with ``item_error_status``'s error) or ``succeeded`` with a refusal,
for the next N items or a fraction of them.

Every decision draws from one ``random.Random(seed)`` under a lock, so a run with a seed makes
the same decisions in the same request order. Injected errors carry ``retry-after-ms`` (exact)
and ``retry-after`` (whole seconds, rounded up, at least 1); the SDKs honour ``retry-after-ms``
first, which keeps retries fast.
"""

from __future__ import annotations

import math
import random
import threading
import time

from .errors import ApiError

FAULT_MESSAGES = {
    429: "Number of requests has exceeded your rate limit (injected by the assetmgr emulator).",
    500: "Internal server error (injected by the assetmgr emulator).",
    529: "Overloaded (injected by the assetmgr emulator).",
}
SETTINGS = (
    "latency_ms",
    "error_rate",
    "drop_rate",
    "drop_next",
    "error_statuses",
    "retry_after_ms",
    "item_error_rate",
    "item_error_next",
    "item_error_status",
    "item_refusal_rate",
    "item_refusal_next",
)
# error.type and message of an errored batch item, by the status it stands for.
ITEM_ERRORS = {
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit"),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _statuses(value) -> tuple:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(
            f"error_statuses must be a list of statuses among {sorted(FAULT_MESSAGES)}"
        )
    return tuple(value)


def _check(values: dict) -> None:
    for name in ("error_rate", "drop_rate", "item_error_rate", "item_refusal_rate"):
        if not _number(values[name]) or not 0.0 <= values[name] <= 1.0:
            raise ValueError(f"{name} must be a number between 0 and 1")
    for name in ("latency_ms", "retry_after_ms"):
        if not _number(values[name]) or not 0 <= values[name] <= 3_600_000:
            raise ValueError(f"{name} must be a number of milliseconds between 0 and 3600000")
    for name in ("drop_next", "item_error_next", "item_refusal_next"):
        value = values[name]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a whole number, 0 or more")
    if values["item_error_status"] not in ITEM_ERRORS or isinstance(
        values["item_error_status"], bool
    ):
        raise ValueError(f"item_error_status must be one of {sorted(ITEM_ERRORS)}")
    statuses = values["error_statuses"]
    if not statuses or any(s not in FAULT_MESSAGES or isinstance(s, bool) for s in statuses):
        raise ValueError(f"error_statuses must be among {sorted(FAULT_MESSAGES)}")


def retry_after_seconds(milliseconds: float) -> int:
    """``retry-after`` is a whole number of seconds (as the API sends it): rounded up, and at
    least 1, so a client that reads only this header never retries at once."""
    return max(1, math.ceil(milliseconds / 1000))


class Faults:
    """The current fault settings; ``update`` changes them while the server runs."""

    def __init__(
        self,
        *,
        latency_ms: float = 0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        error_statuses=(429, 500, 529),
        retry_after_ms: float = 1000,
        drop_next: int = 0,
        item_error_rate: float = 0.0,
        item_error_next: int = 0,
        item_error_status: int = 500,
        item_refusal_rate: float = 0.0,
        item_refusal_next: int = 0,
        seed: int | None = None,
    ):
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.latency_ms = latency_ms
        self.error_rate = error_rate
        self.drop_rate = drop_rate
        self.drop_next = drop_next  # lose exactly the next N upload responses
        self.error_statuses = tuple(error_statuses)
        self.retry_after_ms = retry_after_ms
        self.item_error_rate, self.item_error_next = item_error_rate, item_error_next
        self.item_error_status = item_error_status
        self.item_refusal_rate, self.item_refusal_next = item_refusal_rate, item_refusal_next
        self.update()

    def update(self, **settings) -> dict:
        """Change settings; all are checked before any is applied, so a refused update changes
        nothing."""
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values = {name: getattr(self, name, None) for name in SETTINGS}
        values.update(settings)
        values["error_statuses"] = _statuses(values["error_statuses"])
        _check(values)
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)
        return self.settings()

    def settings(self) -> dict:
        return {
            name: (list(v) if isinstance(v := getattr(self, name), tuple) else v)
            for name in SETTINGS
        }

    def delay(self) -> None:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)

    def injected_error(self) -> ApiError | None:
        """An error to answer instead of the request, for ``error_rate`` of the requests."""
        with self._lock:
            if self.error_rate <= 0 or self._random.random() >= self.error_rate:
                return None
            status = self._random.choice(self.error_statuses)
        headers = {
            "retry-after-ms": f"{self.retry_after_ms:g}",
            "retry-after": str(retry_after_seconds(self.retry_after_ms)),
        }
        return ApiError(status, FAULT_MESSAGES[status], headers=headers)

    def drop(self) -> bool:
        """Whether to lose this response (after storing the file or creating the batch)."""
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                return True
            return self.drop_rate > 0 and self._random.random() < self.drop_rate

    def item_outcome(self) -> tuple[str, int] | None:
        """For a batch item about to be processed: ``("error", status)``, ``("refusal", 0)``, or
        None to process it normally. ``*_next`` counts go first, errors before refusals."""
        with self._lock:
            if self.item_error_next > 0:
                self.item_error_next -= 1
                return "error", self.item_error_status
            if self.item_refusal_next > 0:
                self.item_refusal_next -= 1
                return "refusal", 0
            if self.item_error_rate > 0 and self._random.random() < self.item_error_rate:
                return "error", self.item_error_status
            if self.item_refusal_rate > 0 and self._random.random() < self.item_refusal_rate:
                return "refusal", 0
        return None
