"""What an image file is, decided from its bytes, and whether its pixels decode.

``probe(data)`` reads headers only and returns an ``ImageInfo`` (format, size, mode,
frames, orientation) or raises ``Rejected`` with a reason a person understands. The
format comes from the content, never the extension, and only the decoders of accepted
formats run: other formats are named from Pillow's cheap prefix tests, so a hostile
TIFF is never decoded. The ``Limits`` are checked here, before any pixel is decoded.

``verify_pixels`` is the integrity check: a file is accepted only if every frame
decodes. JPEG pictures (an MPO's too) are decoded at 1/8 scale, which runs the whole
entropy decoder (where damage shows) at a fraction of the cost; other formats are
decoded in full. Anything a decoder raises means ``truncated or corrupt image``.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Collection
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import BinaryIO

from PIL import Image

from .limits import ACCEPTED_NAMES, CONVERTED_TYPES, DEFAULT_LIMITS, MEDIA_TYPES, Limits

ALL_FORMATS = frozenset(MEDIA_TYPES) | frozenset(CONVERTED_TYPES)
CORRUPT = "truncated or corrupt image"
BOMB = "decompression bomb"
NO_MEMORY = "not enough memory to decode it"
PILLOW_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit")
JPEG_CHECK_SCALE = 8  # JPEG pictures are checked at 1/8 of their size
EXIF_ORIENTATION = 0x0112

# Magic numbers of formats users often have; Pillow names the ones it can open itself.
SIGNATURES = [
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF", "PDF"),
    (b"<svg", "SVG"),
    (b"<?xml", "SVG or other XML"),
    (b"8BPS", "PSD"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
]


class Rejected(Exception):
    """The file cannot become an asset; ``str(e)`` says why. ``lasting``: the rejection holds
    while the file is unchanged (not so when a decoder is missing: it may be installed)."""

    def __init__(self, reason: str, *, lasting: bool = True):
        super().__init__(reason)
        self.lasting = lasting

    @property
    def reason(self) -> str:
        return str(self)


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name, MPO reported as JPEG
    media_type: str
    width: int
    height: int
    mode: str
    frames: int
    orientation: int | None  # EXIF (or XMP) orientation 1..8; None when absent

    @property
    def swapped(self) -> bool:
        """The orientation turns the picture a quarter: its upright sides are swapped."""
        return self.orientation in (5, 6, 7, 8)

    @property
    def upright(self) -> tuple[int, int]:
        """Width and height once the orientation is applied."""
        return (self.height, self.width) if self.swapped else (self.width, self.height)


HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
AVIF_BRANDS = {b"avif", b"avis"}
# The format sniff names -> the one Pillow plugin allowed to open it.
PLUGINS = {
    "JPEG": "JPEG",  # an MPO opens through the JPEG plugin
    "PNG": "PNG",
    "GIF": "GIF",
    "WEBP": "WEBP",
    "TIFF": "TIFF",
    "BMP": "BMP",
    "AVIF": "AVIF",
    "HEIC": "HEIF",
}
HEIF_MISSING = "HEIC needs pillow-heif: pip install 'assetmgr[heic]'"
AVIF_MISSING = "AVIF needs a Pillow built with libavif: pip install --upgrade pillow"
FIRST_PAGE_ONLY = ("TIFF", "HEIF")
# Decoders that turn the picture upright themselves: Pillow's TIFF plugin applies the
# orientation tag on load (and reports the upright size), and libheif applies a HEIF's
# irot/imir (pillow-heif then resets the EXIF orientation, which describes the same turn).
SELF_ORIENTED = ("TIFF", "HEIF")  # other pages (or images) are neither decoded nor read


def sniff(data: bytes) -> str | None:
    """The format the first bytes announce, if they announce one."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        return _iso_brand(data)
    head = data[:64].lstrip()
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return name
    return None


def _iso_brand(data: bytes) -> str:
    """An ISO media file's format, by its major brand, else by its compatible brands (a
    ``mif1`` file may be HEIC or AVIF)."""
    size = int.from_bytes(data[:4], "big")
    brands = [data[8:12]] + [data[i : i + 4] for i in range(16, min(size, len(data)) - 3, 4)]
    for brand in brands:
        if brand in AVIF_BRANDS:
            return "AVIF"
        if brand in HEIF_BRANDS:
            return "HEIC"
    return "ISO media"


