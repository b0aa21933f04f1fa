"""Fault injection: latency, error responses and lost upload responses.

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
)


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
        self.update()

    def update(self, **settings) -> dict:
        unknown = set(settings) - set(SETTINGS)
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        for name, value in settings.items():
            setattr(self, name, tuple(value) if name == "error_statuses" else value)
        self._check()
        return self.settings()

    def _check(self) -> None:
        for name in ("error_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if not self.error_statuses or set(self.error_statuses) - set(FAULT_MESSAGES):
            raise ValueError(f"error_statuses must be among {sorted(FAULT_MESSAGES)}")

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
        """Whether to lose this upload's response (after storing the file)."""
        with self._lock:
            if self.drop_next > 0:
                self.drop_next -= 1
                return True
            return self.drop_rate > 0 and self._random.random() < self.drop_rate
