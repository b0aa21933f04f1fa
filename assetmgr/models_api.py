"""``GET /v1/models`` through the official SDK: what the API says of each model (context size,
capabilities, lifecycle), for ``assetmgr models --refresh``. The one module that asks the
Models API; it only reads, and the caller stores what it returns (``modelinfo``).
"""

from __future__ import annotations

from typing import Any

from .files_api import translated
from .messages_api import client_for
from .remote import RemoteSpec

PAGE = 1000  # the most the API gives per page
LIFECYCLES = ["active", "deprecated", "retired"]  # retired ones only when asked for


def fetch(remote: RemoteSpec) -> list[dict[str, Any]]:
    """Every model ``remote``'s key can see, retired ones too, as ``model_info`` rows (every
    page: the SDK's list pages on by itself)."""
    client = client_for(remote)
    with translated():
        return [row(model) for model in client.models.list(lifecycle=LIFECYCLES, limit=PAGE)]


def row(model) -> dict[str, Any]:
    """One ``ModelInfo`` as a ``model_info`` row."""
    capabilities = model.capabilities.model_dump(mode="json") if model.capabilities else None
    return {
        "id": model.id,
        "display_name": model.display_name,
        "line": model.line,
        "max_input_tokens": model.max_input_tokens,
        "max_tokens": model.max_tokens,
        "lifecycle": model.lifecycle,
        "created_at": model.created_at,
        "deprecated_at": model.deprecated_at,
        "retires_at": model.retires_at,
        "capabilities": capabilities,
    }
