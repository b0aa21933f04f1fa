"""Which remote an upload belongs to: an API base URL plus a workspace, as the user names it.

Worked out without importing the SDK, from the same environment it reads:
``ANTHROPIC_BASE_URL`` (default ``https://api.anthropic.com``), normalised so that one
server has one spelling. The workspace is the one the API reports for the key (its
``anthropic-workspace-id`` response header); what the user types (``--workspace``,
``ASSETMGR_WORKSPACE``, default ``default``) is only a label for it, recorded the first
time a request shows which workspace it reaches (``workspaces.py``). ``--workspace-id
wrkspc_...`` is sent to the API as ``anthropic-workspace-id`` for keys that can act on
several workspaces. File ids are never reused across workspaces.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

DEFAULT_BASE_URL = "https://api.anthropic.com"
DEFAULT_WORKSPACE = "default"
WORKSPACE_ENV = "ASSETMGR_WORKSPACE"
WORKSPACE_ID_ENV = "ASSETMGR_WORKSPACE_ID"
# Any of these lets the SDK find credentials (a key, a token, a profile, workload identity).
CREDENTIAL_VARIABLES = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_CONFIG_DIR",
    "ANTHROPIC_IDENTITY_TOKEN",
    "ANTHROPIC_IDENTITY_TOKEN_FILE",
)
NO_KEY = (
    "no API key: set ANTHROPIC_API_KEY (to try assetmgr without one, run `assetmgr emulator` "
    "and set ANTHROPIC_BASE_URL to the address it prints, with any key), or pass --no-upload"
)


@dataclass(frozen=True)
class RemoteSpec:
    base_url: str
    workspace: str = DEFAULT_WORKSPACE
    workspace_id: str | None = None

    @classmethod
    def from_env(
        cls,
        workspace: str | None = None,
        workspace_id: str | None = None,
        base_url: str | None = None,
    ) -> RemoteSpec:
        """Explicit arguments first, then the environment, then the defaults."""
        url = base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        return cls(
            base_url=normalise_url(url),
            workspace=workspace or os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE,
            workspace_id=workspace_id or os.environ.get(WORKSPACE_ID_ENV) or None,
        )

    @property
    def label(self) -> str:
        """The name the workspace is recorded under: the one the user gave; without one, the
        ``anthropic-workspace-id`` sent, if any; else ``default`` (the key's own)."""
        if self.workspace == DEFAULT_WORKSPACE and self.workspace_id:
            return self.workspace_id
        return self.workspace

    def __str__(self) -> str:
        return f"{self.label} at {self.base_url}"


DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_url(url: str) -> str:
    """One spelling per server: scheme and host lowercased, the default port dropped, the
    path canonical (no ``.``, ``..`` or doubled slashes) and without a trailing slash."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text.rstrip("/")
    if not parts.scheme or not parts.hostname:
        return text.rstrip("/")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}" if userinfo else host
    path = posixpath.normpath(parts.path) if parts.path.strip("/") else ""
    path = "" if path in (".", "/") else "/" + path.lstrip("/")
    return urlunsplit((scheme, netloc, path.rstrip("/"), parts.query, ""))


def require_credentials() -> None:
    """Fail early, before any work, when the SDK will find no credentials at all."""
    from .errors import AuthError

    if not any(os.environ.get(name) for name in CREDENTIAL_VARIABLES):
        raise AuthError(NO_KEY)
