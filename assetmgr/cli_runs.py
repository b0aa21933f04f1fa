"""Rendering of the commands that do long work: ``add``, ``push`` and ``ask``.

Data (``--json`` lines) goes to stdout as soon as each file's outcome is final; talk
(rejections, failures, warnings, the summary; with ``-v`` every file and upload) goes to
stderr through ``cli_talk``, above the progress line.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from . import cli_talk
from .cli_progress import Snapshot, progress
from .display import outcome_line
from .pathnames import on_one_line
from .records import AddSummary, Outcome, PushSummary, UploadOutcome, to_json

if TYPE_CHECKING:  # the re-run fast path prints through this module: no SQLAlchemy on import
    from .library import Library

SUBMIT_EVERY = 0.5  # seconds: how often recorded files are handed to the uploads
SUBMIT_AT = 2000  # files: or as soon as this many wait


@dataclass
class AddReport:
    """What ``add`` did, for its exit code."""

    summary: AddSummary
    push: PushSummary | None = None
    listed_known: bool = False

    @property
    def rejected(self) -> bool:
        return bool(self.summary.rejected or (self.listed_known and self.summary.known_rejected))

    @property
    def upload_failed(self) -> bool:
        return self.push is not None and self.push.count("failed") > 0


def add_settled(db, paths, *, upload, json_, list_rejected, tags, **options) -> AddReport | None:
    """``add`` when nothing is to be read or uploaded (``rerun.settle``): printed, and its
    report; None when the library must do the work."""
    from .rerun import settle

    remote = upload["remote"] if upload is not None else None
    settled = settle(db, paths, exclude=options["exclude"], policy=options["policy"],
                     limits=options["limits"], tags=tags, remote=remote,
                     details=json_ or list_rejected or cli_talk.verbose())  # fmt: skip
    if settled is None:
        return None
    out = AddOutput(json_, list_rejected)
    if json_:  # all known at once: written at once
        click.echo("".join(to_json(o) + "\n" for o in settled.outcomes), nl=False)
    else:
        for outcome in settled.outcomes:
            out.emit(outcome)
    return AddReport(settled.summary, settled.push, list_rejected)


def run_add(
    library: Library, paths, *, upload, json_, list_rejected, tags, reuse=None, **options
) -> AddReport:
    """Run ``add``; with ``upload`` (a dict of push options) upload what the remote lacks as
    files are recorded. Each file's JSON line is printed once its outcome is final. With
    ``reuse`` (``Library.reuse_near``'s keywords), the files accepted wait for the end of the
    walk: the new near-duplicates are linked to their best copy first, then uploaded."""
    run = library.ingest(paths, **options)
    uploads = Uploads(library, options.get("policy"), upload) if upload is not None else None
    out = AddOutput(json_, list_rejected)
    held: list[tuple[int, Outcome]] = []  # with reuse: accepted files, until linked
    try:
        with progress("Adding", lambda: _add_snapshot(run, out, uploads)):
            for outcome in run:
                index = out.take()
                if reuse is not None and outcome.outcome != "rejected":
                    held.append((index, outcome))
                elif uploads is None or outcome.outcome == "rejected":
                    out.final(index, outcome)
                else:
                    uploads.wait_for(index, outcome)
                    uploads.step(out, tags)
                if uploads is None and tags and outcome.outcome != "rejected":
                    out.accepted.append(outcome.sha256)
            if held:
                _link_held(library, held, reuse, out, uploads)
            if uploads:
                uploads.flush(out, tags)
        if uploads:
            with progress("Uploading", uploads.snapshot):
                uploads.finish(out)
    except BaseException as e:
        if uploads:
            uploads.fail(out, e)
        raise
    if tags and out.accepted:
        library.tag(sorted(set(out.accepted)), list(tags))
    return AddReport(run.summary, uploads.summary if uploads else None, list_rejected)


def _link_held(library: Library, held, reuse: dict, out: AddOutput, uploads) -> None:
    """Link the new near-duplicates among ``held`` (``reuse_near``), then let each go on: to
    its upload, or printed."""
    new = sorted({outcome.sha256 for _, outcome in held if outcome.outcome == "new"})
    linked = reuse_near(library, new, reuse).linked if new else {}
    for index, outcome in held:
        if outcome.outcome == "new":
            outcome.reuses = linked.get(outcome.sha256)
        if uploads is None:
            out.final(index, outcome)
        else:
            uploads.wait_for(index, outcome)


def reuse_near(library: Library, shas, reuse: dict):
    """``Library.reuse_near`` of ``shas``, told on stderr; the report."""
    report = library.reuse_near(shas, **reuse)
    for text in (
        [f"computed {report.computed} missing fingerprints"] if report.computed else []
    ) + report.lines():
        cli_talk.info(text)
    return report


class AddOutput:
    """Prints each outcome once final, in walk order: a JSON line on stdout, or the talk
    about it on stderr."""

    def __init__(self, json_: bool, list_rejected: bool):
        self.json_, self.list_rejected = json_, list_rejected
        self.counted = self.printed = 0
        self.held: dict[int, Outcome] = {}  # final, waiting for an earlier one
        self.accepted: list[str] = []

    def take(self) -> int:
        """The place of the next outcome in the output."""
        self.counted += 1
        return self.counted - 1

    def final(self, index: int, outcome: Outcome) -> None:
        """The outcome at ``index`` is final: print it, and what waited for it."""
        self.held[index] = outcome
        while self.printed in self.held:
            self.emit(self.held.pop(self.printed))
            self.printed += 1

    def emit(self, outcome: Outcome) -> None:
        for warning in outcome.warnings if outcome.outcome == "rejected" else []:
            cli_talk.warning(f"{on_one_line(outcome.path)}: {warning}")
        if self.json_:
            click.echo(to_json(outcome))
        elif outcome.outcome == "rejected" and (self.list_rejected or not outcome.known):
            cli_talk.info(outcome_line(outcome))
        elif outcome.outcome == "duplicate":
            cli_talk.info(outcome_line(outcome))
        elif outcome.outcome != "rejected":
            cli_talk.detail(outcome_line(outcome))
        if outcome.upload == "failed":
            cli_talk.info(upload_line(outcome))
        elif outcome.upload is not None and not self.json_:
            cli_talk.detail(f"{outcome.upload:<9} {on_one_line(outcome.path)}: {outcome.file_id}")


def upload_line(outcome: Outcome) -> str:
    return f"upload failed: {on_one_line(outcome.path)}: {outcome.upload_error}"


class Uploads:
    """``add``'s uploads: files recorded are submitted in small batches; each file's line
    waits for its upload's outcome."""

    def __init__(self, library: Library, policy: str | None, options: dict):
        self.library, self.counter = library, UploadCounter()
        self.session = library.upload_session(policy=policy, progress=self.counter, **options)
        self.waiting: dict[str, list[tuple[int, Outcome]]] = defaultdict(list)
        self.queued: list[str] = []
        self.last_submit = time.monotonic()

    @property
    def summary(self) -> PushSummary:
        return self.session.summary

    def wait_for(self, index: int, outcome: Outcome) -> None:
        self.waiting[outcome.sha256].append((index, outcome))
        self.queued.append(outcome.sha256)

    def step(self, out: AddOutput, tags) -> None:
        due = time.monotonic() - self.last_submit >= SUBMIT_EVERY
        if self.queued and (due or len(self.queued) >= SUBMIT_AT):
            self.flush(out, tags)
        self._emit(out, self.session.poll())

    def flush(self, out: AddOutput, tags) -> None:
        shas, self.queued = sorted(set(self.queued)), []
        if shas:
            if tags:
                self.library.tag(shas, list(tags))
            self.session.submit(shas)
        self.last_submit = time.monotonic()
        self._emit(out, self.session.poll())

    def finish(self, out: AddOutput) -> None:
        self._emit(out, self.session.close())
        for outcomes in self.waiting.values():  # no upload was due for these
            for index, outcome in outcomes:
                out.final(index, outcome)
        self.waiting.clear()

    def fail(self, out: AddOutput, error: BaseException) -> None:
        """The run stops: settle the uploads in flight; print each file still waiting, its
        upload failed (or not made) for ``error``."""
        self.session.abandon()
        reason = str(error) or type(error).__name__
        for outcomes in self.waiting.values():
            for index, outcome in outcomes:
                outcome.upload, outcome.upload_error = "failed", reason
                out.final(index, outcome)
        self.waiting.clear()

    def snapshot(self) -> Snapshot:
        c = self.counter
        return Snapshot(c.done, c.files, c.bytes_done, c.size_bytes)

    def _emit(self, out: AddOutput, pairs: list[tuple[str, UploadOutcome]]) -> None:
        for asset, result in pairs:
            for index, outcome in self.waiting.pop(asset, []):
                outcome.upload, outcome.file_id = result.outcome, result.file_id
                outcome.upload_error = result.reason if result.outcome == "failed" else None
                out.final(index, outcome)


class UploadCounter:
    """Counts uploads planned and done, for the progress line (an ``uploads.Progress``)."""

    def __init__(self):
        self.files = self.size_bytes = self.done = self.bytes_done = 0

    def planned(self, files: int, size_bytes: int) -> None:
        self.files += files
        self.size_bytes += size_bytes

    def finished(self, outcome: UploadOutcome) -> None:
        self.done += 1
        self.bytes_done += outcome.size_bytes


def _add_snapshot(run, out: AddOutput, uploads: Uploads | None) -> Snapshot:
    note = f"{uploads.counter.done:,} uploaded" if uploads else ""
    return Snapshot(out.counted, run.total, run.bytes_read, run.bytes_to_read, note)


class PushPrinter(UploadCounter):
    """The push's progress, a line for each failure as it comes, and with ``-v`` one for
    every upload."""

    def finished(self, outcome: UploadOutcome) -> None:
        super().finished(outcome)
        name = (
            on_one_line(outcome.path) if outcome.path else f"sha256:{outcome.rendition_sha256[:12]}"
        )
        if outcome.outcome == "failed":
            cli_talk.info(f"upload failed: {name}: {outcome.reason}")
        else:
            cli_talk.detail(f"{outcome.outcome:<9} {name}: {outcome.file_id}")

    def snapshot(self) -> Snapshot:
        return Snapshot(self.done, self.files, self.bytes_done, self.size_bytes)


def run_push(library: Library, shas, *, remote, policy, jobs, expires_in, verify):
    """Upload with a progress line of files and bytes; print failures; return the summary."""
    from .limits import expiry_seconds

    seconds = expiry_seconds(expires_in)
    printer = PushPrinter()
    with progress("Uploading", printer.snapshot):
        summary = library.push(shas, remote=remote, policy=policy,
                               jobs=jobs, expires_in=seconds, verify=verify, progress=printer)  # fmt: skip
    cli_talk.info(str(summary))
    return summary


def run_ask(library: Library, bodies, remote, json_) -> None:
    """Send each body through the library; print the answer text (several answers each under a
    ``== request N/M`` line), or the whole response with an ``assetmgr`` key naming the
    request, its assets and renditions and whether ``max_tokens`` cut it short; on stderr the
    request's estimate and its usage, and a warning for an answer cut short."""
    import json

    from .blocks import summary

    total = len(bodies)
    for index, (body, answer) in enumerate(library.send(bodies, remote=remote)):
        truncated = answer.stop_reason == "max_tokens"
        if json_:
            keys = {"request": index, "assets": body.assets, "renditions": body.renditions,
                    "stop_reason": answer.stop_reason, "truncated": truncated}  # fmt: skip
            click.echo(json.dumps({**answer.response, "assetmgr": keys}))
        else:
            if total > 1:
                click.echo(f"== request {index + 1}/{total} ({len(body.assets)} images)")
            click.echo(answer.text)
        cli_talk.info(summary(body, index, total))
        cli_talk.info(
            f"usage: {answer.input_tokens} input tokens, {answer.output_tokens} output tokens "
            f"({len(body.assets)} images)"
        )
        if truncated:
            cli_talk.warning(f"answer {index + 1}/{total} was cut short by --max-tokens "
                             f"{body['max_tokens']}")  # fmt: skip
