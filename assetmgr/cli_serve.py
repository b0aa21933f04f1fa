"""The ``serve`` command: parse, hand stdin and stdout to ``serve``. The protocol is there."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option(
    "--stdio",
    is_flag=True,
    required=True,
    help="Read requests on stdin, answer on stdout (the only transport).",
)
@click.pass_context
def serve(ctx, stdio) -> None:
    """Answer lookups for another program: one JSON request per line on stdin, one JSON
    answer per line on stdout, until stdin ends. Ops: block, request, resolve, whereis,
    show; parameters are named like the command's options. An error is an answer too
    ({"ok": false, "error": {"type", "exit", "message"}}); the server goes on. See the
    README's "serve --stdio" section for the protocol.

    --stdio is the only transport.

    \b
    Examples:
      assetmgr serve --stdio < requests.jsonl > answers.jsonl
      echo '{"id": 1, "op": "block", "refs": ["3f7a9c"]}' | assetmgr serve --stdio
      {"id": 1, "ok": true, "result": [{"type": "image", "source": {...}}]}
    """
    from .serve import serve as answer_lines

    if not stdio:
        raise click.UsageError("name the transport: --stdio")
    answer_lines(ctx.find_root().obj["db"], sys.stdin.buffer, sys.stdout)
