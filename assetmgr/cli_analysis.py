"""``assetmgr run``, ``runs`` and ``answers``: re-analysis runs whose answers the catalogue
keeps. Parses, calls the library (``Library.run``, ``runs``, ``answers``), renders; ``cli.py``
adds them to the group.
"""

from __future__ import annotations

import click

from . import cli_talk
from .cli_options import (
    WORKSPACE,
    json_option,
    model_option,
    near_distance_option,
    policy_option,
    stdin_option,
)

RUN_OPTIONS = [
    click.argument("references", nargs=-1, metavar="[REF]..."),
    click.option("--tag", metavar="NAME", help="All assets carrying this tag."),
    stdin_option,
    click.option("--prompt", help="The question asked of every request."),
    click.option("--prompt-file", type=click.File("r"), help="The question, from a file."),
    click.option("--system", help="A system prompt."),
    click.option("--system-file", type=click.File("r"), help="The system prompt, from a file."),
    model_option("The model: its tier picks each asset's rendition, its prices the cost."),
    click.option("--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True),
    click.option(
        "--per-request",
        type=click.IntRange(min=1),
        metavar="N",
        help="At most N images per request (1: one request per image).  "
        "[default: the model's limit]",
    ),  # fmt: skip
    click.option("--label", is_flag=True, help="An 'Image N:' text block before each image."),
    policy_option("Which rendition.  [default: the model's tier's]"),
    click.option(
        "--jobs",
        type=click.IntRange(1, 64),
        metavar="N",
        help="Requests in flight at once, without --batch.  [default: 16]",
    ),  # fmt: skip
    click.option(
        "--batch", is_flag=True, help="Send as Message Batches: half price, answered within 24 h."
    ),  # fmt: skip
    click.option("--dry-run", is_flag=True, help="Print the plan and its cost; send nothing."),
    click.option(
        "--max-cost",
        type=click.FloatRange(min=0),
        metavar="DOLLARS",
        help="Refuse to start when the estimated input cost is over this.",
    ),  # fmt: skip
    click.option(
        "--cache",
        type=click.Choice(["5m", "1h"]),
        help="Mark the shared prefix (system prompt, instruction) for prompt caching.",
    ),  # fmt: skip
    click.option(
        "--retry-errors", is_flag=True, help="Send requests that fail once more before stopping."
    ),  # fmt: skip
    click.option(
        "--skip-near",
        is_flag=True,
        help="Ask only about the best copy of each group of near-duplicates; the others get "
        "its answer, marked as a copy.",
    ),  # fmt: skip
    near_distance_option("--near-distance", "With --skip-near"),
    json_option("Print the plan (--dry-run) or every answer of the run as JSON Lines."),
    cli_talk.json_progress_option,
    *WORKSPACE,
]


def run_options(function):
    for option in reversed(RUN_OPTIONS):
        function = option(function)
    return function


def text_of(text: str | None, handle, name: str) -> str | None:
    if text is not None and handle is not None:
        raise click.UsageError(f"give --{name} or --{name}-file, not both")
    if handle is None:
        return text
    try:
        return handle.read()
    except UnicodeDecodeError as e:
        raise click.UsageError(
            f"--{name}-file {click.format_filename(handle.name)}: not UTF-8 text (byte {e.start}); "
            "save it as UTF-8"
        ) from None


@click.command(name="run")
@run_options
@click.pass_context
def run_command(ctx, references, tag, from_stdin, prompt, prompt_file, system, system_file,
                workspace, workspace_id, dry_run, json_, **options) -> None:  # fmt: skip
    """Ask a prompt of many assets and keep every answer in the catalogue.

    Requests already answered (the same prompt, system prompt, model, options and images) are
    not sent again: run it again after an interruption, and it goes on where it stopped.
    Requests that errored or expired are sent again; refusals are reported, not retried.

    \b
    Example:
      assetmgr run --tag product-shots --prompt-file damage.md --model claude-haiku-5-5 --dry-run
      assetmgr run --tag product-shots --prompt-file damage.md --batch
      assetmgr run --tag docs --prompt "Transcribe." --per-request 1 --max-cost 5 --cache 1h
      assetmgr run --tag shots --prompt "What is it?" --skip-near --dry-run
    """

    from . import cli, lookup
    from .errors import Unfinished
    from .remote import RemoteSpec

    prompt = text_of(prompt, prompt_file, "prompt")
    if prompt is None:
        raise click.UsageError("give the question: --prompt TEXT or --prompt-file PATH")
    system = text_of(system, system_file, "system")
    named = cli.with_stdin(references, from_stdin)
    lookup.require_named(named, tag)
    remote = RemoteSpec.from_env(workspace, workspace_id)
    if dry_run and not options["batch"] and not options["skip_near"]:
        plan = fast_dry_plan(ctx, named, tag, prompt, system, remote, options)
        if plan is not None:
            return print_plan(plan, json_)
    library = cli.shared_library(ctx)
    shas = library.find(named, tag=tag)
    printer = RunPrinter()
    outcome = printer.around(lambda: library.run(
        shas, prompt=prompt, system=system, dry_run=dry_run, remote=remote,
        progress=printer.progress, **options))  # fmt: skip
    if dry_run:
        return print_plan(outcome.plan, json_)
    if outcome.id is None:
        cli_talk.info("nothing to ask: no assets")
        return
    if json_:
        cli.echo_lines(_json_lines(outcome.answers()))
    counts = outcome.counts()
    cli_talk.info(summary_line(outcome.id, counts, outcome.sent, outcome.batches))
    for problem in _problems(outcome.answers()):
        cli_talk.info(problem)
    unfinished = sum(n for state, n in counts.items() if state not in ("answered", "refused"))
    if unfinished:
        raise Unfinished(f"run {outcome.id}: {unfinished} request(s) not answered yet; "
                         "run the same command again to go on")  # fmt: skip


def fast_dry_plan(ctx, references, tag, prompt, system, remote, options):
    """The plan of a dry run through ``lookup.dry_plan`` (no SQLAlchemy); None when it cannot
    answer (an upload missing, another database...): then ``Library.run`` plans it."""
    from . import cli, lookup
    from .runplan import Ask

    db = ctx.find_root().obj["db"]
    spec = lookup.model_spec(db, options["model"], library=lambda: cli.shared_library(ctx))
    ask = Ask(prompt, spec, options["max_tokens"], system, options["per_request"],
              options["label"], options["cache"])  # fmt: skip
    return lookup.dry_plan(db, references, tag=tag, ask=ask, policy=options["policy"],
                           remote=remote)  # fmt: skip


def print_plan(plan, json_: bool) -> None:
    """A dry run's plan: its JSON record on stdout with ``--json``, its lines on stderr."""
    import json

    if json_:
        click.echo(json.dumps(plan_record(plan)))
    for line in plan.lines():
        cli_talk.info(line)


def _json_lines(rows):
    import json

    for row in rows:
        yield json.dumps(row)


def plan_record(plan) -> dict:
    due = plan.due
    tokens = plan.tokens(due)
    return {"key": plan.key, "model": plan.ask.model.id, "requests": len(plan.requests),
            "images": plan.images, "answered": len(plan.answered), "to_send": len(due),
            "input_tokens": sum(r.tokens for r in due), "cache_write_tokens": tokens.cache_write,
            "cache_read_tokens": tokens.cache_read, "batch": plan.batch,
            "estimated_cost": plan.cost(due), "max_output_cost": plan.max_output_cost(due),
            "files_to_upload": plan.to_upload, "near_duplicates": len(plan.copies)}  # fmt: skip


def summary_line(run_id, counts: dict[str, int], sent: int, batches) -> str:
    total = sum(counts.values())
    parts = [f"{counts.get(s, 0):,} {s}" for s in
             ("answered", "refused", "errored", "expired", "canceled", "submitted", "pending")
             if counts.get(s)]  # fmt: skip
    via = f" in {len(batches)} batch(es)" if batches else ""
    return (f"run {run_id}: {total:,} requests: {', '.join(parts) or 'none'}; "
            f"{sent:,} answered now{via} (assetmgr answers --run {run_id})")  # fmt: skip


def _problems(rows):
    for row in rows:
        if row["copy_of"] is not None:
            continue  # its request's problem, told once
        if row["state"] == "refused":
            yield f"refused: request {row['request']} ({_assets(row)})"
        elif row["state"] in ("errored", "expired", "canceled"):
            yield f"{row['state']}: request {row['request']} ({_assets(row)}): {row['error']}"
        elif row["truncated"]:
            yield f"cut short at --max-tokens: request {row['request']} ({_assets(row)})"


def _assets(row) -> str:
    shown = ", ".join(a[:12] for a in row["assets"][:3])
    return shown + (f" and {len(row['assets']) - 3} more" if len(row["assets"]) > 3 else "")


class RunPrinter:
    """The run's progress on stderr (requests answered of those due), talk above it, and
    with ``-v`` a line for each request as its result is recorded."""

    def __init__(self):
        from .runs import Progress

        self.progress = Progress(on_finished=self.finished)

    def around(self, work):
        from .cli_progress import Snapshot, progress

        def snapshot():
            p = self.progress
            return Snapshot(p.done, p.total, 0, 0, p.note)

        with progress("Asking", snapshot):
            return work()

    @staticmethod
    def finished(result) -> None:
        tokens = f" ({result.input_tokens:,} in, {result.output_tokens:,} out)" \
            if result.input_tokens is not None else ""  # fmt: skip
        error = f": {result.error}" if result.error else ""
        cli_talk.detail(f"request {result.request_id}: {result.state}{tokens}{error}")


@click.command(name="runs")
@click.option("--run", "run_id", type=int, metavar="N", help="Only this run.")
@json_option("One JSON object per run.")
@click.pass_context
def runs_command(ctx, run_id, json_) -> None:
    """List runs: requests by state, tokens, and cost estimated and actual.

    \b
    Example:
      assetmgr runs
      assetmgr runs --run 7 --json
    """
    import json

    from . import cli

    for row in cli.shared_library(ctx).runs(run_id):
        click.echo(json.dumps(row.to_dict()) if json_ else run_line(row))


def run_line(row) -> str:
    done = row.states.get("answered", 0) + row.states.get("refused", 0)
    errored = sum(row.states.get(s, 0) for s in ("errored", "expired", "canceled"))
    estimate = f"${row.estimated_cost:,.2f}" if row.estimated_cost is not None else "?"
    actual = f"${row.cost:,.2f}" if row.cost is not None else "$0.00"
    batch = " batch" if row.batch else ""
    pending = f", {row.pending_batches} batch(es) pending" if row.pending_batches else ""
    copies = f", {row.copies:,} answered by copy" if row.copies else ""
    prompt = row.prompt.strip().splitlines()[0][:40] if row.prompt.strip() else ""
    return (f"{row.id:>4}  {row.model}{batch}  {done:,}/{row.requests:,} done, {errored:,} "
            f"errored{pending}{copies}; {row.input_tokens:,} in / {row.output_tokens:,} out tokens "
            f"(~{row.estimated_tokens:,} est.); cost {actual} (est. {estimate} input)  "
            f"{prompt!r}")  # fmt: skip


@click.command(name="answers")
@click.option("--run", "run_id", type=int, required=True, metavar="N", help="The run.")
@json_option("JSON Lines: one object per request.")
@click.option("csv_", "--csv", is_flag=True, help="CSV: one row per request.")
@click.pass_context
def answers_command(ctx, run_id, json_, csv_) -> None:
    """Print the answers of a run, one per request, joined to the assets' hashes and tags.

    An asset the run answered by its best copy's request (run --skip-near) follows that
    request, with its answer, marked as a copy (copy_of, distance).

    \b
    Example:
      assetmgr answers --run 7 --json | jq -r 'select(.state == "answered") | .text'
      assetmgr answers --run 7 --csv > damage.csv
    """
    import json

    from . import cli

    if json_ and csv_:
        raise click.UsageError("give --json or --csv, not both")
    rows = cli.shared_library(ctx).answers(run_id)
    if json_:
        cli.echo_lines(json.dumps(row) for row in rows)
    elif csv_:
        cli.echo_lines(csv_lines(rows))
    else:
        for row in rows:
            click.echo(f"== request {row['request']} ({_assets(row)}): {row['state']}"
                       f"{_copy_note(row)}")  # fmt: skip
            click.echo(row["text"] if row["text"] is not None else f"({row['error']})")


def _copy_note(row) -> str:
    if row["copy_of"] is None:
        return ""
    return f" (copy of {row['copy_of'][:12]}… at distance {row['distance']})"


CSV_FIELDS = ("run", "request", "state", "assets", "tags", "text", "stop_reason",
              "input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens", "cost", "error", "copy_of", "distance")  # fmt: skip


def csv_lines(rows):
    """CSV rows (a header first): assets and tags joined with spaces (tags of one asset with
    commas)."""
    import csv
    import io

    def line(values) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(values)
        return buffer.getvalue()

    yield line(CSV_FIELDS)
    for row in rows:
        usage = row["usage"]
        yield line([row["run"], row["request"], row["state"], " ".join(row["assets"]),
                    " ".join(",".join(t) for t in row["tags"]), row["text"] or "",
                    row["stop_reason"] or "", usage["input_tokens"], usage["output_tokens"],
                    usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"],
                    "" if row["cost"] is None else f"{row['cost']:.6f}", row["error"] or "",
                    row["copy_of"] or "", "" if row["distance"] is None else row["distance"]])  # fmt: skip


COMMANDS = [run_command, runs_command, answers_command]
