"""The conformance suite's one table of cases, the fixtures they use, and the Python lane.

Each case is data: an operation (an SDK call, or a raw HTTP request for wire behaviour no SDK
call produces), its arguments, the emulator it runs against, what the real API answers
(``expect``), the behaviour it mirrors and where that is documented (``mirrors``, ``source``).
The same table runs through the Python SDK (:func:`python_lane`, here) and the TypeScript SDK
(``conformance_lane.mjs``, fed this table as JSON); :func:`check` judges both lanes' results.

Placeholders resolved by each lane: ``{"$b64": blob}`` is a blob as base64 text;
``{"$file": name}`` the id of a file the lane uploaded (or of a batch it created) in its setup. In expectations,
``{"$workspace": name}`` is that workspace's ``wrkspc_`` id.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import struct
import zlib

from PIL import Image

from assetmgr.emulator.store import workspace_id

MODEL = "claude-sonnet-5"  # high tier (2576 px, 4784 tokens)
STANDARD = "claude-sonnet-4-6"  # standard tier (1568 px, 1568 tokens)
BOUNDARY = "conformance0boundary"

# Where the real behaviour is written down (see ../shared/files-api.md for the tags).
DOC_FILES = "https://platform.claude.com/docs/en/build-with-claude/files"
DOC_ERRORS = "https://platform.claude.com/docs/en/api/errors"
DOC_VISION = "https://platform.claude.com/docs/en/build-with-claude/vision"
DOC_RATE = "https://platform.claude.com/docs/en/api/rate-limits"
DOC_MODELS = "https://platform.claude.com/docs/en/api/models"
DOC_BATCHES = "https://platform.claude.com/docs/en/build-with-claude/batch-processing"
DOC_CACHING = "https://platform.claude.com/docs/en/build-with-claude/prompt-caching"
DOC_SAMPLING = (
    "https://platform.claude.com/docs/en/about-claude/models/whats-new-claude-4-7"
    "#sampling-parameters-removed"
)
LARGE = "claude-sonnet-5-5"  # a large context: 600 images per request
RFC9112 = "https://www.rfc-editor.org/rfc/rfc9112 (message body length, chunked coding)"
RFC9110 = "https://www.rfc-editor.org/rfc/rfc9110 (HEAD, OPTIONS, 405 Allow)"
FETCH_CORS = "https://fetch.spec.whatwg.org/#http-cors-protocol"

# -- the emulators the cases run against -------------------------------------------------------

SERVERS = {
    # Batches made in the setup stay in progress for the whole run.
    "default": {"workspaces": {"bound-key": "team-bound"}, "batch_delay_seconds": 3600},
    "small": {"max_message_bytes": 4096, "max_file_bytes": 8192},
    "faults": {
        "error_rate": 1.0,
        "error_statuses": [429],
        "retry_after_ms": 1500,
        "max_message_bytes": 4096,
    },
    "expired": {},
}

# Steps each lane runs, through its own SDK, before the cases of a server.
SETUP = {
    "default": [
        {"op": "upload", "as": "png", "blob": "png", "filename": "a.png", "mime": "image/png"},
        {"op": "upload", "as": "png2", "blob": "jpeg", "filename": "b.jpg", "mime": "image/jpeg"},
        {"op": "upload", "as": "bomb", "blob": "bomb", "filename": "bomb.png", "mime": "image/png"},
        {
            "op": "upload",
            "as": "pdf",
            "blob": "pdf3",
            "filename": "doc.pdf",
            "mime": "application/pdf",
        },
        {"op": "upload", "as": "gone", "blob": "png", "filename": "gone.png", "mime": "image/png"},
        {"op": "delete", "file": "gone"},
        {"op": "batch", "as": "pending"},
        {"op": "batch", "as": "to_cancel"},
    ],
    "expired": [
        {
            "op": "upload",
            "as": "old",
            "blob": "png",
            "filename": "old.png",
            "mime": "image/png",
            "expires_in_seconds": 3600,
        },
        {"op": "admin", "method": "POST", "path": "/_emulator/clock", "json": {"advance": 3601}},
    ],
}

# -- blobs --------------------------------------------------------------------------------------


def _image(size, fmt="PNG", mode="RGB", noise=False, **options) -> bytes:
    image = Image.effect_noise(size, 60).convert(mode) if noise else Image.new(mode, size)
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _scrambled_png() -> bytes:
    """A PNG whose IDAT bytes are scrambled but whose chunk CRCs are recomputed: its header is
    fine and only decoding it shows the damage."""
    png = bytearray(_image((300, 200), noise=True))
    at = png.find(b"IDAT")
    length = struct.unpack(">I", png[at - 4 : at])[0]
    for k in range(at + 40, at + 200):
        png[k] ^= 0x5A
    png[at + 4 + length : at + 8 + length] = struct.pack(
        ">I", zlib.crc32(png[at : at + 4 + length])
    )
    return bytes(png)


def _pdf(pages: int) -> bytes:
    kids = " ".join(f"{n + 2} 0 R" for n in range(pages))
    objects = [f"1 0 obj << /Type /Pages /Kids [{kids}] /Count {pages} >> endobj"]
    objects += [f"{n + 2} 0 obj << /Type /Page /Parent 1 0 R >> endobj" for n in range(pages)]
    return ("%PDF-1.4\n" + "\n".join(objects) + "\n%%EOF\n").encode()


def _multipart(parts: list[tuple[str, bytes, str | None, str | None]]) -> bytes:
    out = b""
    for name, data, filename, mime in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n".encode()
        out += f"Content-Type: {mime}\r\n".encode() if mime else b""
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def batch_requests(*custom_ids: str) -> list[dict]:
    """A batch's requests: one small text request per custom_id (the setup's batches too)."""
    params = {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    return [{"custom_id": c, "params": params} for c in custom_ids]


def _message(*blocks, model=MODEL) -> dict:
    return {
        "model": model,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": list(blocks)}],
    }


def build_blobs() -> dict[str, bytes]:
    png = _image((64, 48))
    text_message = json.dumps(_message({"type": "text", "text": "hello there"})).encode()
    return {
        "png": png,
        "jpeg": _image((640, 480), "JPEG", noise=True),
        "png_1500": _image((1500, 1500)),
        "png_1092": _image((1092, 1092)),
        "png_2500x10": _image((2500, 10)),
        "png_4": _image((4, 4)),
        # 20000x10000 px of 1-bit pixels: a few KB on disk, 200 Mpx when decoded.
        "bomb": _image((20000, 10000), mode="1"),
        "scrambled": _scrambled_png(),
        "half_jpeg": (lambda j: j[: len(j) // 2])(_image((640, 480), "JPEG", noise=True)),
        # 4,182,762 bytes: 5,577,016 characters of base64, the size quoted in a real error.
        "fake_4mb_png": b"\x89PNG\r\n\x1a\n" + bytes(4_182_762 - 8),
        "not_image": b"this is not an image at all",
        "pdf3": _pdf(3),
        "multipart_extra": _multipart(
            [(f"field{n}", b"ignored", None, None) for n in range(40)]
            + [("file", png, "many.png", "image/png")]
        ),
        "multipart_two_files": _multipart(
            [("file", png, "a.png", "image/png"), ("file", png, "b.png", "image/png")]
        ),
        "message_json": text_message,
        "message_gzip": gzip.compress(text_message),
        "message_gzip_bomb": gzip.compress(b'{"model": "m"' + b" " * 200_000 + b"}"),
        "gzip_corrupt": b"\x1f\x8b\x08\x00" + b"corrupt" * 20,
        "big_json": json.dumps(_message({"type": "text", "text": "x" * 6000})).encode(),
    }


# -- the cases ----------------------------------------------------------------------------------


def _b64(blob: str) -> dict:
    return {"$b64": blob}


def _b64_image(blob: str, media_type: str = "image/png", **extra) -> dict:
    source = {"type": "base64", "media_type": media_type, "data": _b64(blob)}
    return {"type": "image", "source": source, **extra}


def _file_image(name: str, **extra) -> dict:
    return {"type": "image", "source": {"type": "file", "file_id": {"$file": name}}, **extra}


def _error(status, cls, kind, message=None, **more) -> dict:
    out = {"status": status, "class": cls, "type": kind, "request_id": True}
    if message is not None:
        out["message"] = message
    out.update(more)
    return out


_ERROR_BAD = ("BadRequestError", "invalid_request_error")
_TOOL_TURN = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}],
}
_STRICT = {"transformations": {"oversized_image": "error"}}
_WS_DEFAULT = {"$workspace": "default"}
_ISSUE = "https://github.com/"


def case(id, mirrors, source, op, args=None, expect=None, server="default", client=None):
    return {
        "id": id,
        "mirrors": mirrors,
        "source": source,
        "server": server,
        "op": op,
        "args": args or {},
        "expect": expect or {},
        "client": client or {},
    }


CASES = [
    # -- Files API ---------------------------------------------------------------------------
    case(
        "upload-returns-every-file-metadata-field",
        "An upload answers FileMetadata with every GA field, expires_at null, downloadable false",
        f"SDK types/file_metadata.py; {DOC_FILES}",
        "files.upload",
        {"file": {"blob": "png", "filename": "cat.png", "mime": "image/png"}},
        {
            "status": 200,
            "model": "FileMetadata",
            "body": {"mime_type": "image/png", "downloadable": False, "expires_at": None},
            "workspace_id": _WS_DEFAULT,
        },
    ),
    case(
        "upload-stores-a-huge-cheap-canvas",
        "The Files API stores any file up to 500 MB; a 20000x10000 1-bit PNG is just a file",
        f"{DOC_FILES} (file size limit 500 MB)",
        "files.upload",
        {"file": {"blob": "bomb", "filename": "bomb.png", "mime": "image/png"}},
        {"status": 200, "body": {"mime_type": "image/png", "filename": "bomb.png"}},
    ),
    case(
        "upload-ignores-extra-form-fields",
        "Form fields an upload does not use are ignored, however many (40 here)",
        "emulator choice (real limit unknown); docs/emulator.md fidelity table",
        "raw",
        {
            "method": "POST",
            "path": "/v1/files",
            "headers": {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
            "body": {"blob": "multipart_extra"},
        },
        {"status": 200, "body": {"filename": "many.png", "mime_type": "image/png"}},
    ),
    case(
        "upload-refuses-two-file-parts",
        "One file per upload request",
        "emulator choice (real behaviour unknown); docs/emulator.md fidelity table",
        "raw",
        {
            "method": "POST",
            "path": "/v1/files",
            "headers": {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
            "body": {"blob": "multipart_two_files"},
        },
        {
            "status": 400,
            "type": "invalid_request_error",
            "message": "file: only one file can be uploaded per request.",
        },
    ),
    case(
        "upload-chunked-body",
        "A body sent with Transfer-Encoding: chunked is read like one with a Content-Length",
        RFC9112,
        "raw",
        {
            "method": "POST",
            "path": "/v1/files",
            "headers": {"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
            "body": {"chunked_blob": "multipart_extra"},
        },
        {"status": 200, "body": {"filename": "many.png"}},
    ),
    case(
        "list-by-ids-omits-deleted-and-unknown",
        "ids[] returns one page of the visible files; deleted and unknown ids are silently omitted",
        f"SDK types/file_list_params.py; {DOC_FILES}",
        "files.list",
        {"ids": [{"$file": "png"}, {"$file": "gone"}, "file_011nothing"]},
        {"status": 200, "body": {"data.0.id": {"$file": "png"}, "next_page": None}, "count": 1},
    ),
    case(
        "retrieve-unknown-file-is-404",
        "A file that does not exist: 404 not_found_error, 'File `...` not found.'",
        f"{DOC_FILES} (error example)",
        "files.retrieve_metadata",
        {"file_id": "file_011nothinghere"},
        _error(
            404,
            "NotFoundError",
            "not_found_error",
            "File `file_011nothinghere` not found.",
            workspace_id=_WS_DEFAULT,
        ),
    ),
    case(
        "download-of-an-upload-is-not-downloadable",
        "Downloading a file you uploaded is 400 file_not_downloadable",
        f"{DOC_FILES}; SDK _error_classes.py",
        "files.download",
        {"file_id": {"$file": "png"}},
        _error(
            400,
            "FileNotDownloadableError",
            "invalid_request_error",
            error_code="file_not_downloadable",
        ),
    ),
    case(
        "delete-answers-file-deleted",
        "DELETE answers {id, type: file_deleted}",
        "SDK types/deleted_file.py",
        "files.delete",
        {"file_id": {"$file": "png2"}},
        {"status": 200, "model": "DeletedFile", "body": {"type": "file_deleted"}},
    ),
    case(
        "expired-file-content-is-file-expired",
        "An expired file's content is 404 file_expired",
        f"{DOC_FILES}; SDK _error_classes.py",
        "files.download",
        {"file_id": {"$file": "old"}},
        _error(404, "FileExpiredError", "not_found_error", error_code="file_expired"),
        server="expired",
    ),
    case(
        "expired-file-in-messages-is-file-expired",
        "A Messages request that references an expired file fails before inference",
        DOC_FILES,
        "messages.create",
        _message(_file_image("old")),
        _error(404, "FileExpiredError", "not_found_error", error_code="file_expired"),
        server="expired",
    ),
    # -- Messages: the reply -----------------------------------------------------------------
    case(
        "message-has-every-field-of-the-sdk-types",
        "A Message and its usage carry every field of the SDK types (service_tier, "
        "cache_creation, ...), so typed clients parse with nothing missing or extra",
        "SDK types/message.py, types/usage.py; TS resources/messages/messages.d.ts (Usage)",
        "messages.create",
        _message({"type": "text", "text": "hello there"}),
        {
            "status": 200,
            "model": "Message",
            "body": {
                "usage.service_tier": "standard",
                "usage.cache_creation.ephemeral_5m_input_tokens": 0,
                "usage.input_tokens": 3,
                "stop_reason": "end_turn",
            },
            "workspace_id": _WS_DEFAULT,
        },
    ),
    case(
        "count-tokens-counts-28px-patches",
        "Images cost ceil(w/28)*ceil(h/28) tokens: 64x48 is 3*2 = 6",
        f"{DOC_VISION}; vision-2026.md",
        "messages.count_tokens",
        {"model": MODEL, "messages": [{"role": "user", "content": [_b64_image("png")]}]},
        {"status": 200, "model": "MessageTokensCount", "body": {"input_tokens": 6}},
    ),
    case(
        "count-tokens-refuses-file-sources",
        "The token counting endpoint takes no file sources: 400 'File sources are not "
        "supported in the token counting endpoint.'",
        _ISSUE + "pydantic/pydantic-ai/issues/7867; vision-2026.md",
        "messages.count_tokens",
        {"model": MODEL, "messages": [{"role": "user", "content": [_file_image("png")]}]},
        _error(400, *_ERROR_BAD, "File sources are not supported in the token counting endpoint."),
    ),
    case(
        "image-by-file-id-is-named",
        "An image block may reference an uploaded file by file_id",
        f"{DOC_FILES}; SDK types/image_block_param.py",
        "messages.create",
        _message(_file_image("png"), {"type": "text", "text": "What is this?"}),
        {"status": 200, "body_contains": {"content.0.text": "64x48 image/png (file file_"}},
    ),
    # -- Messages: image validation ----------------------------------------------------------
    case(
        "image-5mb-limit-counts-base64-text",
        "The 5 MB image limit counts the base64 string: a 4 MB file is "
        "'5577016 bytes > 5242880 bytes'",
        _ISSUE + "earendil-works/pi/pull/424; " + _ISSUE + "cg-dot/vertexai-cf-workers/issues/16",
        "messages.create",
        _message(_b64_image("fake_4mb_png")),
        _error(
            400,
            *_ERROR_BAD,
            "messages.0.content.0.image.source.base64: image exceeds 5 MB maximum: "
            "5577016 bytes > 5242880 bytes",
        ),
    ),
    case(
        "image-declared-jpeg-is-png",
        "Bytes of another image type: 'The image was specified using the image/jpeg media "
        "type, but the image appears to be a image/png image'",
        _ISSUE + "vybestack/llxprt-code/issues/2130",
        "messages.create",
        _message(_b64_image("png", "image/jpeg")),
        _error(
            400,
            *_ERROR_BAD,
            "messages.0.content.0.image.source.base64: The image was specified using the "
            "image/jpeg media type, but the image appears to be a image/png image",
        ),
    ),
    case(
        "image-bytes-not-an-image",
        "Bytes that are no image: 'Image does not match the provided media type image/png'",
        _ISSUE
        + "anthropics/claude-code/issues/6300; "
        + _ISSUE
        + "anthropics/claude-code/issues/15746",
        "messages.create",
        {
            "model": MODEL,
            "max_tokens": 50,
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "see"}, _b64_image("not_image")],
                },
            ],
        },
        _error(
            400,
            *_ERROR_BAD,
            "messages.2.content.1.image.source.base64.data: Image does not match the provided "
            "media type image/png",
        ),
    ),
    case(
        "image-in-tool-result-path",
        "An image in a tool result is named through the tool_result block",
        _ISSUE
        + "vybestack/llxprt-code/issues/2130; "
        + _ISSUE
        + "anthropics/anthropic-sdk-typescript/issues/603",
        "messages.create",
        {
            "model": MODEL,
            "max_tokens": 50,
            "messages": [
                {"role": "user", "content": "take a screenshot"},
                _TOOL_TURN,
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "done"}, _b64_image("jpeg")],
                        }
                    ],
                },
            ],
        },
        _error(
            400,
            *_ERROR_BAD,
            "messages.2.content.0.tool_result.content.1.image.source.base64: The image was "
            "specified using the image/png media type, but the image appears to be a "
            "image/jpeg image",
        ),
    ),
    case(
        "image-invalid-base64",
        "Data that is not base64: '...image.source.base64: invalid base64 data'",
        _ISSUE
        + "anthropics/anthropic-sdk-typescript/issues/603; "
        + _ISSUE
        + "felixarntz/ai-services/pull/19",
        "messages.create",
        _message(
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "%%%"},
            }
        ),
        _error(400, *_ERROR_BAD, "messages.0.content.0.image.source.base64: invalid base64 data"),
    ),
    case(
        "image-empty-data",
        "Empty data: '...image.source.base64: image cannot be empty'",
        _ISSUE + "anthropics/claude-code/issues/12750",
        "messages.create",
        _message(
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}
        ),
        _error(400, *_ERROR_BAD, "messages.0.content.0.image.source.base64: image cannot be empty"),
    ),
    case(
        "image-unsupported-media-type",
        "media_type outside the four image types",
        _ISSUE + "anthropics/claude-code/issues/8184",
        "messages.create",
        _message(
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/bmp", "data": "AAAA"},
            }
        ),
        _error(
            400,
            *_ERROR_BAD,
            "messages.0.content.0.image.source.base64.media_type: Input should be 'image/jpeg', "
            "'image/png', 'image/gif' or 'image/webp'",
        ),
    ),
    case(
        "image-scrambled-png-cannot-be-processed",
        "A PNG whose pixel data is damaged (header intact) is 'Could not process image'",
        _ISSUE
        + "anthropics/claude-code/issues/6675; "
        + _ISSUE
        + "anthropics/claude-code/issues/2519",
        "messages.create",
        _message(_b64_image("scrambled")),
        _error(400, *_ERROR_BAD, "Could not process image"),
    ),
    case(
        "image-half-jpeg-cannot-be-processed",
        "A truncated JPEG (header intact) is 'Could not process image'",
        _ISSUE + "anthropics/claude-code/issues/60920",
        "messages.create",
        _message(_b64_image("half_jpeg", "image/jpeg")),
        _error(400, *_ERROR_BAD, "Could not process image"),
    ),
    case(
        "image-over-8000px-base64",
        "A side over 8000 px: 'At least one of the image dimensions exceed max allowed size: "
        "8000 pixels' (a huge canvas is refused, not a crash)",
        _ISSUE + "anthropics/claude-code/issues/4778; "
        "SDK types/image_dimensions_too_large_error_details.py",
        "messages.create",
        _message(_b64_image("bomb")),
        _error(
            400,
            "ImageDimensionsTooLargeError",
            "invalid_request_error",
            "messages.0.content.0.image.source.base64.data: At least one of the image dimensions "
            "exceed max allowed size: 8000 pixels",
            error_code="image_dimensions_too_large",
            details={"max_side_length_pixels": 8000, "paths": ["messages.0.content.0"]},
        ),
    ),
    case(
        "image-over-8000px-file",
        "The same limit for an image referenced by file_id",
        _ISSUE + "anthropics/claude-code/issues/5147; " + DOC_VISION,
        "messages.create",
        _message({"type": "text", "text": "look"}, _file_image("bomb")),
        _error(
            400,
            "ImageDimensionsTooLargeError",
            "invalid_request_error",
            "messages.0.content.1.image.source.file: At least one of the image dimensions "
            "exceed max allowed size: 8000 pixels",
            details={"max_side_length_pixels": 8000, "paths": ["messages.0.content.1"]},
        ),
    ),
    case(
        "too-much-media",
        "More than 100 images: 'Too much media: 0 document pages + 101 images > 100'",
        _ISSUE + "anthropics/claude-code/issues/24541",
        "messages.create",
        _message(*[_b64_image("png_4")] * 101),
        _error(400, *_ERROR_BAD, "Too much media: 0 document pages + 101 images > 100"),
    ),
    case(
        "too-much-media-counts-pdf-pages",
        "Document pages count towards the same limit",
        _ISSUE + "anthropics/claude-code/issues/24541",
        "messages.create",
        _message(
            {"type": "document", "source": {"type": "file", "file_id": {"$file": "pdf"}}},
            *[_b64_image("png_4")] * 98,
        ),
        _error(400, *_ERROR_BAD, "Too much media: 3 document pages + 98 images > 100"),
    ),
    case(
        "many-images-2000px",
        "More than 20 images: each side at most 2000 px "
        "('...for many-image requests: 2000 pixels')",
        _ISSUE + "anthropics/claude-code/issues/52220",
        "messages.create",
        _message(_b64_image("png_2500x10"), *[_b64_image("png_4")] * 20),
        _error(
            400,
            "ImageDimensionsTooLargeError",
            "invalid_request_error",
            "messages.0.content.0.image.source.base64.data: At least one of the image dimensions "
            "exceed max allowed size for many-image requests: 2000 pixels",
            details={"max_side_length_pixels": 2000, "paths": ["messages.0.content.0"]},
        ),
    ),
    case(
        "oversized-error-reports-the-limit-it-applies",
        "oversized_image: 'error' refuses an image the server would resize, naming the largest "
        "size that fits; max_side_length_pixels is that limit (1500x1500 on a standard-tier "
        "model: 1092)",
        "SDK types/image_transformations_param.py, image_dimensions_too_large_error_details.py; "
        + DOC_VISION,
        "messages.create",
        _message(_b64_image("png_1500", **_STRICT), model=STANDARD),
        _error(
            400,
            "ImageDimensionsTooLargeError",
            "invalid_request_error",
            "messages.0.content.0.image.source.base64.data: The image is 1500x1500 pixels, larger "
            "than this model reads without downsizing; the largest size that fits is 1092x1092 "
            "pixels, and transformations.oversized_image is 'error'",
            details={"max_side_length_pixels": 1092, "paths": ["messages.0.content.0"]},
        ),
    ),
    case(
        "oversized-error-passes-at-the-reported-limit",
        "An image scaled to the reported max_side_length_pixels passes",
        "SDK types/image_dimensions_too_large_error_details.py ('Scale each image ... then retry')",
        "messages.create",
        _message(_b64_image("png_1092", **_STRICT), model=STANDARD),
        {"status": 200},
    ),
    case(
        "oversized-error-high-tier-fits",
        "Claude Opus 4.7 and later read up to 2576 px / 4784 tokens: 1500x1500 fits",
        "vision-2026.md; " + DOC_VISION,
        "messages.create",
        _message(_b64_image("png_1500", **_STRICT)),
        {"status": 200},
    ),
    case(
        "too-much-media-on-a-large-context-model",
        "A model with a context over 200k tokens takes 600 images: 601 is 'Too much media'",
        f"{DOC_VISION}; vision-2026.md (100 on 200k context, 600 above)",
        "messages.create",
        _message(*[_b64_image("png_4")] * 601, model=LARGE),
        _error(400, *_ERROR_BAD, "Too much media: 0 document pages + 601 images > 600"),
    ),
    case(
        "too-much-media-on-a-200k-model",
        "A model with a 200k-token context takes 100 images: 101 is 'Too much media'",
        f"{DOC_VISION}; vision-2026.md (100 on 200k context, 600 above)",
        "messages.create",
        _message(*[_b64_image("png_4")] * 101, model=STANDARD),
        _error(400, *_ERROR_BAD, "Too much media: 0 document pages + 101 images > 100"),
    ),
    # -- Messages: per-model rules ------------------------------------------------------------
    case(
        "retired-model-is-404",
        "A retired model cannot be used: 404 not_found_error 'model: <id>'",
        f"SDK types/model_info.py (lifecycle 'retired': inference requests naming it fail); "
        f"{DOC_ERRORS}; vision-2026.md (claude-sonnet-4-5 retired 2026-11-30)",
        "messages.create",
        _message({"type": "text", "text": "hello"}, model="claude-sonnet-4-5"),
        _error(404, "NotFoundError", "not_found_error", "model: claude-sonnet-4-5"),
    ),
    case(
        "sampling-parameters-refused-on-5x",
        "Models from Claude Opus 4.7 on (the 5.x family) refuse a non-default temperature: 400",
        f"{DOC_SAMPLING}; vision-2026.md",
        "messages.create",
        {**_message({"type": "text", "text": "hello"}, model=LARGE), "extra_body": {"top_k": 5}},
        {**_error(400, *_ERROR_BAD), "message_contains": "`top_k` is deprecated for this model"},
    ),
    case(
        "default-temperature-passes-on-5x",
        "The default temperature (1) is not a change: accepted",
        f"{DOC_SAMPLING}; vision-2026.md",
        "messages.create",
        {
            **_message({"type": "text", "text": "hello"}, model=LARGE),
            "extra_body": {"temperature": 1},
        },
        {"status": 200, "model": "Message"},
    ),
    # -- Models API --------------------------------------------------------------------------
    case(
        "models-list-first-page",
        "GET /v1/models: a page {data, has_more, first_id, last_id}, newest first, every "
        "ModelInfo field",
        f"{DOC_MODELS}; SDK types/model_info.py, pagination.py (Page)",
        "models.list",
        {"limit": 2},
        {
            "status": 200,
            "model": "ModelPage",
            "count": 2,
            "body": {
                "data.0.id": "claude-opus-5-5",
                "has_more": True,
                "first_id": "claude-opus-5-5",
                "last_id": "claude-sonnet-5-5",
            },
            "workspace_id": _WS_DEFAULT,
        },
    ),
    case(
        "models-list-after-id",
        "after_id: the page of older models right after that one",
        f"{DOC_MODELS}; SDK resources/models.py",
        "models.list",
        {"after_id": "claude-opus-4-7", "limit": 1},
        {"status": 200, "count": 1, "body": {"data.0.id": "claude-sonnet-4-6", "has_more": True}},
    ),
    case(
        "models-list-leaves-out-retired",
        "Without lifecycle, the list holds active and deprecated models; retired only on request",
        "SDK resources/models.py (list: lifecycle)",
        "models.list",
        {"lifecycle": ["retired"]},
        {"status": 200, "count": 1, "body": {"data.0.id": "claude-sonnet-4-5", "has_more": False}},
    ),
    case(
        "models-retrieve-every-field",
        "GET /v1/models/{id}: ModelInfo with every field and capability key",
        f"{DOC_MODELS}; SDK types/model_info.py, model_capabilities.py",
        "models.retrieve",
        {"model_id": LARGE},
        {
            "status": 200,
            "model": "ModelInfo",
            "body": {"id": LARGE, "type": "model", "lifecycle": "active", "line": "sonnet"},
        },
    ),
    case(
        "models-retrieve-a-retired-model",
        "A retired model stays in the catalogue: retrieve answers, lifecycle 'retired'",
        "SDK types/model_info.py (lifecycle)",
        "models.retrieve",
        {"model_id": "claude-sonnet-4-5"},
        {
            "status": 200,
            "body": {"lifecycle": "retired", "retires_at": "2026-11-30T00:00:00Z"},
        },
    ),
    case(
        "models-retrieve-unknown-is-404",
        "An unknown model id: 404 not_found_error",
        f"{DOC_MODELS}; {DOC_ERRORS}",
        "models.retrieve",
        {"model_id": "claude-nothing-9"},
        _error(404, "NotFoundError", "not_found_error", "model: claude-nothing-9"),
    ),
    # -- Messages: document blocks -----------------------------------------------------------
    case(
        "document-unknown-file-is-404",
        "A document block whose file_id does not exist: 404 'File `...` not found.'",
        f"{DOC_FILES} (File not found (404))",
        "messages.create",
        _message({"type": "document", "source": {"type": "file", "file_id": "file_011nodoc"}}),
        _error(404, "NotFoundError", "not_found_error", "File `file_011nodoc` not found."),
    ),
    case(
        "document-deleted-file-is-404",
        "A deleted file is not found",
        DOC_FILES,
        "messages.create",
        _message({"type": "document", "source": {"type": "file", "file_id": {"$file": "gone"}}}),
        _error(404, "NotFoundError", "not_found_error"),
    ),
    case(
        "document-pointing-at-an-image-is-400",
        "A file whose type does not fit the block: 400 'The file type doesn't match the "
        "content block type'",
        f"{DOC_FILES} (Invalid file type (400))",
        "messages.create",
        _message({"type": "document", "source": {"type": "file", "file_id": {"$file": "png"}}}),
        _error(
            400,
            *_ERROR_BAD,
            message_contains="messages.0.content.0.document.source: "
            "The file type doesn't match the content block type",
        ),
    ),
    case(
        "image-pointing-at-a-pdf-is-400",
        "The same for an image block that references a PDF",
        f"{DOC_FILES} (Invalid file type (400))",
        "messages.create",
        _message(_file_image("pdf")),
        _error(
            400, *_ERROR_BAD, message_contains="The file type doesn't match the content block type"
        ),
    ),
    case(
        "document-pdf-file-is-accepted",
        "A PDF uploaded to the Files API is used through a document block",
        DOC_FILES,
        "messages.create",
        _message({"type": "document", "source": {"type": "file", "file_id": {"$file": "pdf"}}}),
        {"status": 200},
    ),
    case(
        "document-invalid-base64-pdf",
        "A base64 PDF that is not one: "
        "'...pdf.source.base64.data: The PDF specified was not valid.'",
        _ISSUE + "anthropics/claude-code/issues/5174",
        "messages.create",
        _message(
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": _b64("png")},
            }
        ),
        _error(
            400,
            *_ERROR_BAD,
            "messages.0.content.0.pdf.source.base64.data: The PDF specified was not valid.",
        ),
    ),
    # -- headers, authentication, faults -----------------------------------------------------
    case(
        "missing-key-is-401",
        "No key: 401 authentication_error; no workspace is known, so no anthropic-workspace-id",
        DOC_ERRORS,
        "raw",
        {"method": "GET", "path": "/v1/files", "key": None},
        {
            "status": 401,
            "type": "authentication_error",
            "message": "x-api-key header is required",
            "request_id": True,
            "headers": {"anthropic-workspace-id": None},
        },
    ),
    case(
        "workspace-id-on-errors-too",
        "anthropic-workspace-id is on error responses of authenticated requests "
        "(APIStatusError.workspace_id)",
        "SDK _exceptions.py (APIStatusError.workspace_id); TS core/error.js (workspaceID)",
        "messages.create",
        {"model": MODEL, "max_tokens": 10, "messages": []},
        _error(400, *_ERROR_BAD, "messages: Field required", workspace_id=_WS_DEFAULT),
    ),
    case(
        "workspace-id-of-a-bound-key",
        "A key that belongs to a workspace answers with that workspace's id",
        "SDK _models.py (_workspace_id); files-api.md (anthropic-workspace-id)",
        "files.list",
        {},
        {"status": 200, "workspace_id": {"$workspace": "team-bound"}},
        client={"api_key": "bound-key"},
    ),
    case(
        "workspace-mismatch-is-403",
        "A key bound to a workspace cannot act on another",
        "files-api.md (anthropic-workspace-id: 'if sent, it must match'); emulator choice of 403",
        "files.list",
        {},
        _error(
            403,
            "PermissionDeniedError",
            "permission_error",
            workspace_id={"$workspace": "team-bound"},
        ),
        client={"api_key": "bound-key", "headers": {"anthropic-workspace-id": "wrkspc_011other"}},
    ),
    case(
        "rate-limit-retry-after-is-whole-seconds",
        "429 carries retry-after in whole seconds (1.5 s -> 2) and the exact retry-after-ms",
        f"{DOC_RATE}; SDK _base_client.py (_parse_retry_after_header)",
        "files.list",
        {},
        _error(
            429,
            "RateLimitError",
            "rate_limit_error",
            headers={"retry-after": "2", "retry-after-ms": "1500"},
            workspace_id=_WS_DEFAULT,
        ),
        server="faults",
    ),
    case(
        "too-large-before-authentication",
        "An oversized body is 413 from the edge before the key is looked at",
        f"{DOC_ERRORS} (413 'returned from Cloudflare before the request reaches the API')",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "key": None,
            "headers": {"content-type": "application/json"},
            "body": {"blob": "big_json"},
        },
        {
            "status": 413,
            "body": {
                "error.type": "request_too_large",
                "error.message": "Request exceeds the maximum size",
            },
            "headers": {"anthropic-workspace-id": None},
        },
        server="small",
    ),
    case(
        "too-large-before-injected-faults",
        "... and before rate limits",
        f"{DOC_ERRORS} (413 from the edge)",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"content-type": "application/json"},
            "body": {"blob": "big_json"},
        },
        {"status": 413, "body": {"error.type": "request_too_large"}},
        server="faults",
    ),
    case(
        "too-large-chunked-before-authentication",
        "The same for a chunked body, whose size is only known while reading it",
        f"{RFC9112}; {DOC_ERRORS}",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "key": None,
            "headers": {"content-type": "application/json"},
            "body": {"chunked_blob": "big_json"},
        },
        {"status": 413, "body": {"error.type": "request_too_large"}},
        server="small",
    ),
    case(
        "chunked-message-body",
        "A chunked JSON body is read whole",
        RFC9112,
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"content-type": "application/json"},
            "body": {"chunked_blob": "message_json"},
        },
        {"status": 200, "body": {"type": "message"}, "headers": {"request-id": True}},
    ),
    case(
        "gzip-message-body",
        "A gzip-encoded body (Content-Encoding: gzip) is decoded",
        "SDK types/shared/request_body_encoding_*_error_details.py "
        "(the API decodes request bodies)",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"content-type": "application/json", "content-encoding": "gzip"},
            "body": {"blob": "message_gzip"},
        },
        {"status": 200, "body": {"type": "message"}},
    ),
    case(
        "gzip-too-large-after-decoding",
        "A compressed body over the limit once decoded: 413 request_body_too_large_after_decoding",
        "SDK types/shared/request_body_too_large_after_decoding_error_details.py; "
        "_error_classes.py",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"content-type": "application/json", "content-encoding": "gzip"},
            "body": {"blob": "message_gzip_bomb"},
        },
        {
            "status": 413,
            "body": {"error.details.error_code": "request_body_too_large_after_decoding"},
            "request_id": True,
        },
        server="small",
    ),
    case(
        "gzip-corrupt",
        "A body that is not valid for its Content-Encoding: 400 request_body_encoding_invalid",
        "SDK types/shared/request_body_encoding_invalid_error_details.py",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"content-type": "application/json", "content-encoding": "gzip"},
            "body": {"blob": "gzip_corrupt"},
        },
        {"status": 400, "body": {"error.details.error_code": "request_body_encoding_invalid"}},
    ),
    case(
        "content-encoding-unsupported",
        "An unknown Content-Encoding: 400 request_body_encoding_unsupported",
        "SDK types/shared/request_body_encoding_unsupported_error_details.py",
        "raw",
        {
            "method": "POST",
            "path": "/v1/messages",
            "headers": {"content-type": "application/json", "content-encoding": "br"},
            "body": {"blob": "message_json"},
        },
        {"status": 400, "body": {"error.details.error_code": "request_body_encoding_unsupported"}},
    ),
    # -- methods and CORS ------------------------------------------------------------------
    case(
        "head-is-get-without-a-body",
        "HEAD answers like GET, without the body",
        RFC9110,
        "raw",
        {"method": "HEAD", "path": "/v1/files"},
        {
            "status": 200,
            "body_empty": True,
            "headers": {"request-id": True, "content-type": "application/json"},
        },
    ),
    case(
        "unknown-method-is-json-405",
        "A method a route does not take: a JSON error with request-id and Allow, not HTML",
        RFC9110,
        "raw",
        {"method": "PUT", "path": "/v1/files"},
        {
            "status": 405,
            "type": "invalid_request_error",
            "request_id": True,
            "headers": {"allow": "GET, HEAD, POST"},
        },
    ),
    case(
        "unknown-route-is-json-404",
        "An unknown path: 404 not_found_error in the API's JSON shape",
        DOC_ERRORS,
        "raw",
        {"method": "GET", "path": "/v1/nothing"},
        {"status": 404, "type": "not_found_error", "request_id": True},
    ),
    case(
        "cors-preflight",
        "OPTIONS answers a CORS preflight: any origin, the methods, the headers asked for",
        f"{FETCH_CORS}; " + _ISSUE + "open-pencil/open-pencil/issues/436",
        "raw",
        {
            "method": "OPTIONS",
            "path": "/v1/messages",
            "key": None,
            "headers": {
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "x-api-key,anthropic-version,content-type",
            },
        },
        {
            "status": 204,
            "headers": {
                "access-control-allow-origin": "*",
                "access-control-allow-methods": "GET, POST, DELETE, OPTIONS",
                "access-control-allow-headers": "x-api-key,anthropic-version,content-type",
                "request-id": True,
            },
        },
    ),
    case(
        "cors-needs-the-browser-opt-in",
        "A browser request without anthropic-dangerous-direct-browser-access: 401, no CORS header",
        _ISSUE
        + "ChatGPTNextWeb/NextChat/issues/5429; "
        + _ISSUE
        + "open-pencil/open-pencil/issues/436",
        "raw",
        {"method": "GET", "path": "/v1/files", "headers": {"origin": "https://app.example"}},
        {
            "status": 401,
            "type": "authentication_error",
            "message": "CORS requests must set 'anthropic-dangerous-direct-browser-access' header",
            "headers": {"access-control-allow-origin": None},
        },
    ),
    case(
        "cors-browser-mode-sdk",
        "The SDK's browser mode (dangerouslyAllowBrowser) gets CORS headers on its answers",
        "TS client.js (anthropic-dangerous-direct-browser-access); "
        + _ISSUE
        + "open-pencil/open-pencil/issues/436",
        "files.list",
        {},
        {
            "status": 200,
            "headers": {"access-control-allow-origin": "*", "access-control-expose-headers": "*"},
        },
        client={"browser": True},
    ),
    # -- Message Batches ---------------------------------------------------------------------
    case(
        "batches-create-answers-in-progress",
        "POST /v1/messages/batches: a MessageBatch with every field, in_progress, all processing",
        f"{DOC_BATCHES}; SDK types/messages/message_batch.py",
        "messages.batches.create",
        {"requests": batch_requests("first", "second")},
        {
            "status": 200,
            "model": "MessageBatch",
            "body": {
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts.processing": 2,
                "results_url": None,
                "ended_at": None,
            },
            "workspace_id": _WS_DEFAULT,
        },
    ),
    case(
        "batches-create-refuses-a-bad-custom-id",
        "custom_id must match ^[a-zA-Z0-9_-]{1,64}$; a wrong one fails the whole create",
        f"{DOC_BATCHES}",
        "messages.batches.create",
        {"requests": batch_requests("not valid!")},
        _error(400, *_ERROR_BAD, message_contains="String should match pattern"),
    ),
    case(
        "batches-create-refuses-a-repeated-custom-id",
        "custom_id must be unique within a batch",
        f"{DOC_BATCHES}; SDK types/messages/batch_create_params.py",
        "messages.batches.create",
        {"requests": batch_requests("same", "same")},
        _error(400, *_ERROR_BAD, message_contains="used by more than one request"),
    ),
    case(
        "batches-retrieve-every-field",
        "GET /v1/messages/batches/{id}: the MessageBatch, still in progress",
        f"{DOC_BATCHES}; SDK resources/messages/batches.py (retrieve)",
        "messages.batches.retrieve",
        {"message_batch_id": {"$file": "pending"}},
        {"status": 200, "model": "MessageBatch", "body": {"processing_status": "in_progress"}},
    ),
    case(
        "batches-retrieve-unknown-is-404",
        "An unknown batch id: 404 not_found_error",
        f"{DOC_BATCHES}; {DOC_ERRORS}",
        "messages.batches.retrieve",
        {"message_batch_id": "msgbatch_011nothing"},
        _error(404, "NotFoundError", "not_found_error"),
    ),
    case(
        "batches-list-a-page",
        "GET /v1/messages/batches: a page {data, has_more, first_id, last_id}, newest first",
        f"{DOC_BATCHES}; SDK resources/messages/batches.py (list), pagination.py (Page)",
        "messages.batches.list",
        {"limit": 1},
        {"status": 200, "model": "MessageBatchPage", "count": 1, "body": {"has_more": True}},
    ),
    case(
        "batches-cancel-makes-it-canceling",
        "POST .../cancel: the batch is canceling, cancel_initiated_at set",
        f"{DOC_BATCHES}; SDK resources/messages/batches.py (cancel)",
        "messages.batches.cancel",
        {"message_batch_id": {"$file": "to_cancel"}},
        {"status": 200, "model": "MessageBatch", "body": {"processing_status": "canceling"}},
    ),
    case(
        "batches-delete-in-progress-is-400",
        "A batch can be deleted only once it has ended",
        "SDK resources/messages/batches.py (delete: only once finished processing)",
        "messages.batches.delete",
        {"message_batch_id": {"$file": "pending"}},
        _error(400, *_ERROR_BAD, message_contains="cannot be deleted while it is in progress"),
    ),
    case(
        "batches-list-under-faults",
        "Injected faults apply to the batch endpoints: 429 with retry-after",
        f"{DOC_RATE}",
        "messages.batches.list",
        {},
        _error(429, "RateLimitError", "rate_limit_error", headers={"retry-after": "2"}),
        server="faults",
    ),
    # -- Messages: prompt caching --------------------------------------------------------------
    case(
        "caching-first-request-writes-the-prefix",
        "A system block with cache_control: the prefix is written, input_tokens is the rest",
        f"{DOC_CACHING}; SDK types/usage.py, cache_creation.py",
        "messages.create",
        {
            "model": LARGE,
            "max_tokens": 50,
            "system": [
                {"type": "text", "text": "r" * 4000, "cache_control": {"type": "ephemeral"}}
            ],
            "messages": [{"role": "user", "content": "Question?"}],
        },
        {
            "status": 200,
            "model": "Message",
            "body": {
                "usage.input_tokens": 3,
                "usage.cache_creation_input_tokens": 1000,
                "usage.cache_read_input_tokens": 0,
                "usage.cache_creation.ephemeral_5m_input_tokens": 1000,
            },
        },
    ),
]

# -- judging a lane's result --------------------------------------------------------------------


def model_fields() -> dict[str, dict[str, set[str]]]:
    """The key sets of the SDK's types, per JSON path: a body must have exactly these."""
    import anthropic.types as t
    from anthropic.pagination import SyncPage
    from anthropic.types.messages import MessageBatch, MessageBatchRequestCounts

    keys = lambda model: set(model.model_fields)  # noqa: E731
    return {
        "Message": {
            "": keys(t.Message),
            "usage": keys(t.Usage),
            "usage.cache_creation": keys(t.CacheCreation),
            "content.0": keys(t.TextBlock),
        },
        "FileMetadata": {"": keys(t.FileMetadata)},
        "ModelInfo": _model_info_fields(""),
        "ModelPage": {"": keys(SyncPage[t.ModelInfo]), **_model_info_fields("data.0.")},
        "DeletedFile": {"": keys(t.DeletedFile)},
        "MessageBatch": {
            "": keys(MessageBatch),
            "request_counts": keys(MessageBatchRequestCounts),
        },
        "MessageBatchPage": {
            "": keys(SyncPage[MessageBatch]),
            "data.0": keys(MessageBatch),
            "data.0.request_counts": keys(MessageBatchRequestCounts),
        },
        "MessageTokensCount": {"": keys(t.MessageTokensCount)},
    }


