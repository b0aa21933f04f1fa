"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: image and document blocks checked as
the API does, with the API's wording.

No model runs. The reply is a well-formed Message whose text names every image received
(``Image 1: 640x480 image/jpeg (base64)``), so a caller can see exactly what arrived.

Paths in messages follow the real error bodies: a block is named by its position and its type,
``messages.7.content.2.image.source.base64.data``, and an image inside a tool result by both,
``messages.83.content.0.tool_result.content.1.image.source.base64``. The ``paths`` of an
``image_dimensions_too_large`` error are positions only (``messages.0.content.1.content.0``), as
the SDK's ``ImageDimensionsTooLargeErrorDetails`` documents.

Token counts: text costs ceil(characters / 4) over the system prompt, text blocks, tool result
text and plain-text documents; each image costs its 28x28 patches after the server's resize for
the model's tier (see :mod:`.images`). A ``url`` image is not fetched: it is named by its URL and
costed as a 1092x1092 image. PDF pages count towards the media limit but cost nothing.

``count_tokens`` refuses any ``file`` source (image, document or ``container_upload``) with the
real API's 400 "File sources are not supported in the token counting endpoint.".

Per model (see :mod:`.models`): a retired model is 404 "model: <id>"; images and document pages
per request are at most 600 on a model with a context over 200k tokens, else 100 (and 100 for a
model the emulator does not know); models from Claude Opus 4.7 on refuse ``temperature``,
``top_p`` and ``top_k`` other than the defaults (400).

Checks run in this order: the envelope (model, max_tokens, messages, roles, then whether the
model is retired); then, for ``create``, the sampling parameters; then each block as
it comes, in order (shape, base64, the 5 MB limit, media type, the file behind a ``file_id``);
then the request as a whole: the number of images and document pages, the 8000 px side limit,
the 2000 px limit of requests with more than 20 images, decoding every image fully, and last
``oversized_image: "error"``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime

from . import caching, models
from .errors import ApiError, bad_request, new_id, not_found
from .images import (
    DOCUMENT_TYPES,
    IMAGE_TYPES,
    UNKNOWN_SIZE,
    decodes,
    dimensions,
    fitted,
    image_tokens,
    sniff,
    tier,
)
from .store import FileRecord, Store

MAX_SIDE, MANY_IMAGES, MANY_IMAGES_SIDE = 8000, 20, 2000
# Counted on the base64 text, as the API does ("5577016 bytes > 5242880 bytes" for a 4 MB file).
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_TYPES_TEXT = "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
FILES_NOT_COUNTED = "File sources are not supported in the token counting endpoint."
_PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
# Emulator only: a request whose text contains this is refused (stop_reason "refusal"), so
# clients can test how they report refusals.
REFUSAL_TRIGGER = "[assetmgr-emulator:refuse]"


@dataclass
class Seen:
    """One image block as received."""

    path: str  # position only, for error details: messages.0.content.1.content.0
    where: str  # position and types, for messages: messages.0.content.1.tool_result.content.0.image
    source: str  # where the pixels came from, for messages: ....image.source.base64.data
    label: str
    width: int | None = None
    height: int | None = None
    oversized: str = "downsize"
    data: bytes | None = field(default=None, repr=False)
    record: FileRecord | None = field(default=None, repr=False)

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width else None


@dataclass
class Walk:
    """What a request's content holds: images, PDF pages, and text characters."""

    tier: str
    media_limit: int
    counting: bool = False  # the token counting endpoint, which takes no file sources
    now: datetime | None = None  # the moment files are checked for expiry (None: the clock's)
    images: list[Seen] = field(default_factory=list)
    pages: int = 0
    chars: int = 0
    marks: list[caching.Mark] = field(default_factory=list)
    refused: bool = False

    def tokens(self, chars: int | None = None, images: int | None = None) -> int:
        """Tokens of the whole request, or of its first ``chars`` characters and ``images``."""
        chars = self.chars if chars is None else chars
        seen = self.images if images is None else self.images[:images]
        sizes = [i.size or UNKNOWN_SIZE for i in seen]
        return math.ceil(chars / 4) + sum(image_tokens(w, h, self.tier) for w, h in sizes)

    def mark(self, position: tuple, control, where: str) -> None:
        ttl = caching.ttl_of(control, where)
        self.marks.append(caching.Mark(position, ttl, self.chars, len(self.images)))

    def text(self, value: str) -> None:
        self.chars += len(value)
        self.refused = self.refused or REFUSAL_TRIGGER in value


