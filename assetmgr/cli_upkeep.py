"""The commands that keep a catalogue true: ``whereis``, ``verify``, ``gc``, ``rm``, ``export``
and ``import``. Each parses, calls the library, renders; ``cli.py`` adds them to the group.

Plans (what verify found, what gc or rm would delete) are data: on stdout, as text or
``--json`` lines; counts and advice go to stderr. Nothing irreversible happens without
``--yes``.
"""

from __future__ import annotations

import click

from . import cli_talk
from .cli_options import json_option, stdin_option, workspace_options
from .errors import ExitCode, UsageError
from .pathnames import on_one_line, shown
from .remote import RemoteSpec


def _cli():
    from . import cli  # the group's helpers; imported late, as cli imports this module

    return cli


def echo_records(records, json_: bool, text_lines) -> None:
    from .records import to_json

    cli = _cli()
    cli.echo_lines(map(to_json, records) if json_ else text_lines)


@click.command()
@click.argument("reference")
@json_option("One JSON object per workspace.")
@click.pass_context
def whereis(ctx, reference, json_) -> None:
    """Show every workspace that holds an asset: file id, created, expiry.

    \b
    Example:
      assetmgr whereis 3f7a9c
    """
    from .display import placement_lines

    placements = _cli().open_library(ctx).whereis(reference)
    echo_records(placements, json_, placement_lines(placements))
    if not placements:
        cli_talk.info("not uploaded to any workspace this catalogue knows")


@click.command()
@click.option("--repair", is_flag=True, help="Fix what is found: upload again, adopt, forget.")
@click.option("--sources", is_flag=True, help="Also hash every source file again.")
@workspace_options
@json_option("One JSON object per finding, then a summary.")
@cli_talk.json_progress_option
@click.pass_context
def verify(ctx, repair, sources, workspace, workspace_id, json_) -> None:
    """Check every upload of the workspace against the API, and list what it holds.

    Uploads are present, missing or expired; files no upload names are orphans
    (hash-named) or foreign. Exit 0 when all is well, 9 when something needs repair, 10
    when --repair could not fix everything.

    \b
    Example:
      assetmgr verify
      assetmgr verify --repair --sources
    """
    from .display import verify_lines

    library = _cli().open_library(ctx)
    remote = RemoteSpec.from_env(workspace, workspace_id)
    plan = _checked(lambda progress: library.verify(remote=remote, sources=sources,
                                                    progress=progress))  # fmt: skip
    echo_records([*plan.findings, *plan.listed, _summary(plan)], json_, verify_lines(plan))
    if not plan.problems:
        return
    if not repair:
        cli_talk.info(f"{plan.problems} problems: `assetmgr verify --repair` fixes them")
        ctx.exit(ExitCode.PROBLEMS)
    report = _repaired(library, plan)
    for line in report.left:
        cli_talk.info(f"not repaired: {line}")
    cli_talk.info(str(report))
    if report.left:
        ctx.exit(ExitCode.UNREPAIRED)


def _repaired(library, plan):
    """``library.repair(plan)`` under a progress display of its uploads; with ``-v``, a line
    for each."""
    from .cli_progress import progress
    from .cli_runs import PushPrinter

    printer = PushPrinter()
    with progress("Repairing", printer.snapshot):
        return library.repair(plan, progress=printer)


def _checked(work):
    """Run ``work(progress)`` under a progress display of its ``verify.Checking``; with
    ``-v``, a line for each upload looked up."""
    from .cli_progress import Snapshot, progress
    from .verify import Checking

    def told(row, kind: str) -> None:
        cli_talk.detail(f"{kind:<8} sha256:{row.rendition_sha256[:12]} {row.file_id}")

    checking = Checking(on_upload=told)

    def snapshot() -> Snapshot:
        return Snapshot(checking.done, checking.total, 0, 0, checking.step)

    with progress("Verifying", snapshot):
        return work(checking)


def _summary(plan) -> dict:
    counts = {k: len(plan.of(k)) for k in ("missing", "expired", "orphan", "foreign")}
    return {"kind": "summary", "workspace": plan.workspace, "base_url": plan.base_url,
            "labels": plan.labels, "present": plan.present, **counts,
            "to_adopt": len(plan.to_adopt), "problems": plan.problems,
            "lookups": plan.lookups}  # fmt: skip


def _confirmation(dry_run: bool, yes: bool) -> bool:
    """Whether to act: only with --yes; --dry-run (the default) never."""
    if dry_run and yes:
        raise UsageError("--dry-run and --yes contradict each other: choose one")
    return yes


