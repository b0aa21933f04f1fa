"""Finding the files an ``add`` names: folders recursively, in a stable order.

Rules: hidden files and folders (a name starting with ``.``) are skipped unless
named directly; ``--exclude`` globs match a file or folder name, or its path
relative to the folder given; symbolic links are followed, and a file or folder
reached twice (through links, or links that loop) is taken once, the first time.
Only regular files are returned. Anything that cannot be read is reported as an
``Unreadable`` in the same stream, so that the caller gives it an outcome.
"""

from __future__ import annotations

import errno
import stat
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch


@dataclass(slots=True)
class Found:
    path: str  # absolute, not resolved: the path as the user reaches it
    size: int
    mtime_ns: int
    inode: int


@dataclass(slots=True)
class Unreadable:
    path: str
    reason: str


def walk(paths: Iterable[str | os.PathLike[str]], exclude: Iterable[str] = ()) -> Iterator[Found | Unreadable]:
    """Every regular file under ``paths``, each once."""
    walker = _Walker(tuple(exclude))
    for given in paths:
        yield from walker.start(os.path.abspath(os.fspath(given)))


def describe_os_error(error: OSError) -> str:
    """``unreadable: permission denied`` and the like, from an OSError."""
    if error.errno in (errno.ENOENT, errno.ELOOP):
        return "unreadable: no such file (or a broken symbolic link)"
    text = os.strerror(error.errno) if error.errno else str(error)
    return f"unreadable: {text[:1].lower() + text[1:]}"


class _Walker:
    def __init__(self, exclude: tuple[str, ...]):
        self.exclude = exclude
        self.seen: set[tuple[int, int]] = set()

    def start(self, path: str) -> Iterator[Found | Unreadable]:
        try:
            st = os.stat(path)
        except OSError as e:
            yield Unreadable(path, describe_os_error(e))
            return
        if os.path.isdir(path):
            if self._first_visit(st):
                yield from self._directory(path, path)
        elif not _is_regular(st.st_mode):
            yield Unreadable(path, "not a regular file")
        elif self._first_visit(st):
            yield Found(path, st.st_size, st.st_mtime_ns, st.st_ino)

    def _first_visit(self, st: os.stat_result) -> bool:
        key = (st.st_dev, st.st_ino)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _directory(self, root: str, folder: str) -> Iterator[Found | Unreadable]:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            yield Unreadable(folder, describe_os_error(e))
            return
        for entry in entries:
            if entry.name.startswith(".") or self._excluded(root, entry.path, entry.name):
                continue
            yield from self._entry(root, entry)

    def _entry(self, root: str, entry: os.DirEntry[str]) -> Iterator[Found | Unreadable]:
        try:
            st = entry.stat()  # follows symbolic links
        except OSError as e:
            yield Unreadable(entry.path, describe_os_error(e))
            return
        if not self._first_visit(st):
            return
        if entry.is_dir():
            yield from self._directory(root, entry.path)
        elif _is_regular(st.st_mode):
            yield Found(entry.path, st.st_size, st.st_mtime_ns, st.st_ino)

    def _excluded(self, root: str, path: str, name: str) -> bool:
        if not self.exclude:
            return False
        relative = os.path.relpath(path, root)
        return any(fnmatch(name, g) or fnmatch(relative, g) for g in self.exclude)


def _is_regular(mode: int) -> bool:
    return stat.S_ISREG(mode)
