"""Sending Messages API requests through the official SDK (imported only here and in files_api)."""

from __future__ import annotations

from dataclasses import dataclass
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


def client_for(remote: RemoteSpec) -> anthropic.Anthropic:
    headers = {"anthropic-workspace-id": remote.workspace_id} if remote.workspace_id else None
    return anthropic.Anthropic(
        base_url=remote.base_url, max_retries=config.max_retries(), default_headers=headers
    )


def send(client: anthropic.Anthropic, body: dict[str, Any]) -> Answer:
    """Send one request body; the answer's text and usage."""
    with translated():
        message = client.messages.create(**body)
    text = "".join(block.text for block in message.content if getattr(block, "type", "") == "text")
    return Answer(
        text,
        message.usage.input_tokens,
        message.usage.output_tokens,
        message.model_dump(mode="json"),
    )
