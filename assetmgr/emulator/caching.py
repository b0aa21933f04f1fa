"""Prompt caching: cache breakpoints, the cache entries of each workspace, and the cache figures
in a Message's ``usage``.

A request marks breakpoints with ``cache_control: {"type": "ephemeral", "ttl": "5m" | "1h"}`` on
system text blocks and on message content blocks (a mark inside a tool result counts for the
tool result), or with a top-level ``cache_control``, which marks the last block of the request.
At most 4 marks (the top-level one included). The prefix of a mark is everything from the start
of the request (tools, system, messages) up to and including the marked block; its key is a
hash of that prefix without the ``cache_control`` fields, the model and the workspace.

For each request (``account``): marks whose prefix is shorter than the model's minimum
cacheable prefix are ignored (no error). The longest prefix with a live entry is read
(``cache_read_input_tokens``); what lies beyond it up to the last mark is written
(``cache_creation_input_tokens``, split by the TTL of the mark that ends each stretch into
``ephemeral_5m_input_tokens`` and ``ephemeral_1h_input_tokens``); ``input_tokens`` is what
follows the last mark. Every mark's entry then lives until now + its TTL (a read refreshes it).
Time is the emulator's clock.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import bad_request
from .images import version
from .store import _parse_time, rfc3339

MAX_MARKS = 4
TTLS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
# The minimum cacheable prefix, in tokens, per model (see docs/emulator.md for the sources).
MINIMUM_PREFIX = {
    "claude-opus-5-5": 512,
    "claude-sonnet-5-5": 512,
    "claude-haiku-5-5": 512,
    "claude-fable-5-2": 512,
    "claude-opus-4-8": 1024,
    "claude-opus-4-7": 2048,
    "claude-sonnet-4-6": 1024,
    "claude-opus-4-6": 4096,
    "claude-opus-4-5": 4096,
    "claude-haiku-4-5": 4096,
    "claude-sonnet-4-5": 1024,
}
# A model not in the table: 512 from version 5.5 on, else 1024.
DEFAULT_MINIMUM, NEW_MINIMUM, NEW_FROM = 1024, 512, (5, 5)


def minimum_prefix(model: str) -> int:
    if model in MINIMUM_PREFIX:
        return MINIMUM_PREFIX[model]
    return NEW_MINIMUM if (version(model) or (0, 0)) >= NEW_FROM else DEFAULT_MINIMUM


@dataclass
class Mark:
    """A cache breakpoint: where it is (``("system", k)``, ``("messages", i, j)`` or
    ``("end",)``), its TTL, and the text characters and images before and in the marked block."""

    position: tuple
    ttl: str
    chars: int
    images: int
    tokens: int = 0
    key: str = ""


def ttl_of(control, where: str) -> str:
    """The TTL of a ``cache_control`` value, checked as the API checks it."""
    if not isinstance(control, dict):
        raise bad_request(f"{where}: Input should be a valid dictionary or object")
    if control.get("type") != "ephemeral":
        raise bad_request(f"{where}.type: Input should be 'ephemeral'")
    ttl = control.get("ttl", "5m")
    if ttl not in TTLS:
        raise bad_request(f"{where}.ttl: Input should be '5m' or '1h'")
    return ttl


def check_marks(marks: list[Mark]) -> None:
    if len(marks) > MAX_MARKS:
        raise bad_request(
            f"A maximum of {MAX_MARKS} blocks with cache_control may be provided. "
            f"Found {len(marks)}."
        )
    seen_5m = False
    for mark in marks:
        if mark.ttl == "1h" and seen_5m:
            raise bad_request(
                "cache_control: a 1h cache breakpoint cannot follow a 5m one; "
                "put the breakpoints with the longer TTL first."
            )
        seen_5m = seen_5m or mark.ttl == "5m"


def prefix_key(body: dict, mark: Mark, workspace: str) -> str:
    """The hash of the request's prefix up to the mark, without ``cache_control`` fields."""
    prefix: dict = {"model": body["model"], "tools": body.get("tools")}
    kind = mark.position[0]
    system = body.get("system")
    if kind == "system":
        prefix["system"] = system[: mark.position[1] + 1]
    else:
        prefix["system"] = system
        messages = body["messages"]
        if kind == "messages":
            i, j = mark.position[1], mark.position[2]
            last = {**messages[i], "content": messages[i]["content"][: j + 1]}
            prefix["messages"] = [*messages[:i], last]
        else:
            prefix["messages"] = messages
    text = json.dumps(_without_controls(prefix), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{workspace}\n{text}".encode()).hexdigest()


def _without_controls(value):
    if isinstance(value, dict):
        return {k: _without_controls(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_without_controls(v) for v in value]
    return value


class PromptCache:
    """Live cache entries: prefix key -> the time it expires. Thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, datetime] = {}

    def account(self, marks: list[Mark], total: int, model: str, now: datetime) -> dict:
        """The usage figures of a request whose marks carry their tokens and keys; records
        the entries the request writes or refreshes."""
        minimum = minimum_prefix(model)
        marks = [m for m in marks if m.tokens >= minimum]
        figures = {"5m": 0, "1h": 0}
        if not marks:
            return uncached(total)
        with self._lock:
            live = [m for m in marks if self._entries.get(m.key, now) > now]
            read = max((m.tokens for m in live), default=0)
            done = read
            for mark in marks:
                if mark.tokens > done:
                    figures[mark.ttl] += mark.tokens - done
                    done = mark.tokens
                expires = now + TTLS[mark.ttl]
                self._entries[mark.key] = max(self._entries.get(mark.key, expires), expires)
        return _usage(total - marks[-1].tokens, read, figures)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def to_json(self) -> dict:
        with self._lock:
            return {key: rfc3339(moment) for key, moment in self._entries.items()}

    def load_json(self, data: dict) -> None:
        with self._lock:
            self._entries = {key: _parse_time(text) for key, text in (data or {}).items()}


def uncached(total: int) -> dict:
    return _usage(total, 0, {"5m": 0, "1h": 0})


def _usage(input_tokens: int, read: int, written: dict) -> dict:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": written["5m"] + written["1h"],
        "cache_read_input_tokens": read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": written["5m"],
            "ephemeral_1h_input_tokens": written["1h"],
        },
    }
