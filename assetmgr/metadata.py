"""Lossless metadata removal for JPEG: drop segments, keep the compressed pixels' bytes.

When an image's pixels need no change, re-encoding it only to drop its EXIF
would cost quality and time, and two copies of one photo that differ only in
their metadata would get different renditions. Rewriting the container keeps
the compressed pixel data byte for byte, so both copies strip to the same bytes.

Kept: what a decoder needs (JFIF, Adobe colour transform, tables, frame,
scans). Dropped: everything else (EXIF, XMP, IPTC, ICC, comments, thumbnails,
trailing data such as further MPO pictures). Other formats are re-encoded
instead: a PNG, GIF or WebP that must change becomes a JPEG or PNG by content.
"""

from __future__ import annotations

import struct

SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# APP0 (JFIF), APP14 (Adobe), DQT, DHT, DRI, DAC and every start-of-frame
JPEG_KEEP = {0xE0, 0xEE, 0xDB, 0xC4, 0xDD, 0xCC} | SOF_MARKERS


def strip_jpeg(data: bytes) -> bytes | None:
    """The JPEG without its metadata segments; None when its structure is not understood."""
    out, pos = [b"\xff\xd8"], 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker == 0xDA:  # first scan: everything up to the end-of-image marker is pixel data
            end = data.rfind(b"\xff\xd9")
            return b"".join(out) + data[pos : end + 2] if end > pos else None
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        if marker in JPEG_KEEP and not (marker == 0xE0 and not segment[4:9] == b"JFIF\x00"):
            out.append(segment)
        pos += 2 + length
    return None
