"""The one error hierarchy of assetmgr and its named exit codes.

Library code raises these; the CLI translates them into exit codes in one place
(``cli.AssetmgrGroup``). An expected failure never shows a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in the README and in ``assetmgr --help``."""

    OK = 0
    ERROR = 1  # unexpected internal error (a bug: please report it)
    USAGE = 2  # bad command line (click's own code for usage errors)
    REJECTED = 3  # the run finished, but some inputs were rejected
    NOT_FOUND = 4  # a reference named no asset, or more than one
    CATALOGUE = 5  # the catalogue could not be opened or migrated
    REMOTE = 6  # the API refused or could not be reached
    AUTH = 7  # no API key, or the API refused the key
    LOCAL = 8  # a local disk, file or port could not be used (disk full, read-only, port in use)
    INTERRUPTED = 130  # Ctrl-C


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
    """A reference (a short hash prefix) matched more than one asset."""

    def __init__(self, reference: str, candidates: list[str]):
        shown = ", ".join(c[:12] for c in candidates[:5])
        more = f" and {len(candidates) - 5} more" if len(candidates) > 5 else ""
        super().__init__(
            f"{reference!r} matches {len(candidates)} assets ({shown}{more}); give more hex digits"
        )
        self.candidates = candidates


class CatalogueError(AssetmgrError):
    """The catalogue could not be opened, created or migrated."""

    exit_code = ExitCode.CATALOGUE


class RemoteError(AssetmgrError):
    """The Files API refused a request or could not be reached."""

    exit_code = ExitCode.REMOTE


class AuthError(RemoteError):
    """No usable API key, or the API refused it."""

    exit_code = ExitCode.AUTH


class LocalError(AssetmgrError):
    """This machine could not do what was asked: a disk is full or read-only, an output file
    cannot be written, a port is taken."""

    exit_code = ExitCode.LOCAL