def create_message(
    raw: bytes, store: Store, workspace: str, cache: caching.PromptCache | None = None
) -> dict:
    return reply(parse(raw), store, workspace, cache)


def reply(
    body: dict,
    store: Store,
    workspace: str,
    cache: caching.PromptCache | None = None,
    *,
    now: datetime | None = None,
    service_tier: str = "standard",
    refuse: bool = False,
) -> dict:
    """The Message for a parsed request body, or the ApiError the API would answer. ``now`` is
    the moment it is answered (a batch item's processing time); ``refuse`` refuses it."""
    _check_envelope(body, needs_max_tokens=True)
    if body.get("stream"):
        raise bad_request(
            "stream: streaming is not supported by the assetmgr emulator; "
            "send the request without `stream`."
        )
    models.check_sampling(body)
    walk = _walk(body, store, workspace, now=now)
    usage = _cache_usage(body, walk, workspace, cache, now or store.clock.now())
    if refuse or walk.refused:
        text, output_tokens, stop_reason = "", 1, "refusal"
    else:
        text, output_tokens, stop_reason = _text_reply(walk, body["max_tokens"])
    stop_details = (
        {"type": "refusal", "category": None, "explanation": None}
        if stop_reason == "refusal"
        else None
    )
    return {
        "id": new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": text, "citations": None}] if text else [],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "stop_details": stop_details,
        "container": None,
        "diagnostics": None,
        "usage": {
            **usage,
            "output_tokens": output_tokens,
            "server_tool_use": None,
            "service_tier": service_tier,
            "inference_geo": None,
            "output_tokens_details": None,
            "speed": None,
        },
    }


def _text_reply(walk: Walk, max_tokens: int) -> tuple[str, int, str]:
    text = _describe(walk.images)
    output_tokens = math.ceil(len(text) / 4)
    if output_tokens > max_tokens:
        return text[: max_tokens * 4], max_tokens, "max_tokens"
    return text, output_tokens, "end_turn"


def _cache_usage(
    body: dict, walk: Walk, workspace: str, cache: caching.PromptCache | None, now: datetime
) -> dict:
    """input_tokens and the cache figures; without marks (or a cache), nothing is cached."""
    if not walk.marks or cache is None:
        return caching.uncached(walk.tokens())
    for mark in walk.marks:
        mark.tokens = walk.tokens(mark.chars, mark.images)
        mark.key = caching.prefix_key(body, mark, workspace)
    return cache.account(walk.marks, walk.tokens(), body["model"], now)


def count_tokens(raw: bytes, store: Store, workspace: str) -> dict:
    body = parse(raw)
    _check_envelope(body, needs_max_tokens=False)
    return {"input_tokens": _walk(body, store, workspace, counting=True).tokens()}


