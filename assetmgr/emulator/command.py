"""``assetmgr emulator``: run the Files API emulator in the foreground.

Imports only click at import time, so the main CLI starts fast; the server loads when the
command runs. The first stdout line is the base URL (for scripts that start it in the
background); a hint for the environment goes to stderr. Ctrl-C or SIGTERM stop it cleanly,
saving the state file when one is given. An address that cannot be listened on is an
``OSError`` whose message says what to do; the ``assetmgr`` command prints it as one line.
"""

from __future__ import annotations

import errno
import signal
import socket
import sys
import threading

import click


def _workspace(ctx, param, values: tuple[str, ...]) -> dict[str, str]:
    mapping = {}
    for value in values:
        key, sep, name = value.partition("=")
        if not sep or not key or not name:
            raise click.BadParameter(f"expected KEY=NAME, got {value!r}")
        mapping[key] = name
    return mapping


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option(
    "--workspace",
    "workspaces",
    multiple=True,
    callback=_workspace,
    metavar="KEY=NAME",
    help="Bind an API key to a workspace (repeatable). Other keys use 'default'.",
)
@click.option("--latency-ms", default=0.0, type=float, help="Delay added to every request.")
@click.option(
    "--error-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of requests answered 429, 500 or 529.",
)
@click.option(
    "--error-status",
    "error_statuses",
    multiple=True,
    type=click.Choice(["429", "500", "529"]),
    help="Limit injected errors to these statuses (repeatable).",
)
@click.option(
    "--retry-after-ms",
    default=1000.0,
    type=float,
    show_default=True,
    help="retry-after sent with injected errors.",
)
@click.option(
    "--drop-rate",
    default=0.0,
    type=click.FloatRange(0, 1),
    help="Fraction of uploads stored but their response lost.",
)
@click.option(
    "--quota-bytes",
    default=None,
    type=click.IntRange(min=0),
    help="Storage quota per workspace (live bytes).",
)
@click.option(
    "--state", type=click.Path(dir_okay=False), help="JSON file to load at start and save at exit."
)
@click.option("--seed", default=None, type=int, help="Seed for reproducible fault injection.")
@click.option(
    "--batch-delay-seconds",
    default=5.0,
    type=click.FloatRange(min=0),
    show_default=True,
    help="Message Batches: seconds from creation to processing the first item.",
)
@click.option(
    "--batch-item-seconds",
    default=0.0,
    type=click.FloatRange(min=0),
    show_default=True,
    help="Message Batches: seconds between one item and the next.",
)
@click.option("--verbose", is_flag=True, help="Log one line per request on stderr.")
def emulator_command(workspaces, error_statuses, **options):
    """Serve a local emulator of the Files API, the Messages API's image blocks, prompt caching,
    Message Batches and the Models API.

    \b
    Example:
      assetmgr emulator --port 8765 &
      export ANTHROPIC_BASE_URL=http://127.0.0.1:8765 ANTHROPIC_API_KEY=test-key
      assetmgr emulator --port 0 --error-rate 0.2 --drop-rate 0.1 --seed 1
    """
    from .runner import Emulator

    statuses = tuple(int(s) for s in error_statuses) or (429, 500, 529)
    emulator = Emulator(workspaces=workspaces, error_statuses=statuses, **options)
    try:
        emulator.start()
    except OSError as e:
        raise _cannot_listen(e, options["host"], options["port"]) from e
    click.echo(emulator.base_url)
    sys.stdout.flush()
    click.echo(
        f"export ANTHROPIC_BASE_URL={emulator.base_url} ANTHROPIC_API_KEY=test-key", err=True
    )
    _wait_for_signal()
    emulator.stop()


def _cannot_listen(error: OSError, host: str, port: int) -> OSError:
    """The error of a failed bind, reworded to say what to do."""
    if isinstance(error, socket.gaierror):
        return OSError(error.errno, f"cannot find host {host!r}; choose another with --host")
    choose_port = "choose another with --port (0 picks a free one)"
    reworded = {
        errno.EADDRINUSE: f"port {port} on {host} is in use; {choose_port}",
        errno.EACCES: f"port {port} on {host} needs privileges; {choose_port}",
        errno.EADDRNOTAVAIL: f"{host} is not an address of this machine; choose another with --host",
    }.get(error.errno or 0)
    return error if reworded is None else OSError(error.errno, reworded)


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM; the handlers only set an event, so stopping is orderly."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


if __name__ == "__main__":
    emulator_command()
