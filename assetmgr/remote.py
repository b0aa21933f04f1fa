"""Which remote an upload belongs to: an API base URL plus a workspace.

Worked out without importing the SDK, from the same environment it reads:
``ANTHROPIC_BASE_URL`` (default ``https://api.anthropic.com``). The workspace is
a name assetmgr keeps uploads apart by (``--workspace``, ``ASSETMGR_WORKSPACE``,
default ``default``); ``--workspace-id wrkspc_...`` is sent to the API as
``anthropic-workspace-id`` for keys that can act on several workspaces.
File ids are never reused across remotes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

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

    def __str__(self) -> str:
        return f"{self.workspace} at {self.base_url}"


def normalise_url(url: str) -> str:
    return re.sub(r"/+$", "", url.strip())


def require_credentials() -> None:
    """Fail early, before any work, when the SDK will find no credentials at all."""
    from .errors import AuthError

    if not any(os.environ.get(name) for name in CREDENTIAL_VARIABLES):
        raise AuthError(NO_KEY)
