"""The ``doctor`` command: parses, calls ``doctor.checks``, renders one line per check."""

from __future__ import annotations

import click

from .cli_options import json_option, workspace_options


@click.command()
@click.option("--offline", is_flag=True, help="Do not ask the API (workspace, reachability).")
@workspace_options
@json_option("One JSON object per check: name, ok, detail, fix.")
@click.pass_context
def doctor(ctx, offline, workspace, workspace_id, json_) -> None:
    """Check what assetmgr would use: settings, catalogue and its schema, rendition store,
    credentials (never shown), base URL, the workspace the key reaches, the API and the
    clock, versions and optional formats. Exit 13 when something is wrong.

    \b
    Examples:
      assetmgr doctor
      assetmgr doctor --workspace eu-team --json
    """
    from .doctor import checks
    from .errors import ExitCode
    from .records import to_json
    from .remote import RemoteSpec

    remote = RemoteSpec.from_env(workspace, workspace_id)
    found = checks(ctx.find_root().obj["db"], remote, online=not offline)
    for check in found:
        if json_:
            click.echo(to_json(check.to_json()))
        else:
            mark = "ok  " if check.ok else "FAIL"
            fix = f"  -> {check.fix}" if check.fix and not check.ok else ""
            click.echo(f"{mark} {check.name:<10} {check.detail}{fix}")
    if not all(check.ok for check in found):
        ctx.exit(ExitCode.UNHEALTHY)
