"""Sending Messages API requests, and Message Batches, through the official SDK (imported only
here, in ``files_api`` and in ``models_api``).

``send`` sends one request (with the SDK's retries); ``result_of`` turns a Message into what the
catalogue keeps of it. The batch calls (``create_batch``, ``retrieve_batch``, ``list_batches``,
``batch_results``) return plain values. Errors come out as ``files_api.translated`` makes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anthropic

from . import config
from .files_api import translated
from .remote import RemoteSpec


@dataclass
class Answer:
    text: str
    input_tokens: int
    output_tokens: int
    response: dict[str, Any]  # the whole Message, as JSON
    stop_reason: str | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


def client_for(remote: RemoteSpec) -> anthropic.Anthropic:
    headers = {"anthropic-workspace-id": remote.workspace_id} if remote.workspace_id else None
    return anthropic.Anthropic(
        base_url=remote.base_url, max_retries=config.max_retries(), default_headers=headers
    )


def send(client: anthropic.Anthropic, body: dict[str, Any]) -> Answer:
    """Send one request body; the answer's text and usage."""
    with translated():
        message = client.messages.create(**body)
    return answer_of(message.model_dump(mode="json"))


def answer_of(message: dict[str, Any]) -> Answer:
    """An ``Answer`` from a Message as JSON (a response, or a batch item's ``message``)."""
    text = "".join(
        b.get("text", "") for b in message.get("content") or [] if b.get("type") == "text"
    )
    usage = message.get("usage") or {}
    return Answer(
        text,
        usage.get("input_tokens") or 0,
        usage.get("output_tokens") or 0,
        message,
        message.get("stop_reason"),
        usage.get("cache_read_input_tokens") or 0,
        usage.get("cache_creation_input_tokens") or 0,
    )


@dataclass(frozen=True)
class BatchInfo:
    """What assetmgr reads of a Message Batch."""

    id: str
    status: str  # in_progress | canceling | ended
    created_at: datetime
    expires_at: datetime
    counts: dict[str, int]  # processing, succeeded, errored, canceled, expired

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _info(batch) -> BatchInfo:
    counts = batch.request_counts.model_dump()
    return BatchInfo(batch.id, batch.processing_status, batch.created_at, batch.expires_at, counts)


def create_batch(client: anthropic.Anthropic, items: list[dict[str, Any]]) -> BatchInfo:
    """Submit one Message Batch of ``{"custom_id", "params"}`` items."""
    with translated():
        return _info(client.messages.batches.create(requests=items))


def retrieve_batch(client: anthropic.Anthropic, batch_id: str) -> BatchInfo:
    with translated():
        return _info(client.messages.batches.retrieve(batch_id))


def list_batches(client: anthropic.Anthropic) -> Iterator[BatchInfo]:
    """Every batch of the workspace, newest first, page after page."""
    with translated():
        for batch in client.messages.batches.list(limit=100):
            yield _info(batch)


def batch_results(client: anthropic.Anthropic, batch_id: str) -> Iterator[tuple[str, dict]]:
    """The results of an ended batch as they stream in: (custom_id, result as JSON)."""
    with translated():
        for item in client.messages.batches.results(batch_id):
            yield item.custom_id, item.result.model_dump(mode="json")
