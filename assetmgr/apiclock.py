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

from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

DATE_RESOLUTION = 0.5  # seconds: a Date header is truncated to the second


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


def server_date(header: str | None) -> datetime | None:
    """The time in an HTTP ``Date`` header, or None."""
    try:
        moment = parsedate_to_datetime(header) if header else None
    except (TypeError, ValueError):
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment
