"""The ``assetmgr`` command: parse options, call the library, render. No logic here.

Library errors become exit codes in one place, ``AssetmgrGroup.invoke``.
"""

from __future__ import annotations

import json
import sys

import click

from .cli_options import (
    checked_tags,
    lookup_options,
    remote_options,
    request_options,
    stdin_option,
)
from .errors import AssetmgrError, ExitCode, UsageError
from .remote import RemoteSpec

EXIT_CODES = """\b
Exit codes:
  0    success
  1    internal error (a bug; please report it)
  2    usage error (bad options or arguments)
  3    finished, but some inputs were rejected
  4    a reference named no asset, or several
  5    the catalogue could not be opened or migrated
  6    the API refused a request or could not be reached
  7    no API key, or the API refused it
  130  interrupted (Ctrl-C)
"""


class AssetmgrGroup(click.Group):
    """Turns every ``AssetmgrError`` into a one-line message and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AssetmgrError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(ExitCode.INTERRUPTED)


def json_option(help_text: str = "Output JSON instead of text."):
    return click.option("json_", "--json", is_flag=True, help=help_text)


@click.group(cls=AssetmgrGroup, epilog=EXIT_CODES)
@click.version_option(package_name="assetmgr")
@click.option(
    "--db",
    envvar="ASSETMGR_DB",
    metavar="PATH|URL",
    help="Catalogue to use: a file path or SQLAlchemy URL. "
    "[env: ASSETMGR_DB; default: $ASSETMGR_HOME/catalogue.db]",
)
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """Upload each distinct image to Anthropic's Files API once, and reuse it by file_id."""
    ctx.obj = {"db": db}


def open_library(ctx: click.Context):
    from .library import Library

    library = Library.open(ctx.find_root().obj["db"])
    ctx.call_on_close(library.close)
    return library


def echo_json(record) -> None:
    from .records import to_json

    click.echo(to_json(record))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--exclude",
    multiple=True,
    metavar="GLOB",
    help="Skip files and folders matching GLOB (repeatable).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="NAME",
    callback=checked_tags,
    help="Tag every accepted file (repeatable).",
)
@click.option(
    "--policy",
    type=click.Choice(["vision", "original"]),
    default="vision",
    show_default=True,
    help="vision: oriented, stripped, downscaled to what Claude reads; original: bytes as they are.",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), help="Worker processes.  [default: number of cores]"
)
@click.option(
    "--no-upload",
    is_flag=True,
    envvar="ASSETMGR_NO_UPLOAD",
    help="Only catalogue; upload nothing.  [env: ASSETMGR_NO_UPLOAD=1]",
)
@click.option(
    "--upload-jobs",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Parallel uploads.",
)
@remote_options
@json_option("One JSON object per input file on stdout.")
@click.pass_context
def add(
    ctx,
    paths,
    exclude,
    tags,
    policy,
    jobs,
    no_upload,
    upload_jobs,
    workspace,
    workspace_id,
    expires_in,
    json_,
):
    """Catalogue image files and folders, deduplicated by content, and upload what is new.

    \b
    Example:
      assetmgr add ~/photos                     # catalogue and upload what the workspace lacks
      assetmgr add ~/photos --no-upload --exclude '*.tmp'
    """
    from .cli_runs import run_add

    upload = (
        None
        if no_upload
        else dict(
            workspace=workspace, workspace_id=workspace_id, jobs=upload_jobs, expires_in=expires_in
        )
    )
    summary = run_add(
        open_library(ctx),
        paths,
        exclude=exclude,
        tags=tags,
        policy=policy,
        jobs=jobs,
        json_=json_,
        upload=upload,
    )
    click.echo(str(summary), err=True)
    if summary.rejected:
        ctx.exit(ExitCode.REJECTED)


