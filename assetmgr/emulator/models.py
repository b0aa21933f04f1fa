"""The models the emulator knows, the per-model request rules that follow from them, and the
Models API over them: ``GET /v1/models`` (a page, newest first) and ``GET /v1/models/{id}``.

One table (``MODELS``) holds every field of the SDK's ``ModelInfo`` for each model; the rules the
Messages endpoints apply are read from it:

- images (and PDF pages) per request: 600 on a model whose context is larger than 200k tokens,
  else 100; a model the emulator does not know gets 100 (vision-2026.md);
- a retired model cannot be used: 404 ``not_found_error`` "model: <id>";
- models from Claude Opus 4.7 on (the 5.x family included) take no ``temperature``, ``top_p`` or
  ``top_k`` other than the defaults (vision-2026.md; the Claude Opus 4.7 migration notes).

The list follows the SDK's ``client.models.list()``: ``limit`` (1..1000, default 20),
``after_id`` (the page after that model, older ones), ``before_id`` (the page before it, newer
ones), and ``lifecycle[]`` (any of active, deprecated, retired; without it, retired models are
left out, as the SDK documents). ``retrieve`` answers for any known id, retired ones included.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ApiError, bad_request
from .images import HIGH_FROM, version
from .paging import id_page

LARGE_CONTEXT, STANDARD_CONTEXT = 1_000_000, 200_000
MEDIA_LIMIT, LARGE_CONTEXT_MEDIA_LIMIT = 100, 600
LIFECYCLES = ("active", "deprecated", "retired")
DEFAULT_LIFECYCLES = ("active", "deprecated")
# The default of each sampling parameter; any other value is refused where sampling is fixed.
# top_p and top_k have no default value: sending them at all is a change.
SAMPLING_DEFAULTS = {"temperature": 1, "top_p": None, "top_k": None}


@dataclass(frozen=True)
class Model:
    id: str
    display_name: str
    line: str
    created: str  # release date, YYYY-MM-DD
    max_input_tokens: int
    max_tokens: int
    lifecycle: str = "active"
    deprecated: str | None = None
    retires: str | None = None

    @property
    def version(self) -> tuple[int, int]:
        return version(self.id) or (0, 0)

    @property
    def media_limit(self) -> int:
        return (
            LARGE_CONTEXT_MEDIA_LIMIT if self.max_input_tokens > STANDARD_CONTEXT else MEDIA_LIMIT
        )

    def info(self) -> dict:
        """The ``ModelInfo`` body: every field the SDK's type defines."""
        return {
            "type": "model",
            "id": self.id,
            "display_name": self.display_name,
            "created_at": _timestamp(self.created),
            "max_input_tokens": self.max_input_tokens,
            "max_tokens": self.max_tokens,
            "lifecycle": self.lifecycle,
            "deprecated_at": _timestamp(self.deprecated),
            "retires_at": _timestamp(self.retires),
            "line": self.line,
            "capabilities": _capabilities(self),
        }


# Newest first. Release dates of models not yet described publicly, deprecation dates, and
# max_tokens are the emulator's choices; the retirement dates are vision-2026.md's. The docs do
# not list context sizes per model: the 5.x family, claude-fable-5-2 and claude-opus-4-8 get a
# large context (so 600 images per request), the others 200k.
MODELS = (
    Model("claude-opus-5-5", "Claude Opus 5.5", "opus", "2026-11-18", LARGE_CONTEXT, 128_000),
    Model("claude-sonnet-5-5", "Claude Sonnet 5.5", "sonnet", "2026-11-17", LARGE_CONTEXT, 128_000),
    Model("claude-haiku-5-5", "Claude Haiku 5.5", "haiku", "2026-11-10", LARGE_CONTEXT, 64_000),
    Model("claude-fable-5-2", "Claude Fable 5.2", "fable", "2026-09-15", LARGE_CONTEXT, 128_000),
    Model("claude-opus-4-8", "Claude Opus 4.8", "opus", "2026-07-14", LARGE_CONTEXT, 128_000),
    Model("claude-opus-4-7", "Claude Opus 4.7", "opus", "2026-04-16", STANDARD_CONTEXT, 128_000),
    Model(
        "claude-sonnet-4-6", "Claude Sonnet 4.6", "sonnet", "2026-02-17", STANDARD_CONTEXT, 64_000
    ),
    Model("claude-opus-4-6", "Claude Opus 4.6", "opus", "2026-02-05", STANDARD_CONTEXT, 128_000),
    Model(
        "claude-opus-4-5",
        "Claude Opus 4.5",
        "opus",
        "2025-11-24",
        STANDARD_CONTEXT,
        64_000,
        lifecycle="deprecated",
        deprecated="2026-10-21",
        retires="2027-01-22",
    ),
    Model("claude-haiku-4-5", "Claude Haiku 4.5", "haiku", "2025-10-15", STANDARD_CONTEXT, 64_000),
    Model(
        "claude-sonnet-4-5",
        "Claude Sonnet 4.5",
        "sonnet",
        "2025-09-29",
        STANDARD_CONTEXT,
        64_000,
        lifecycle="retired",
        deprecated="2026-08-28",
        retires="2026-11-30",
    ),
)
_BY_ID = {m.id: m for m in MODELS}
_ORDER = {m.id: n for n, m in enumerate(MODELS)}


