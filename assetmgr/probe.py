"""What an image file is, decided from its bytes: format, size, mode, frames, orientation.

``probe(data)`` returns an ``ImageInfo`` or raises ``Rejected`` with a reason a
person understands. The format comes from the content, never the extension.

Integrity is checked as cheaply as the format allows. A JPEG's marker segments
are walked to its first scan and the stream must end with an EOI marker after
it: a truncated JPEG fails this without decoding a pixel (decoding costs ten
times the rest of ingest). Other formats, and every later frame of an animated
file or an MPO, are decoded, because their damage does not show in the header.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, replace

from PIL import Image, UnidentifiedImageError

from .limits import ACCEPTED_NAMES, MAX_SIDE, MEDIA_TYPES

OPENED_FORMATS = ["JPEG", "PNG", "GIF", "WEBP"]  # MPO opens through the JPEG plugin
CORRUPT = "truncated or corrupt image"
BOMB = "decompression bomb"
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
    (b"BM", "BMP"),
]


class Rejected(Exception):
    """The file cannot become an asset; ``str(e)`` says why."""

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


def sniff(data: bytes) -> str | None:
    """The format the first bytes announce, if they announce one."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return (
            "AVIF"
            if brand in (b"avif", b"avis")
            else "HEIC"
            if brand.startswith(b"hei")
            else "ISO media"
        )
    head = data[:64].lstrip()
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return name
    return None


def probe(data: bytes) -> ImageInfo:
    """Identify and check ``data``; raise ``Rejected`` when the API could not take it."""
    if not data:
        raise Rejected("empty file")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's other warnings are about files it copes with
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(data)
        info = _describe(image)
        _check_integrity(image, data, info)
        # Only now: reading EXIF from a PNG decodes it, and would hide its damage.
        return replace(info, orientation=_orientation(image))


def _open(data: bytes) -> Image.Image:
    # Only the accepted formats' decoders run: other plugins (libtiff above all)
    # may print to stderr or work hard on a file that is rejected anyway.
    try:
        return Image.open(io.BytesIO(data), formats=OPENED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(BOMB) from None
    except UnidentifiedImageError:
        raise Rejected(_unknown_reason(data)) from None
    except ValueError as e:
        if "too large" in str(e).lower():  # PNG text chunk that inflates without bound
            raise Rejected(f"{BOMB} (oversized metadata chunk)") from None
        raise Rejected(_unknown_reason(data)) from None
    except Exception:  # Pillow raises many types on hostile input
        raise Rejected(_unknown_reason(data)) from None


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


def _unsupported(name: str) -> str:
    return f"unsupported format: {name}; the API accepts {ACCEPTED_NAMES}"


def _describe(image: Image.Image) -> ImageInfo:
    if image.format not in MEDIA_TYPES:
        raise Rejected(_unsupported(image.format or "unknown"))
    width, height = image.size
    if max(width, height) > MAX_SIDE:
        raise Rejected(
            f"image is {width}x{height} px; the API accepts at most {MAX_SIDE} px per side"
        )
    return ImageInfo(
        format="JPEG" if image.format == "MPO" else image.format,
        media_type=MEDIA_TYPES[image.format],
        width=width,
        height=height,
        mode=image.mode,
        frames=_frame_count(image),
        orientation=None,
    )


def _frame_count(image: Image.Image) -> int:
    try:
        return int(getattr(image, "n_frames", 1))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(BOMB) from None
    except Exception:
        raise Rejected(CORRUPT) from None


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(EXIF_ORIENTATION)
    except Exception:  # unreadable EXIF: the pixels may still be fine (checked next)
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _check_integrity(image: Image.Image, data: bytes, info: ImageInfo) -> None:
    try:
        if info.format == "JPEG":
            if not jpeg_is_complete(data):
                raise Rejected(CORRUPT)
            later = range(1, info.frames)  # MPO: decode the other pictures
        else:
            later = range(info.frames)
        for index in later:
            image.seek(index)
            image.load()
        image.seek(0)
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Rejected(BOMB) from None
    except Exception:
        raise Rejected(CORRUPT) from None


def jpeg_is_complete(data: bytes) -> bool:
    """True when the JPEG's first scan is followed, somewhere, by an EOI marker."""
    scan = _first_scan_offset(data)
    return scan is not None and data.rfind(b"\xff\xd9") > scan


def _first_scan_offset(data: bytes) -> int | None:
    pos, end = 2, len(data)  # after SOI
    while pos + 4 <= end:
        if data[pos] != 0xFF:  # junk between segments: skip to the next marker, as decoders do
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return None
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0xDA:
            return pos
        elif marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
        else:
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    return None
