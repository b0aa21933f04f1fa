"""What the commands tell a person on stderr, and how much of it: ``-q``, ``-v`` and
``--json-progress``.

Every line of talk goes through here, at one of four levels: ``error`` (always shown),
``warning`` and ``info`` (hidden by ``-q``), ``detail`` (shown only with ``-v``: each file,
each upload, each request). With ``--json-progress`` each line becomes a JSON object of its
own on stderr (``{"event": "message", "level": ..., "text": ...}``), beside the progress
events of ``cli_progress``, so that stderr is JSON Lines from start to end. While a progress
display is up, messages go through it, which prints them above its line. Data never comes
here: it goes to stdout.

The settings live in the root context's ``meta`` (shared by every context of a command),
set by the option callbacks that ``add_verbosity_options`` puts on every command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import click

from .pathnames import is_plain, shown

QUIET, NORMAL, VERBOSE = 0, 1, 2
LEVELS = {"error": QUIET, "warning": NORMAL, "info": NORMAL, "detail": VERBOSE}
META_KEY = "assetmgr.talk"


class Display(Protocol):
    """A progress display up on stderr: it prints a message above itself."""

    def echo(self, text: str) -> None: ...


@dataclass
class Talk:
    """How much a command says, and where its talk goes just now."""

    level: int = NORMAL
    json_progress: bool = False
    display: Display | None = None  # the progress display that is up, if any

    def say(self, level: str, text: str) -> None:
        if self.level < LEVELS[level]:
            return
        if not is_plain(text):  # a name that is not UTF-8, from an error of the system's
            text = shown(text)
        if self.json_progress:
            text = json.dumps({"event": "message", "level": level, "text": text})
        if self.display is not None:
            self.display.echo(text)
        else:
            click.echo(text, err=True)


_OUTSIDE_COMMANDS = Talk()  # before a command runs or after it ended (``cli.main``'s errors)


def current() -> Talk:
    """The running command's talk settings (the usual ones outside a command)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return _OUTSIDE_COMMANDS
    return ctx.find_root().meta.setdefault(META_KEY, Talk())


def error(text: str, prefix: str = "Error: ") -> None:
    """``Error: text``, shown whatever the level (``prefix=""``: as it is, ``Interrupted.``)."""
    current().say("error", prefix + text)


def warning(text: str) -> None:
    """``warning: text``, hidden by ``-q``."""
    current().say("warning", f"warning: {text}")


def info(text: str) -> None:
    """What a command did or found, hidden by ``-q``."""
    current().say("info", text)


def detail(text: str) -> None:
    """Per-file detail, shown only with ``-v``."""
    current().say("detail", text)


def verbose() -> bool:
    """``-v`` is in effect: per-file detail is wanted."""
    return current().level == VERBOSE


def quiet() -> bool:
    """``-q`` is in effect: no progress line either."""
    return current().level == QUIET


def _set_level(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value:
        return
    talk = ctx.find_root().meta.setdefault(META_KEY, Talk())
    level = QUIET if param.name == "quiet" else VERBOSE
    if talk.level not in (NORMAL, level):
        raise click.UsageError("-q and -v cannot be used together: choose one")
    talk.level = level


def _set_json_progress(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().meta.setdefault(META_KEY, Talk()).json_progress = True


def asks_json_progress(command_line: list[str]) -> bool:
    """``--json-progress`` is among the options of ``command_line`` (before any ``--``)."""
    options = command_line[: command_line.index("--")] if "--" in command_line else command_line
    return "--json-progress" in options


def json_progress_usage_error(text: str, ctx: click.Context) -> None:
    """A usage error of a command given ``--json-progress``, as its one ``message`` event:
    a reader of the JSON Lines hears of it even when it stopped the options being read."""
    ctx.find_root().meta.setdefault(META_KEY, Talk()).json_progress = True
    error(f"{text} See `{ctx.command_path} --help`.")


def verbosity_options() -> list[click.Option]:
    """-q/--quiet and -v/--verbose, as options of their own (one set per command)."""
    common = dict(is_flag=True, expose_value=False, is_eager=True, callback=_set_level)
    return [
        click.Option(["-q", "--quiet"], help="Errors only: no progress, no summary.", **common),
        click.Option(["-v", "--verbose"], help="Also each file, upload and request.", **common),
    ]


def add_verbosity_options(group: click.Command, skip: frozenset[str] = frozenset()) -> None:
    """Put -q and -v on ``group`` and on every command under it, but those in ``skip`` (a
    server with a ``--verbose`` of its own), so that they may stand anywhere in a command."""
    group.params.extend(verbosity_options())
    for name, command in getattr(group, "commands", {}).items():
        if name not in skip:
            add_verbosity_options(command, skip)


def json_progress_option(function):
    """--json-progress: progress and talk as JSON Lines on stderr (the long commands)."""
    return click.option(
        "--json-progress",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_json_progress,
        help="Progress and messages as JSON objects, one per line, on stderr.",
    )(function)