def probe(
    source: bytes | BinaryIO,
    limits: Limits = DEFAULT_LIMITS,
    formats: Collection[str] = ALL_FORMATS,
) -> ImageInfo:
    """Identify ``source`` (bytes or a binary stream) from its headers and check it against
    ``limits``; raise ``Rejected`` when it is not an image of one of ``formats`` (Pillow's
    names). No pixel is decoded, except a PNG's when only its pixel data can tell whether
    it carries an orientation."""
    return examine(source, limits, formats)[1]


def examine(
    source: bytes | BinaryIO,
    limits: Limits = DEFAULT_LIMITS,
    formats: Collection[str] = ALL_FORMATS,
):
    """``probe``, and the opened image (no pixel loaded, so that ``verify_pixels`` can use
    it); the stream must stay open while the image is used."""
    stream = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    head = stream.read(64)
    stream.seek(0)
    if not head:
        raise Rejected("empty file")
    with pillow_checks():
        image = _open(stream, head, formats)
        info = _describe(image, limits)
        raw = source if isinstance(source, (bytes, bytearray)) else None
        return image, replace(info, orientation=_orientation(image, raw))


def verify_pixels(
    open_stream: Callable[[], BinaryIO],
    info: ImageInfo,
    *,
    first_done: bool = False,
    opened: Image.Image | None = None,
) -> None:
    """Decode every frame of the image ``open_stream()`` gives; ``Rejected`` if one fails.

    ``first_done``: the first frame was decoded already (to make a rendition).
    ``opened``: that image, opened by ``examine`` and not loaded, to use instead of opening
    it again.
    """
    with pillow_checks(), _decode_errors(info.format):
        if info.format == "JPEG":
            for index in range(1 if first_done else 0, info.frames):
                _decode_jpeg_picture(open_stream, index, opened if index == 0 else None)
        elif not (first_done and _decoded_frames(info) == 1):
            with open_stream() as stream:
                image = opened or Image.open(stream, formats=[info.format])
                for index in range(_decoded_frames(info)):
                    image.seek(index)
                    image.load()


@contextmanager
def pillow_checks():
    """Pillow's warnings about files it copes with are silenced; its decompression bomb
    warning is an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


@contextmanager
def _decode_errors(format: str):
    try:
        yield
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise Rejected(f"{BOMB}: {_bomb_detail(e)}") from None
    except MemoryError:
        raise Rejected(NO_MEMORY) from None
    except Exception:  # a decoder's every complaint means the same to the user
        raise Rejected(corrupt(format)) from None


def _decode_jpeg_picture(
    open_stream: Callable[[], BinaryIO], index: int, opened: Image.Image | None
) -> None:
    if opened is not None:
        _decode_at_small_scale(opened)
        return
    # A fresh image per picture: Pillow's draft mode does not survive a seek.
    with open_stream() as stream:
        image = Image.open(stream, formats=["JPEG"])
        if index:
            image.seek(index)
        _decode_at_small_scale(image)


def _decode_at_small_scale(image: Image.Image) -> None:
    width, height = image.size
    image.draft(None, (max(1, width // JPEG_CHECK_SCALE), max(1, height // JPEG_CHECK_SCALE)))
    image.load()


def _open(stream: BinaryIO, head: bytes, formats: Collection[str]) -> Image.Image:
    # Only the decoder of the format the magic bytes name runs, and only when the policy
    # takes that format: other plugins (libtiff above all) may print to stderr or work hard
    # on a file that is rejected anyway.
    name = sniff(head)
    plugin = PLUGINS.get(name)
    if plugin is None:
        raise Rejected(_unknown_reason(head))
    if plugin not in formats:
        raise Rejected(not_sent(name))
    if plugin == "HEIF":
        _register_heif()
    elif plugin == "AVIF":
        _check_avif()
    try:
        return Image.open(stream, formats=[plugin])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise Rejected(f"{BOMB}: {_bomb_detail(e)}") from None
    except MemoryError:
        raise Rejected(NO_MEMORY) from None
    except ValueError as e:
        if "too large" in str(e).lower():  # PNG text chunk that inflates without bound
            raise Rejected(f"{BOMB} (oversized metadata chunk)") from None
        raise Rejected(corrupt(plugin)) from None
    except Exception:  # Pillow raises many types on hostile input
        raise Rejected(corrupt(plugin)) from None


def corrupt(format: str) -> str:
    """Why a file whose pixels do not decode is rejected: for a format the API does not take,
    the variant may be one this build's decoders do not know (a BMP holding a JPEG, a TIFF
    compressed with WebP)."""
    if format in MEDIA_TYPES:
        return CORRUPT
    return f"{CORRUPT}, or a {not_sent_name(format)} variant this build cannot decode"


def not_sent_name(format: str) -> str:
    return "HEIC" if format == "HEIF" else format


def _check_avif() -> None:
    """Pillow reads AVIF only when built with libavif: without it the file is not damaged,
    and is judged again once a Pillow that reads it is installed."""
    from PIL import features

    if not features.check("avif"):
        raise Rejected(AVIF_MISSING, lasting=False)


def _register_heif() -> None:
    """pillow-heif's HEIF opener, registered in this process on the first HEIF file (not
    its AVIF one: Pillow reads AVIF itself)."""
    if "HEIF" in Image.OPEN:
        return
    try:
        import pillow_heif
    except ImportError:
        raise Rejected(HEIF_MISSING, lasting=False) from None
    pillow_heif.register_heif_opener()


def _bomb_detail(error: Exception) -> str:
    """Pillow's own check fired: the same words as ours, from the count in its message."""
    match = PILLOW_BOMB.search(str(error))
    if match is None or not Image.MAX_IMAGE_PIXELS:
        return "too many pixels in one frame"
    return over_frame_limit(int(match[1]), Image.MAX_IMAGE_PIXELS)


