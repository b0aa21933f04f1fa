"""The API's clock, as this machine knows it.

Files expire, and leases run out, by the API's time, which can differ from this machine's
by minutes or hours (a skewed or drifting clock). Every judgement assetmgr makes about
time on a remote (is a lease stale, has an upload expired, which files did this run
create) goes through an ``ApiClock``: this machine's clock plus the offset last seen
between the two, from the ``Date`` header of an API response. The offset is kept per
remote in the catalogue, so that the lookup path can judge expiry without a request.

No SDK here: the lookup path imports this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

from .limits import EXPIRY_SAFETY

DATE_RESOLUTION = 0.5  # seconds: a Date header is truncated to the second
PROBE_TIMEOUT = 10.0  # seconds


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ApiClock:
    """This machine's time plus ``offset`` seconds: the API's time."""

    def __init__(self, offset: float | None = None):
        self.offset = offset  # None: never seen; taken as 0 until an answer shows otherwise
        self.measured = False  # seen in this process, not only remembered

    def now(self) -> datetime:
        return utcnow() + timedelta(seconds=self.offset or 0.0)

    def from_local(self, moment: datetime) -> datetime:
        """A moment of this machine's clock, on the API's."""
        return moment + timedelta(seconds=self.offset or 0.0)

    def observe(self, header: str | None, received: datetime) -> None:
        """Learn the offset from a response's ``Date`` header and when it arrived."""
        server = server_date(header)
        if server is not None:
            self.offset = (server - received).total_seconds() + DATE_RESOLUTION
            self.measured = True


def probe(base_url: str, timeout: float = PROBE_TIMEOUT) -> ApiClock | None:
    """The API's clock, read from the ``Date`` header of one small request (no key is sent:
    a refusal carries the header too); None when the API cannot be reached."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    kind = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    try:
        conn = kind(url.netloc, timeout=timeout)
        try:
            conn.request("GET", url.path.rstrip("/") + "/v1/files?limit=1")
            response = conn.getresponse()
            response.read()
            header = response.getheader("date")
        finally:
            conn.close()
    except (OSError, http.client.HTTPException, ValueError):
        return None
    clock = ApiClock()
    clock.observe(header, utcnow())
    return clock if clock.measured else None


def live_rows(
    rows: list[Sequence[Any]], base_url: str, horizon: timedelta | None = None
) -> list[tuple] | None:
    """Catalogue rows ending with (file id, expires_at), without the last column, and with no
    file id where the upload has expired (or nearly) by the API's clock, read now when any
    upload expires at all; None when that clock cannot be read. ``horizon``: also where the
    upload expires within that long from now (a Message Batch's window). The rows are replaced in
    ``rows`` itself, one by one, so that the old and the new never all live at once."""
    if not any(row[-1] is not None and row[-2] is not None for row in rows):
        for i, row in enumerate(rows):
            rows[i] = tuple(row[:-1])
        return rows
    clock = probe(base_url)
    if clock is None:
        return None
    now = clock.now() + max(EXPIRY_SAFETY, horizon or EXPIRY_SAFETY)
    for i, row in enumerate(rows):
        expired = moment(row[-1]) is not None and moment(row[-1]) <= now
        rows[i] = (*row[:-2], None if expired else row[-2])
    return rows


def moment(value: datetime | str | None) -> datetime | None:
    """A stored time (aware, or naive UTC, or SQLite's text) as an aware datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def server_date(header: str | None) -> datetime | None:
    """The time in an HTTP ``Date`` header, or None."""
    try:
        moment = parsedate_to_datetime(header) if header else None
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment
