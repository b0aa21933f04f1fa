"""Who is at work: an id for this process (``host:pid:random``), and whether one has died.

Upload leases and the rendition store's staging folders carry such an id, so that work left
behind by a process that died (``kill -9``, power loss) is recognised and taken over.

``host`` is this machine's name (``ASSETMGR_HOST``, else the host name: ``config.host_name``).
Only a process on this machine can be seen to have died (its pid is gone). A process of
another machine sharing the catalogue (PostgreSQL) or the rendition store (a network folder)
cannot be judged from here at all: its work is judged by time alone, by the lease's expiry
on the API's clock (``journal.py``, whose holders renew their leases while they work) or by
the age of its staging folder (``store.py``).
"""

from __future__ import annotations

import os
import uuid

from .config import host_name


def new_owner() -> str:
    """A fresh id for this process: one per piece of work that holds leases."""
    return f"{host_name()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_local(owner: str | None) -> bool:
    """True when ``owner`` names a process on this machine (whose pid can be checked here)."""
    return bool(owner) and owner.partition(":")[0] == host_name()


def is_dead(owner: str | None) -> bool:
    """True when ``owner`` was a process on this machine that is gone; never for a process of
    another machine (only time tells about those)."""
    if not owner:
        return True
    pid = owner.partition(":")[2].partition(":")[0]
    if not is_local(owner) or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
