"""Messages and count_tokens: image blocks of all three sources, limits, token arithmetic."""

from __future__ import annotations

import math

import anthropic
import pytest
from anthropic.types import ImageDimensionsTooLargeError

from .conftest import MODEL, base64_block, file_block, image_bytes, user

STANDARD = "claude-sonnet-4-6"  # a standard-tier model: 1568 px, 1568 tokens


def tokens_for(width: int, height: int, edge: int = 2576, budget: int = 4784) -> int:
    """vision-2026.md's arithmetic, written independently of the emulator's code: 28 px
    patches; an image over the tier's edge or patch budget shrinks (aspect kept) to the first
    size, searching the long side down from the edge, that fits both. Defaults: the high tier
    of MODEL."""

    def patches(w, h):
        return math.ceil(w / 28) * math.ceil(h / 28)

    if max(width, height) <= edge and patches(width, height) <= budget:
        return patches(width, height)
    long, short = max(width, height), min(width, height)
    side = min(long, edge)
    while patches(side, max(1, round(side * short / long))) > budget:
        side -= 1
    return patches(side, max(1, round(side * short / long)))


def test_token_arithmetic_matches_the_vision_tables():
    """The vectors of vision-2026.md, through tokens_for (standard, then high tier)."""
    assert tokens_for(1920, 1080, 1568, 1568) == 1560 and tokens_for(1920, 1080) == 2691
    assert tokens_for(3840, 2160, 1568, 1568) == 1560 and tokens_for(3840, 2160) == 4784
    assert tokens_for(1098, 1098, 1568, 1568) == 1521 and tokens_for(1098, 1098) == 1600
    assert tokens_for(12000, 3000, 1568, 1568) == 784 and tokens_for(12000, 3000) == 2116


def test_all_three_sources_are_named_and_counted(client):
    jpeg = image_bytes(640, 480, "JPEG")
    big = client.files.upload(file=("big.png", image_bytes(3000, 2000), "image/png"))
    prompt = "Describe these images."
    message = client.messages.create(
        model=MODEL,
        max_tokens=200,
        messages=user(
            base64_block(jpeg, "image/jpeg"),
            file_block(big.id),
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            {"type": "text", "text": prompt},
        ),
    )
    lines = message.content[0].text.splitlines()
    assert lines[0] == "Image 1: 640x480 image/jpeg (base64)"
    assert lines[1] == f"Image 2: 3000x2000 image/png (file {big.id})"
    assert lines[2].startswith("Image 3: url https://example.com/cat.jpg")
    assert (message.type, message.role, message.model, message.stop_reason) == (
        "message",
        "assistant",
        MODEL,
        "end_turn",
    )
    assert message.id.startswith("msg_")
    expected = tokens_for(640, 480) + tokens_for(3000, 2000) + tokens_for(1092, 1092)
    assert message.usage.input_tokens == expected + math.ceil(len(prompt) / 4)
    standard = client.messages.create(
        model=STANDARD, max_tokens=50, messages=user(file_block(big.id))
    )
    assert standard.usage.input_tokens == tokens_for(3000, 2000, 1568, 1568) == 1536
    assert message.usage.output_tokens > 0


def test_count_tokens_matches_create(client):
    messages = user(base64_block(image_bytes(640, 480)), {"type": "text", "text": "hi there"})
    counted = client.messages.count_tokens(model=MODEL, messages=messages, system="Be brief.")
    created = client.messages.create(
        model=MODEL, max_tokens=50, messages=messages, system="Be brief."
    )
    assert counted.input_tokens == created.usage.input_tokens == 414 + math.ceil(17 / 4)


def test_text_only_message(client):
    message = client.messages.create(
        model=MODEL, max_tokens=50, messages=[{"role": "user", "content": "Hello"}]
    )
    assert message.content[0].text == "No images received." and message.usage.input_tokens == 2


def test_images_in_tool_results_count(client):
    messages = [
        {"role": "user", "content": "look"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [base64_block(image_bytes(640, 480))],
                }
            ],
        },
    ]
    assert client.messages.count_tokens(model=MODEL, messages=messages).input_tokens == 414 + 1


