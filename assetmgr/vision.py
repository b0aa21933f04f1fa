"""The ``vision`` policy's pixels: what Claude reads best, cheapest and safest.

``normalise(data, info)`` returns ``None`` when the source needs no change at
all (it is then uploaded byte for byte), else the new image bytes. Nothing but
pixels leaves. An image whose pixels need no change keeps its compressed
pixel data: its container is rewritten to what a decoder needs, losslessly
(``containers.py``), and it needs no change at all only when that rewrite is
the source itself. Otherwise (or when the container is not understood):

1. first frame only (Claude reads no other);
2. JPEGs are decoded at reduced scale (draft mode) when much larger than the
   target, so a 12 MP photo is never decoded in full; other sources over 8000 px
   are shrunk by a whole factor (``Image.reduce``) before LANCZOS;
3. colours to sRGB through the embedded ICC profile, and every mode to L, LA,
   RGB or RGBA (CMYK, 16-bit, palettes with transparency...);
4. downscale with LANCZOS to the largest size the tier's reader takes as it is
   (``limits.fit_size``: 1568 px and 1568 visual tokens for the standard tier,
   2576 px and 4784 for the high tier), never up;
5. EXIF/XMP orientation applied to the small result, not the full image;
6. encode without any metadata: PNG for transparency or few colours (the exact
   palette when it fits), JPEG for photographs; always within 3.75 MiB, so that
   its base64 form is within the API's 5 MB too (``limits.RENDITION_BYTES``).

Everything is deterministic: the same bytes in give the same bytes out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace

from PIL import Image, ImageCms

from .containers import pixels_only
from .limits import MAX_SIDE, MEDIA_TYPES, RENDITION_BYTES, STANDARD, Tier, fit_size
from .phash import Fingerprint, fingerprint
from .probe import ImageInfo

Size = tuple[int, int]

JPEG_QUALITY = 85
JPEG_OPTIMIZE = False  # optimized Huffman tables: 6-7% smaller, 2-2.5x the encode time
SHRINK_STEP = 0.85  # when an encoding is still over its byte budget
PHOTO_FORMATS = ("JPEG", "HEIF", "AVIF")  # camera formats: JPEG renditions, never a palette
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@dataclass(frozen=True)
class Encoded:
    data: bytes
    media_type: str
    width: int
    height: int
    decoded: bool = True  # the first frame's pixels were decoded to make it
    fingerprint: Fingerprint | None = None  # of the new pixels (``phash``)


def normalise(
    data: bytes, info: ImageInfo, tier: Tier = STANDARD, size: Size | None = None
) -> Encoded | None:
    """The vision rendition of a probed image for ``tier``; ``None`` when the source is
    already right. ``size`` (upright) forces the target instead of the tier's fit."""
    image = Image.open(io.BytesIO(data), formats=[info.format])
    if pixels_need_no_change(image, info, tier, size):
        kept = pixels_only(data, info.format)
        if kept is not None and len(kept) <= RENDITION_BYTES:
            if kept == data:
                return None
            return Encoded(kept, info.media_type, info.width, info.height, decoded=False)
    return reencode(image, info, tier, size)


def reencode(
    image: Image.Image, info: ImageInfo, tier: Tier = STANDARD, size: Size | None = None
) -> Encoded:
    """New pixels: the first frame, upright, in sRGB, at the tier's size (or ``size``, the
    upright size wanted), without metadata."""
    orientation = info.orientation or 1
    upright = size or fit_size(*info.upright, tier)
    stored = (upright[1], upright[0]) if info.swapped else upright
    if image.format in ("JPEG", "MPO"):
        image.draft("L" if image.mode == "L" else None if image.mode == "CMYK" else "RGB", stored)
    image.seek(0)
    image.load()  # here, so that damage shows (what follows may fall back on failures)
    image = to_working_mode(image)
    image = _reduced(image, info, stored)
    if image.size != stored:
        image = image.resize(stored, Image.Resampling.LANCZOS)
    if orientation in TRANSPOSE:
        image = image.transpose(TRANSPOSE[orientation])
    seen = fingerprint(image)  # from the pixels at hand: no second decode
    encoded = encode(drop_opaque_alpha(image), photo=info.format in PHOTO_FORMATS)
    return replace(encoded, fingerprint=seen)


