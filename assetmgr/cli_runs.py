"""Rendering of the commands that do long work: ``add``, ``push`` and ``ask``."""

from __future__ import annotations

import sys
from contextlib import ExitStack

import click

from .display import outcome_line
from .library import Library
from .records import AddSummary, Outcome, to_json
from .remote import RemoteSpec
from .uploads import Progress

PROGRESS_FROM = 50  # files to add; fewer finish before a bar is worth drawing
UPLOADS_WORTH_A_BAR = 5


def run_add(library: Library, paths, *, exclude, tags, policy, jobs, json_, upload) -> AddSummary:
    """Run ``add``; with ``upload`` (a dict of push options) upload what the remote lacks.

    Without uploading, each file's line is printed as soon as it is known; with it,
    the JSON lines wait for the upload phase so that each carries its ``file_id``.
    """
    if upload is not None:
        from .remote import require_credentials

        require_credentials()
    run = library.add(paths, exclude=exclude, policy=policy, jobs=jobs)
    outcomes: list[Outcome] = []
    with _progress(run.total, "Adding", shown=run.total >= PROGRESS_FROM) as bar:
        for outcome in run:
            bar.update(1)
            outcomes.append(outcome)
            if outcome.outcome in ("rejected", "duplicate") and not json_:
                click.echo(outcome_line(outcome), err=True)
            elif json_ and upload is None:
                click.echo(to_json(outcome))
    accepted = sorted({o.sha256 for o in outcomes if o.outcome != "rejected"})
    if tags and accepted:
        library.catalogue.add_tags(accepted, list(tags))
    if upload is not None:
        by_asset = run_push(library, accepted, policy=policy, **upload).by_asset()
        for outcome in outcomes:
            _attach_upload(outcome, by_asset)
            if json_:
                click.echo(to_json(outcome))
    return run.summary


def run_push(
    library: Library, shas, *, workspace, workspace_id, policy, jobs, expires_in, verify=False
):
    """Upload with a progress bar of files and bytes; print failures; return the summary."""
    from .uploads import expiry_seconds

    seconds = expiry_seconds(expires_in)
    with ExitStack() as stack:
        summary = library.push(
            shas,
            remote=RemoteSpec.from_env(workspace, workspace_id),
            policy=policy,
            jobs=jobs,
            expires_in=seconds,
            verify=verify,
            progress=UploadBar(stack),
        )
    click.echo(str(summary), err=True)
    return summary


class UploadBar(Progress):
    """A bar of bytes sent, labelled with files done, drawn once the push knows its size;
    failures are printed as they come."""

    def __init__(self, stack: ExitStack):
        self.stack, self.bar, self.files, self.done = stack, None, 0, 0

    def planned(self, files: int, size_bytes: int) -> None:
        self.files = files
        self.bar = self.stack.enter_context(
            _progress(
                size_bytes,
                "Uploading",
                shown=files >= UPLOADS_WORTH_A_BAR,
                show_item=self._files_done,
            )
        )

    def finished(self, outcome) -> None:
        self.done += 1
        self.bar.update(outcome.size_bytes or 0, current_item=outcome)
        if outcome.outcome == "failed":
            click.echo(
                f"upload failed: sha256:{outcome.rendition_sha256[:12]}: {outcome.reason}", err=True
            )

    def _files_done(self, _item) -> str:
        return f"{self.done}/{self.files} files"


def _attach_upload(outcome: Outcome, by_asset: dict) -> None:
    if outcome.outcome == "rejected":
        return
    found = by_asset.get(outcome.sha256)
    if found is not None:
        outcome.upload, outcome.file_id = found.outcome, found.file_id
        outcome.upload_error = found.reason if found.outcome == "failed" else None


def _progress(total: int, label: str, *, shown: bool, show_item=None):
    show = shown and sys.stderr.isatty()
    return click.progressbar(
        length=max(total, 1),
        file=sys.stderr if show else _Null(),
        label=label,
        item_show_func=show_item,
    )


class _Null:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def run_ask(library: Library, bodies, remote, json_) -> None:
    """Send each body through the library; print the answer text (or the whole response),
    and its usage on stderr."""
    import json

    for body, answer in library.send(bodies, remote=remote):
        click.echo(json.dumps(answer.response) if json_ else answer.text)
        click.echo(
            f"usage: {answer.input_tokens} input tokens, {answer.output_tokens} output tokens "
            f"({len(body.assets)} images)",
            err=True,
        )
