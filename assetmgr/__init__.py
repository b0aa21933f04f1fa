"""assetmgr: upload each distinct image to Anthropic's Files API once, reuse it by file_id.

The public API; the CLI (``assetmgr.cli``) is a thin layer over these names. Names load
on first use, so that ``import assetmgr`` stays cheap for the lookup path (no Pillow,
no SDK, no Alembic until something needs them).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_WHERE = {
    "AddSummary": "records",
    "AssetRecord": "records",
    "Outcome": "records",
    "RenditionRecord": "records",
    "SourceRecord": "records",
    "UploadRecord": "records",
    "AmbiguousReference": "errors",
    "AssetmgrError": "errors",
    "AuthError": "errors",
    "CatalogueError": "errors",
    "ExitCode": "errors",
    "NotFound": "errors",
    "RemoteError": "errors",
    "UsageError": "errors",
    "Catalogue": "catalogue",
    "Ingest": "ingest",
    "Library": "library",
    "ImageInfo": "probe",
    "Rejected": "probe",
    "probe": "probe",
    "ImageRef": "blocks",
    "MessageRequest": "blocks",
    "PushSummary": "records",
}
__all__ = sorted(_WHERE)

if TYPE_CHECKING:
    from .blocks import ImageRef, MessageRequest
    from .catalogue import Catalogue
    from .errors import (
        AmbiguousReference,
        AssetmgrError,
        AuthError,
        CatalogueError,
        ExitCode,
        NotFound,
        RemoteError,
        UsageError,
    )
    from .ingest import Ingest
    from .library import Library
    from .probe import ImageInfo, Rejected, probe
    from .records import (
        AddSummary,
        AssetRecord,
        Outcome,
        PushSummary,
        RenditionRecord,
        SourceRecord,
        UploadRecord,
    )


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'assetmgr' has no attribute {name!r}")
    value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