@cli.command()
@click.argument("references", nargs=-1)
@click.option("--tag", metavar="NAME", help="Only assets carrying this tag.")
@click.option(
    "--policy",
    type=click.Choice(["vision", "original"]),
    default="vision",
    show_default=True,
    help="Which renditions to upload.",
)
@click.option(
    "--jobs", type=click.IntRange(min=1), default=8, show_default=True, help="Parallel uploads."
)
@click.option(
    "--verify", is_flag=True, help="Look every upload up first; replace missing or expired ones."
)
@remote_options
@click.pass_context
def push(ctx, references, tag, policy, jobs, verify, workspace, workspace_id, expires_in) -> None:
    """Upload what the workspace lacks (all assets, or those named or tagged).

    \b
    Example:
      assetmgr add more/ --no-upload ; assetmgr push
      assetmgr push --workspace eu-team --expires-in 7d
    """
    from .cli_runs import run_push

    library = open_library(ctx)
    shas = library.find(references, tag=tag) if references or tag else None
    summary = run_push(
        library,
        shas,
        workspace=workspace,
        workspace_id=workspace_id,
        policy=policy,
        jobs=jobs,
        expires_in=expires_in,
        verify=verify,
    )
    if summary.count("failed"):
        ctx.exit(ExitCode.REMOTE)


@cli.command(name="ls")
@click.option("--tag", metavar="NAME", help="Only assets carrying this tag.")
@json_option("One JSON object per asset (JSON lines).")
@click.pass_context
def ls(ctx, tag, json_) -> None:
    """List catalogued assets.

    \b
    Example:
      assetmgr ls --tag product-shots --json | jq .sha256
    """
    records = open_library(ctx).assets(tag=tag)
    if json_:
        for record in records:
            echo_json(record)
    elif records:
        from .display import asset_table

        click.echo(asset_table(records))


@cli.command()
@click.argument("reference")
@json_option()
@click.pass_context
def show(ctx, reference, json_) -> None:
    """Show one asset: its renditions, uploads, sources and tags.

    REFERENCE is a sha256, a unique prefix of 6+ hex digits, sha256:<hex>, or a file path.

    \b
    Example:
      assetmgr show 3f7a9c0d12
    """
    record = open_library(ctx).show(reference)
    if json_:
        echo_json(record)
    else:
        from .display import asset_text

        click.echo(asset_text(record))


def with_stdin(references: tuple[str, ...], from_stdin: bool) -> tuple[str, ...]:
    """The references given, then (``--stdin``) one per non-blank line of stdin."""
    if not from_stdin:
        return references
    return (*references, *(line.strip() for line in sys.stdin if line.strip()))


def shared_library(ctx: click.Context):
    """The command's one ``Library``, opened on first use."""
    if "assetmgr.library" not in ctx.meta:
        ctx.meta["assetmgr.library"] = open_library(ctx)
    return ctx.meta["assetmgr.library"]


def pop_remote(options: dict) -> RemoteSpec:
    """The remote that --workspace and --workspace-id name (with the environment), built once
    and taken out of ``options``."""
    return RemoteSpec.from_env(options.pop("workspace"), options.pop("workspace_id"))


def lookup_images(ctx: click.Context, references, from_stdin, remote: RemoteSpec, **options):
    """The images named to ``block``, ``request`` or ``ask`` (``lookup.images`` finds them)."""
    from . import lookup

    return lookup.images(
        ctx.find_root().obj["db"],
        with_stdin(references, from_stdin),
        remote=remote,
        library=lambda: shared_library(ctx),
        **options,
    )


@cli.command()
@lookup_options
@click.pass_context
def block(ctx, references, from_stdin, label, **options) -> None:
    """Print the image content blocks of assets, as a JSON array, in the order given.

    REF is a sha256, a unique prefix of 6+ hex digits, sha256:<hex>, or a file path.

    \b
    Example:
      assetmgr block $(sha256sum cat.jpg | cut -c1-64)
      assetmgr block 3f7a9c 81be02 --label
    """
    from .blocks import content_blocks

    remote = pop_remote(options)
    images = lookup_images(ctx, references, from_stdin, remote, **options)
    click.echo(json.dumps(content_blocks(images, source=options["source"], label=label)))


@cli.command()
@lookup_options
@request_options
@click.option(
    "--bare", is_flag=True, help="Leave out the 'assetmgr' key (the hashes each body covers)."
)
@click.pass_context
def request(
    ctx, references, from_stdin, label, prompt, model, max_tokens, system, bare, **options
) -> None:
    """Print whole Messages request bodies (JSON lines), split to the API's limits.

    Each line is a body with an extra "assetmgr" key naming the assets it covers:
    strip it before sending (or use --bare).

    \b
    Example:
      assetmgr request --tag product-shots --prompt "Which of these show damage?"
    """
    from .blocks import report, requests

    remote = pop_remote(options)
    images = lookup_images(ctx, references, from_stdin, remote, **options)
    bodies = list(
        requests(
            images,
            prompt=prompt,
            model=model,
            max_tokens=max_tokens,
            system=system,
            source=options["source"],
            label=label,
        )
    )
    for index, body in enumerate(bodies):
        click.echo(json.dumps(dict(body) if bare else body.to_line(index)))
    click.echo(str(report(bodies)), err=True)


