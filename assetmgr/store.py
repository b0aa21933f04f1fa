"""A content-addressed store of rendition bytes: ``<root>/<sha[:2]>/<sha>``.

Only renditions that differ from their source are kept (a byte-identical
rendition is read from the source file). Files are written whole or not at
all (temporary file + rename), so a crash never leaves half a rendition, and
they are checked against their name when read.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from . import config

FOLDER = "renditions"


class RenditionStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else config.user_dir() / FOLDER

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, sha256: str, data: bytes) -> Path:
        target = self.path(sha256)
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return target

    def get(self, sha256: str) -> bytes | None:
        """The stored bytes, or None when missing or damaged."""
        try:
            data = self.path(sha256).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None