def over_frame_limit(pixels: int, limit: int) -> str:
    return (
        f"{_mp(pixels)} in one frame, over the limit of {_mp(limit)} (raise it with --max-pixels)"
    )


def _unknown_reason(data: bytes) -> str:
    name = sniff(data)
    if name in MEDIA_TYPES:
        return CORRUPT
    return _unsupported(_pillow_format(data) or name or "not an image format Pillow recognises")


def _pillow_format(data: bytes) -> str | None:
    """The format Pillow would take ``data`` for, asking only its cheap prefix tests."""
    Image.init()
    prefix = data[:16]
    for name in Image.ID:
        accept = Image.OPEN[name][1]
        try:
            if accept is not None and accept(prefix) is True:
                return name
        except Exception:
            continue
    return None


def not_sent(name: str) -> str:
    """Why the ``original`` policy refuses a format the vision policies convert."""
    return f"{_unsupported(not_sent_name(name))}; --policy vision converts it"


def _unsupported(name: str) -> str:
    return f"unsupported format: {name}; the API accepts {ACCEPTED_NAMES}"


def _describe(image: Image.Image, limits: Limits) -> ImageInfo:
    media_type = MEDIA_TYPES.get(image.format) or CONVERTED_TYPES.get(image.format)
    if media_type is None:
        raise Rejected(_unsupported(image.format or "unknown"))
    width, height = image.size  # over 8000 px is the original policy's concern (renditions)
    if width * height > limits.max_pixels:
        raise Rejected(f"{BOMB}: {over_frame_limit(width * height, limits.max_pixels)}")
    frames = _frame_count(image)
    decoded = 1 if image.format in FIRST_PAGE_ONLY else frames
    if decoded * width * height > limits.max_total_pixels:
        raise Rejected(
            f"{BOMB}: {frames} frames of {width}x{height} are {_mp(decoded * width * height)} to "
            f"decode, over the limit of {_mp(limits.max_total_pixels)} per file "
            "(raise it with --max-total-pixels)"
        )
    return ImageInfo(
        format="JPEG" if image.format == "MPO" else image.format,
        media_type=media_type,
        width=width,
        height=height,
        mode=image.mode,
        frames=frames,
        orientation=None,
    )


def _decoded_frames(info: ImageInfo) -> int:
    """The frames the integrity check decodes: a TIFF's or HEIF's first page only."""
    return 1 if info.format in FIRST_PAGE_ONLY else info.frames


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:,.1f} MP"


def _frame_count(image: Image.Image) -> int:
    try:
        return int(getattr(image, "n_frames", 1))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(BOMB) from None
    except MemoryError:
        raise Rejected(NO_MEMORY) from None
    except Exception:
        raise Rejected(CORRUPT) from None


def _orientation(image: Image.Image, raw: bytes | None) -> int | None:
    if image.format in SELF_ORIENTED:
        return None  # turned upright by the decoder already: turning it again would be wrong
    if image.format == "PNG" and not _png_may_carry_exif(image, raw):
        return None  # Pillow would decode the whole image to look for an eXIf chunk
    try:
        value = image.getexif().get(EXIF_ORIENTATION)
    except Exception:  # unreadable EXIF (or damage, which verify_pixels reports)
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _png_may_carry_exif(image: Image.Image, raw: bytes | None) -> bool:
    if "exif" in image.info or "XML:com.adobe.xmp" in image.info:
        return True
    return raw is None or b"eXIf" in raw or b"XML:com.adobe.xmp" in raw
