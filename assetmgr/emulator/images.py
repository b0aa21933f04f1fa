"""What the emulator knows about image bytes: type, size, whether they decode, and their cost.

Types are decided by content (magic bytes), never by a name or a declared type, as the API does.

Sizes come from the image header, read by Pillow's format plugins directly: ``Image.open`` would
refuse a huge canvas (``DecompressionBombError``) or warn on stderr, and the Files API stores any
file up to 500 MB whatever its canvas; the 8000 px rule is the Messages API's business.

Whether an image *decodes* is checked only when Messages uses it, and only once its header has
passed the side limits, so at most 8000x8000 px reaches a decoder: PNG by inflating every IDAT
chunk through zlib (CRCs, the deflate stream and its Adler-32 checksum, and the exact number of
scanline bytes the header promises) without keeping pixels; JPEG by Pillow at 1/8 scale (every
entropy-coded byte is still read; a truncated file fails); GIF (first frame) and WebP by Pillow
in full up to 4096x4096 px, and above that by checking that the container is complete (neither
has a reduced-scale decoder, and a tiny WebP can ask for a gigabyte). One decode runs at a time;
results are cached by content digest.

Token cost follows the current vision rules (vision-2026.md): an image is seen as 28x28-pixel
patches, one token each. A model's tier bounds the long edge and the patch count (standard: 1568
px and 1568 tokens; high, Claude Opus 4.7 and every later model: 2576 px and 4784 tokens). An
image over either bound is resized to the largest aspect-preserving size within both (the long
side searched downward from the edge limit, the short side rounded half to even).
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import re
import struct
import threading
import zlib
from collections import OrderedDict

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
DOCUMENT_TYPES = ("application/pdf", "text/plain")
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}

PATCH = 28
# tier: (max long edge in px, max visual tokens)
TIERS = {"standard": (1568, 1568), "high": (2576, 4784)}
# A url image is not fetched; it is costed as the largest square the standard tier leaves as is.
UNKNOWN_SIZE = (1092, 1092)
# Nothing larger reaches a decoder (the Messages API refuses sides over 8000 px first).
MAX_DECODE_PIXELS = 8000 * 8000
# GIF and WebP have no reduced-scale decoding: Pillow holds the whole RGBA frame and more (an
# 8000x8000 WebP of 2.5 KB takes about 1 GB and 1 s). Above this many pixels only their
# container is checked: complete, not cut short.
FULL_DECODE_PIXELS = 4096 * 4096

# The first version read at the high tier (Claude Opus 4.7).
HIGH_FROM = (4, 7)
_MODEL_VERSION = re.compile(r"^claude-(?:[a-z]+-)+?(\d+)(?:-(\d{1,2}))?(?:-|$)")


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


# -- the header ------------------------------------------------------------------------------


def _plugin(mime: str):
    """The Pillow ImageFile class for a type; imported only when an image arrives."""
    if mime == "image/png":
        from PIL.PngImagePlugin import PngImageFile

        return PngImageFile
    if mime == "image/jpeg":
        from PIL.JpegImagePlugin import JpegImageFile

        return JpegImageFile
    if mime == "image/gif":
        from PIL.GifImagePlugin import GifImageFile

        return GifImageFile
    if mime == "image/webp":
        from PIL.WebPImagePlugin import WebPImageFile

        return WebPImageFile
    return None


def _open(data: bytes, mime: str):
    """The image object for a header Pillow can read, without Pillow's bomb check; or None."""
    plugin = _plugin(mime)
    if plugin is None:
        return None
    try:
        image = plugin(io.BytesIO(data))
    except Exception:  # hostile bytes: any failure to read the header means "not an image"
        return None
    width, height = image.size
    if width < 1 or height < 1:
        return None
    return image


def dimensions(data: bytes) -> tuple[int, int] | None:
    """Width and height from the image header, or None when it cannot be read. Never decodes."""
    mime = sniff(data)
    image = _open(data, mime) if mime in IMAGE_TYPES else None
    if image is None:
        return None
    with image:
        return image.size


# -- full decoding ---------------------------------------------------------------------------

_decode_lock = threading.Lock()
_decoded: OrderedDict[bytes, bool] = OrderedDict()
_DECODED_KEEP = 512


def decodes(data: bytes) -> bool:
    """Whether the whole image decodes (see the module docstring); cached by digest."""
    key = hashlib.sha256(data).digest()
    with _decode_lock:
        if key in _decoded:
            _decoded.move_to_end(key)
            return _decoded[key]
        ok = _decodes(data)
        _decoded[key] = ok
        if len(_decoded) > _DECODED_KEEP:
            _decoded.popitem(last=False)
        return ok


