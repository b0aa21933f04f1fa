"""``assetmgr models``: the models assetmgr knows (its table in ``modelspec``, with what the
Models API said when last asked), and ``--refresh`` to ask it again. Parses, calls the
library, renders; ``cli.py`` adds it to the group.
"""

from __future__ import annotations

import click

from . import cli_talk
from .cli_options import json_option, workspace_options
from .remote import RemoteSpec


@click.command()
@click.option(
    "--refresh",
    is_flag=True,
    help="First ask the Models API (GET /v1/models) and keep its answer in the catalogue.",
)
@workspace_options
@json_option("One JSON object per model, with where each figure came from.")
@click.pass_context
def models(ctx, refresh, workspace, workspace_id, json_) -> None:
    """List the models assetmgr knows: tier, images per request, context, lifecycle, prices.

    Figures come from assetmgr's own table, or from the Models API when --refresh stored its
    answer (FROM API names them; ? marks a figure assumed: standard tier, 100 images per
    request). A model ending -* is a family: any id that starts so.

    \b
    Example:
      assetmgr models
      assetmgr models --refresh --json | jq 'select(.images_per_request == 600) | .id'
    """
    from . import cli
    from .display import model_lines, model_record
    from .modelspec import lookup
    from .records import to_json

    library = cli.open_library(ctx)
    if refresh:
        remote = RemoteSpec.from_env(workspace, workspace_id)
        stored = library.refresh_models(remote=remote)
        new = [m for m in stored if lookup(m) is None]
        cli_talk.info(f"stored {len(stored)} models from {remote}")
        if new:
            unknown = ", ".join(new)
            cli_talk.info(f"not in assetmgr's table (read at the standard tier): {unknown}")
    specs = library.models()
    if json_:
        cli.echo_lines(to_json(model_record(s)) for s in specs)
    else:
        cli.echo_lines(model_lines(specs))
