"""The ``assetmgr`` command: parse options, call the library, render. No logic here.

Library errors become exit codes in one place, ``AssetmgrGroup.invoke``.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

import click

from . import cli_talk
from .cli_options import (
    SIZE,
    WHEN,
    checked_tags,
    json_option,
    limit_options,
    lookup_options,
    policy_option,
    remote_options,
    request_options,
    reuse_options,
    stdin_option,
    take_limits,
    take_reuse,
)
from .errors import AssetmgrError, ExitCode, UsageError, local_error
from .records import ASSET_FIELDS, ASSET_SORTS, CSV_FIELDS
from .remote import RemoteSpec


def exit_codes_epilog() -> str:
    """The exit-code table of ``assetmgr --help``, from ``ExitCode``."""
    rows = [f"  {code.value:<4} {code.meaning}" for code in ExitCode]
    return "\n".join(["\b", "Exit codes:", *rows])


COMMAND_LINE = "assetmgr.command_line"


class AssetmgrGroup(click.Group):
    """Turns every expected failure into one line on stderr and its exit code: an
    ``AssetmgrError``, an ``OSError`` from the local machine (a full or read-only disk, a busy
    port), Ctrl-C, and a reader of stdout that went away (quietly); a usage error of a command
    given ``--json-progress`` becomes its JSON ``message`` event."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[COMMAND_LINE] = list(args)  # as given, for the errors of options unparsed
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            from .config import check_environment

            check_environment()
            with model_warnings():
                return super().invoke(ctx)
        except click.UsageError as e:
            if not cli_talk.asks_json_progress(ctx.meta.get(COMMAND_LINE, [])):
                raise  # click shows it, with the usage line
            cli_talk.json_progress_usage_error(e.format_message(), e.ctx or ctx)
            ctx.exit(e.exit_code)
        except AssetmgrError as e:
            fail(ctx, str(e), e.exit_code)
        except BrokenPipeError:
            stop_writing_stdout()
            ctx.exit(ExitCode.PIPE_CLOSED)
        except OSError as e:
            subject = None if stdout_flushed() else "cannot write to stdout"
            fail(ctx, str(local_error(e, subject)), ExitCode.LOCAL)
        except KeyboardInterrupt:
            cli_talk.error("Interrupted.", prefix="")
            ctx.exit(ExitCode.INTERRUPTED)


@contextmanager
def model_warnings():
    """The library's ``ModelWarning``s (an unknown or deprecated model, parameters left out)
    as ``warning: ...`` lines on stderr, each message once per command."""
    import warnings

    from .modelspec import ModelWarning

    seen: set[str] = set()
    python_way = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, ModelWarning):
            return python_way(message, category, filename, lineno, file, line)
        if str(message) not in seen:
            seen.add(str(message))
            cli_talk.warning(str(message))

    with warnings.catch_warnings():
        warnings.simplefilter("always", ModelWarning)
        warnings.showwarning = show
        yield


def fail(ctx: click.Context, message: str, code: int) -> None:
    cli_talk.error(message)
    ctx.exit(code)


def stdout_flushed() -> bool:
    """Flush stdout; if that fails too, drop what is left for it and say so."""
    try:
        sys.stdout.flush()
        return True
    except OSError:
        stop_writing_stdout()
        return False


