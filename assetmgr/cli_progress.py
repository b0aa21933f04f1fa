"""A progress line on stderr for the long commands, and messages that never break it.

The line shows files and bytes done out of the total, the time spent and, once there is
something to go on, the time left (from the rate since the start, by bytes and files
alike). It appears only on a terminal, and only once the work has lasted ``SHOW_AFTER``
seconds, so short runs print nothing but their messages. A thread redraws it a few times
a second from a ``poll`` function, so it moves while the main thread waits on a slow
file; ``echo`` prints a message above it (clearing, printing, redrawing under one lock).

With ``--json-progress`` the line is ``JsonProgress`` instead: the same figures as JSON
objects on stderr, one per line (``start``, then ``progress`` at most every
``JSON_EVERY`` seconds and only when something moved, then ``end``), on a terminal or not.
``progress`` picks the one for the command (``cli_talk``'s settings: none at all with
``-q``, none where ``TERM=dumb``), and sends the command's talk through it while it is up.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import cli_talk

SHOW_AFTER = 1.0  # seconds before the line appears
REDRAW_EVERY = 0.25  # seconds
JSON_EVERY = 0.5  # seconds between two progress events, at the most
FILE_WEIGHT = 64 * 1024  # a file counts as this many bytes of work, besides its size


@dataclass(frozen=True)
class Snapshot:
    """Where the work stands."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    note: str = ""  # anything else to show (uploads, say)


@contextmanager
def progress(label: str, poll: Callable[[], Snapshot]) -> Iterator[ProgressLine | JsonProgress]:
    """The progress display of the running command, up for the ``with`` block; the
    command's talk is printed through it meanwhile."""
    talk = cli_talk.current()
    if talk.json_progress:
        display: ProgressLine | JsonProgress = JsonProgress(label, poll)
    else:
        shown = not cli_talk.quiet() and os.environ.get("TERM") != "dumb"
        display = ProgressLine(label, poll, enabled=None if shown else False)
    outer, talk.display = talk.display, display
    try:
        with display:
            yield display
    finally:
        talk.display = outer


class _Ticking:
    """A display on ``stream`` that a thread updates every ``every`` seconds from ``poll``
    while the ``with`` block runs; ``echo`` writes a line between updates, under one lock.
    A stream that cannot be written any more stops the updates, not the work: the main
    thread meets the same error at its next write, and reports it as any other."""

    every = REDRAW_EVERY

    def __init__(self, label: str, poll: Callable[[], Snapshot], stream=None):
        self.label, self.poll = label, poll
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self):
        self.started = time.monotonic()
        if self._begin():
            self.thread = threading.Thread(target=self._run, name="assetmgr-progress", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        self._end(ok=kind is None)

    def echo(self, text: str) -> None:
        with self.lock:
            self._write(text + "\n")

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                with self.lock:
                    self._tick()
            except OSError:
                return

    def _begin(self) -> bool:
        """Start; whether to tick."""
        raise NotImplementedError

    def _tick(self) -> None:
        """One update, under the lock."""
        raise NotImplementedError

    def _end(self, ok: bool) -> None:
        """The work ended (``ok``: without an error)."""
        raise NotImplementedError

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


class ProgressLine(_Ticking):
    """A line redrawn in place, on a terminal, once the work has lasted ``show_after``
    seconds; ``echo`` prints a message above it."""

    def __init__(
        self,
        label: str,
        poll: Callable[[], Snapshot],
        *,
        stream=None,
        enabled: bool | None = None,
        show_after: float = SHOW_AFTER,
    ):
        super().__init__(label, poll, stream)
        self.show_after = show_after
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.shown = False

    def echo(self, text: str) -> None:
        """Print a line of text above the progress line."""
        with self.lock:
            self._write(("\r\x1b[2K" if self.shown else "") + text + "\n" + self._line())

    def _begin(self) -> bool:
        return self.enabled

    def _tick(self) -> None:
        if time.monotonic() - self.started >= self.show_after:
            self.shown = True
            self._write(self._line())

    def _end(self, ok: bool) -> None:
        with self.lock:
            if self.shown:
                self._write(self._line() + "\n")  # the final state stays on screen
                self.shown = False

    def _line(self) -> str:
        """The line, drawn over the one on screen; nothing while it is not shown."""
        if not self.shown:
            return ""
        text = describe(self.label, self.poll(), time.monotonic() - self.started)
        width = shutil.get_terminal_size((100, 24)).columns - 1
        return "\r\x1b[2K" + text[:width]


class JsonProgress(_Ticking):
    """Progress as JSON Lines: ``start``, ``progress`` events at most every ``JSON_EVERY``
    seconds when the figures moved, and ``end`` with ``ok``; ``echo`` writes a line (a
    message event, made by ``cli_talk``) between them."""

    every = JSON_EVERY

    def __init__(self, label: str, poll: Callable[[], Snapshot], *, stream=None):
        super().__init__(label, poll, stream)
        self.last: Snapshot | None = None

    def _begin(self) -> bool:
        self.last = self.poll()
        self.echo(self._event("start"))
        return True

    def _tick(self) -> None:
        now = self.poll()
        if now != self.last:
            self.last = now
            self._write(self._event("progress", **self._figures(now)) + "\n")

    def _end(self, ok: bool) -> None:
        self.echo(self._event("end", ok=ok, **self._figures(self.poll())))

    def _figures(self, s: Snapshot) -> dict:
        elapsed = time.monotonic() - self.started
        left = time_left(s, elapsed)
        return {"files_done": s.files_done, "files_total": s.files_total,
                "bytes_done": s.bytes_done, "bytes_total": s.bytes_total, "note": s.note,
                "elapsed": round(elapsed, 3),
                "left": None if left is None else round(left, 1)}  # fmt: skip

    def _event(self, event: str, **fields) -> str:
        return json.dumps({"event": event, "label": self.label, **fields})


def describe(label: str, s: Snapshot, elapsed: float) -> str:
    """``Adding  120/500 files  30.1/80.0 MB  0:12 elapsed  ~0:20 left`` and the like."""
    parts = [label, f"{s.files_done:,}/{s.files_total:,} files"]
    if s.bytes_total:
        parts.append(f"{s.bytes_done / 1e6:,.1f}/{s.bytes_total / 1e6:,.1f} MB")
    parts.append(f"{clock(elapsed)} elapsed")
    left = time_left(s, elapsed)
    if left is not None:
        parts.append(f"~{clock(left)} left")
    if s.note:
        parts.append(s.note)
    return "  ".join(parts)


def time_left(s: Snapshot, elapsed: float) -> float | None:
    """Seconds left at the average rate since the start; None before anything is done."""
    done = s.bytes_done + FILE_WEIGHT * s.files_done
    total = s.bytes_total + FILE_WEIGHT * s.files_total
    if done <= 0 or elapsed <= 0 or total <= done:
        return None if done <= 0 else 0.0
    return elapsed * (total - done) / done


def clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
