"""The API's image limits and the vision guidance, as numbers and pure functions.

Sources: ../shared/DESIGN.md (Limits) and ../shared/files-api.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

from .errors import UsageError

MEDIA_TYPES = {  # Pillow format name -> media type the API accepts
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # multi-picture JPEG: a JPEG stream as far as the API is concerned
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
ACCEPTED_NAMES = "JPEG, PNG, GIF and WebP"
MAX_SIDE = 8000  # px per side, any request
MAX_SIDE_MANY = 2000  # px per side when a request carries more than MANY_IMAGES
MANY_IMAGES = 20
MAX_IMAGES_PER_REQUEST = 100
MAX_IMAGE_BYTES = 5 * 1024 * 1024
TARGET_LONG_EDGE = 1568  # the server downscales beyond this...
TARGET_PIXELS = 1_150_000  # ...or beyond about 1.15 megapixels
SMALL_SIDE = 200  # below this on a side, answers degrade
TOKEN_DIVISOR = 750
EXPIRY_SAFETY = timedelta(minutes=1)  # an upload expiring sooner is treated as expired already
MIN_EXPIRY, MAX_EXPIRY = 3600, 7_776_000  # seconds: what expires_in_seconds may ask for
RECHECK_AFTER = timedelta(days=1)  # an active upload unchecked this long is looked up again
EXPIRY_MARGIN = timedelta(hours=1)  # and so is one that expires this soon


MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one input file may cost to look at. Each is an option of ``add``; a file over a
    limit is rejected with the reason, and the rest of the run goes on."""

    max_file_bytes: int = 512 * MIB  # --max-file-size: bytes read and hashed
    max_pixels: int = 64_000_000  # --max-pixels: decoded pixels of one frame (8000x8000)
    max_total_pixels: int = 400_000_000  # --max-total-pixels: frames x canvas, per file
    time_limit: float = 60.0  # --time-limit: seconds to read, check and render one file

    def rules(self, policy: str) -> str:
        """The rules a rejection was made under: under other rules the file is judged again."""
        return (
            f"{policy};{self.max_file_bytes};{self.max_pixels};{self.max_total_pixels};"
            f"{self.time_limit:g}"
        )


DEFAULT_LIMITS = Limits()


def served_size(width: int, height: int) -> tuple[int, int]:
    """The size the server reads an image at, after its own downscale (aspect kept): also the
    vision policy's target, so that the server never has to downscale a rendition."""
    scale = min(
        1.0, TARGET_LONG_EDGE / max(width, height), math.sqrt(TARGET_PIXELS / (width * height))
    )
    if scale >= 1.0:
        return width, height
    return max(1, int(width * scale)), max(1, int(height * scale))


def estimate_tokens(width: int, height: int) -> int:
    """About width*height/750 tokens, at the size the server actually reads."""
    w, h = served_size(width, height)
    return math.ceil(w * h / TOKEN_DIVISOR)


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def expiry_seconds(text: str | None) -> int | None:
    """``90m``, ``12h``, ``7d`` or seconds -> seconds, within the API's 1 hour..90 days."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text)
    if not match:
        raise UsageError(f"--expires-in {text!r}: give a number with s, m, h or d, e.g. 7d")
    seconds = int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    if not MIN_EXPIRY <= seconds <= MAX_EXPIRY:
        raise UsageError(f"--expires-in {text!r}: the API takes 1h to 90d")
    return seconds