def find(model_id: str) -> Model | None:
    return _BY_ID.get(model_id)


# -- rules for Messages ---------------------------------------------------------------------


def media_limit(model_id: str) -> int:
    """Images and document pages one request may carry; 100 for a model not in the table."""
    model = find(model_id)
    return model.media_limit if model else MEDIA_LIMIT


def check_usable(model_id: str) -> None:
    """A retired model is gone: requests naming it fail as the API's do."""
    model = find(model_id)
    if model is not None and model.lifecycle == "retired":
        raise ApiError(404, f"model: {model_id}")


def fixed_sampling(model_id: str) -> bool:
    """Whether the model refuses sampling parameters: Claude Opus 4.7 and every later model,
    read from the name (so for names not in the table too)."""
    return (version(model_id) or (0, 0)) >= HIGH_FROM


def check_sampling(body: dict) -> None:
    model_id = body["model"]
    if not fixed_sampling(model_id):
        return
    for name, default in SAMPLING_DEFAULTS.items():
        value = body.get(name)
        if value is not None and value != default:
            raise bad_request(
                f"{name}: `{name}` is deprecated for this model; {model_id} takes no "
                "temperature, top_p or top_k other than the defaults: leave them out."
            )


# -- the Models API ---------------------------------------------------------------------------


def retrieve(model_id: str) -> dict:
    model = find(model_id)
    if model is None:
        raise ApiError(404, f"model: {model_id}")
    return model.info()


def list_models(query: dict[str, list[str]]) -> dict:
    wanted = _lifecycles(query)
    listed = [m for m in MODELS if m.lifecycle in wanted]
    return id_page(
        listed, query, lambda m: _ORDER[m.id], lambda name: _anchor(query, name), Model.info
    )


def _lifecycles(query: dict) -> tuple[str, ...]:
    """``lifecycle[]=active&lifecycle[]=retired`` as the SDK sends it (or plain ``lifecycle``)."""
    values = [v for key in ("lifecycle[]", "lifecycle") for v in query.get(key, [])]
    if not values:
        return DEFAULT_LIFECYCLES
    wrong = [v for v in values if v not in LIFECYCLES]
    if wrong:
        raise bad_request(
            f"lifecycle: Input should be 'active', 'deprecated' or 'retired', got {wrong[0]!r}"
        )
    if len(values) > len(LIFECYCLES):
        raise bad_request(f"lifecycle: at most {len(LIFECYCLES)} values, got {len(values)}")
    return tuple(values)


def _anchor(query: dict, name: str) -> int:
    model_id = query[name][-1]
    if model_id not in _ORDER:
        raise bad_request(f"{name}: no model `{model_id}` to page from.")
    return _ORDER[model_id]


def _timestamp(day: str | None) -> str | None:
    return f"{day}T00:00:00Z" if day else None


def _capabilities(model: Model) -> dict:
    """Every ``ModelCapabilities`` key. Images, PDFs, batches, citations, structured outputs and
    server tools: every model here; the rest by version (the emulator's reading of the release
    notes; assetmgr reads only image_input, batch and the context size)."""
    v, yes = model.version, _support
    effort = model.line == "opus" or v >= (4, 6)
    return {
        "batch": yes(True),
        "citations": yes(True),
        "code_execution": yes(model.line != "haiku" or v >= (5, 0)),
        "context_management": {
            "supported": True,
            "clear_thinking_20251015": yes(True),
            "clear_tool_uses_20250919": yes(True),
            "compact_20260112": yes(v >= (4, 6)),
        },
        "effort": {
            "supported": effort,
            "low": yes(effort),
            "medium": yes(effort),
            "high": yes(effort),
            "max": yes(effort and v >= (4, 6)),
            "xhigh": yes(v >= HIGH_FROM),
        },
        "image_input": yes(True),
        "pdf_input": yes(True),
        "server_tools": {"supported": True, "code_execution": yes(True), "web_search": yes(True)},
        "structured_outputs": yes(True),
        "thinking": {
            "supported": True,
            "types": {
                "adaptive": yes(v >= (4, 6)),
                "between_tools": yes(v >= HIGH_FROM),
                "disabled": yes(True),
                "enabled": yes(v < HIGH_FROM),
            },
        },
    }


def _support(flag: bool) -> dict:
    return {"supported": bool(flag)}
