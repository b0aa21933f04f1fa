"""The one table of models: per model id or family, the resolution tier it reads images at, its
context size and images per request, its list prices, its lifecycle, and whether it rejects
sampling parameters. Sources: ../shared/vision-2026.md; ``assetmgr models --refresh`` adds what
``GET /v1/models`` reports (context size, capabilities, lifecycle), stored in the catalogue and
given here as ``stored``.

Standard library only: the lookup fast path imports it. Warnings are Python warnings of the
category ``ModelWarning``; the CLI prints each once, as ``warning: ...`` on stderr.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .errors import UsageError
from .limits import HIGH, STANDARD, Tier

DEFAULT_MODEL = "claude-sonnet-5-5"
SMALL_CONTEXT = 200_000  # tokens: a model with this context or less takes IMAGES_SMALL_CONTEXT
IMAGES_SMALL_CONTEXT = 100  # images per request on a 200k-context model (and when unknown)
IMAGES_LARGE_CONTEXT = 600  # images per request on a model with a larger context
# What the 5.x models (and Claude Opus 4.7 and 4.8) accept only at its default: left out.
SAMPLING = ("temperature", "top_p", "top_k")
LIFECYCLES = ("active", "deprecated", "retired")
# What spec_for takes of a stored model_info row (``stored``), by these names.
STORED = ("max_input_tokens", "lifecycle", "deprecated_at", "retires_at", "capabilities")


# Message Batches: half price on every kind of token. Prompt caching: a write costs the input
# price times CACHE_WRITE[ttl], a read CACHE_READ times it (0.05 on Sonnet 5.5 and Opus 5.5);
# a prefix shorter than the model's minimum is not cached (512 tokens on the 5.5 models, 1,024
# to 4,096 on older ones: assetmgr takes 1,024, the least, and 4,096 for the Haiku line).
BATCH_DISCOUNT = 0.5
CACHE_TTLS = ("5m", "1h")
CACHE_WRITE = {"5m": 1.25, "1h": 2.0}
CACHE_READ = 0.1
CACHE_MINIMUM_5_5 = 512
CACHE_MINIMUM_OLDER = 1024


@dataclass(frozen=True)
class Row:
    """What the table says of a model or a family. ``context`` None: the documentation gives
    no figure (``models --refresh`` learns it); prices in dollars per million tokens."""

    tier: Tier
    context: int | None = None
    input_price: float | None = None
    output_price: float | None = None
    lifecycle: str = "active"
    retires_at: date | None = None
    fixed_sampling: bool = False
    cache_read: float = CACHE_READ  # a cache read, as a multiple of the input price
    cache_minimum: int = CACHE_MINIMUM_OLDER  # tokens: the shortest prefix that is cached


LARGE, SMALL = 1_000_000, SMALL_CONTEXT  # contexts assumed until ``models --refresh``
_5X = dict(tier=HIGH, context=LARGE, fixed_sampling=True)
_5_5 = dict(cache_minimum=CACHE_MINIMUM_5_5)
# Keys are model ids or family prefixes; the longest key that ends at a "-" of the id wins, so
# a dated id (claude-opus-4-5-20251101) finds its model, and a new 5.x model its family.
# Contexts: the documentation gives no figure per model; the 5.x family (and Claude Opus 4.8)
# are taken as large-context models (600 images per request), the others as 200k. What the
# Models API reports, once stored by ``models --refresh``, wins (``describe``).
MODELS: dict[str, Row] = {
    "claude-sonnet-5-5": Row(**_5X, input_price=2.0, output_price=10.0, **_5_5, cache_read=0.05),
    "claude-opus-5-5": Row(**_5X, input_price=4.0, output_price=20.0, **_5_5, cache_read=0.05),
    "claude-haiku-5-5": Row(**_5X, input_price=0.10, output_price=0.50, **_5_5),
    "claude-fable-5-2": Row(**_5X),
    "claude-sonnet-5": Row(**_5X),
    "claude-opus-5": Row(**_5X),
    "claude-haiku-5": Row(**_5X),
    "claude-fable-5": Row(**_5X),
    "claude-opus-4-8": Row(HIGH, LARGE, fixed_sampling=True),
    "claude-opus-4-7": Row(HIGH, SMALL, fixed_sampling=True),  # its release notes: no sampling
    "claude-opus-4-6": Row(STANDARD, SMALL),
    "claude-sonnet-4-6": Row(STANDARD, SMALL),
    "claude-haiku-4-5": Row(STANDARD, SMALL, cache_minimum=4096),
    "claude-opus-4-5": Row(STANDARD, SMALL, lifecycle="deprecated", retires_at=date(2027, 1, 22)),
    "claude-sonnet-4-5": Row(STANDARD, SMALL, lifecycle="retired", retires_at=date(2026, 11, 30)),
}
FAMILIES = {"claude-sonnet-5", "claude-opus-5", "claude-haiku-5", "claude-fable-5"}


class ModelWarning(UserWarning):
    """Something to know about the model asked for: unknown, deprecated, parameters dropped."""


@dataclass(frozen=True)
class ModelSpec:
    """What assetmgr needs to know of one model, and where each figure came from
    (``origin``: figure -> ``table``, ``api`` (stored by ``models --refresh``) or ``assumed``)."""

    id: str
    tier: Tier
    max_input_tokens: int | None
    images_per_request: int
    input_price: float | None
    output_price: float | None
    lifecycle: str
    retires_at: date | None
    fixed_sampling: bool
    known: bool  # in the table (by id or family)
    entry: str | None = None  # the table's key that matched
    deprecated_at: date | None = None
    image_input: bool | None = None  # as the API reports it; None: not reported
    cache_read: float = CACHE_READ
    cache_minimum: int = CACHE_MINIMUM_OLDER
    origin: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """``claude-sonnet-5-5, high tier``: how summaries name it."""
        return f"{self.id}, {self.tier.name} tier"


def lookup(model: str) -> str | None:
    """The table's key for ``model``: the id itself, or it with a date (``-20251101``), or a
    family's later version (``claude-sonnet-5-7``, dated or not); None for anything else."""
    key = model
    while key:
        rest = model[len(key) :]
        if key in MODELS and (
            not rest
            or re.fullmatch(r"-\d{8}", rest)
            or (key in FAMILIES and re.fullmatch(r"-\d+(-\d{8})?", rest))
        ):
            return key
        key = key.rpartition("-")[0]
    return None


