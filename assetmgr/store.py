"""A content-addressed store of rendition bytes: ``<root>/<sha[:2]>/<sha>``.

Its folder is ``config.store_dir()`` (``ASSETMGR_STORE``, else the user's cache folder),
and several people, processes and machines may share it: a file's name is its content's
sha256, every write is whole and atomic (staged, then renamed into place, so a reader
sees all of a rendition or none, and two writers of one rendition write the same bytes),
and every read is checked against the name.

``add`` keeps the renditions that differ from their source (a byte-identical one is
read from the source file); an upload keeps every rendition it sends, so that whoever
shares the store can ``cat``, inline or repair what was uploaded without the source
files. Bytes are first written whole into a staging folder of the
process at work (``<root>/.staging/<owner>/``) and then renamed into place, so a crash
never leaves half a rendition in the store; files are checked against their name when
read.

During ``add``, workers stage each rendition and the run moves it into the store only
after the catalogue has recorded it, so the store never fills with renditions the
catalogue does not know. Staging folders left by a process that died are swept by the
next run (``sweep``): renditions the catalogue knows are moved into place, the rest are
deleted. Whether a process died is known only for this machine's (``owners``); a store
shared between machines (a network folder) also holds other machines' staging folders,
which are swept only once untouched for ``ABANDONED_AFTER``: a folder in use changes with
every rendition staged or moved out.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import quote, unquote

from . import config, owners

STAGING = ".staging"
ABANDONED_AFTER = 24 * 3600  # seconds: a staging folder of another host this old is swept
SHA = re.compile(r"[0-9a-f]{64}")


class RenditionStore:
    def __init__(self, root: Path | None = None, owner: str | None = None):
        self.root = Path(root) if root is not None else config.store_dir()
        self.owner = owner or owners.new_owner()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    @property
    def staging(self) -> Path:
        """This process's staging folder."""
        return self.root / STAGING / quote(self.owner, safe="")

    def prepare(self) -> None:
        """Create the staging folder: fails early (``OSError``) when the store is not writable."""
        self.staging.mkdir(parents=True, exist_ok=True)

    def stage(self, sha256: str, data: bytes) -> None:
        """Write ``data`` whole into the staging folder, to be ``publish``ed later."""
        target = self.staging / sha256
        if target.is_file() or self.path(sha256).is_file():
            return
        _write_whole(self.staging, target, data)

    def publish(self, shas: Iterable[str]) -> None:
        """Move staged renditions into the store (those recorded in the catalogue)."""
        for sha256 in shas:
            staged = self.staging / sha256
            if staged.is_file():
                _move_into(staged, self.path(sha256))

    def put(self, sha256: str, data: bytes) -> Path:
        """Write a rendition straight into the store (one the catalogue knows already)."""
        target = self.path(sha256)
        if target.is_file():
            return target
        self.prepare()
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_whole(self.staging, target, data)
        return target

    def forget(self, sha256: str) -> None:
        """Remove a rendition from the store (one no catalogue entry needs any more)."""
        self.path(sha256).unlink(missing_ok=True)

    def get(self, sha256: str) -> bytes | None:
        """The stored bytes, or None when missing or damaged."""
        try:
            data = self.path(sha256).read_bytes()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    def sweep(self, known: Callable[[list[str]], set[str]]) -> tuple[int, int]:
        """Empty the staging folders of processes that died: renditions ``known(shas)`` names
        move into the store, the rest are deleted. Returns (kept, deleted)."""
        kept = deleted = 0
        for folder in _staging_folders(self.root / STAGING):
            if folder.name == self.staging.name or not _abandoned(folder):
                continue
            files = [f for f in folder.iterdir() if f.is_file()]
            wanted = known([f.name for f in files if SHA.fullmatch(f.name)])
            for f in files:
                if f.name in wanted and not self.path(f.name).is_file():
                    _move_into(f, self.path(f.name))
                    kept += 1
                else:
                    f.unlink(missing_ok=True)
                    deleted += 1
            shutil.rmtree(folder, ignore_errors=True)
        return kept, deleted

    def close(self) -> None:
        """Remove this process's staging folder (whatever is left in it was never recorded)."""
        shutil.rmtree(self.staging, ignore_errors=True)


def _write_whole(folder: Path, target: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _move_into(staged: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)


def _staging_folders(root: Path) -> list[Path]:
    try:
        return [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return []


def _abandoned(folder: Path) -> bool:
    if owners.is_dead(unquote(folder.name)):
        return True
    try:
        return time.time() - folder.stat().st_mtime > ABANDONED_AFTER
    except OSError:
        return False
