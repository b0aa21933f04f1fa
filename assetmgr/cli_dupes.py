"""The ``dupes`` command: exact duplicates (one asset at several paths) and, with ``--near``,
groups of visually identical assets. Parses, calls the library, renders; ``cli.py`` adds it."""

from __future__ import annotations

import json

import click

from . import cli_talk
from .cli_options import json_option, near_distance_option


@click.group(invoke_without_command=True)
@click.option("--near", is_flag=True, help="Visually identical assets, in different bytes.")
@near_distance_option("--distance", "With --near")
@json_option("One JSON object per group.")
@click.pass_context
def dupes(ctx, near, near_distance, json_) -> None:
    """List duplicates: assets seen at several paths, or with --near, groups of pictures that
    look the same (resized, re-compressed, converted, slightly cropped), best copy first.

    \b
    Examples:
      assetmgr dupes
      assetmgr dupes --near
      assetmgr dupes --near --distance 6 --json
      assetmgr dupes mark 3f7a9c 81be02 --not-duplicate
    """
    from . import cli
    from .errors import UsageError

    if ctx.invoked_subcommand is not None:
        if near or near_distance is not None or json_:
            raise UsageError("--near, --distance and --json go without a subcommand "
                             "(a subcommand's --json goes after its name)")  # fmt: skip
        return
    library = cli.open_library(ctx)
    if not near:
        if near_distance is not None:
            raise UsageError("--distance applies to --near only")
        found = library.exact_duplicates()
        lines = (_exact_json(s, p) if json_ else _exact_text(s, p) for s, p in found)
        cli.echo_lines(lines)
        cli_talk.info(f"{len(found)} assets seen at several paths")
        return
    report = _near(library, near_distance)
    if report.computed:
        cli_talk.info(f"computed {report.computed} missing fingerprints")
    if report.lost:
        cli_talk.info(f"{len(report.lost)} assets not compared: no rendition bytes left")
    lines = (json.dumps(g.to_json()) if json_ else _near_text(g) for g in report.groups)
    cli.echo_lines(lines)
    members = sum(len(g.members) for g in report.groups)
    cli_talk.info(f"{len(report.groups)} groups, {members} assets (distance {report.distance})")


def _near(library, distance):
    """``near_duplicates``, with a progress line while missing fingerprints are computed."""
    from .cli_progress import Snapshot, progress

    state = Snapshot(0, 0, 0, 0)

    def advance(done: int, total: int) -> None:
        nonlocal state
        state = Snapshot(done, total, 0, 0, "fingerprints")

    with progress("Fingerprinting", lambda: state):
        return library.near_duplicates(distance, progress=advance)


def _exact_json(sha: str, paths: list[str]) -> str:
    from .records import to_json

    return to_json({"asset": sha, "paths": paths})


def _exact_text(sha: str, paths: list[str]) -> str:
    from .pathnames import on_one_line

    return "\n".join([sha[:12], *(f"  {on_one_line(p)}" for p in paths)])


def _near_text(group) -> str:
    lines = []
    for m in group.members:
        lines.append(f"  {m.sha256[:12]}  {m.width}x{m.height} {m.format:<5} {m.reason}")
    return "\n".join(lines) + "\n"


@dupes.command()
@click.argument("reference")
@click.argument("other")
@click.option("--not-duplicate", "different", is_flag=True, help="Never group them.")
@click.option("--same", is_flag=True, help="Always group them.")
@json_option('The decision as one JSON object: {"asset", "other", "decision"}.')
@click.pass_context
def mark(ctx, reference, other, different, same, json_) -> None:
    """Decide that two assets are not the same picture (--not-duplicate), or are (--same),
    whatever their fingerprints say. The decision is kept; the last one stands.

    \b
    Example:
      assetmgr dupes mark 3f7a9c 81be02 --not-duplicate
    """
    from . import cli
    from .errors import UsageError

    if different == same:
        raise UsageError("say which: --not-duplicate or --same (one of them)")
    a, b = cli.open_library(ctx).mark(reference, other, same=same)
    if json_:
        cli.echo_json({"asset": a, "other": b, "decision": "same" if same else "different"})
    verb = "the same picture" if same else "not duplicates"
    cli_talk.info(f"{a[:12]} and {b[:12]}: {verb}")


@dupes.command()
@click.argument("references", nargs=-1, metavar="REF...")
@click.option("--all", "every", is_flag=True, help="Every asset that reuses another's rendition.")
@json_option('One JSON object per asset restored: {"asset": sha256} (JSON lines).')
@click.pass_context
def unlink(ctx, references, every, json_) -> None:
    """Undo --reuse-near: each asset named uses its own rendition again (the next push or
    block uploads it, unless an upload of it is live already).

    \b
    Examples:
      assetmgr dupes unlink 81be02
      assetmgr dupes unlink --all
    """
    from . import cli
    from .errors import UsageError

    if every == bool(references):
        raise UsageError("name the assets to unlink, or give --all (one of them)")
    library = cli.open_library(ctx)
    restored = library.unlink(None if every else library.resolve_many(references))
    cli.echo_lines((json.dumps({"asset": sha}) for sha in restored) if json_ else restored)
    cli_talk.info(f"{len(restored)} assets use their own renditions again")