def images_for(context: int | None) -> int:
    """Images per request for a context size: 600 above 200k tokens, else (or unknown) 100."""
    return IMAGES_LARGE_CONTEXT if context and context > SMALL_CONTEXT else IMAGES_SMALL_CONTEXT


def describe(model: str, stored: Mapping[str, Any] | None = None) -> ModelSpec:
    """The spec of ``model`` from the table, with what ``stored`` (a ``model_info`` row) says
    of its context, lifecycle and capabilities. Never refuses nor warns: see ``spec_for``."""
    entry = lookup(model)
    row = MODELS.get(entry) if entry else None
    stored = _sane(stored or {})
    origin = {"tier": "table" if row else "assumed"}
    context, origin["max_input_tokens"] = _pick(stored.get("max_input_tokens"), row and row.context)
    lifecycle, origin["lifecycle"] = _pick(stored.get("lifecycle"), row and row.lifecycle)
    retires, origin["retires_at"] = _pick(_day(stored.get("retires_at")), row and row.retires_at)
    origin["images_per_request"] = origin["max_input_tokens"]
    for name in ("input_price", "output_price", "fixed_sampling"):
        origin[name] = "table" if row and getattr(row, name) is not None else "assumed"
    return ModelSpec(
        id=model,
        tier=row.tier if row else STANDARD,
        max_input_tokens=context,
        images_per_request=images_for(context),
        input_price=row.input_price if row else None,
        output_price=row.output_price if row else None,
        lifecycle=lifecycle or "active",
        retires_at=retires,
        fixed_sampling=bool(row and row.fixed_sampling),
        known=row is not None,
        entry=entry,
        deprecated_at=_day(stored.get("deprecated_at")),
        image_input=_image_input(stored.get("capabilities")),
        cache_read=row.cache_read if row else CACHE_READ,
        cache_minimum=row.cache_minimum if row else CACHE_MINIMUM_OLDER,
        origin=origin,
    )


