"""List endpoints' shared parameter: ``limit`` (1..1000, default 20), as the API reads it for
Files and Models alike, with its errors."""

from __future__ import annotations

from .errors import bad_request

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
