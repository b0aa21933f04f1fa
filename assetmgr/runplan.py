"""Pure builders of a run: what the user asked (``Ask``), the requests that cover its images
(``RunPlan``), their content keys, their estimated tokens and cost, and their bodies.

No I/O and no SDK. A run's key is the SHA-256 of its canonical JSON (prompt, system, model,
options, and the renditions in order), so the same run asked again has the same key; each
request's key is that of the run's question and its own renditions, so an answer is found again
by any run that asks the same thing of the same images.

Requests are split as ``blocks.requests`` splits them, and estimated alike: images by their
visual tokens at the model's tier, text at ceil(characters / 4). With ``cache`` (``5m`` or
``1h``) the instruction goes first, marked with ``cache_control``, so that the system prompt and
the instruction are the prefix every request shares; images and their labels follow. The
bodies are built the same way every time (same keys, same order), so that caches hit.

With ``--skip-near`` (``skip_near``) a run asks only about the best copy of each group of
near-duplicates among its assets; every other member is a ``Copy``, answered by the request
that asks about its best copy, and costs nothing. The copies are part of the run's key (not of
its requests' keys): the same assets asked with and without ``--skip-near`` are two runs, and
they share the answers of the requests they have in common.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .blocks import (
    ImageRef,
    MessageRequest,
    content_blocks,
    image_tokens,
    images_per_request,
    split,
    text_tokens,
    token_budget,
)
from .errors import UsageError
from .modelspec import CACHE_TTLS, ModelSpec, Tokens, cost, warn

DONE = ("answered", "refused")  # a request's final states: never sent again
MAX_BATCH_REQUESTS = 100_000
MAX_BATCH_BYTES = 256 * 1000 * 1000  # the API's 256 MB, taken in the smaller (decimal) unit
BATCH_ITEM_OVERHEAD = 200  # bytes of JSON around each item's params in a batch


@dataclass(frozen=True)
class Ask:
    """The question of a run: everything but the images."""

    prompt: str
    model: ModelSpec
    max_tokens: int = 1024
    system: str | None = None
    per_request: int | None = None
    label: bool = False
    cache: str | None = None  # None, "5m" or "1h"

    def __post_init__(self):
        if self.cache is not None and self.cache not in CACHE_TTLS:
            raise UsageError(f"--cache {self.cache}: choose 5m or 1h")
        if not self.prompt.strip():
            raise UsageError("the prompt is empty; give --prompt or --prompt-file")
        images_per_request(self.model, self.per_request)

    @property
    def options(self) -> dict[str, Any]:
        return {
            "max_tokens": self.max_tokens,
            "per_request": self.per_request,
            "label": self.label,
            "cache": self.cache,
        }

    def question(self) -> dict[str, Any]:
        """What the keys are made of, but the renditions."""
        return {"prompt": self.prompt, "system": self.system, "model": self.model.id,
                **self.options}  # fmt: skip

    @property
    def prefix_tokens(self) -> int:
        """The estimated tokens of the shared prefix: the system prompt and the instruction."""
        return text_tokens(self.system) + text_tokens(self.prompt)


def content_key(question: dict[str, Any], renditions: Sequence[str]) -> str:
    text = json.dumps({**question, "renditions": list(renditions)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Planned:
    """One request of a plan: its images, place, key and estimated tokens."""

    seq: int
    images: list[ImageRef]
    key: str
    tokens: int

    @property
    def assets(self) -> list[str]:
        return [i.asset_sha256 for i in self.images]

    @property
    def renditions(self) -> list[str]:
        return [i.rendition_sha256 for i in self.images]


@dataclass(frozen=True)
class Copy:
    """An asset a run does not ask about: it gets the answer of its best copy's request."""

    asset: str
    copy_of: str
    distance: int


def skip_near(
    shas: Sequence[str], groups: Sequence[Sequence[tuple[str, int]]]
) -> tuple[list[str], list[Copy]]:
    """``shas`` without the near-duplicates of ``groups`` (each a list of (sha256, distance to
    its first), the best copy first), and those as copies of their group's best copy."""
    named = set(shas)
    copies = {sha: Copy(sha, group[0][0], d) for group in groups if group[0][0] in named
              for sha, d in group[1:]}  # fmt: skip
    asked = [sha for sha in shas if sha not in copies]
    return asked, [copies[sha] for sha in dict.fromkeys(shas) if sha in copies]


