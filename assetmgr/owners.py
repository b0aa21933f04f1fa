"""Who is at work: an id for this process (``host:pid:random``), and whether one has died.

Upload leases and the rendition store's staging folders carry such an id, so that work left
behind by a process that died (``kill -9``, power loss) is recognised and taken over.
"""

from __future__ import annotations

import os
import socket
import uuid


def new_owner() -> str:
    """A fresh id for this process: one per piece of work that holds leases."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_dead(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that is gone."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process: only its lease expiry tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
