"""What the emulator knows about image bytes: their type by magic bytes, their size, their cost.

Types are decided by content, never by a name or a declared type, as the API does. Sizes come
from Pillow reading the header only. Token cost follows the vision guide: an image whose long
edge is over 1568 px, or whose area is over about 1.15 MP, is first scaled down (aspect ratio
kept) until both hold; it then costs ceil(width * height / 750) tokens.
"""

from __future__ import annotations

import io
import math

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}

MAX_LONG_EDGE = 1568
# "about 1.15 MP" read as 1.15 * 2**20 px: it keeps the guide's largest unresized sizes
# (1092x1092, 896x1344, 819x1456) unresized.
MAX_PIXELS = round(1.15 * 2**20)
PIXELS_PER_TOKEN = 750
# A url image is not fetched; it is costed as the largest square the guide leaves unresized.
UNKNOWN_SIZE = (1092, 1092)


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes really are, for the types the API cares about."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from the image header, or None when Pillow cannot read it."""
    from PIL import Image, UnidentifiedImageError  # only paid for when an image arrives

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def downscaled(width: int, height: int) -> tuple[int, int]:
    """The size the model sees after the documented downscale."""
    scale = min(1.0, MAX_LONG_EDGE / max(width, height), math.sqrt(MAX_PIXELS / (width * height)))
    if scale >= 1.0:
        return width, height
    return max(1, int(width * scale)), max(1, int(height * scale))


def image_tokens(width: int, height: int) -> int:
    w, h = downscaled(width, height)
    return math.ceil(w * h / PIXELS_PER_TOKEN)
