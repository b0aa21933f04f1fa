"""List endpoints' paging: ``limit`` (1..1000, default 20), as the API reads it for Files,
Models and Message Batches alike, and the id-cursor pages of Models and Message Batches
(newest first; ``after_id`` pages towards older items, ``before_id`` towards newer ones)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import bad_request

T = TypeVar("T")

DEFAULT_LIMIT, MAX_LIMIT = 20, 1000


def page_limit(query: dict) -> int:
    """The ``limit`` of a list request's query (the last one given), or a 400."""
    raw = query.get("limit", [str(DEFAULT_LIMIT)])[-1]
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request("limit: Input should be a valid integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit: must be between 1 and {MAX_LIMIT}, got {limit}")
    return limit


def id_page(
    listed: Sequence[T],
    query: dict,
    rank: Callable[[T], int],
    anchor: Callable[[str], int],
    render: Callable[[T], dict],
) -> dict[str, Any]:
    """A page of ``listed`` (newest first, by ``rank``: smaller is newer): ``limit`` items
    after (older than) ``after_id`` or before (newer than) ``before_id``, whose rank
    ``anchor(name)`` gives (or raises the 400 of an unknown id)."""
    limit = page_limit(query)
    if "after_id" in query and "before_id" in query:
        raise bad_request("after_id and before_id cannot be used together.")
    if "after_id" in query:
        at = anchor("after_id")
        older = [x for x in listed if rank(x) > at]
        page, more = older[:limit], len(older) > limit
    elif "before_id" in query:
        at = anchor("before_id")
        newer = [x for x in listed if rank(x) < at]
        page, more = newer[-limit:], len(newer) > limit
    else:
        page, more = list(listed[:limit]), len(listed) > limit
    data = [render(x) for x in page]
    return {
        "data": data,
        "has_more": more,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