@click.command()
@click.option("--dry-run", is_flag=True, help="List what would be deleted (the default).")
@click.option("--yes", is_flag=True, help="Delete it.")
@click.option("all_", "--all", is_flag=True, help="Foreign files (not hash-named) too.")
@workspace_options
@json_option("One JSON object per file to delete.")
@click.pass_context
def gc(ctx, dry_run, yes, all_, workspace, workspace_id, json_) -> None:
    """Delete the workspace's files the catalogue does not need.

    Only hash-named files no upload needs (extra copies, expired files, other
    catalogues' renditions), and with --all foreign files too; never an orphan verify
    would adopt, nor a file made in the last 15 minutes. Nothing is deleted without --yes.

    \b
    Example:
      assetmgr gc --dry-run ; assetmgr gc --yes
    """
    from .display import gc_lines
    from .limits import human_bytes

    act = _confirmation(dry_run, yes)
    library = _cli().open_library(ctx)
    plan = library.gc_plan(remote=RemoteSpec.from_env(workspace, workspace_id), everything=all_)
    echo_records(plan.delete, json_, gc_lines(plan))
    size = human_bytes(plan.size_bytes)
    kept = f"; {len(plan.kept)} files kept" if plan.kept else ""
    if not act:
        cli_talk.info(f"dry run: {len(plan.delete)} files ({size}) would be deleted{kept}; "
                      "pass --yes to delete them")  # fmt: skip
        return
    deleted = library.gc(plan)
    cli_talk.info(f"deleted {deleted} files ({size}){kept}")


@click.command()
@click.argument("references", nargs=-1, metavar="REF...")
@stdin_option
@click.option("--remote-only", is_flag=True, help="Delete the uploads; keep the catalogue entry.")
@click.option("--keep-remote", is_flag=True, help="Forget the asset; leave its uploads.")
@click.option("--dry-run", is_flag=True, help="Show what would be done (the default).")
@click.option("--yes", is_flag=True, help="Do it.")
@workspace_options
@json_option("The plan as one JSON object.")
@click.pass_context
def rm(ctx, references, from_stdin, remote_only, keep_remote, dry_run, yes, workspace,
       workspace_id, json_) -> None:  # fmt: skip
    """Forget assets (and renditions no other asset has) and delete their uploads.

    \b
    Example:
      assetmgr rm 3f7a9c --yes
      assetmgr rm 3f7a9c --remote-only --yes
    """
    from .display import rm_lines

    cli = _cli()
    act = _confirmation(dry_run, yes)
    library = cli.open_library(ctx)
    plan = library.rm_plan(cli.with_stdin(references, from_stdin),
                           remote=RemoteSpec.from_env(workspace, workspace_id),
                           remote_only=remote_only, keep_remote=keep_remote)  # fmt: skip
    echo_records([plan], json_, rm_lines(plan))
    if not act:
        cli_talk.info("dry run: nothing was changed; pass --yes to do it")
        return
    library.rm(plan)
    done = f"deleted {len(plan.delete)} uploads"
    if plan.forget:
        done += f", forgot {len(plan.assets)} assets and {len(plan.renditions)} renditions"
    cli_talk.info(done)


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option("--with-paths", is_flag=True, help="Include source paths (left out by default).")
@json_option('With -o: what was written, as one JSON object: {"output", "lines", "with_paths"}.')
@click.pass_context
def export(ctx, output, with_paths, json_) -> None:
    """Write the catalogue as JSON Lines (format version 1; see the README).

    \b
    Example:
      assetmgr export > library.jsonl
      assetmgr export -o library.jsonl --json
    """
    if json_ and output is None:
        raise UsageError("--json reports what -o wrote; without -o the export is JSON already")
    lines = _cli().open_library(ctx).export(with_paths=with_paths)
    if output is None:
        _cli().echo_lines(lines)
        return
    text = [line + "\n" for line in lines]
    _cli().write_output(output, "".join(text).encode())
    if json_:
        _cli().echo_json({"output": output, "lines": len(text), "with_paths": with_paths})
    cli_talk.info(f"exported {len(text)} lines to {on_one_line(output)}")


@click.command(name="import")
@click.argument("file", type=click.File("rb"))  # decoded line by line, to name a bad one
@json_option("What was imported, as one JSON object: counts, conflicts, labels taken.")
@click.pass_context
def import_(ctx, file, json_) -> None:
    """Merge an export into this catalogue, by hash (again: nothing changes).

    FILE is what `assetmgr export` wrote, or - for stdin.

    \b
    Example:
      assetmgr import library.jsonl
    """
    report = _cli().open_library(ctx).import_lines(file, name=shown(file.name))
    if json_:
        _cli().echo_json(report)
    for c in report.conflicts:
        cli_talk.info(f"conflict in {c.workspace}: rendition sha256:{c.rendition_sha256[:12]} "
                      f"keeps {c.kept}, {c.other}: {c.outcome}")  # fmt: skip
    for name in report.labels_taken:
        cli_talk.info(f"label {name!r} names another workspace here: not moved")
    cli_talk.info(str(report))


COMMANDS = [whereis, verify, gc, rm, export, import_]
