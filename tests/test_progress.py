"""The progress line: what it says, when it shows, and that messages never break it."""

from __future__ import annotations

import io
import time

from assetmgr.cli_progress import ProgressLine, Snapshot, describe, time_left

CLEAR = "\r\x1b[2K"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_line_says_files_bytes_time_and_time_left():
    s = Snapshot(120, 500, 30_100_000, 80_000_000, "12 uploaded")
    assert describe("Adding", s, 12.0) == (
        "Adding  120/500 files  30.1/80.0 MB  0:12 elapsed  ~0:23 left  12 uploaded"
    )


def test_time_left_from_the_average_rate_since_the_start():
    assert time_left(Snapshot(0, 10, 0, 1000), 5.0) is None  # nothing done: no guess
    assert time_left(Snapshot(5, 10, 500, 1000), 10.0) == 10.0  # half done in 10 s
    assert time_left(Snapshot(10, 10, 1000, 1000), 10.0) == 0.0
    # many small files count too, not only their bytes
    assert round(time_left(Snapshot(50, 100, 0, 0), 30.0)) == 30


def test_messages_go_above_the_line_and_never_break_it():
    terminal = Terminal()
    done = {"files": 0}

    def poll():
        return Snapshot(done["files"], 3, 0, 0)

    with ProgressLine("Adding", poll, stream=terminal, show_after=0) as line:
        time.sleep(0.4)  # the line is drawn
        for i in range(3):
            done["files"] += 1
            line.echo(f"rejected  /in/{i}.png: empty file")
            time.sleep(0.05)
    text = terminal.getvalue()
    assert text.endswith("\n") and "Adding  3/3 files" in text.splitlines()[-1]
    for i in range(3):  # each message starts on a cleared line and ends its own line
        assert f"{CLEAR}rejected  /in/{i}.png: empty file\n" in text


def test_nothing_is_drawn_when_not_a_terminal_or_before_a_second():
    plain = io.StringIO()
    with ProgressLine("Adding", lambda: Snapshot(0, 1, 0, 0), stream=plain) as line:
        line.echo("a message")
    assert plain.getvalue() == "a message\n"
    terminal = Terminal()
    with ProgressLine("Adding", lambda: Snapshot(0, 1, 0, 0), stream=terminal):
        pass  # a short run: no line at all
    assert terminal.getvalue() == ""