def parse(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return body


def _check_envelope(body: dict, *, needs_max_tokens: bool) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad_request("model: Field required")
    if needs_max_tokens:
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise bad_request("max_tokens: Field required")
        if max_tokens < 1:
            raise bad_request("max_tokens: Input should be greater than or equal to 1")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages: Field required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise bad_request(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if not isinstance(message.get("content"), (str, list)):
            raise bad_request(f"messages.{i}.content: Field required")
    models.check_usable(body["model"])


# -- walking the content ----------------------------------------------------------------


def _walk(
    body: dict,
    store: Store,
    workspace: str,
    counting: bool = False,
    now: datetime | None = None,
) -> Walk:
    """Every image and document block (tool results included), the cache breakpoints, then the
    request's limits."""
    model = body["model"]
    walk = Walk(tier(model), models.media_limit(model), counting, now)
    _system(body.get("system"), walk)
    for i, message in enumerate(body["messages"]):
        prefix = f"messages.{i}.content"
        _blocks(message["content"], prefix, prefix, walk, store, workspace, message=i)
    if body.get("cache_control") is not None:
        walk.mark(("end",), body["cache_control"], "cache_control")
    caching.check_marks(walk.marks)
    _check_limits(walk)
    return walk


def _blocks(
    content,
    where: str,
    path: str,
    walk: Walk,
    store: Store,
    workspace: str,
    message: int | None = None,
) -> None:
    """``where`` names positions and block types (for messages); ``path`` positions only.
    ``message`` is the message's index for its top-level blocks, whose breakpoints it marks."""
    if isinstance(content, str):
        walk.text(content)
        return
    for j, block in enumerate(content):
        _block(block, j, where, path, walk, store, workspace)
        if message is not None:
            _mark_block(block, walk, ("messages", message, j), f"{where}.{j}")


def _mark_block(block, walk: Walk, position: tuple, at: str) -> None:
    """A block's breakpoint, or the breakpoint of a block inside it (a tool result's)."""
    inner = block.get("content") if block.get("type") == "tool_result" else None
    controls = [(block.get("cache_control"), f"{at}.cache_control")]
    if isinstance(inner, list):
        controls += [
            (b.get("cache_control"), f"{at}.tool_result.content.{k}.cache_control")
            for k, b in enumerate(inner)
            if isinstance(b, dict)
        ]
    for control, where in controls:
        if control is not None:
            walk.mark(position, control, where)


def _block(block, j: int, where: str, path: str, walk: Walk, store: Store, workspace: str) -> None:
    at, pos = f"{where}.{j}", f"{path}.{j}"
    if not isinstance(block, dict):
        raise bad_request(f"{at}: Input should be a valid dictionary or object")
    kind = block.get("type")
    if not isinstance(kind, str):
        raise bad_request(f"{at}: Unable to extract tag using discriminator 'type'")
    if kind == "text":
        walk.text(_string(block, "text", f"{at}.text"))
    elif kind == "image":
        walk.images.append(_image(block, f"{at}.image", pos, walk, store, workspace))
    elif kind == "document":
        _document(block, at, walk, store, workspace)
    elif kind == "container_upload" and walk.counting:
        raise bad_request(FILES_NOT_COUNTED)
    elif kind == "tool_result":
        inner = block.get("content")
        if inner is None:
            return
        if not isinstance(inner, (str, list)):
            raise bad_request(
                f"{at}.tool_result.content: Input should be a valid string or a valid list"
            )
        _blocks(inner, f"{at}.tool_result.content", f"{pos}.content", walk, store, workspace)
    # Other block types (tool_use, thinking, ...) are accepted and not interpreted.


def _string(block: dict, name: str, where: str) -> str:
    value = block.get(name)
    if value is None:
        raise bad_request(f"{where}.{name}: Field required")
    if not isinstance(value, str):
        raise bad_request(f"{where}.{name}: Input should be a valid string")
    return value


def _system(system, walk: Walk) -> None:
    if system is None:
        return
    if isinstance(system, str):
        walk.text(system)
        return
    if not isinstance(system, list):
        raise bad_request("system: Input should be a valid string or a valid list")
    for k, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise bad_request(f"system.{k}: Input should be a text block")
        walk.text(_string(block, "text", f"system.{k}"))
        if block.get("cache_control") is not None:
            walk.mark(("system", k), block["cache_control"], f"system.{k}.cache_control")


def _source(block: dict, where: str) -> tuple[dict, str]:
    source = block.get("source")
    if source is None:
        raise bad_request(f"{where}.source: Field required")
    if not isinstance(source, dict):
        raise bad_request(f"{where}.source: Input should be a valid dictionary or object")
    kind = source.get("type")
    if not isinstance(kind, str):
        raise bad_request(f"{where}.source: Unable to extract tag using discriminator 'type'")
    return source, kind


def _image(block: dict, where: str, path: str, walk: Walk, store: Store, workspace: str) -> Seen:
    number = len(walk.images) + 1
    oversized = _oversized(block, where)
    source, kind = _source(block, where)
    if kind == "base64":
        seen = _base64_image(source, f"{where}.source.base64", number)
    elif kind == "file":
        if walk.counting:
            raise bad_request(FILES_NOT_COUNTED)
        record = _file(source, f"{where}.source.file", store, workspace, walk.now)
        if record.mime_type not in IMAGE_TYPES:
            raise _wrong_block(where, record, "an image block", _TYPES_TEXT)
        size = record.size
        if size is None:
            raise bad_request("Could not process image")
        label = f"Image {number}: {_size_text(size)} {record.mime_type} (file {record.id})"
        seen = Seen("", "", f"{where}.source.file", label, *size)
        seen.record = record
    elif kind == "url":
        url = source.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise bad_request(f"{where}.source.url.url: Input should be a valid http or https URL")
        seen = Seen("", "", f"{where}.source.url", f"Image {number}: url {url} (not fetched)")
    else:
        raise bad_request(
            f"{where}.source: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'base64', 'file', 'url'"
        )
    seen.path, seen.where, seen.oversized = path, where, oversized
    return seen


def _oversized(block: dict, where: str) -> str:
    transformations = block.get("transformations")
    if transformations is None:
        return "downsize"
    if not isinstance(transformations, dict):
        raise bad_request(f"{where}.transformations: Input should be a valid dictionary or object")
    value = transformations.get("oversized_image", "downsize")
    if value not in ("downsize", "error"):
        raise bad_request(
            f"{where}.transformations.oversized_image: Input should be 'downsize' or 'error'"
        )
    return value


def _base64_image(source: dict, where: str, number: int) -> Seen:
    media_type = source.get("media_type")
    if media_type not in IMAGE_TYPES:
        raise bad_request(f"{where}.media_type: Input should be {_TYPES_TEXT}")
    text = source.get("data")
    if text is None:
        raise bad_request(f"{where}.data: Field required")
    if not isinstance(text, str):
        raise bad_request(f"{where}.data: Input should be a valid string")
    if not text:
        raise bad_request(f"{where}: image cannot be empty")
    if len(text) > MAX_IMAGE_BYTES:
        raise bad_request(
            f"{where}: image exceeds 5 MB maximum: {len(text)} bytes > {MAX_IMAGE_BYTES} bytes"
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{where}: invalid base64 data") from None
    actual = sniff(data)
    if actual in IMAGE_TYPES and actual != media_type:
        raise bad_request(
            f"{where}: The image was specified using the {media_type} media type, "
            f"but the image appears to be a {actual} image"
        )
    if actual != media_type:
        raise bad_request(
            f"{where}.data: Image does not match the provided media type {media_type}"
        )
    size = dimensions(data)
    if size is None:
        raise bad_request("Could not process image")
    seen = Seen(
        "", "", f"{where}.data", f"Image {number}: {_size_text(size)} {media_type} (base64)"
    )
    seen.width, seen.height = size
    seen.data = data
    return seen


def _file(
    source: dict, where: str, store: Store, workspace: str, now: datetime | None
) -> FileRecord:
    file_id = source.get("file_id")
    if file_id is None:
        raise bad_request(f"{where}.file_id: Field required")
    if not isinstance(file_id, str):
        raise bad_request(f"{where}.file_id: Input should be a valid string")
    record = store.get(workspace, file_id)
    if record is None:
        raise not_found(file_id)
    if record.expired(now or store.clock.now()):
        raise ApiError(404, f"File `{file_id}` has expired.", error_code="file_expired")
    return record


def _wrong_block(where: str, record: FileRecord, block: str, wanted: str) -> ApiError:
    return bad_request(
        f"{where}.source: The file type doesn't match the content block type: file "
        f"`{record.id}` is {record.mime_type}; {block} takes {wanted}."
    )


def _document(block: dict, at: str, walk: Walk, store: Store, workspace: str) -> None:
    where = f"{at}.document"
    source, kind = _source(block, where)
    if kind == "file":
        if walk.counting:
            raise bad_request(FILES_NOT_COUNTED)
        record = _file(source, f"{where}.source.file", store, workspace, walk.now)
        if record.mime_type not in DOCUMENT_TYPES:
            raise _wrong_block(
                where, record, "a document block", "'application/pdf' or 'text/plain'"
            )
        if record.mime_type == "application/pdf":
            walk.pages += _pdf_pages(record.data)
        else:
            walk.text(record.data.decode("utf-8", "replace"))
    elif kind == "base64":
        if source.get("media_type") != "application/pdf":
            raise bad_request(
                f"{where}.source.base64.media_type: Input should be 'application/pdf'"
            )
        text = source.get("data")
        try:
            data = base64.b64decode(text if isinstance(text, str) else "", validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if sniff(data) != "application/pdf":
            raise bad_request(f"{at}.pdf.source.base64.data: The PDF specified was not valid.")
        walk.pages += _pdf_pages(data)
    elif kind == "text":
        if source.get("media_type") != "text/plain":
            raise bad_request(f"{where}.source.text.media_type: Input should be 'text/plain'")
        walk.text(_string(source, "data", f"{where}.source.text"))
    elif kind not in ("content", "url"):  # neither is interpreted
        raise bad_request(
            f"{where}.source: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'base64', 'content', 'file', 'text', 'url'"
        )


def _pdf_pages(data: bytes) -> int:
    return max(1, len(_PDF_PAGE.findall(data)))


# -- limits and the reply -------------------------------------------------------------------


MANY_IMAGES_WORDS = " for many-image requests"


def _check_limits(walk: Walk) -> None:
    images = walk.images
    if walk.pages + len(images) > walk.media_limit:
        raise bad_request(
            f"Too much media: {walk.pages} document pages + {len(images)} images "
            f"> {walk.media_limit}"
        )
    # (the longest side allowed, in what requests, applying over this many images)
    for side, where, over in (
        (MAX_SIDE, "", 0),
        (MANY_IMAGES_SIDE, MANY_IMAGES_WORDS, MANY_IMAGES),
    ):
        too_big = [i for i in images if i.size and max(i.size) > side] if len(images) > over else []
        if too_big:
            raise _dimensions_error(
                f"{too_big[0].source}: At least one of the image dimensions exceed max allowed "
                f"size{where}: {side} pixels",
                side,
                too_big,
            )
    for image in images:
        if not _decodes(image):
            raise bad_request("Could not process image")
    strict = [i for i in images if i.oversized == "error" and i.size and _resized(i, walk.tier)]
    if strict:
        fits = [fitted(*i.size, walk.tier) for i in strict]
        limit = min(max(size) for size in fits)
        first, fit = strict[0], fits[0]
        raise _dimensions_error(
            f"{first.source}: The image is {_size_text(first.size)} pixels, larger than this "
            f"model reads without downsizing; the largest size that fits is {_size_text(fit)} "
            "pixels, and transformations.oversized_image is 'error'",
            limit,
            strict,
        )


def _decodes(image: Seen) -> bool:
    if image.data is not None:
        return decodes(image.data)
    record = image.record
    if record is None:  # a url image: nothing to decode
        return True
    if record.decodable is None:
        record.decodable = decodes(record.data)
    return record.decodable


def _resized(image: Seen, tier_name: str) -> bool:
    return fitted(*image.size, tier_name) != image.size


def _size_text(size: tuple[int, int] | None) -> str:
    return f"{size[0]}x{size[1]}" if size else "unknown size"


def _dimensions_error(message: str, side: int, images: list[Seen]) -> ApiError:
    return bad_request(
        message,
        error_code="image_dimensions_too_large",
        details={"max_side_length_pixels": side, "paths": [i.path for i in images]},
    )


def _describe(images: list[Seen]) -> str:
    if not images:
        return "No images received."
    return "\n".join(i.label for i in images)
