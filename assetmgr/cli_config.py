"""The ``config`` command (``path``, ``list``, ``get``, ``set``, ``unset``), and the settings
file's values as Click's ``default_map``, which Click reads after a flag and an option's own
environment variable, before the option's default. The table of settings is ``settings.py``."""

from __future__ import annotations

from typing import Any

import click

from . import cli_talk
from .cli_options import json_option
from .records import to_json


def default_map(group: click.Group) -> dict[str, Any]:
    """For every command of ``group`` (subgroups too), the settings' values of its options."""
    from . import settings

    values = settings.option_values()
    if not values:
        return {}
    return _defaults(group, values)


def _defaults(group: click.Group, values: dict[tuple[str, str], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found = _defaults(command, values)
        else:
            found = {}
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            value = values.get((name, param.name), values.get(("*", param.name)))
            if value is not None:
                found[param.name] = value
        if found:
            out[name] = found
    return out


@click.group()
def config() -> None:
    """The settings file: what add, push, run and the rest would otherwise be told each time.

    A value comes from the command-line flag, else its environment variable, else the file,
    else its default.

    \b
    Examples:
      assetmgr config set workspace eu-team
      assetmgr config set model claude-haiku-5-5
      assetmgr config set exclude '*.tmp' .git
      assetmgr config list
    """


@config.command(name="path")
@json_option('One JSON object: {"path": PATH}.')
def config_path(json_) -> None:
    """Print where the settings file is (ASSETMGR_CONFIG, else config.toml in the app folder).

    \b
    Examples:
      assetmgr config path
      $EDITOR "$(assetmgr config path)"
    """
    from . import settings

    where = str(settings.path())
    click.echo(to_json({"path": where}) if json_ else where)


@config.command(name="list")
@json_option("One JSON object per setting: key, value, source, env, default, help.")
def config_list(json_) -> None:
    """Every setting, its value and where it comes from (env, file or default).

    \b
    Example:
      assetmgr config list
    """
    from . import settings

    for item in settings.effective():
        if json_:
            click.echo(to_json(item.to_json()))
            continue
        shown = item.default + " (default)" if item.value is None else _shown(item.value)
        where = {"env": f"  [env {item.env}]", "file": "  [file]"}.get(item.source, "")
        click.echo(f"{item.key:<13} {shown}{where}")


def _keys(ctx, param, incomplete: str) -> list[str]:
    """Shell completion of a setting's key."""
    from . import settings

    return [key for key in settings.SETTINGS if key.startswith(incomplete)]


@config.command(name="get")
@click.argument("key", shell_complete=_keys)
@json_option("The setting as one JSON object, as a line of config list --json (its value null "
             "when its default applies).")  # fmt: skip
def config_get(key, json_) -> None:
    """Print one setting's value; when its default applies, nothing on stdout and the default
    on stderr (exit 0 either way: --json tells the source).

    \b
    Example:
      assetmgr config get workspace
    """
    from . import settings

    found = settings.effective_of(key)
    if json_:
        click.echo(to_json(found.to_json()))
        return
    if found.value is None:
        cli_talk.info(f"{key} is not set: its default applies ({found.default})")
        return
    click.echo(_shown(found.value))


@config.command(name="set")
@click.argument("key", shell_complete=_keys)
@click.argument("values", nargs=-1, required=True)
@json_option('One JSON object: {"key", "value", "path", "env", "env_value"} (env_value: what '
             "the variable env sets, which wins over the file; null when unset).")  # fmt: skip
def config_set(key, values, json_) -> None:
    """Set a setting in the file (a list takes several values).

    \b
    Examples:
      assetmgr config set workspace eu-team
      assetmgr config set upload_jobs 16
      assetmgr config set exclude '*.tmp' .git
    """
    from . import settings

    kept = settings.set_value(key, values)
    cli_talk.info(f"{key} = {_shown(kept)}  ({settings.path()})")
    overridden, env = settings.from_env(key), settings.SETTINGS[key].env
    if json_:
        click.echo(to_json({"key": key, "value": kept, "path": str(settings.path()),
                            "env": env, "env_value": overridden}))  # fmt: skip
    if overridden is not None:
        cli_talk.info(f"note: {env} is set and wins over the file ({_shown(overridden)})")


@config.command(name="unset")
@click.argument("key", shell_complete=_keys)
@json_option('One JSON object: {"key", "path"}.')
def config_unset(key, json_) -> None:
    """Remove a setting from the file (a mistyped key too): its default applies again.

    \b
    Example:
      assetmgr config unset workspace
    """
    from . import settings

    if not settings.unset(key):
        from .errors import UsageError

        raise UsageError(f"{key} is not in {settings.path()}")
    if json_:
        click.echo(to_json({"key": key, "path": str(settings.path())}))
    cli_talk.info(f"{key} removed ({settings.path()})")


def _shown(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value)
