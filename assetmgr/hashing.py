"""Content ids: the sha256 of bytes, as ``sha256sum`` prints it."""

from __future__ import annotations

import hashlib
import os

CHUNK = 1 << 20
PREFIX = "sha256:"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