def test_more_than_100_images_is_400(client):
    tiny = base64_block(image_bytes(4, 4))
    client.messages.count_tokens(model=MODEL, messages=user(*[tiny] * 100))
    with pytest.raises(anthropic.BadRequestError, match="Too much media: 0 document pages"):
        client.messages.create(model=MODEL, max_tokens=10, messages=user(*[tiny] * 101))


def test_over_20_images_caps_sides_at_2000(client):
    tiny = base64_block(image_bytes(4, 4))
    wide = base64_block(image_bytes(2500, 10))
    client.messages.count_tokens(model=MODEL, messages=user(wide, *[tiny] * 19))
    with pytest.raises(ImageDimensionsTooLargeError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=user(wide, *[tiny] * 20))
    assert caught.value.details.max_side_length_pixels == 2000
    assert caught.value.body["error"]["details"]["paths"] == ["messages.0.content.0"]


def test_over_8000_pixels_is_400(client):
    with pytest.raises(anthropic.BadRequestError, match="8000"):
        client.messages.create(
            model=MODEL, max_tokens=10, messages=user(base64_block(image_bytes(8001, 2)))
        )


def test_oversized_image_error_transformation(client):
    block = {
        **base64_block(image_bytes(2000, 100)),
        "transformations": {"oversized_image": "error"},
    }
    with pytest.raises(ImageDimensionsTooLargeError):
        client.messages.create(model=STANDARD, max_tokens=10, messages=user(block))
    client.messages.create(model=MODEL, max_tokens=10, messages=user(block))  # high tier: fits
    small = {**base64_block(image_bytes(100, 100)), "transformations": {"oversized_image": "error"}}
    client.messages.create(model=STANDARD, max_tokens=10, messages=user(small))


def test_base64_media_type_must_match_the_bytes(client):
    with pytest.raises(
        anthropic.BadRequestError,
        match="specified using the image/jpeg media type, but the image appears to be a image/png",
    ):
        client.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=user(base64_block(image_bytes(10, 10, "PNG"), "image/jpeg")),
        )
    with pytest.raises(
        anthropic.BadRequestError,
        match=r"content\.0\.image\.source\.base64\.data: Image does not match the provided "
        "media type image/png",
    ):
        client.messages.create(
            model=MODEL, max_tokens=10, messages=user(base64_block(b"not an image at all"))
        )


@pytest.mark.parametrize(
    "source, match",
    [
        ({"type": "base64", "media_type": "image/bmp", "data": "AAAA"}, "media_type"),
        ({"type": "base64", "media_type": "image/png", "data": ""}, "cannot be empty"),
        ({"type": "base64", "media_type": "image/png", "data": "%%%"}, "base64"),
        ({"type": "url", "url": "ftp://example.com/a.png"}, "http"),
        ({"type": "file"}, "file_id"),
        ({"type": "bytes"}, "expected tags"),
    ],
)
def test_malformed_sources_are_400(client, source, match):
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.messages.create(
            model=MODEL, max_tokens=10, messages=user({"type": "image", "source": source})
        )


def test_file_sources_must_exist_and_be_images(client):
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(
            model=MODEL, max_tokens=10, messages=user(file_block("file_011missing"))
        )
    pdf = client.files.upload(file=("doc.pdf", b"%PDF-1.4 tiny", "application/pdf"))
    with pytest.raises(anthropic.BadRequestError, match="doesn't match the content block type"):
        client.messages.create(model=MODEL, max_tokens=10, messages=user(file_block(pdf.id)))
    deleted = client.files.upload(file=("a.png", image_bytes(), "image/png"))
    client.files.delete(deleted.id)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model=MODEL, max_tokens=10, messages=user(file_block(deleted.id)))


@pytest.mark.parametrize(
    "body, match",
    [
        ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ({"model": MODEL, "max_tokens": 10}, "messages"),
        (
            {"model": MODEL, "max_tokens": 10, "messages": [{"role": "robot", "content": "x"}]},
            "role",
        ),
        (
            {
                "model": MODEL,
                "max_tokens": 10,
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            },
            "stream",
        ),
    ],
)
def test_envelope_validation(client, body, match):
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.post("/v1/messages", body=body, cast_to=object)


def test_max_tokens_stops_the_reply(client):
    message = client.messages.create(
        model=MODEL, max_tokens=2, messages=user(base64_block(image_bytes(640, 480)))
    )
    assert message.stop_reason == "max_tokens" and message.usage.output_tokens == 2
