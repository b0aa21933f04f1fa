"""Generated pictures and their variants, for tests and measurements of near-duplicates.

``picture(seed)`` is a photo-like RGB picture (a gradient sky, blurred shapes, texture);
``VARIANTS`` maps a name to a function from a picture's encoded bytes to a variant's:
resized to 50%, JPEG quality 30, a 5% crop, +10% brightness, PNG to JPEG, and an EXIF-only
change (the same pixels, other metadata). ``flat(colour)`` and ``gradient(...)`` are the
near-uniform pictures that must not be grouped with each other or with anything else.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

SIZE = (640, 480)


def picture(seed: int, size: tuple[int, int] = SIZE) -> Image.Image:
    rng = random.Random(seed)
    width, height = size
    image = gradient(size, _colour(rng), _colour(rng), rng.choice(("x", "y")))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(6, 14)):
        x, y = rng.randrange(width), rng.randrange(height)
        w, h = rng.randint(width // 12, width // 2), rng.randint(height // 12, height // 2)
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x - w // 2, y - h // 2, x + w // 2, y + h // 2), fill=_colour(rng))
    image = image.filter(ImageFilter.GaussianBlur(2))
    noise = Image.effect_noise(size, 12).convert("RGB")
    return Image.blend(image, noise, 0.08)


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def gradient(size, start, end, direction: str = "x") -> Image.Image:
    width, height = size
    steps = width if direction == "x" else height
    line = Image.new("RGB", (steps, 1))
    line.putdata(
        [tuple(int(s + (e - s) * i / max(1, steps - 1)) for s, e in zip(start, end))
         for i in range(steps)]
    )  # fmt: skip
    if direction == "x":
        return line.resize(size, Image.Resampling.NEAREST)
    return line.transpose(Image.Transpose.ROTATE_90).resize(size, Image.Resampling.NEAREST)


def flat(colour, size: tuple[int, int] = SIZE) -> Image.Image:
    return Image.new("RGB", size, colour)


def encoded(image: Image.Image, format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **({"quality": 90} if format == "JPEG" else {}) | options)
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def resized(data: bytes) -> bytes:
    image = _open(data)
    return encoded(image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS))


def quality30(data: bytes) -> bytes:
    return encoded(_open(data), quality=30)


def cropped(data: bytes) -> bytes:
    image = _open(data)
    dx, dy = image.width * 5 // 200, image.height * 5 // 200  # 2.5% off each side: 5%
    return encoded(image.crop((dx, dy, image.width - dx, image.height - dy)))


def brighter(data: bytes) -> bytes:
    return encoded(ImageEnhance.Brightness(_open(data)).enhance(1.1))


def as_png(data: bytes) -> bytes:
    return encoded(_open(data), "PNG")


def exif_only(data: bytes) -> bytes:
    """The same JPEG with other metadata: the very same compressed pixels."""
    exif = Image.Exif()
    exif[0x0131] = "another editor"  # Software
    image = Image.open(io.BytesIO(data))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality="keep", exif=exif.tobytes())
    return buffer.getvalue()


VARIANTS = {
    "resize 50%": resized,
    "JPEG quality 30": quality30,
    "5% crop": cropped,
    "+10% brightness": brighter,
    "JPEG to PNG": as_png,
    "EXIF only": exif_only,
}