@cli.command()
@lookup_options
@request_options
@json_option("Print each whole response as JSON.")
@click.pass_context
def ask(
    ctx, references, from_stdin, label, prompt, model, max_tokens, system, json_, **options
) -> None:
    """Send the request(s) and print the answer; usage goes to stderr.

    \b
    Example:
      assetmgr ask 3f7a9c --prompt "Describe this image."
    """
    from .blocks import requests
    from .cli_runs import run_ask

    remote = pop_remote(options)
    images = lookup_images(ctx, references, from_stdin, remote, **options)
    bodies = requests(
        images,
        prompt=prompt,
        model=model,
        max_tokens=max_tokens,
        system=system,
        source=options["source"],
        label=label,
    )
    run_ask(shared_library(ctx), bodies, remote, json_)


@cli.command()
@click.argument("reference")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file."
)
@click.option(
    "--policy",
    type=click.Choice(["vision", "original"]),
    help="Which rendition.  [default: vision, if the asset has one]",
)
@click.pass_context
def cat(ctx, reference, output, policy) -> None:
    """Write the exact bytes that are (or will be) uploaded for an asset.

    \b
    Example:
      assetmgr cat 3f7a9c > what-claude-sees.jpg
    """
    if output is None and sys.stdout.isatty():
        raise UsageError(
            "refusing to write image bytes to a terminal; redirect stdout or use -o FILE"
        )
    _, data = open_library(ctx).rendition(reference, policy)
    with click.open_file(output or "-", "wb") as f:
        f.write(data)


@cli.command()
@click.option(
    "--price",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    help="Dollars per million input tokens.",
)
@json_option()
@click.pass_context
def stats(ctx, price, json_) -> None:
    """Totals: assets, bytes, tokens per policy, and what sending them costs.

    \b
    Example:
      assetmgr stats --price 3
    """
    result = open_library(ctx).stats(price)
    if json_:
        echo_json(result)
    else:
        from .display import stats_text

        click.echo(stats_text(result))


@cli.group()
def tag() -> None:
    """Put labels on assets, take them off, list them."""


@tag.command(name="add")
@click.argument("name")
@click.argument("references", nargs=-1, metavar="REF...")
@stdin_option
@click.pass_context
def tag_add(ctx, name, references, from_stdin) -> None:
    """Put the tag NAME on assets.

    REF is a sha256, a unique prefix of 6+ hex digits, sha256:<hex>, or a file path.
    A NAME of 6 or more hex digits is refused: it would read as a reference.

    \b
    Example:
      assetmgr tag add product-shots 3f7a9c0d12 81be02
      sha256sum shots/*.jpg | cut -c1-64 | assetmgr tag add product-shots --stdin
    """
    shas = open_library(ctx).tag(with_stdin(references, from_stdin), [name])
    click.echo(f"{name}: tagged {len(shas)} asset(s)", err=True)


@tag.command(name="rm")
@click.argument("name")
@click.argument("references", nargs=-1, metavar="REF...")
@stdin_option
@click.pass_context
def tag_rm(ctx, name, references, from_stdin) -> None:
    """Take the tag NAME off assets.

    \b
    Example:
      assetmgr tag rm product-shots 3f7a9c0d12
    """
    shas = open_library(ctx).untag(with_stdin(references, from_stdin), [name])
    click.echo(f"{name}: untagged {len(shas)} asset(s)", err=True)


@tag.command(name="ls")
@json_option()
@click.pass_context
def tag_ls(ctx, json_) -> None:
    """List tags with the number of assets carrying each."""
    for name, count in open_library(ctx).tags():
        click.echo(echo_tag(name, count, json_))


def echo_tag(name: str, count: int, json_: bool) -> str:
    import json

    return json.dumps({"tag": name, "assets": count}) if json_ else f"{count:>6}  {name}"


from .emulator.command import emulator_command  # noqa: E402  (imports only click)

cli.add_command(emulator_command)


def main() -> None:
    """Entry point of the ``assetmgr`` script."""
    cli(prog_name="assetmgr")


if __name__ == "__main__":
    sys.exit(main())
