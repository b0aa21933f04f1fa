"""Finding the files an ``add`` names: folders recursively, in a stable order.

Rules: hidden files and folders (a name starting with ``.``) are skipped unless
named directly; ``--exclude`` globs match a file or folder name, or its path
relative to the folder given; symbolic links are followed, and a file or folder
reached twice (through links, or links that loop) is taken once, the first time.
Regular files are returned as ``Found``; anything else met (a FIFO, a socket, a device)
and anything that cannot be read is reported as an ``Unreadable`` in the same stream,
so that the caller gives it an outcome. The files and folders in ``skip`` (assetmgr's own:
its catalogue, the rendition store) are passed by wherever they lie.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from operator import attrgetter

from .sourcefile import describe_os_error, not_regular


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


def walk(
    paths: Iterable[str | os.PathLike[str]],
    exclude: Iterable[str] = (),
    skip: Iterable[str | os.PathLike[str]] = (),
) -> list[Found | Unreadable]:
    """Every regular file under ``paths``, each once, in order, but those in ``skip``."""
    roots = [os.path.abspath(os.fspath(p)) for p in paths]
    # A file named beside a folder may also lie inside it: then every file is checked.
    walker = _Walker(tuple(exclude), check_all=len(roots) > 1 and any(map(os.path.isfile, roots)))
    walker.pass_by(skip, roots)
    for root in roots:
        walker.start(root)
    return walker.found


class _Walker:
    """Collects into ``found``. Written for speed: a re-run's walk is most of its time."""

    def __init__(self, exclude: tuple[str, ...], check_all: bool):
        self.exclude = exclude
        self.check_all = check_all
        self.found: list[Found | Unreadable] = []
        self.seen: set[tuple[int, int]] = set()  # (device, inode) of folders and named files

    def pass_by(self, skip: Iterable[str | os.PathLike[str]], roots: list[str]) -> None:
        """Count what is in ``skip`` as met already. Every folder met is checked against
        what was met anyway; every file only once a file to pass by lies under a root (as
        spelt, or resolved; rare: the catalogue in a folder being added), so that the usual
        walk stays as fast as it was."""
        for path in map(os.fspath, skip):
            try:
                st = os.stat(path)
            except OSError:
                continue  # not there: nothing to pass by
            if stat.S_ISREG(st.st_mode):
                spelt = {os.path.abspath(path), os.path.realpath(path)}
                if not any(_inside(p, roots) for p in spelt):
                    continue
                self.check_all = True
            self.seen.add((st.st_dev, st.st_ino))

    def start(self, path: str) -> None:
        try:
            st = os.stat(path)
        except OSError as e:
            self.found.append(Unreadable(path, describe_os_error(e)))
            return
        if stat.S_ISDIR(st.st_mode):
            if self._first_visit(st):
                self._directory(path, path)
        elif not stat.S_ISREG(st.st_mode):
            self.found.append(Unreadable(path, not_regular(st.st_mode)))
        elif self._first_visit(st):
            self.found.append(Found(path, st.st_size, st.st_mtime_ns, st.st_ino))

    def _first_visit(self, st: os.stat_result) -> bool:
        key = (st.st_dev, st.st_ino)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _directory(self, root: str, folder: str) -> None:
        found = self.found
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=_name)
        except OSError as e:
            found.append(Unreadable(folder, describe_os_error(e)))
            return
        check_all, is_dir, is_file = self.check_all, stat.S_ISDIR, stat.S_ISREG
        append, exclude = found.append, self.exclude
        for entry in entries:
            name = entry.name
            if name[0] == "." or (exclude and self._excluded(root, entry.path, name)):
                continue
            try:
                st = entry.stat()  # follows symbolic links
            except OSError as e:
                found.append(Unreadable(entry.path, describe_os_error(e)))
                continue
            mode = st.st_mode
            if is_dir(mode):
                if self._first_visit(st):
                    self._directory(root, entry.path)
            elif not is_file(mode):
                found.append(Unreadable(entry.path, not_regular(mode)))
            # a file can be met again only through a link, or when named beside its folder
            elif not (check_all or st.st_nlink > 1 or entry.is_symlink()) or self._first_visit(st):
                append(Found(entry.path, st.st_size, st.st_mtime_ns, st.st_ino))

    def _excluded(self, root: str, path: str, name: str) -> bool:
        relative = os.path.relpath(path, root)
        return any(fnmatch(name, g) or fnmatch(relative, g) for g in self.exclude)


def _inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


_name = attrgetter("name")