def _decodes(data: bytes) -> bool:
    mime = sniff(data)
    image = _open(data, mime) if mime in IMAGE_TYPES else None
    if image is None:
        return False
    with image:
        width, height = image.size
        if width * height > MAX_DECODE_PIXELS:
            return False
        if mime in ("image/gif", "image/webp") and width * height > FULL_DECODE_PIXELS:
            return _container_complete(data, mime)
        try:
            if mime == "image/png":
                return _png_inflates(data)
            if mime == "image/jpeg":
                image.draft(image.mode, (1, 1))  # the smallest DCT scale; all data still read
            image.load()
        except Exception:  # a decoder's complaint, whatever its class, means "cannot process"
            return False
    return True


def _container_complete(data: bytes, mime: str) -> bool:
    """WebP: the RIFF size covers the file exactly. GIF: the blocks run to the trailer."""
    if mime == "image/webp":
        return struct.unpack("<I", data[4:8])[0] + 8 == len(data)
    return data.rstrip(b"\0").endswith(b";")


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)


def _png_inflates(data: bytes) -> bool:
    """Every chunk's CRC holds, and IDAT inflates to exactly the scanlines IHDR promises."""
    offset, header, inflater, inflated, expected = 8, None, zlib.decompressobj(), 0, 0
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        crc = data[offset + 8 + length : offset + 12 + length]
        if len(body) < length or len(crc) < 4:
            return False  # cut short
        if zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            return False
        offset += 12 + length
        if kind == b"IHDR":
            if length != 13:
                return False
            header = struct.unpack(">IIBBBBB", body)
            expected = _png_raw_size(*header)
            if expected is None:
                return False
        elif kind == b"IDAT":
            if header is None or inflater.eof:
                return False
            pending = body
            while pending:
                inflated += len(inflater.decompress(pending, 1 << 20))
                if inflated > expected:
                    return False
                pending = inflater.unconsumed_tail
        elif kind == b"IEND":
            break
    if not inflater.eof:
        try:
            inflated += len(inflater.flush())
        except zlib.error:
            return False
    return header is not None and inflater.eof and inflated == expected


def _png_raw_size(width, height, depth, color, compression, filtering, interlace) -> int | None:
    channels = _PNG_CHANNELS.get(color)
    if channels is None or depth not in (1, 2, 4, 8, 16) or width < 1 or height < 1:
        return None
    bits = depth * channels
    if interlace == 0:
        return height * (1 + math.ceil(width * bits / 8))
    if interlace != 1:
        return None
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        w, h = max(0, math.ceil((width - x0) / dx)), max(0, math.ceil((height - y0) / dy))
        if w and h:
            total += h * (1 + math.ceil(w * bits / 8))
    return total


# -- what a model sees -----------------------------------------------------------------------


def version(model: str) -> tuple[int, int] | None:
    """The (major, minor) version a model name states (``claude-<family>-<major>[-<minor>]``:
    ``claude-opus-4-7`` is (4, 7), ``claude-sonnet-5`` (5, 0)); None when it states none."""
    match = _MODEL_VERSION.match(model or "")
    return (int(match[1]), int(match[2] or 0)) if match else None


def tier(model: str) -> str:
    """'high' for Claude Opus 4.7 and every later model (any family, version >= 4.7); else
    'standard', which is also the answer for a model name the emulator cannot read."""
    return "high" if (version(model) or (0, 0)) >= HIGH_FROM else "standard"


def patches(width: int, height: int) -> int:
    return math.ceil(width / PATCH) * math.ceil(height / PATCH)


@functools.lru_cache(maxsize=4096)
def fitted(width: int, height: int, tier_name: str = "standard") -> tuple[int, int]:
    """The size the server reads: unchanged when within both limits of the tier, else the
    largest aspect-preserving size within both."""
    max_edge, max_tokens = TIERS[tier_name]
    if max(width, height) <= max_edge and patches(width, height) <= max_tokens:
        return width, height
    long, short = max(width, height), min(width, height)
    for side in range(min(long, max_edge), 0, -1):
        other = max(1, round(side * short / long))
        if patches(side, other) <= max_tokens:
            return (side, other) if width >= height else (other, side)
    return (1, 1)


def image_tokens(width: int, height: int, tier_name: str = "standard") -> int:
    return patches(*fitted(width, height, tier_name))
