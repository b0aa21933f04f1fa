"""Rendering of ``assetmgr add``: the progress bar, per-file lines, tagging after the run."""

from __future__ import annotations

import sys

import click

from .library import Library
from .records import AddSummary, to_json
from .render import outcome_line

PROGRESS_FROM = 50  # inputs; fewer finish before a bar is worth drawing


def run_add(library: Library, paths, *, exclude, tags, policy, jobs, json_) -> AddSummary:
    """Run ``add`` and print its outcomes; tag the accepted files; return the summary."""
    run = library.add(paths, exclude=exclude, policy=policy, jobs=jobs)
    accepted = []
    with _progress(run.total) as bar:
        for outcome in run:
            bar.update(1)
            if outcome.outcome != "rejected":
                accepted.append(outcome.sha256)
            if json_:
                click.echo(to_json(outcome))
            elif outcome.outcome in ("rejected", "duplicate"):
                click.echo(outcome_line(outcome), err=True)
    if tags and accepted:
        library.catalogue.add_tags(sorted(set(accepted)), list(tags))
    return run.summary


def _progress(total: int):
    show = sys.stderr.isatty() and total >= PROGRESS_FROM
    return click.progressbar(length=total, file=sys.stderr if show else _Null(), label="Adding")


class _Null:
    def write(self, _text: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
