"""The one error hierarchy of assetmgr and its named exit codes.

Library code raises these; the CLI translates them into exit codes in one place
(``cli.AssetmgrGroup``). An expected failure never shows a traceback.
"""

from __future__ import annotations

import errno
import os
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, each with its meaning: the one source of the table in
    ``assetmgr --help`` and in the README (``exit_code_table``; a test keeps them equal)."""

    meaning: str

    def __new__(cls, value: int, meaning: str) -> ExitCode:
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "success"
    ERROR = 1, "internal error (a bug; please report it)"
    USAGE = 2, "usage error (bad options, arguments or settings; a reference under 6 hex digits)"
    REJECTED = 3, "the run finished, but some inputs were rejected"
    NOT_FOUND = 4, "a reference named no asset, or several"
    CATALOGUE = 5, "the catalogue could not be opened, read, written or migrated"
    REMOTE = 6, "the API refused a request or could not be reached"
    AUTH = 7, "no API key, or the API refused it"
    LOCAL = 8, "a local disk, file or port could not be used (disk full, read-only, port in use)"
    PROBLEMS = (
        9,
        "verify found problems: missing or expired uploads, orphans to adopt, changed sources",
    )
    UNREPAIRED = 10, "verify --repair left problems it could not fix (each is listed)"
    UNFINISHED = (
        11,
        "run stopped with requests unanswered (errored, expired, or a batch still processing): "
        "run it again to go on",
    )
    OVER_BUDGET = 12, "run's estimated cost is over --max-cost: nothing was sent"
    UNHEALTHY = 13, "doctor found something wrong (each is listed with its fix)"
    INTERRUPTED = 130, "interrupted (Ctrl-C)"
    PIPE_CLOSED = 141, "stdout was closed early (piped into `head`, say): output stopped quietly"


def exit_code_table() -> str:
    """The README's "Exit codes" table, in Markdown."""
    rows = [f"| {code.value} | {code.meaning} |" for code in ExitCode]
    return "\n".join(["| code | meaning |", "|---|---|", *rows]) + "\n"


class AssetmgrError(Exception):
    """Base of every error assetmgr raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(AssetmgrError):
    """The caller asked for something that cannot be done as asked."""

    exit_code = ExitCode.USAGE


class NotFound(AssetmgrError):
    """A reference matched no asset."""

    exit_code = ExitCode.NOT_FOUND


class AmbiguousReference(NotFound):
    """A reference (a short hash prefix, a file id several assets use) matched more than one
    asset."""

    def __init__(self, reference: str, candidates: list[str], advice: str = "give more hex digits"):
        shown = ", ".join(c[:12] for c in candidates[:5])
        more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
        super().__init__(
            f"{reference!r} matches {len(candidates)} assets ({shown}{more}); {advice}"
        )
        self.candidates = candidates


class WorkspaceMismatch(UsageError):
    """A workspace label reaches another workspace than the one recorded for it."""

    def __init__(self, label: str, base_url: str, recorded: str, reached: str):
        super().__init__(
            f"workspace {label!r} at {base_url} is {recorded}, but this key reaches {reached}: "
            f"use a key of {recorded}, or give this workspace another name with --workspace"
        )


class CatalogueError(AssetmgrError):
    """The catalogue could not be opened, created or migrated."""

    exit_code = ExitCode.CATALOGUE


class RemoteError(AssetmgrError):
    """The Files API refused a request or could not be reached."""

    exit_code = ExitCode.REMOTE


class AuthError(RemoteError):
    """No usable API key, or the API refused it."""

    exit_code = ExitCode.AUTH


class OverBudget(AssetmgrError):
    """A run's estimated cost is over the cap it was given."""

    exit_code = ExitCode.OVER_BUDGET


class Unfinished(AssetmgrError):
    """A run stopped with requests unanswered; running it again goes on from there."""

    exit_code = ExitCode.UNFINISHED


class LocalError(AssetmgrError):
    """This machine could not do what was asked: a disk is full or read-only, an output file
    cannot be written, a port is taken."""

    exit_code = ExitCode.LOCAL


# What to do about the usual ways a local file or disk fails; the message names the cause.
_OS_REASONS = {
    errno.ENOSPC: ("disk full", "free some space or write elsewhere"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or write elsewhere"),
    errno.EROFS: ("read-only file system", "write elsewhere"),
    errno.EACCES: ("permission denied", "check the permissions or write elsewhere"),
    errno.EPERM: ("operation not permitted", "check the permissions or write elsewhere"),
}


def local_error(error: OSError, subject: str | None = None) -> LocalError:
    """A one-line ``LocalError`` for ``error``: what failed (``subject``, else the file the
    error names), why, and what to do. An error that brings its own words instead of the
    system's (the emulator's "port N on HOST is in use; ...") keeps them."""
    subject = subject or (str(error.filename) if error.filename else None)
    own_words = error.errno is None or error.strerror != os.strerror(error.errno)
    known = None if own_words else _OS_REASONS.get(error.errno)
    reason = known[0] if known else error.strerror or str(error)
    text = f"{subject}: {reason}" if subject else reason
    return LocalError(f"{text}; {known[1]}" if known else text)
