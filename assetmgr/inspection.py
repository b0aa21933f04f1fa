"""What a worker does with one input file: read, hash, probe, render, check, stage.

``inspect(path, settings)`` runs in a worker process and always returns an
``Inspection``, never raises: whatever the file holds or is named, it ends accepted
(with its rendition staged in the store) or rejected with a reason. Only a problem of
the run as a whole (the rendition store cannot be written) is reported as ``fatal``.

A file is accepted only if every frame decodes (``probe.verify_pixels``); a rendition
that had to decode the first frame counts as that frame's check. Each file has a time
budget (``Limits.time_limit``), enforced with ``SIGALRM`` between Python steps of the
decoders; the pool kills a worker that overruns it anyway.
"""

from __future__ import annotations

import errno
import signal
import threading
from dataclasses import dataclass

from . import sourcefile
from .limits import Limits
from .phash import Fingerprint, fingerprint
from .policies import SOURCE_FORMATS
from .probe import ImageInfo, Rejected, examine, pillow_checks, verify_pixels
from .records import RenditionRecord
from .renditions import make
from .store import RenditionStore

NO_MEMORY = "not enough memory to check it"
LOCAL_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG)


class TimeLimitReached(BaseException):
    """Raised by SIGALRM; a BaseException, so that no ``except Exception`` in a decoder eats it."""


@dataclass(slots=True)
class Inspection:
    """What a worker learnt from one file."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    inode: int = 0
    sha256: str | None = None
    info: ImageInfo | None = None
    rendition: RenditionRecord | None = None
    fingerprint: Fingerprint | None = None  # what the picture looks like (``phash``)
    staged: bool = False  # the rendition's bytes wait in the store's staging folder
    reason: str | None = None  # rejected: why
    lasting: bool = False  # the rejection holds while the file is unchanged: remember it
    warning: str | None = None  # an unexpected error, for a one-line warning
    fatal: str | None = None  # the run cannot go on: why

    @property
    def stat_known(self) -> bool:
        return self.size > 0 or self.mtime_ns > 0


@dataclass(frozen=True)
class Settings:
    """What every inspection of one run shares."""

    policy: str
    limits: Limits
    store: RenditionStore


def start_worker(settings: Settings) -> None:
    """Set a worker process up: Pillow's pixel limit, and the time budget's alarm."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = settings.limits.max_pixels
    signal.signal(signal.SIGALRM, _out_of_time)


def inspect(path: str, settings: Settings) -> Inspection:
    """Read, hash, probe, render, check and stage one file. Never raises."""
    timed = _arm(settings.limits.time_limit)
    try:
        return _inspect(path, settings)
    except TimeLimitReached:
        return Inspection(path, reason=over_time(settings.limits.time_limit), lasting=True)
    except MemoryError:
        return Inspection(path, reason=NO_MEMORY)
    except Exception as e:  # a bug of assetmgr's, met on this file only: the run goes on
        name = type(e).__name__
        text = str(e).splitlines()[0][:200] if str(e) else ""
        return Inspection(
            path, reason=f"could not be processed ({name})", warning=f"{name}: {text}"
        )
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)


def failed(path: str, reason: str) -> Inspection:
    """The result of a file whose worker died or had to be killed."""
    return Inspection(path, reason=f"could not be checked: {reason}", lasting=True, warning=reason)


def over_time(limit: float) -> str:
    return f"took longer than {limit:g} s to check (raise the limit with --time-limit)"


def _inspect(path: str, settings: Settings) -> Inspection:
    try:
        source = sourcefile.read(path, settings.limits.max_file_bytes)
    except sourcefile.Unusable as e:
        return Inspection(path, reason=str(e), lasting=e.lasting)
    result = Inspection(path, source.size, source.mtime_ns, source.inode, source.sha256)
    try:
        info, made, seen = _render(source, settings)
    except Rejected as e:
        result.reason, result.lasting = e.reason, e.lasting
        return result
    except MemoryError:  # this machine's lack, not the file's: judged again next time
        result.reason = NO_MEMORY
        return result
    result.info, result.rendition, result.fingerprint = info, made.record, seen
    if made.data is not None:
        try:
            settings.store.stage(made.record.sha256, made.data)
        except OSError as e:
            if e.errno not in LOCAL_FULL:
                raise
            result.fatal = (
                f"cannot write the rendition store at {settings.store.root}: {e.strerror}"
            )
        result.staged = True
    return result


def _render(source: sourcefile.SourceFile, settings: Settings):
    with source.open() as stream:
        formats = SOURCE_FORMATS[settings.policy]
        image, info = examine(
            source.data if source.data is not None else stream, settings.limits, formats
        )
        try:
            with pillow_checks():
                made = make(settings.policy, source, info)
        except (Rejected, MemoryError, TimeLimitReached):
            raise
        except Exception:
            verify_pixels(source.open, info)  # damaged pixels are the file's fault: Rejected
            raise  # they decode: the error is assetmgr's own
        verify_pixels(source.open, info, first_done=made.decoded, opened=image)
        seen = made.fingerprint or _fingerprint_checked(image, info)
    return info, made, seen


def _fingerprint_checked(image, info: ImageInfo) -> Fingerprint | None:
    """The fingerprint of a rendition made without decoding (the source itself, or its
    pixels in a new container), from the first frame the check has just decoded (a JPEG's
    at reduced scale); ``None`` if it cannot be had, which costs the file nothing."""
    from .vision import TRANSPOSE

    try:
        with pillow_checks():
            if image.tell() != 0:
                image.seek(0)
            image.load()
            if info.orientation in TRANSPOSE:
                image = image.transpose(TRANSPOSE[info.orientation])
            return fingerprint(image)
    except (TimeLimitReached, MemoryError):
        raise
    except Exception:
        return None


def _arm(seconds: float) -> bool:
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGALRM) is not _out_of_time:
        return False
    signal.setitimer(signal.ITIMER_REAL, seconds)
    return True


def _out_of_time(signum, frame) -> None:
    raise TimeLimitReached()
