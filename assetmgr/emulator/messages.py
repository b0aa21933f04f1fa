"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: image blocks checked as the API does.

No model runs. The reply is a well-formed Message whose text names every image received
(``Image 1: 640x480 image/jpeg (base64)``), so a caller can see exactly what arrived. Token
counts: text costs ceil(characters / 4) over the system prompt and all text blocks; each image
costs ceil(w*h/750) after the documented downscale (see :mod:`.images`). A ``url`` image is not
fetched: it is named by its URL and costed as a 1092x1092 image.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import dataclass

from .errors import ApiError, bad_request, new_id, not_found
from .images import (
    IMAGE_TYPES,
    MAX_LONG_EDGE,
    MAX_PIXELS,
    UNKNOWN_SIZE,
    dimensions,
    image_tokens,
    sniff,
)
from .store import Store

MAX_IMAGES = 100
MAX_SIDE, MANY_IMAGES, MANY_IMAGES_SIDE = 8000, 20, 2000
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_TYPES_TEXT = "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"


@dataclass
class Seen:
    """One image block as received."""

    path: str
    label: str
    width: int | None = None
    height: int | None = None
    oversized: str = "downsize"

    @property
    def tokens(self) -> int:
        return image_tokens(*(self.size or UNKNOWN_SIZE))

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width else None