def _reduced(image: Image.Image, info: ImageInfo, stored: Size) -> Image.Image:
    """A source over 8000 px on a side (a 45 MP camera frame, a panorama), shrunk by a whole
    factor (box filter) to between 2x and 4x its target before LANCZOS: the same result to
    the eye at a fraction of the time and memory, and deterministic. JPEGs were shrunk at
    decoding already (draft mode). Smaller sources keep the one LANCZOS step, so the
    renditions earlier versions made of them are made again byte for byte."""
    factor = min(image.width // stored[0], image.height // stored[1]) // 2
    if max(info.width, info.height) <= MAX_SIDE or factor < 2 or info.format == "JPEG":
        return image
    return image.reduce(factor)


def pixels_need_no_change(
    image: Image.Image, info: ImageInfo, tier: Tier = STANDARD, size: Size | None = None
) -> bool:
    """True when only metadata, if anything, stands between the source and its rendition."""
    return (
        (info.frames == 1 or image.format == "MPO")  # an MPO's first picture is a JPEG
        and info.format in MEDIA_TYPES  # other formats are always converted
        and info.orientation in (None, 1)
        and (size or fit_size(info.width, info.height, tier)) == (info.width, info.height)
        and image.mode not in ("CMYK", "I", "I;16", "I;16B", "I;16L")
        and _is_srgb(image.info.get("icc_profile"))
    )


def _is_srgb(icc: bytes | None) -> bool:
    """No profile, or one that says sRGB: dropping it changes no colour."""
    if not icc:
        return True
    try:
        return (
            "srgb"
            in ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).lower()
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False


def to_working_mode(image: Image.Image) -> Image.Image:
    """The image in L, LA, RGB or RGBA, in sRGB when it carried a profile."""
    image.seek(0)
    alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    icc = image.info.get("icc_profile")
    if icc:
        converted = _to_srgb(image, icc, "RGBA" if alpha else "RGB")
        if converted is not None:
            return converted
    if image.mode.startswith("I"):
        return _sixteen_bit_to_l(image, alpha)
    if image.mode in ("1", "L") and not alpha:
        return image.convert("L")
    if image.mode in ("L", "LA", "La"):
        return image.convert("LA")
    target = "RGBA" if alpha else "RGB"
    return image if image.mode == target else image.convert(target)  # no copy when it is


def _to_srgb(image: Image.Image, icc: bytes, mode: str) -> Image.Image | None:
    """Colours through the embedded profile into sRGB; alpha is carried around the transform."""
    source = image if image.mode in ("RGB", "CMYK", "L") else image.convert(mode)
    alpha = source.getchannel("A") if source.mode == "RGBA" else None
    if alpha is not None:
        source = source.convert("RGB")
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(source, profile, SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None  # a broken profile: the pixels are still usable as they are
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _sixteen_bit_to_l(image: Image.Image, alpha: bool) -> Image.Image:
    # convert("L") would clip every value above 255 to white: scale 16 bits to 8 instead.
    wide = image.convert("I")
    low, high = wide.getextrema()
    scale = 1 / 256 if high > 255 else 1
    grey = wide.point(lambda v: v * scale).convert("L")
    if alpha and "transparency" in image.info:
        mask = wide.point(lambda v: 0 if v == image.info["transparency"] else 255).convert("L")
        grey = Image.merge("LA", (grey, mask))
    return grey


def drop_opaque_alpha(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") and image.getchannel("A").getextrema()[0] == 255:
        return image.convert("RGB" if image.mode == "RGBA" else "L")
    return image


def encode(image: Image.Image, *, photo: bool) -> Encoded:
    """PNG for transparency or few colours, JPEG for photographs; within ``RENDITION_BYTES``."""
    while True:
        data, media_type = _encode_once(image, photo)
        if len(data) <= RENDITION_BYTES:
            return Encoded(data, media_type, *image.size)
        size = (max(1, int(image.width * SHRINK_STEP)), max(1, int(image.height * SHRINK_STEP)))
        image = image.resize(size, Image.Resampling.LANCZOS)


def _encode_once(image: Image.Image, photo: bool) -> tuple[bytes, str]:
    image.info = {}  # nothing from the source may ride along into the new file
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA"):
        image.save(buffer, "PNG", optimize=False, compress_level=9)
        return buffer.getvalue(), "image/png"
    few = None if photo else image.getcolors(256)
    if few is not None:
        _exact_palette(image, len(few)).save(buffer, "PNG", compress_level=9)
        return buffer.getvalue(), "image/png"
    image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=JPEG_OPTIMIZE)
    return buffer.getvalue(), "image/jpeg"


def _exact_palette(image: Image.Image, colours: int) -> Image.Image:
    """The image as a palette image when that loses nothing; else unchanged."""
    if image.mode == "L":
        return image
    palette = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=colours)
    return palette if palette.convert(image.mode).tobytes() == image.tobytes() else image
