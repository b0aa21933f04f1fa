"""The ``completion`` command: the shell script that completes assetmgr's commands, options
and choices, from Click's own completion (``_ASSETMGR_COMPLETE``)."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_ASSETMGR_COMPLETE"


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx, shell) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    Examples:
      assetmgr completion bash > ~/.local/share/bash-completion/completions/assetmgr
      assetmgr completion zsh > "${fpath[1]}/_assetmgr"
      assetmgr completion fish > ~/.config/fish/completions/assetmgr.fish
      eval "$(assetmgr completion bash)"        # this shell only
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root().command
    script = get_completion_class(shell)(root, {}, "assetmgr", COMPLETE_VAR).source()
    click.echo(script)