@dataclass
class RunPlan:
    """What a run would send: its requests, and what they are estimated to cost."""

    ask: Ask
    key: str
    requests: list[Planned]
    batch: bool = False
    to_upload: int = 0  # files still to upload before anything is sent
    answered: set[str] = field(default_factory=set)  # request keys answered already
    copies: list[Copy] = field(default_factory=list)  # answered by their best copy's request

    @property
    def images(self) -> int:
        return sum(len(r.images) for r in self.requests)

    @property
    def due(self) -> list[Planned]:
        return [r for r in self.requests if r.key not in self.answered]

    def tokens(self, requests: Sequence[Planned] | None = None) -> Tokens:
        """Estimated input tokens of ``requests`` (default: all), split by how they are billed:
        with caching, the first request writes the prefix and the others read it."""
        requests = self.requests if requests is None else requests
        total = sum(r.tokens for r in requests)
        prefix = self.ask.prefix_tokens
        if not self.ask.cache or not requests or prefix < self.ask.model.cache_minimum:
            return Tokens(input=total)
        reads = prefix * (len(requests) - 1)
        return Tokens(input=total - prefix - reads, cache_write=prefix, cache_read=reads)

    def cost(self, requests: Sequence[Planned] | None = None) -> float | None:
        """Estimated dollars of the input of ``requests`` (default: all): output is not known
        before it is written (``max_output_cost`` is its ceiling)."""
        return cost(self.ask.model, self.tokens(requests), batch=self.batch,
                    ttl=self.ask.cache or "5m")  # fmt: skip

    def max_output_cost(self, requests: Sequence[Planned] | None = None) -> float | None:
        count = len(self.requests if requests is None else requests)
        return cost(self.ask.model, Tokens(output=count * self.ask.max_tokens), batch=self.batch)

    def lines(self) -> list[str]:
        """The plan for people, as ``run --dry-run`` prints it."""
        due = self.due
        tokens = self.tokens(due)
        price = self.cost(due)
        how = "at batch price" if self.batch else "at list price"
        shown = (
            f"${price:,.2f} {how}"
            if price is not None
            else f"no price known for {self.ask.model.id}"
        )
        lines = [
            f"{self.images:,} images in {len(self.requests):,} requests "
            f"({self.ask.model.label}); {len(self.answered):,} answered already, "
            f"{len(due):,} to send",
            f"~{sum(r.tokens for r in due):,} input tokens (est.); {shown} for the input",
        ]
        if self.ask.cache and (tokens.cache_read or tokens.cache_write):
            lines.append(f"prompt caching ({self.ask.cache}): {tokens.cache_write:,} tokens "
                         f"written, {tokens.cache_read:,} read")  # fmt: skip
        ceiling = self.max_output_cost(due)
        if ceiling is not None:
            lines.append(f"output: at most {self.ask.max_tokens:,} tokens a request, "
                         f"${ceiling:,.2f} at most")  # fmt: skip
        lines.append(f"files to upload: {self.to_upload:,}")
        if self.copies:
            lines.append(f"{len(self.copies):,} near-duplicates answered by their best copy's "
                         "request (not sent, no cost)")  # fmt: skip
        return lines


def plan(
    images: Sequence[ImageRef],
    ask: Ask,
    *,
    batch: bool = False,
    copies: Sequence[Copy] = (),
) -> RunPlan:
    """The requests covering ``images`` in order (an asset named twice, once: a second copy
    would be a second request of the same key, paid twice), split as ``blocks.requests``
    splits them; ``copies`` (from ``skip_near``) are answered by their best copy's request.
    Warns (``ModelWarning``) when ``cache`` is asked for a prefix below the model's minimum."""
    spec = ask.model
    images = list({image.asset_sha256: image for image in images}.values())
    chunks = split(images, max_images=images_per_request(spec, ask.per_request),
                   token_budget=token_budget(spec, ask.prompt, ask.system, ask.max_tokens),
                   tier=spec.tier, label=ask.label)  # fmt: skip
    question = ask.question()
    text = text_tokens(ask.prompt) + text_tokens(ask.system)
    requests = []
    for seq, chunk in enumerate(chunks):
        labels = sum(text_tokens(f"Image {n}:") for n in range(1, len(chunk) + 1)) * ask.label
        tokens = text + labels + sum(image_tokens(i, spec.tier) for i in chunk)
        key = content_key(question, [i.rendition_sha256 for i in chunk])
        requests.append(Planned(seq, chunk, key, tokens))
    if ask.cache and ask.prefix_tokens < spec.cache_minimum:
        warn(f"--cache: the shared prefix (system prompt and instruction) is ~{ask.prefix_tokens:,} "
             f"tokens, below the {spec.cache_minimum:,} {spec.id} caches; nothing will be cached")  # fmt: skip
    whole = dict(question, copies=[[c.asset, c.copy_of] for c in copies]) if copies else question
    key = content_key(whole, [i.rendition_sha256 for i in images])
    return RunPlan(ask, key, requests, batch, copies=list(copies))


def body(ask: Ask, images: Sequence[ImageRef]) -> MessageRequest:
    """The Messages request of one planned request (file sources)."""
    content = content_blocks(images, label=ask.label)
    instruction: dict[str, Any] = {"type": "text", "text": ask.prompt}
    if ask.cache:
        instruction["cache_control"] = {"type": "ephemeral", "ttl": ask.cache}
        content.insert(0, instruction)
    else:
        content.append(instruction)
    params: dict[str, Any] = {
        "model": ask.model.id,
        "max_tokens": ask.max_tokens,
        "messages": [{"role": "user", "content": content}],
    }
    if ask.system:
        params["system"] = [{"type": "text", "text": ask.system}] if ask.cache else ask.system
    return MessageRequest(params, [i.asset_sha256 for i in images],
                          [i.rendition_sha256 for i in images], spec=ask.model)  # fmt: skip


def body_bytes(params: dict[str, Any]) -> int:
    """The bytes of a request's params in a batch, with the JSON around them."""
    return len(json.dumps(params, separators=(",", ":"))) + BATCH_ITEM_OVERHEAD


def batches(items: Sequence[tuple[Any, dict[str, Any]]]) -> list[list[tuple[Any, dict]]]:
    """``items`` (anything, params) in consecutive groups within a batch's limits: at most
    100,000 requests and 256 MB each."""
    groups: list[list[tuple[Any, dict]]] = []
    current: list[tuple[Any, dict]] = []
    size = 0
    for item in items:
        weight = body_bytes(item[1])
        if current and (len(current) >= MAX_BATCH_REQUESTS or size + weight > MAX_BATCH_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += weight
    if current:
        groups.append(current)
    return groups
