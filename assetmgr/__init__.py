"""assetmgr: upload each distinct image to Anthropic's Files API once, reuse it by file_id.

The public API. The CLI (``assetmgr.cli``) is a thin layer over these names.
"""

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
from .records import AddSummary, AssetRecord, Outcome, RenditionRecord, SourceRecord, UploadRecord

__version__ = "0.1.0"

__all__ = [
    "AddSummary",
    "AmbiguousReference",
    "AssetRecord",
    "AssetmgrError",
    "AuthError",
    "Catalogue",
    "CatalogueError",
    "ExitCode",
    "ImageInfo",
    "Ingest",
    "Library",
    "NotFound",
    "Outcome",
    "Rejected",
    "RemoteError",
    "RenditionRecord",
    "SourceRecord",
    "UploadRecord",
    "UsageError",
    "probe",
]