def stop_writing_stdout() -> None:
    """Point stdout at /dev/null, so that what is buffered for a closed pipe or a full disk is
    not written again at exit (Python would print "Exception ignored ...")."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):
        return  # not a real file (as under click's test runner): nothing is flushed at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


@click.group(cls=AssetmgrGroup, epilog=exit_codes_epilog())
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
    try:
        ctx.default_map = default_map(cli)
    except UsageError:
        if ctx.invoked_subcommand not in ("config", "doctor"):  # they mend or report it
            raise


def open_library(ctx: click.Context):
    from .library import Library

    library = Library.open(ctx.find_root().obj["db"])
    ctx.call_on_close(library.close)
    return library


def echo_json(record) -> None:
    from .records import to_json

    click.echo(to_json(record))


def echo_lines(lines, size: int = 1 << 16, header: int = 0) -> int:
    """Print lines in writes of about ``size`` characters (a pipe's capacity): a write and
    flush per line costs more than making a line of JSON, and a reader sees no difference
    but fewer, fuller reads. How many lines were printed, the first ``header`` not counted."""
    chunk: list[str] = []
    held = printed = 0
    for line in lines:
        chunk.append(line)
        printed += 1
        held += len(line) + 1
        if held >= size:
            click.echo("\n".join(chunk))
            chunk.clear()
            held = 0
    if chunk:
        click.echo("\n".join(chunk))
    return max(0, printed - header)


def echo_json_array(items, size: int = 1 << 16) -> None:
    """Print ``json.dumps(list(items))``, the same bytes, about ``size`` characters at a time,
    without holding the list or the whole text."""
    pieces, held = ["["], 1
    for index, item in enumerate(items):
        text = json.dumps(item) if index == 0 else ", " + json.dumps(item)
        pieces.append(text)
        held += len(text)
        if held >= size:
            click.echo("".join(pieces), nl=False)
            pieces.clear()
            held = 0
    pieces.append("]")
    click.echo("".join(pieces))


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
@policy_option(
    "vision: oriented, stripped, downscaled to what standard-tier models read (1568 px, 1568 "
    "tokens); vision-hd: the same for the high tier (2576 px, 4784 tokens); original: bytes "
    "as they are (JPEG, PNG, GIF, WebP only).",
    default="vision",
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
@click.option(
    "--list-rejected",
    is_flag=True,
    help="List known rejections (unchanged files rejected before) again, and count them.",
)
@limit_options
@reuse_options
@remote_options
@json_option("One JSON object per input file on stdout.")
@cli_talk.json_progress_option
@click.pass_context
def add(ctx, paths, no_upload, upload_jobs, workspace, workspace_id, expires_in, **options):
    """Catalogue image files and folders, deduplicated by content, and upload what is new.

    \b
    Example:
      assetmgr add ~/photos                     # catalogue and upload what the workspace lacks
      assetmgr add ~/photos --no-upload --exclude '*.tmp'
      assetmgr add exports/ --reuse-near        # near-duplicates reuse their best copy's upload
    """
    from .cli_runs import add_settled, run_add
    from .limits import expiry_seconds

    upload = None
    if not no_upload:
        from .remote import require_credentials

        require_credentials()
        upload = dict(remote=RemoteSpec.from_env(workspace, workspace_id), jobs=upload_jobs,
                      expires_in=expiry_seconds(expires_in))  # fmt: skip
    options = take_limits(options)
    reuse = take_reuse(options)
    report = add_settled(ctx.find_root().obj["db"], paths, upload=upload, **options)
    if report is None:  # files to read, or uploads to make: the library does the work
        report = run_add(open_library(ctx), paths, upload=upload, reuse=reuse, **options)
    cli_talk.info(str(report.summary))
    if report.push is not None:
        cli_talk.info(f"uploads: {report.push}")
    if report.upload_failed:
        ctx.exit(ExitCode.REMOTE)
    if report.rejected:
        ctx.exit(ExitCode.REJECTED)


@cli.command()
@click.argument("references", nargs=-1)
@click.option("--tag", metavar="NAME", help="Only assets carrying this tag.")
@policy_option("Which renditions to upload.", default="vision")
@click.option(
    "--jobs", type=click.IntRange(min=1), default=8, show_default=True, help="Parallel uploads."
)
@click.option(
    "--verify", is_flag=True, help="Look every upload up first; replace missing or expired ones."
)
@reuse_options
@remote_options
@json_option("The summary as one JSON object: counts, and each rendition's outcome.")
@cli_talk.json_progress_option
@click.pass_context
def push(ctx, references, tag, policy, jobs, verify, workspace, workspace_id, expires_in, json_,
         **options) -> None:  # fmt: skip
    """Upload what the workspace lacks (all assets, or those named or tagged).

    \b
    Example:
      assetmgr add more/ --no-upload ; assetmgr push
      assetmgr push --workspace eu-team --expires-in 7d
      assetmgr push --tag exports --reuse-near  # near-duplicates reuse their best copy's upload
      assetmgr push --json | jq .failed
    """
    from .cli_runs import reuse_near, run_push

    reuse = take_reuse(options)
    library = open_library(ctx)
    shas = library.find(references, tag=tag) if references or tag else None
    if reuse is not None:
        reuse_near(library, library.find() if shas is None else shas, reuse)
    remote = RemoteSpec.from_env(workspace, workspace_id)
    summary = run_push(
        library, shas, remote=remote, policy=policy, jobs=jobs, expires_in=expires_in, verify=verify
    )
    if json_:
        echo_json(summary.record())
    if summary.count("failed"):
        ctx.exit(ExitCode.REMOTE)


@cli.command(name="ls")
@click.option("--tag", metavar="NAME", help="Only assets carrying this tag.")
@policy_option("Only assets with a rendition under this policy.")
@click.option(
    "--type",
    "formats",
    multiple=True,
    metavar="FORMAT",
    help="Only sources of this format: JPEG, PNG, GIF, WEBP, HEIF... (repeatable).",
)
@click.option(
    "--min-bytes", type=SIZE, metavar="SIZE", help="Only sources of this size or more (e.g. 2M)."
)
@click.option("--max-bytes", type=SIZE, metavar="SIZE", help="Only sources of this size or less.")
@click.option(
    "--since",
    type=WHEN,
    metavar="WHEN",
    help="Only assets catalogued since: 2026-11-01, 2026-11-01T09:00, or 7d (ago).",
)
@click.option("--until", type=WHEN, metavar="WHEN", help="Only assets catalogued before.")
@click.option(
    "--sort", type=click.Choice(ASSET_SORTS), default="added", show_default=True, help="Order by."
)
@click.option("--reverse", is_flag=True, help="Largest, latest or last first.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N assets.")
@json_option("One JSON object per asset, with its renditions, uploads and sources (JSON lines).")
@click.option("csv_", "--csv", is_flag=True, help="CSV: " + ", ".join(CSV_FIELDS) + ".")
@click.option(
    "--format",
    "template",
    metavar="TEMPLATE",
    help="A line per asset from a Python format string over the fields "
    + ", ".join(ASSET_FIELDS)
    + ", e.g. '{sha256:.12} {width}x{height} {path}'.",
)
@click.pass_context
def ls(ctx, json_, csv_, template, **wanted) -> None:
    """List catalogued assets, as a table, JSON lines, CSV or a line format of your own.

    Every form reads the catalogue 500 assets at a time, filtered and sorted by the database,
    so memory stays flat however many there are; the table reads twice (for the width of its
    columns, then for its lines). An empty result prints "no assets" on stderr.

    \b
    Examples:
      assetmgr ls --tag shots --sort bytes --reverse --limit 20 --csv
      assetmgr ls --type jpeg --since 7d --format '{sha256:.12} {width}x{height} {path}'
      assetmgr ls --tag product-shots --json | jq .sha256
    """
    from .display import asset_csv, asset_fields, asset_table, check_asset_format
    from .records import AssetQuery

    if sum((json_, csv_, template is not None)) > 1:
        raise UsageError("choose one of --json, --csv and --format")
    if template is not None:
        check_asset_format(template)
    query = AssetQuery(**{**wanted, "formats": tuple(wanted["formats"])})
    library = open_library(ctx)
    if json_:
        from .records import to_json

        lines = map(to_json, library.assets(query=query))
    elif csv_:
        lines = asset_csv(library.asset_rows(query=query))
    elif template is not None:
        lines = (template.format_map(asset_fields(r)) for r in library.asset_rows(query=query))
    else:
        lines = asset_table(lambda: library.asset_rows(query=query))
    if not echo_lines(lines, header=1 if csv_ else 0):
        cli_talk.info("no assets" + (" match" if query != AssetQuery() else ""))


@cli.command()
@click.argument("reference")
@click.option(
    "--model",
    envvar="ASSETMGR_MODEL",
    help="What this model reads and costs.  [env: ASSETMGR_MODEL; default: every model "
    "assetmgr knows that is not retired]",
)
@json_option()
@click.pass_context
def show(ctx, reference, model, json_) -> None:
    """Show one asset: its renditions (tokens at each tier), uploads, sources and tags, and
    what each model would read of it and cost.

    REFERENCE is a sha256, a unique prefix of 6+ hex digits, sha256:<hex>, a file id
    (file_...), or a file path.

    \b
    Example:
      assetmgr show 3f7a9c0d12
      assetmgr show 3f7a9c0d12 --model claude-haiku-5-5
    """
    library = open_library(ctx)
    record = library.show(reference)
    readings = library.readings(record, model)
    if json_:
        from .records import to_json

        click.echo(to_json(record, models=readings))
    else:
        from .display import asset_text, reading_lines

        click.echo(asset_text(record))
        echo_lines(reading_lines(readings))


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


def lookup_images(ctx: click.Context, references, from_stdin, **options):
    """The images named to ``block``, ``request`` or ``ask`` (``lookup.images`` finds them)."""
    from . import lookup

    return lookup.images(
        ctx.find_root().obj["db"],
        with_stdin(references, from_stdin),
        library=lambda: shared_library(ctx),
        **options,
    )


@cli.command()
@lookup_options
@click.pass_context
def block(ctx, references, from_stdin, label, **options) -> None:
    """Print the image content blocks of assets, as a JSON array, in the order given.

    REF is a sha256, a unique prefix of 6+ hex digits, sha256:<hex>, a file id (file_...),
    or a file path.

    \b
    Example:
      assetmgr block $(sha256sum cat.jpg | cut -c1-64)
      assetmgr block 3f7a9c 81be02 --label
    """
    from .blocks import each_content_block

    spec = model_spec(ctx, options.pop("model"))
    remote = pop_remote(options)
    images = lookup_images(ctx, references, from_stdin, remote=remote, model=spec, **options)
    echo_json_array(each_content_block(images, source=options["source"], label=label))


def model_spec(ctx: click.Context, model: str, per_request: int | None = None):
    """The ``ModelSpec`` of ``--model`` (a retired model, or a ``--per-request`` over its
    limit, is refused here, before anything is uploaded)."""
    from . import lookup
    from .blocks import images_per_request

    spec = lookup.model_spec(ctx.find_root().obj["db"], model, library=lambda: shared_library(ctx))
    images_per_request(spec, per_request)
    return spec


def request_bodies(ctx, references, from_stdin, label, prompt, model, max_tokens, system,
                   per_request, **options) -> tuple[list, RemoteSpec]:  # fmt: skip
    """The request bodies of ``request`` and ``ask``, and the remote their images are in."""
    from .blocks import requests

    spec = model_spec(ctx, model, per_request)
    remote = options["remote"] = pop_remote(options)
    images = lookup_images(ctx, references, from_stdin, model=spec, **options)
    return list(requests(images, prompt=prompt, model=spec, max_tokens=max_tokens,
                         system=system, source=options["source"], label=label,
                         per_request=per_request)), remote  # fmt: skip


@cli.command()
@lookup_options
@request_options
@click.option(
    "--bare", is_flag=True, help="Leave out the 'assetmgr' key (the hashes each body covers)."
)
@click.pass_context
def request(ctx, bare, **options) -> None:
    """Print whole Messages request bodies (JSON lines), split to the limits of the API and the
    model; on stderr, each request's images and estimated input tokens.

    Each line is a body with an extra "assetmgr" key naming the assets it covers:
    strip it before sending (or use --bare).

    \b
    Example:
      assetmgr request --tag product-shots --prompt "Which of these show damage?"
      assetmgr request --tag docs --model claude-haiku-5-5 --per-request 10 --prompt "..."
    """
    from .blocks import report, summary

    bodies, _ = request_bodies(ctx, **options)
    for index, body in enumerate(bodies):
        click.echo(json.dumps(dict(body) if bare else body.to_line(index)))
    for index, body in enumerate(bodies):
        cli_talk.info(summary(body, index, len(bodies)))
    cli_talk.info(str(report(bodies)))


@cli.command()
@lookup_options
@request_options
@json_option("Print each whole response as JSON.")
@click.pass_context
def ask(ctx, json_, **options) -> None:
    """Send the request(s) and print the answer; each request's estimate and usage go to
    stderr.

    \b
    Example:
      assetmgr ask 3f7a9c --prompt "Describe this image."
    """
    from .cli_runs import run_ask

    bodies, remote = request_bodies(ctx, **options)
    run_ask(shared_library(ctx), bodies, remote, json_)


@cli.command()
@click.argument("reference")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file."
)
@policy_option("Which rendition.  [default: vision, else original: what any model reads]")
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
    write_output(output, data)


def write_output(output: str | None, data: bytes) -> None:
    """Write ``data`` to stdout, or to the file ``output``: whole or not at all (a temporary
    file renamed over it), so that a full disk never leaves half a file or loses the old one."""
    import os

    try:
        if output is None:
            with click.open_file("-", "wb") as stdout:
                stdout.write(data)
                stdout.flush()
        elif os.path.isfile(output) or not os.path.exists(output):
            replace_file(output, data)
        else:  # a device or a pipe: nothing to keep whole
            with open(output, "wb") as f:
                f.write(data)
    except BrokenPipeError:
        raise
    except OSError as e:
        if output is None:
            stop_writing_stdout()
        raise local_error(e, f"cannot write {output or 'to stdout'}") from e


def replace_file(path: str, data: bytes) -> None:
    import os
    import tempfile

    mask = os.umask(0)
    os.umask(mask)
    mode = os.stat(path).st_mode & 0o7777 if os.path.exists(path) else 0o666 & ~mask
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


@cli.command()
@click.option(
    "--model",
    envvar="ASSETMGR_MODEL",
    help="Tokens at this model's tier, dollars at its list price.  [env: ASSETMGR_MODEL; "
    "default: the standard tier, $3/Mtok]",
)
@click.option(
    "--price",
    type=click.FloatRange(min=0),
    help="Dollars per million input tokens.  [default: the model's list price, else 3]",
)
@json_option()
@click.pass_context
def stats(ctx, model, price, json_) -> None:
    """Totals: assets, bytes, tokens per policy as a model reads them, and what sending them
    costs.

    \b
    Example:
      assetmgr stats
      assetmgr stats --model claude-haiku-5-5
      assetmgr stats --model claude-opus-4-7 --price 5
    """
    result = open_library(ctx).stats(price, model)
    if json_:
        echo_json(result)
    else:
        from .display import stats_text

        click.echo(stats_text(result))


@cli.group()
def tag() -> None:
    """Put labels on assets, take them off, list them.

    \b
    Examples:
      assetmgr tag add shots 3f7a9c 81be02
      assetmgr ls --json | jq -r .sha256 | assetmgr tag add all --stdin
      assetmgr tag ls
    """


@tag.command(name="add")
@click.argument("name")
@click.argument("references", nargs=-1, metavar="REF...")
@stdin_option
@json_option('One JSON object: {"tag": NAME, "tagged": [sha256...]}.')
@click.pass_context
def tag_add(ctx, name, references, from_stdin, json_) -> None:
    """Put the tag NAME on assets.

    REF is a sha256, a unique prefix of 6+ hex digits, sha256:<hex>, a file id (file_...),
    or a file path.
    A NAME of 6 or more hex digits is refused: it would read as a reference.

    \b
    Example:
      assetmgr tag add product-shots 3f7a9c0d12 81be02
      sha256sum shots/*.jpg | cut -c1-64 | assetmgr tag add product-shots --stdin
    """
    shas = open_library(ctx).tag(with_stdin(references, from_stdin), [name])
    if json_:
        echo_json({"tag": name, "tagged": shas})
    cli_talk.info(f"{name}: tagged {len(shas)} asset(s)")


@tag.command(name="rm")
@click.argument("name")
@click.argument("references", nargs=-1, metavar="REF...")
@stdin_option
@json_option('One JSON object: {"tag": NAME, "untagged": [sha256...]}.')
@click.pass_context
def tag_rm(ctx, name, references, from_stdin, json_) -> None:
    """Take the tag NAME off assets.

    \b
    Example:
      assetmgr tag rm product-shots 3f7a9c0d12
    """
    shas = open_library(ctx).untag(with_stdin(references, from_stdin), [name])
    if json_:
        echo_json({"tag": name, "untagged": shas})
    cli_talk.info(f"{name}: untagged {len(shas)} asset(s)")


@tag.command(name="ls")
@json_option()
@click.pass_context
def tag_ls(ctx, json_) -> None:
    """List tags with the number of assets carrying each.

    \b
    Example:
      assetmgr tag ls --json
    """
    for name, count in open_library(ctx).tags():
        click.echo(echo_tag(name, count, json_))


def echo_tag(name: str, count: int, json_: bool) -> str:
    import json

    return json.dumps({"tag": name, "assets": count}) if json_ else f"{count:>6}  {name}"


from .cli_analysis import COMMANDS as RUN_COMMANDS  # noqa: E402  (imports only click)
from .cli_completion import completion  # noqa: E402  (imports only click)
from .cli_config import config, default_map  # noqa: E402  (imports only click)
from .cli_doctor import doctor  # noqa: E402  (imports only click)
from .cli_dupes import dupes  # noqa: E402  (imports only click)
from .cli_models import models  # noqa: E402  (imports only click)
from .cli_serve import serve  # noqa: E402  (imports only click)
from .cli_upkeep import COMMANDS  # noqa: E402  (imports only click)
from .emulator.command import emulator_command  # noqa: E402  (imports only click)

for command in [*COMMANDS, *RUN_COMMANDS, models, dupes, serve, config, doctor, completion]:
    cli.add_command(command)
cli.add_command(emulator_command)
cli_talk.add_verbosity_options(cli, skip=frozenset({"emulator"}))


def main() -> None:
    """Entry point of the ``assetmgr`` script."""
    try:
        cli(prog_name="assetmgr")
    except OSError as e:  # writing --help or --version, before any command runs
        stop_writing_stdout()
        cli_talk.error(str(local_error(e, "cannot write to stdout")))
        sys.exit(ExitCode.LOCAL)
    finally:
        flush_stdout()


def flush_stdout() -> None:
    """Flush what is left for stdout now, not at interpreter exit, where a closed pipe or a
    full disk would print "Exception ignored ..." and leave the exit code at 0 or 120."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stop_writing_stdout()
        sys.exit(ExitCode.PIPE_CLOSED)
    except OSError as e:
        stop_writing_stdout()
        cli_talk.error(str(local_error(e, "cannot write to stdout")))
        sys.exit(ExitCode.LOCAL)


if __name__ == "__main__":
    sys.exit(main())