def spec_for(model: str, stored: Mapping[str, Any] | None = None) -> ModelSpec:
    """``describe``, for a model about to be used: a retired model, or one the API says takes no
    images, is a ``UsageError`` (exit 2), as is a name that cannot be a model id; an unknown
    model is read as standard tier with 100 images per request, and that, or a deprecation,
    is a ``ModelWarning``."""
    if not model or any(c.isspace() or not c.isprintable() for c in model):
        raise UsageError(
            f"--model {model!r} is not a model id; give one such as {DEFAULT_MODEL} "
            "(see assetmgr models)"
        )
    spec = describe(model, stored)
    if spec.lifecycle == "retired":
        when = f" on {spec.retires_at}" if spec.retires_at else ""
        raise UsageError(f"{model} was retired{when}; choose another --model (see assetmgr models)")
    if spec.image_input is False:
        raise UsageError(
            f"{model} takes no images (the Models API says so); choose another --model"
        )
    if not spec.known:
        warn(f"unknown model {model}: read as standard tier, {spec.images_per_request} images "
             "per request (assetmgr models lists the known ones)")  # fmt: skip
    elif spec.lifecycle == "deprecated":
        when = f" on {spec.retires_at}" if spec.retires_at else ""
        warn(f"{model} is deprecated and retires{when}; choose another --model soon")
    return spec


def as_spec(model: str | ModelSpec, stored: Mapping[str, Any] | None = None) -> ModelSpec:
    """``model`` if it is a spec already, else ``spec_for`` it."""
    return model if isinstance(model, ModelSpec) else spec_for(model, stored)


def warn(message: str) -> None:
    """Once per message and place, as Python warns; the CLI prints each message once."""
    warnings.warn(message, ModelWarning, stacklevel=2)


def sendable(body: Mapping[str, Any], spec: ModelSpec) -> tuple[dict[str, Any], list[str]]:
    """``body`` without the sampling parameters ``spec``'s model rejects, and their names."""
    if not spec.fixed_sampling:
        return dict(body), []
    dropped = [name for name in SAMPLING if name in body]
    return {k: v for k, v in body.items() if k not in dropped}, dropped


@dataclass(frozen=True)
class Tokens:
    """Tokens of one request or a run, by how they are billed."""

    input: int = 0  # read at the input price
    output: int = 0
    cache_write: int = 0  # written to the cache (at CACHE_WRITE[ttl] times the input price)
    cache_read: int = 0  # read from the cache

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(self.input + other.input, self.output + other.output,
                      self.cache_write + other.cache_write, self.cache_read + other.cache_read)  # fmt: skip


def cost(spec: ModelSpec, tokens: Tokens, *, batch: bool = False, ttl: str = "5m") -> float | None:
    """Dollars for ``tokens`` at ``spec``'s list prices, with the batch discount and the cache
    multipliers (they stack); None when the table has no price for the model."""
    if spec.input_price is None or spec.output_price is None:
        return None
    write = CACHE_WRITE.get(ttl, CACHE_WRITE["5m"])
    dollars = (
        tokens.input * spec.input_price
        + tokens.cache_write * spec.input_price * write
        + tokens.cache_read * spec.input_price * spec.cache_read
        + tokens.output * spec.output_price
    ) / 1_000_000
    return dollars * (BATCH_DISCOUNT if batch else 1.0)


def table_ids() -> list[str]:
    """The models (not families) the table names, in its order."""
    return [key for key in MODELS if key not in FAMILIES]


def _pick(stored: Any, table: Any) -> tuple[Any, str]:
    if stored is not None:
        return stored, "api"
    return (table, "table") if table not in (None, False) else (None, "assumed")


def _sane(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored ``model_info`` row with what cannot be true left out: a context that is not a
    positive whole number, a lifecycle the API does not name."""
    kept = dict(stored)
    context = kept.get("max_input_tokens")
    if not (isinstance(context, int) and not isinstance(context, bool) and context > 0):
        kept["max_input_tokens"] = None
    if kept.get("lifecycle") not in LIFECYCLES:
        kept["lifecycle"] = None
    return kept


def _day(value: Any) -> date | None:
    """A stored moment (a datetime, or its text as SQLite keeps it) as a date; None when it
    is none or not a moment."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _image_input(capabilities: Any) -> bool | None:
    """``capabilities.image_input.supported`` of a stored row (a dict, or its JSON text)."""
    if isinstance(capabilities, str):
        try:
            capabilities = json.loads(capabilities)
        except ValueError:
            return None
    if not isinstance(capabilities, Mapping):
        return None
    image_input = capabilities.get("image_input")
    supported = image_input.get("supported") if isinstance(image_input, Mapping) else None
    return supported if isinstance(supported, bool) else None
