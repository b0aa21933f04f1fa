"""Lossless rewriting of an image container to the bytes a decoder needs for its first still image.

Under the ``vision`` policy nothing but pixels leaves: no EXIF (GPS positions,
camera serials), XMP, IPTC, ICC profile, comment, thumbnail, further picture or
trailing byte. When an image's pixels need no change, re-encoding it only to
drop all that would cost quality and time, and two copies of one photo that
differ only in their metadata would get different renditions. So the container
is rewritten instead: the compressed pixel data is kept byte for byte, and the
little a decoder needs around it is kept as it is or rebuilt in one canonical
form. The result depends on the pixels alone.

``pixels_only(data, fmt)`` returns that stream, or ``None`` when the structure
is not understood or cannot be kept losslessly (the caller then re-encodes from
decoded pixels, which is always safe). It reads the container's structure
itself, never through Pillow, and never raises, whatever the input. Kept:

- JPEG (an MPO's first picture is one): SOI; a canonical JFIF APP0 (version
  1.01, no density, no thumbnail) when the source has JFIF, and a canonical
  Adobe APP14 holding only its colour transform when the source has one (both
  decide how colours decode); then DQT, DHT, DRI, DAC, the SOF and every SOS
  with its entropy-coded data, in their order, and the EOI ending the first
  image. Every other segment, and everything after that EOI, is dropped.
- PNG: the signature, IHDR, PLTE, tRNS, the IDAT chunks and IEND. tRNS is
  transparency, which is part of the pixels. Every other chunk goes, before or
  after IDAT (text, eXIf, iCCP, tIME, pHYs, gAMA, APNG frames, private chunks),
  and so does anything after IEND.
- GIF: header (GIF89a only with a control extension, else GIF87a), logical
  screen and global colour table; the first image alone (its transparency as a
  bare graphic control extension, its descriptor, local colour table and LZW
  data); the trailer. No comment, application (NETSCAPE, XMP) or plain-text
  extension. A second image: ``None``.
- WebP: the VP8 or VP8L chunk, as a simple file; with an alpha channel
  (ALPH + VP8), a VP8X saying only "alpha" and the canvas size, then ALPH and
  VP8. No ICCP, EXIF, XMP or unknown chunk. Anything animated: ``None``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

# JPEG markers (the byte after 0xFF)
SOI, EOI, SOS = 0xD8, 0xD9, 0xDA
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
TABLE_MARKERS = {0xC4, 0xCC, 0xDB, 0xDD}  # DHT, DAC, DQT, DRI
STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}  # TEM, RST0-7: no length, no content
DROPPED_MARKERS = {*range(0xE0, 0xF0), 0xFE}  # APP0-15, COM (APP0 and APP14 are rebuilt)
KEPT_MARKERS = SOF_MARKERS | TABLE_MARKERS | {SOS}
APP0, APP14 = 0xE0, 0xEE
JFIF_SEGMENT = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
ADOBE_HEAD = b"\xff\xee\x00\x0eAdobe\x00\x64\x00\x00\x00\x00"  # + the colour transform byte

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEPT = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}

GIF_EXTENSION, GIF_IMAGE, GIF_TRAILER = 0x21, 0x2C, 0x3B
GIF_GRAPHIC_CONTROL = 0xF9

WEBP_ALPHA_FLAG, WEBP_ANIMATION_FLAG = 0x10, 0x02


def pixels_only(data: bytes, fmt: str) -> bytes | None:
    """``data`` (a ``fmt`` image: JPEG, MPO, PNG, GIF or WEBP) rewritten to the bytes a decoder
    needs for its first image; ``None`` when that cannot be done losslessly."""
    rewrite = REWRITERS.get(fmt.upper())
    return None if rewrite is None else rewrite(bytes(data))


# --- JPEG -------------------------------------------------------------------


def _jpeg(data: bytes) -> bytes | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    kept: list[bytes] = []
    jfif, adobe, framed, scanned, pos = False, None, False, False, 2
    while True:
        marker, pos = _next_marker(data, pos)
        if marker is None or marker == SOI:
            return None
        if marker == EOI:
            break
        if marker in STANDALONE_MARKERS:  # decoders skip these outside a scan
            continue
        end = _segment_end(data, pos)
        if end is None:
            return None
        payload = data[pos + 2 : end]
        if marker == SOS:
            end = _entropy_end(data, end) if framed else None
            if end is None:
                return None
            scanned = True
        elif marker in SOF_MARKERS:
            if framed:  # a second frame: hierarchical JPEG, not understood here
                return None
            framed = True
        elif marker == APP0:
            # decoders take an APP0 for JFIF only from 14 bytes on (libjpeg's examine_app0)
            jfif = jfif or (len(payload) >= 14 and payload.startswith(b"JFIF\x00"))
        elif marker == APP14:
            if len(payload) >= 12 and payload.startswith(b"Adobe"):
                adobe = payload[11]  # the colour transform; the last Adobe segment wins
        elif marker not in TABLE_MARKERS and marker not in DROPPED_MARKERS:
            return None  # DNL, DHP, EXP, JPGn...: not understood
        if marker in KEPT_MARKERS:
            kept.append(bytes((0xFF, marker)) + data[pos:end])
        pos = end
    if not scanned:
        return None
    head = [b"\xff\xd8", JFIF_SEGMENT if jfif else b""]
    if adobe is not None:
        head.append(ADOBE_HEAD + bytes((adobe,)))
    return b"".join([*head, *kept, b"\xff\xd9"])


def _next_marker(data: bytes, pos: int) -> tuple[int | None, int]:
    """The next marker from ``pos`` and the offset after it, skipping what a decoder skips
    between segments (libjpeg's next_marker): stray bytes, fill bytes and 0xFF00 pairs."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0:
            return None, len(data)
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos >= len(data):
            return None, pos
        if data[pos] != 0:
            return data[pos], pos + 1
        pos += 1


def _segment_end(data: bytes, pos: int) -> int | None:
    """The end of the segment whose length field is at ``pos``."""
    if pos + 2 > len(data):
        return None
    length = int.from_bytes(data[pos : pos + 2], "big")
    end = pos + length
    return end if length >= 2 and end <= len(data) else None


def _entropy_end(data: bytes, pos: int) -> int | None:
    """Where the entropy-coded data starting at ``pos`` ends: at the first marker that is not
    part of it (0xFF00 is a stuffed 0xFF, RST0-7 are restart points, both belong to it)."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0:
            return None
        after = pos + 1
        while after < len(data) and data[after] == 0xFF:  # fill bytes
            after += 1
        if after >= len(data):
            return None
        if data[after] != 0 and not 0xD0 <= data[after] <= 0xD7:
            return pos
        pos = after + 1


# --- PNG --------------------------------------------------------------------


def _png(data: bytes) -> bytes | None:
    if not data.startswith(PNG_SIGNATURE):
        return None
    kept, seen, previous, pos = [PNG_SIGNATURE], set(), b"", len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data) or not kind.isalpha():
            return None
        if kind in PNG_KEPT:
            if not _png_in_order(kind, seen, previous) or not _png_crc_ok(data, pos, end):
                return None
            kept.append(data[pos:end])
            seen.add(kind)
            if kind == b"IEND":
                return b"".join(kept)  # and nothing after it
        elif not kind[0] & 0x20:  # a critical chunk this code does not know: a decoder needs it
            return None
        previous, pos = kind, end
    return None


def _png_in_order(kind: bytes, seen: set[bytes], previous: bytes) -> bool:
    """The order the PNG specification requires of the chunks kept."""
    if kind == b"IHDR":
        return not seen
    if b"IHDR" not in seen:
        return False
    if kind == b"IDAT":  # one run of IDAT chunks: nothing may come between them
        return b"IDAT" not in seen or previous == b"IDAT"
    if kind == b"IEND":
        return b"IDAT" in seen
    return kind not in seen and b"IDAT" not in seen  # PLTE, tRNS: once, before the pixels


def _png_crc_ok(data: bytes, pos: int, end: int) -> bool:
    return zlib.crc32(data[pos + 4 : end - 4]) == int.from_bytes(data[end - 4 : end], "big")


# --- GIF --------------------------------------------------------------------


def _gif(data: bytes) -> bytes | None:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    screen_end = 13 + _colour_table_size(data[10])  # header, logical screen, colour table
    control, image, pos = None, None, screen_end
    while pos < len(data) and data[pos] != GIF_TRAILER:
        if data[pos] == GIF_IMAGE:
            if image is not None:  # a second image: an animation, re-encoded by the caller
                return None
            end = _gif_image_end(data, pos)
            image = data[pos:end] if end is not None else None
        elif data[pos] == GIF_EXTENSION and pos + 1 < len(data):
            end = _sub_blocks_end(data, pos + 2)
            if data[pos + 1] == GIF_GRAPHIC_CONTROL and image is None:
                if control is not None:  # two for one image: which applies is not clear
                    return None
                control = _graphic_control(data[pos:end]) if end is not None else None
                if control is None:
                    return None
        else:
            return None
        if end is None:
            return None
        pos = end
    if pos >= len(data) or image is None:  # no trailer, or no image
        return None
    transparency = control[1:] if control else b""  # b"" or its index, when it has one
    version = b"GIF89a" if transparency else b"GIF87a"
    gce = b"\x21\xf9\x04\x01\x00\x00" + transparency + b"\x00" if transparency else b""
    return version + data[6:screen_end] + gce + image + b"\x3b"


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _graphic_control(block: bytes) -> bytes | None:
    """A graphic control extension's transparency: b"\\x00" for none, else b"\\x01" + index;
    ``None`` when it is malformed. Delay, disposal and user input do not change a still image."""
    if len(block) != 8 or block[2] != 4 or block[7] != 0:
        return None
    return b"\x01" + block[6:7] if block[3] & 1 else b"\x00"


def _gif_image_end(data: bytes, pos: int) -> int | None:
    """The end of the image (descriptor, local colour table, LZW data) starting at ``pos``."""
    if pos + 10 > len(data):
        return None
    lzw = pos + 10 + _colour_table_size(data[pos + 9])  # the LZW minimum code size byte
    return _sub_blocks_end(data, lzw + 1) if lzw < len(data) else None


def _sub_blocks_end(data: bytes, pos: int) -> int | None:
    """The end of the data sub-blocks starting at ``pos``, after their zero-length terminator."""
    while pos < len(data):
        if data[pos] == 0:
            return pos + 1
        pos += 1 + data[pos]
    return None


# --- WebP -------------------------------------------------------------------


def _webp(data: bytes) -> bytes | None:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunks = _riff_chunks(data, 8 + int.from_bytes(data[4:8], "little"))
    if not chunks:
        return None
    kind, payload = chunks[0]
    if kind in (b"VP8 ", b"VP8L"):  # a simple file: decoders read its first chunk alone
        return _riff([chunks[0]]) if _bitstream_ok(kind, payload) else None
    if kind != b"VP8X" or len(payload) < 10 or payload[0] & WEBP_ANIMATION_FLAG:
        return None
    return _extended_webp(payload, chunks[1:])


def _extended_webp(header: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes | None:
    kinds = [kind for kind, _ in chunks]
    if b"ANIM" in kinds or b"ANMF" in kinds or kinds.count(b"ALPH") > 1:
        return None
    images = [i for i, kind in enumerate(kinds) if kind in (b"VP8 ", b"VP8L")]
    if len(images) != 1 or not _bitstream_ok(*chunks[images[0]]):
        return None
    kind, payload = image = chunks[images[0]]
    alpha = bool(header[0] & WEBP_ALPHA_FLAG)
    if kind == b"VP8L":  # carries its own alpha; what VP8X says must agree with it
        return _riff([image]) if alpha == _vp8l_has_alpha(payload) else None
    if b"ALPH" not in kinds:
        return _riff([image])
    if kinds.index(b"ALPH") > images[0] or not chunks[kinds.index(b"ALPH")][1]:
        return None
    canvas = bytes((WEBP_ALPHA_FLAG, 0, 0, 0)) + header[4:10]
    return _riff([(b"VP8X", canvas), chunks[kinds.index(b"ALPH")], image])


def _riff_chunks(data: bytes, end: int) -> list[tuple[bytes, bytes]] | None:
    """The chunks of a RIFF file ending at ``end``; ``None`` when one runs past it."""
    if end > len(data):
        return None
    chunks, pos = [], 12
    while pos + 8 <= end:
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        if pos + 8 + size > end:
            return None
        chunks.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)  # odd chunks are padded to an even size
    return chunks


def _riff(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP" + b"".join(
        kind + len(payload).to_bytes(4, "little") + payload + b"\x00" * (len(payload) & 1)
        for kind, payload in chunks
    )
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def _bitstream_ok(kind: bytes, payload: bytes) -> bool:
    """A VP8 key frame or a VP8L image, by its signature."""
    if kind == b"VP8 ":
        return len(payload) >= 10 and not payload[0] & 1 and payload[3:6] == b"\x9d\x01\x2a"
    return kind == b"VP8L" and len(payload) >= 5 and payload[0] == 0x2F


def _vp8l_has_alpha(payload: bytes) -> bool:
    # 14 bits width-1, 14 bits height-1, then the alpha_is_used bit, little-endian
    return bool(int.from_bytes(payload[1:5], "little") >> 28 & 1)


REWRITERS: dict[str, Callable[[bytes], bytes | None]] = {
    "JPEG": _jpeg,
    "MPO": _jpeg,
    "PNG": _png,
    "GIF": _gif,
    "WEBP": _webp,
}