def _model_info_fields(prefix: str) -> dict[str, set[str]]:
    """ModelInfo's keys and its capabilities' keys, each nested object by its path."""
    import anthropic.types as t

    capabilities = {
        "": t.ModelCapabilities,
        ".batch": t.CapabilitySupport,
        ".context_management": t.ContextManagementCapability,
        ".effort": t.EffortCapability,
        ".server_tools": t.ServerToolsCapability,
        ".thinking": t.ThinkingCapability,
        ".thinking.types": t.ThinkingTypes,
    }
    out = {prefix.rstrip("."): set(t.ModelInfo.model_fields)}
    for path, model in capabilities.items():
        out[f"{prefix}capabilities{path}"] = set(model.model_fields)
    return out


def dig(body, path: str):
    for part in path.split(".") if path else []:
        if isinstance(body, list):
            body = body[int(part)] if part.isdigit() and int(part) < len(body) else _MISSING
        elif isinstance(body, dict):
            body = body.get(part, _MISSING)
        else:
            return _MISSING
    return body


_MISSING = object()


def resolve(value, files: dict[str, str]):
    """Expectation placeholders: {"$workspace": name}, {"$file": name}."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "$workspace":
            return workspace_id(arg)
        if key == "$file":
            return files.get(arg)
    return value


def check(result: dict, expect: dict, files: dict[str, str]) -> list[str]:
    """Every way a lane's result differs from the case's expectation."""
    problems = []

    def same(what, got, wanted):
        wanted = resolve(wanted, files)
        if got != wanted:
            problems.append(f"{what}: got {got!r}, expected {wanted!r}")

    if "lane_error" in result:
        return [f"the lane failed: {result['lane_error']}"]
    body = result.get("body")
    same("status", result.get("status"), expect.get("status"))
    if "class" in expect and result.get("class") is not None:  # raw requests have no class
        same("exception class", result.get("class"), expect["class"])
    error = body.get("error") if isinstance(body, dict) else None
    if "type" in expect:
        same("error.type", (error or {}).get("type"), expect["type"])
    if "message" in expect:
        same("error.message", (error or {}).get("message"), expect["message"])
    if "message_contains" in expect:
        message = (error or {}).get("message") or ""
        if expect["message_contains"] not in message:
            problems.append(f"error.message {message!r} lacks {expect['message_contains']!r}")
    if "error_code" in expect:
        same(
            "error_code",
            ((error or {}).get("details") or {}).get("error_code"),
            expect["error_code"],
        )
    for name, wanted in (expect.get("details") or {}).items():
        same(f"details.{name}", ((error or {}).get("details") or {}).get(name), wanted)
    headers = result.get("headers") or {}
    if expect.get("request_id"):
        rid = headers.get("request-id")
        if not (rid or "").startswith("req_"):
            problems.append(f"request-id header: got {rid!r}")
        elif isinstance(body, dict) and "request_id" in body and body["request_id"] != rid:
            problems.append("the body's request_id differs from the request-id header")
    if "workspace_id" in expect:
        same(
            "anthropic-workspace-id", headers.get("anthropic-workspace-id"), expect["workspace_id"]
        )
        sdk_value = (result.get("sdk") or {}).get("workspace_id")
        if sdk_value is not None or "class" in expect:  # what the SDK itself read
            same("the SDK's workspace_id", sdk_value, expect["workspace_id"])
    for name, wanted in (expect.get("headers") or {}).items():
        got = headers.get(name)
        if wanted is True:
            if got is None:
                problems.append(f"header {name} missing")
        else:
            same(f"header {name}", got, wanted)
    for path, wanted in (expect.get("body") or {}).items():
        same(f"body.{path}", dig(body, path), wanted)
    for path, wanted in (expect.get("body_contains") or {}).items():
        got = dig(body, path)
        if not isinstance(got, str) or wanted not in got:
            problems.append(f"body.{path} = {got!r} lacks {wanted!r}")
    if "count" in expect:
        same("len(data)", len(dig(body, "data") or []), expect["count"])
    if expect.get("body_empty") and body not in (None, "", b""):
        problems.append(f"expected no body, got {body!r}")
    if "model" in expect:
        for path, fields in model_fields()[expect["model"]].items():
            got = dig(body, path)
            keys = set(got) if isinstance(got, dict) else set()
            if keys != fields:
                problems.append(
                    f"{expect['model']} {path or 'body'} keys: missing {sorted(fields - keys)}, "
                    f"extra {sorted(keys - fields)}"
                )
    return problems


# -- the Python lane ----------------------------------------------------------------------------


def lane_input(servers: dict[str, str], blobs: dict[str, bytes]) -> dict:
    """Everything a lane needs, as JSON: the cases, setup, server URLs and blobs."""
    return {
        "servers": servers,
        "setup": SETUP,
        "batch_requests": batch_requests("setup"),
        "cases": CASES,
        "blobs": {name: base64.b64encode(data).decode() for name, data in blobs.items()},
    }


def python_lane(servers: dict[str, str], blobs: dict[str, bytes]) -> tuple[dict, dict]:
    """Run every case through the Python SDK (raw cases through its HTTP client, httpx2).
    Returns (results by case id, uploaded file ids by setup name)."""
    import anthropic
    import httpx2

    files: dict[str, str] = {}

    def fill(value):
        if isinstance(value, dict):
            if set(value) == {"$b64"}:
                return base64.b64encode(blobs[value["$b64"]]).decode()
            if set(value) == {"$file"}:
                return files[value["$file"]]
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    def client(server: str, options: dict) -> anthropic.Anthropic:
        headers = dict(options.get("headers") or {})
        if options.get("browser"):  # what the TS SDK's dangerouslyAllowBrowser sends
            headers.update({"anthropic-dangerous-direct-browser-access": "true"})
        return anthropic.Anthropic(
            base_url=servers[server],
            api_key=options.get("api_key", "test-key"),
            max_retries=0,
            default_headers=headers,
        )

    for server, steps in SETUP.items():
        sdk = client(server, {})
        for step in steps:
            if step["op"] == "upload":
                extra = (
                    {"expires_in_seconds": step["expires_in_seconds"]}
                    if "expires_in_seconds" in step
                    else {}
                )
                meta = sdk.files.upload(
                    file=(step["filename"], blobs[step["blob"]], step["mime"]), **extra
                )
                files[step["as"]] = meta.id
            elif step["op"] == "delete":
                sdk.files.delete(files[step["file"]])
            elif step["op"] == "batch":
                files[step["as"]] = sdk.messages.batches.create(requests=batch_requests("setup")).id
            elif step["op"] == "admin":
                httpx2.request(step["method"], servers[server] + step["path"], json=step["json"])

    results = {}
    for case_ in CASES:
        try:
            results[case_["id"]] = _python_case(case_, client, fill, servers, blobs)
        except Exception as exc:  # a lane failure is a result to report, not a crash
            results[case_["id"]] = {"lane_error": f"{type(exc).__name__}: {exc}"}
    return results, files


def _python_case(case_, client, fill, servers, blobs) -> dict:
    import anthropic
    import httpx2

    args = fill(case_["args"])
    op = case_["op"]
    if op == "raw":
        return _python_raw(servers[case_["server"]], args, blobs)
    sdk = client(case_["server"], case_["client"])
    calls = {
        "files.upload": lambda: sdk.files.with_raw_response.upload(
            file=(args["file"]["filename"], blobs[args["file"]["blob"]], args["file"]["mime"])
        ),
        "files.list": lambda: sdk.files.with_raw_response.list(**args),
        "files.retrieve_metadata": lambda: sdk.files.with_raw_response.retrieve_metadata(
            args["file_id"]
        ),
        "files.delete": lambda: sdk.files.with_raw_response.delete(args["file_id"]),
        "files.download": lambda: sdk.files.with_raw_response.download(args["file_id"]),
        "messages.create": lambda: sdk.messages.with_raw_response.create(**args),
        "messages.count_tokens": lambda: sdk.messages.with_raw_response.count_tokens(**args),
        "models.list": lambda: sdk.models.with_raw_response.list(**args),
        "models.retrieve": lambda: sdk.models.with_raw_response.retrieve(args["model_id"]),
        "messages.batches.create": lambda: sdk.messages.batches.with_raw_response.create(**args),
        "messages.batches.list": lambda: sdk.messages.batches.with_raw_response.list(**args),
        **{
            f"messages.batches.{name}": _batch_call(sdk, name, args)
            for name in ("retrieve", "cancel", "delete")
        },
    }
    try:
        raw = calls[op]()
    except anthropic.APIStatusError as exc:
        return {
            "status": exc.status_code,
            "class": type(exc).__name__,
            "body": exc.body,
            "headers": {k.lower(): v for k, v in exc.response.headers.items()},
            "sdk": {"request_id": exc.request_id, "workspace_id": exc.workspace_id},
        }
    except anthropic.APIConnectionError as exc:
        return {"status": None, "class": type(exc).__name__, "body": None, "headers": {}}
    response: httpx2.Response = raw.http_response
    parsed = raw.parse()  # the typed model must parse
    is_binary = op == "files.download"
    return {
        "status": response.status_code,
        "class": None,
        "body": {"bytes": len(response.content)} if is_binary else response.json(),
        "headers": {k.lower(): v for k, v in response.headers.items()},
        "sdk": {
            "request_id": getattr(parsed, "_request_id", None),
            "workspace_id": getattr(parsed, "_workspace_id", None),
        },
    }


def _batch_call(sdk, name: str, args: dict):
    method = getattr(sdk.messages.batches.with_raw_response, name)
    return lambda: method(args["message_batch_id"])


def _python_raw(base_url: str, args: dict, blobs: dict[str, bytes]) -> dict:
    import httpx2

    headers = {"x-api-key": "test-key"} if args.get("key", "test-key") else {}
    headers.update(args.get("headers") or {})
    body = args.get("body") or {}
    content = None
    if "blob" in body:
        content = blobs[body["blob"]]
    elif "chunked_blob" in body:
        data = blobs[body["chunked_blob"]]
        content = (data[i : i + 1000] for i in range(0, len(data), 1000))  # no length: chunked
    with httpx2.Client(timeout=30) as http:
        response = http.request(
            args["method"], base_url + args["path"], headers=headers, content=content
        )
    try:
        parsed = response.json() if response.content else None
    except ValueError:
        parsed = response.text
    return {
        "status": response.status_code,
        "class": None,
        "body": parsed,
        "headers": {k.lower(): v for k, v in response.headers.items()},
    }
