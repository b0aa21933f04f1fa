"""Reading one input file safely: what a worker knows of a file before looking at its pixels.

- The file is opened non-blocking and checked to be a regular file through the open
  descriptor, so a FIFO, socket or device put in its place after the walk is reported, and
  never blocks the run.
- Files over the size limit are refused before a byte is read.
- The sha256 is computed while reading, in chunks: hashing never holds a whole file.
  Files up to ``WHOLE_READ`` bytes are kept in memory (one read, the common case); larger
  ones are hashed as a stream and decoded from the file, so memory stays bounded.
- The stat recorded is that of the very bytes read (``fstat`` of the open descriptor); a
  file that changes while it is read is reported as such.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from dataclasses import dataclass

from .limits import human_bytes

WHOLE_READ = 32 * 1024 * 1024  # files up to this size are read into memory at once
CHUNK = 1024 * 1024
OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFDIR: "a folder",
}


class Unusable(Exception):
    """The file cannot be looked at; ``str(e)`` says why, for people. ``lasting``: the reason
    holds for as long as the file is unchanged (not so for a permission or a passing error)."""

    def __init__(self, reason: str, *, lasting: bool = False):
        super().__init__(reason)
        self.lasting = lasting


@dataclass
class SourceFile:
    """One input file, read: its stat, its sha256 and, when small enough, its bytes."""

    path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    data: bytes | None  # None: larger than WHOLE_READ; use ``open()``

    @classmethod
    def of(cls, data: bytes, sha256: str, path: str = "") -> SourceFile:
        """A source already in memory (its stat unknown)."""
        return cls(path, len(data), 0, 0, sha256, data)

    def open(self):
        """A fresh binary stream of the file's bytes."""
        if self.data is not None:
            return io.BytesIO(self.data)
        return open(self.path, "rb")  # noqa: SIM115 (the caller closes it)


def read(path: str, max_bytes: int) -> SourceFile:
    """Open, check and hash the file at ``path``; ``Unusable`` with a reason when it can't be."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as e:
        raise Unusable(describe_os_error(e)) from None
    try:
        with os.fdopen(fd, "rb") as f:
            before = os.fstat(fd)
            _check(before, max_bytes)
            data, sha256 = _read_hashing(f, before.st_size)
            after = os.fstat(fd)
    except OSError as e:
        raise Unusable(describe_os_error(e)) from None
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise Unusable("unreadable: the file changed while it was read; add it again")
    return SourceFile(path, after.st_size, after.st_mtime_ns, after.st_ino, sha256, data)


def describe_os_error(error: OSError) -> str:
    """``unreadable: permission denied`` and the like, from an OSError."""
    if error.errno in (errno.ENOENT, errno.ELOOP):
        return "unreadable: no such file (or a broken symbolic link)"
    text = os.strerror(error.errno) if error.errno else str(error)
    return f"unreadable: {text[:1].lower() + text[1:]}"


def not_regular(mode: int) -> str:
    """The reason a walk gives for a path that is not a regular file."""
    return f"not a regular file ({KINDS.get(stat.S_IFMT(mode), 'a special file')})"


def _check(st: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise Unusable(not_regular(st.st_mode))
    if st.st_size == 0:
        raise Unusable("empty file", lasting=True)
    if st.st_size > max_bytes:
        raise Unusable(
            f"file is {human_bytes(st.st_size)}, over the limit of {human_bytes(max_bytes)} "
            "per file (raise it with --max-file-size)",
            lasting=True,
        )


def _read_hashing(f, size: int) -> tuple[bytes | None, str]:
    if size <= WHOLE_READ:
        data = f.read(WHOLE_READ + 1)
        if len(data) > WHOLE_READ:  # it grew since fstat: stream the rest
            digest = hashlib.sha256(data)
            _hash_rest(f, digest)
            return None, digest.hexdigest()
        return data, hashlib.sha256(data).hexdigest()
    digest = hashlib.sha256()
    _hash_rest(f, digest)
    return None, digest.hexdigest()


def _hash_rest(f, digest) -> None:
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while n := f.readinto(buffer):
        digest.update(view[:n])
