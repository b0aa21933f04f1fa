"""What the emulator decides about image bytes: header sizes without decoding, full decoding,
and the size the server reads (vision-2026.md's vectors)."""

from __future__ import annotations

import io
import math
import struct
import zlib

import pytest
from PIL import Image

from assetmgr.emulator.images import decodes, dimensions, fitted, tier


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def interlaced_png(width: int, height: int, short_by: int = 0) -> bytes:
    """An Adam7-interlaced RGB PNG written by hand (Pillow writes none); ``short_by`` removes
    bytes from the end of the scanlines, so the header promises more than the data holds."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2)]
    passes.append((0, 1, 1, 2))
    raw = b""
    for x0, y0, dx, dy in passes:
        w, h = math.ceil((width - x0) / dx), math.ceil((height - y0) / dy)
        if w > 0 and h > 0:
            raw += (b"\0" + b"\x7f" * (w * 3)) * h
    raw = raw[: len(raw) - short_by]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(raw))
        + png_chunk(b"IEND", b"")
    )


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def test_a_hand_written_interlaced_png_decodes_and_a_short_one_does_not():
    good = interlaced_png(13, 9)
    with Image.open(io.BytesIO(good)) as image:  # Pillow agrees it is a whole image
        assert image.info.get("interlace") == 1
        image.load()
    assert decodes(good) and dimensions(good) == (13, 9)
    assert not decodes(interlaced_png(13, 9, short_by=1))


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "I;16"])
def test_pngs_of_every_mode_decode(mode):
    image = Image.new(mode, (37, 5))
    assert decodes(save(image, "PNG"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_images_keep_their_header_but_do_not_decode(fmt):
    whole = save(Image.effect_noise((120, 90), 60).convert("RGB"), fmt)
    half = whole[: len(whole) // 2]
    assert decodes(whole)
    # Pillow reads a WebP header through libwebp, which wants the whole file.
    assert dimensions(half) == (None if fmt == "WEBP" else (120, 90))
    assert not decodes(half)


def test_a_png_with_damaged_pixels_and_recomputed_crcs_does_not_decode():
    png = bytearray(save(Image.effect_noise((200, 100), 60).convert("RGB"), "PNG"))
    at = png.find(b"IDAT")
    length = struct.unpack(">I", png[at - 4 : at])[0]
    png[at + 30 : at + 90] = bytes(60)
    png[at + 4 + length : at + 8 + length] = struct.pack(
        ">I", zlib.crc32(png[at : at + 4 + length])
    )
    assert dimensions(bytes(png)) == (200, 100)
    assert not decodes(bytes(png))


def test_a_huge_canvas_has_a_size_without_being_decoded():
    bomb = save(Image.new("1", (20000, 10000)), "PNG")
    assert len(bomb) < 100_000 and dimensions(bomb) == (20000, 10000)
    assert not decodes(bomb)  # over the pixel budget: never handed to a decoder


def test_not_images():
    for data in [b"", b"hello", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"%PDF-1.4"]:
        assert dimensions(data) is None and not decodes(data)


@pytest.mark.parametrize(
    "size, standard, high",
    [
        ((1920, 1080), (1456, 819), (1920, 1080)),
        ((3840, 2160), (1456, 819), (2576, 1449)),
        ((1000, 1000), (1000, 1000), (1000, 1000)),
        ((4032, 3024), (1270, 952), (2212, 1659)),
        ((8192, 5464), (1344, 896), (2351, 1568)),
        ((12000, 3000), (1568, 392), (2576, 644)),
        ((1098, 1098), (1092, 1092), (1098, 1098)),
        ((1080, 1920), (819, 1456), (1080, 1920)),
    ],
)
def test_the_size_the_server_reads_matches_the_vision_table(size, standard, high):
    assert fitted(*size, "standard") == standard and fitted(*size, "high") == high


@pytest.mark.parametrize(
    "model, expected",
    [
        ("claude-opus-4-7", "high"),
        ("claude-opus-4-8", "high"),
        ("claude-sonnet-5-5", "high"),
        ("claude-sonnet-5", "high"),
        ("claude-haiku-5-5", "high"),
        ("claude-sonnet-4-6", "standard"),
        ("claude-haiku-4-5", "standard"),
        ("claude-sonnet-4-5-20250929", "standard"),
        ("claude-3-5-sonnet-20241022", "standard"),
        ("my-own-model", "standard"),
    ],
)
def test_model_tiers(model, expected):
    assert tier(model) == expected


@pytest.mark.parametrize("fmt", ["WEBP", "GIF"])
def test_large_gif_and_webp_are_checked_for_completeness_only(fmt):
    """Over 4096x4096 px these two are not decoded (a tiny WebP can ask for a gigabyte), but a
    file cut short is still refused."""
    options = {"lossless": True} if fmt == "WEBP" else {}
    whole = save(Image.new("RGB" if fmt == "WEBP" else "P", (5000, 4000)), fmt, **options)
    assert len(whole) < 200_000
    assert decodes(whole)
    assert not decodes(whole[:-9])