def create_message(raw: bytes, store: Store, workspace: str) -> dict:
    body = _parse(raw)
    _check_envelope(body, needs_max_tokens=True)
    if body.get("stream"):
        raise bad_request(
            "stream: streaming is not supported by the assetmgr emulator; "
            "send the request without `stream`."
        )
    images, text_tokens = _walk(body, store, workspace)
    reply = _describe(images)
    output_tokens = math.ceil(len(reply) / 4)
    stop_reason = "end_turn"
    if output_tokens > body["max_tokens"]:
        reply, output_tokens, stop_reason = (
            reply[: body["max_tokens"] * 4],
            body["max_tokens"],
            "max_tokens",
        )
    return {
        "id": new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [{"type": "text", "text": reply}],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": text_tokens + sum(i.tokens for i in images),
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def count_tokens(raw: bytes, store: Store, workspace: str) -> dict:
    body = _parse(raw)
    _check_envelope(body, needs_max_tokens=False)
    images, text_tokens = _walk(body, store, workspace)
    return {"input_tokens": text_tokens + sum(i.tokens for i in images)}


def _parse(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
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


# -- walking the content ----------------------------------------------------------------


def _walk(body: dict, store: Store, workspace: str) -> tuple[list[Seen], int]:
    """Every image block (tool results included) and the text token count."""
    images: list[Seen] = []
    chars = _text_chars(body.get("system"))
    for i, message in enumerate(body["messages"]):
        chars += _walk_blocks(message["content"], f"messages.{i}.content", images, store, workspace)
    _check_limits(images)
    return images, math.ceil(chars / 4)


def _walk_blocks(content, path: str, images: list, store: Store, workspace: str) -> int:
    if isinstance(content, str):
        return len(content)
    chars = 0
    for j, block in enumerate(content if isinstance(content, list) else []):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            chars += len(block.get("text") or "")
        elif kind == "image":
            images.append(_image(block, f"{path}.{j}", len(images) + 1, store, workspace))
        elif kind == "tool_result":
            chars += _walk_blocks(
                block.get("content") or "", f"{path}.{j}.content", images, store, workspace
            )
    return chars


def _text_chars(system) -> int:
    if isinstance(system, str):
        return len(system)
    if isinstance(system, list):
        return sum(len(b.get("text") or "") for b in system if isinstance(b, dict))
    return 0


def _image(block: dict, path: str, number: int, store: Store, workspace: str) -> Seen:
    source = block.get("source") if isinstance(block.get("source"), dict) else {}
    kind = source.get("type")
    oversized = (block.get("transformations") or {}).get("oversized_image", "downsize")
    if kind == "base64":
        seen = _base64_image(source, f"{path}.image.source.base64", number)
    elif kind == "file":
        seen = _file_image(source, f"{path}.image.source", number, store, workspace)
    elif kind == "url":
        seen = _url_image(source, f"{path}.image.source.url", number)
    else:
        raise bad_request(
            f"{path}.image.source: Input tag '{kind}' found using 'type' does not "
            "match any of the expected tags: 'base64', 'file', 'url'"
        )
    seen.path, seen.oversized = path, oversized
    return seen


def _base64_image(source: dict, path: str, number: int) -> Seen:
    media_type = source.get("media_type")
    if media_type not in IMAGE_TYPES:
        raise bad_request(f"{path}.media_type: Input should be {_TYPES_TEXT}")
    if not source.get("data"):
        raise bad_request(f"{path}: image cannot be empty")
    try:
        data = base64.b64decode(source["data"], validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise bad_request(f"{path}.data: invalid base64 data") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise bad_request(
            f"{path}: image exceeds 5 MB maximum: {len(data)} bytes > {MAX_IMAGE_BYTES} bytes"
        )
    if sniff(data) != media_type:
        raise bad_request(
            f"{path}.data: The image was specified using the {media_type} media "
            f"type, but does not appear to be a valid {media_type} image"
        )
    size = dimensions(data)
    if size is None:
        raise bad_request(f"{path}.data: Could not process image")
    return Seen(path, f"Image {number}: {size[0]}x{size[1]} {media_type} (base64)", *size)


def _file_image(source: dict, path: str, number: int, store: Store, workspace: str) -> Seen:
    file_id = source.get("file_id")
    if not isinstance(file_id, str) or not file_id:
        raise bad_request(f"{path}.file_id: Field required")
    record = store.get(workspace, file_id)
    if record is None:
        raise not_found(file_id)
    if record.expired(store.clock.now()):
        raise ApiError(404, f"File `{file_id}` has expired.", error_code="file_expired")
    if record.mime_type not in IMAGE_TYPES or record.width is None:
        raise bad_request(
            f"{path}: The file type doesn't match the content block type: file "
            f"`{file_id}` is {record.mime_type}, an image block needs "
            f"{_TYPES_TEXT}."
        )
    return Seen(
        path,
        f"Image {number}: {record.width}x{record.height} {record.mime_type} (file {file_id})",
        record.width,
        record.height,
    )


def _url_image(source: dict, path: str, number: int) -> Seen:
    url = source.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise bad_request(f"{path}: Input should be a valid http or https URL")
    return Seen(path, f"Image {number}: url {url} (not fetched)")


# -- limits and the reply -------------------------------------------------------------------


def _check_limits(images: list[Seen]) -> None:
    if len(images) > MAX_IMAGES:
        raise bad_request(
            f"messages: Too many images in the request: {len(images)} > {MAX_IMAGES}."
        )
    many = len(images) > MANY_IMAGES
    side = MANY_IMAGES_SIDE if many else MAX_SIDE
    too_big = [i.path for i in images if i.size and max(i.size) > side]
    if too_big:
        what = "max allowed size for many-image requests" if many else "max allowed size"
        raise _dimensions_error(
            f"{too_big[0]}: At least one of the image dimensions exceed {what}: {side} pixels",
            side,
            too_big,
        )
    strict = [i.path for i in images if i.oversized == "error" and i.size and _resized(*i.size)]
    if strict:
        raise _dimensions_error(
            f"{strict[0]}: the image is larger than {MAX_LONG_EDGE} pixels "
            "on its long edge or about 1.15 megapixels, and "
            "transformations.oversized_image is 'error'",
            MAX_LONG_EDGE,
            strict,
        )


def _resized(width: int, height: int) -> bool:
    return max(width, height) > MAX_LONG_EDGE or width * height > MAX_PIXELS


def _dimensions_error(message: str, side: int, paths: list[str]) -> ApiError:
    return bad_request(
        message,
        error_code="image_dimensions_too_large",
        details={"max_side_length_pixels": side, "paths": paths},
    )


def _describe(images: list[Seen]) -> str:
    if not images:
        return "No images received."
    return "\n".join(i.label for i in images)
