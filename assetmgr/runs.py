"""Running a plan: sending its requests that are not answered yet, and recording each answer
as it arrives.

Without batches (``send_direct``): up to ``jobs`` requests at once through the SDK (with its
retries), in worker threads that only send; each result comes back to the calling thread, which
alone writes the catalogue, one transaction per answer. A run killed at any moment loses only
the answers still in flight (they were never recorded, so the next run asks again); nothing
recorded is asked twice.

Message Batches are ``batches``' business. What both share: how a Message becomes a
``Result``, with its cost by the model's prices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from . import answers
from .answers import Due, Result
from .catalogue import Catalogue
from .errors import AuthError, RemoteError
from .modelspec import Tokens, cost, sendable
from .runplan import RunPlan, body

DEFAULT_JOBS = 16  # requests in flight at once without --batch


@dataclass
class Progress:
    """Counts of a run as it goes, for a progress line (read from another thread)."""

    total: int = 0
    done: int = 0
    errored: int = 0
    note: str = ""
    on_finished: Callable[[Result], None] | None = None  # told of each request's result

    def finished(self, result: Result) -> None:
        self.done += 1
        self.errored += result.state not in answers.DONE
        if self.on_finished is not None:
            self.on_finished(result)


def result_of(request_id: int, message: dict[str, Any], plan: RunPlan, batch: bool) -> Result:
    """What the catalogue keeps of a Message answering request ``request_id``."""
    from .messages_api import answer_of

    answer = answer_of(message)
    tokens = Tokens(answer.input_tokens, answer.output_tokens, answer.cache_write_tokens,
                    answer.cache_read_tokens)  # fmt: skip
    refused = answer.stop_reason == "refusal"
    return Result(
        request_id,
        "refused" if refused else "answered",
        answer.text,
        message,
        answer.stop_reason,
        answer.input_tokens,
        answer.output_tokens,
        answer.cache_read_tokens,
        answer.cache_write_tokens,
        cost(plan.ask.model, tokens, batch=batch, ttl=plan.ask.cache or "5m"),
    )


def params_of(plan: RunPlan, seq: int) -> dict[str, Any]:
    """The request body of the plan's request ``seq``, as sent (sampling the model rejects
    left out)."""
    params, _ = sendable(body(plan.ask, plan.requests[seq].images), plan.ask.model)
    return params


def send_direct(
    catalogue: Catalogue,
    plan: RunPlan,
    due: Sequence[Due],
    client,
    *,
    jobs: int = DEFAULT_JOBS,
    progress: Progress | None = None,
    on_result: Callable[[Due, Result], None] | None = None,
) -> list[Result]:
    """Send the ``due`` requests of ``plan``, ``jobs`` at a time, recording each result as it
    comes back. An ``AuthError`` stops the run (every request would fail alike)."""
    from .messages_api import send

    progress = progress or Progress()
    progress.total += len(due)

    def one(item: Due) -> Result:
        try:
            message = send(client, params_of(plan, item.seq)).response
        except AuthError:
            raise
        except RemoteError as e:
            return Result(item.request_id, "errored", error=str(e))
        return result_of(item.request_id, message, plan, batch=False)

    results: list[Result] = []
    waiting = list(reversed(due))
    running: dict[Future, Due] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="assetmgr-ask") as pool:
        try:
            while waiting or running:
                while waiting and len(running) < jobs:
                    item = waiting.pop()
                    running[pool.submit(one, item)] = item
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = running.pop(future)
                    result = future.result()
                    answers.record(catalogue, [result])
                    results.append(result)
                    progress.finished(result)
                    if on_result:
                        on_result(item, result)
        except BaseException:  # Ctrl-C, or the key refused: keep what was paid for
            _settle(catalogue, running, results)
            raise
    return results


def _settle(catalogue: Catalogue, running: dict[Future, Due], results: list[Result]) -> None:
    """The requests still in flight when a run stops: their answers, once they come, are
    recorded (they were paid for); those not started are left pending."""
    for future in running:
        future.cancel()
    done = [f for f in running if not f.cancelled()]
    wait(done)
    for future in done:
        if future.exception() is None:
            answers.record(catalogue, [future.result()])
            results.append(future.result())


@dataclass
class RunOutcome:
    """A run, done (or planned, ``dry_run``): its id in the catalogue, its plan, what this call
    sent and what came back. ``answers()`` iterates every answer of the run."""

    catalogue: Catalogue
    id: int | None
    plan: RunPlan
    results: list[Result] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)  # Message Batch ids submitted or resumed

    @property
    def sent(self) -> int:
        return len(self.results)

    def counts(self) -> dict[str, int]:
        """The run's requests by state."""
        return answers.counts(self.catalogue, self.id) if self.id is not None else {}

    def answers(self):
        """One dict per request of the run, in order, each followed by its copies (see
        ``answers.answer_rows``)."""
        return answers.answer_rows(self.catalogue, self.id) if self.id is not None else iter(())
