"""Hostile files for fuzzing ``assetmgr add``: seeded, deterministic, made from the corpus.

``mutate(data, rng)`` damages one image's bytes in one of many ways that real files are
damaged (or crafted): bits flipped and bytes overwritten in the compressed pixel data
(JPEG entropy data, PNG IDAT, GIF LZW data, WebP frames), truncation, cut headers,
duplicated, removed or swapped chunks and segments, inserted junk, wrong or swapped length
fields, changed header fields and dimensions, stray JPEG markers, trailing garbage, and
zero-length and one-byte files. ``write_mutants(folder, count, seed)`` writes ``count``
files made that way from the corpus's accepted images (``valid/`` and ``edge/`` rows of
``manifest.csv``, plus the few ``broken/`` rows in an accepted format), some of them under
odd names: bytes that are not UTF-8, newlines, spaces, leading dashes, 255-byte names,
names that look like sha256 digests. The same seed always gives the same files.

A mutant's kind is the second part of its plain name (``0042-bitflip-hopper.jpg``);
``plan(count, seed)`` gives every file's name, kind and source without writing anything.

Run as a script to write a folder by hand: ``python tests/mutants.py FOLDER [COUNT] [SEED]``.
"""

from __future__ import annotations

import csv
import hashlib
import os
import random
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ASSETMGR_CORPUS", REPO.parent / "shared" / "corpus"))

ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "GIF", "WEBP"}
MAX_SIDE = 3000  # dimensions written into headers stay small enough to decode cheaply
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Region = tuple[int, int]  # [start, end) of a byte range
Chunk = tuple[int, int]  # [start, end) of a whole chunk, segment or block, header included


# --- what a file is made of -------------------------------------------------------------


def kind_of(data: bytes) -> str:
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "other"


@dataclass(frozen=True)
class Layout:
    """Where a file's parts are: whole chunks, length fields, pixel data, header end."""

    chunks: list[Chunk]
    lengths: list[tuple[int, int, str]]  # (offset, width in bytes, byte order "big"/"little")
    body: list[Region]  # compressed pixel data
    header_end: int  # where the first pixel data starts


def layout(data: bytes) -> Layout:
    parse = {"jpeg": _jpeg, "png": _png, "gif": _gif, "webp": _webp}.get(kind_of(data))
    found = parse(data) if parse else None
    if found is not None and found.body:
        return found
    start = min(len(data), max(16, len(data) // 8))
    chunks, lengths = (found.chunks, found.lengths) if found else ([], [])
    return Layout(chunks, lengths, [(start, len(data))], start)


def _jpeg(data: bytes) -> Layout | None:
    chunks, lengths, pos = [], [], 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            chunks.append((pos, pos + 2))
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        chunks.append((pos, pos + 2 + length))
        lengths.append((pos + 2, 2, "big"))
        if marker == 0xDA:
            start = pos + 2 + length
            end = data.rfind(b"\xff\xd9")
            return Layout(chunks, lengths, [(start, end)] if end > start else [], start)
        pos += 2 + length
    return None


def _png(data: bytes) -> Layout | None:
    chunks, lengths, body, pos = [], [], [], 8
    while pos + 12 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(data):
            break
        chunks.append((pos, end))
        lengths.append((pos, 4, "big"))
        if data[pos + 4 : pos + 8] in (b"IDAT", b"fdAT") and length:
            body.append((pos + 8 + (4 if data[pos + 4 : pos + 8] == b"fdAT" else 0), end - 4))
        pos = end
    if not chunks:
        return None
    return Layout(chunks, lengths, body, body[0][0] if body else len(data))


def _gif(data: bytes) -> Layout | None:
    if len(data) < 13:
        return None
    pos = 13 + _colour_table(data[10])
    chunks, lengths, body = [], [], []
    while pos < len(data):
        start, introducer = pos, data[pos]
        if introducer == 0x3B:  # trailer
            chunks.append((pos, pos + 1))
            break
        if introducer == 0x21:
            pos += 2
        elif introducer == 0x2C:
            if pos + 10 > len(data):
                break
            flags = data[pos + 9]
            pos += 10 + _colour_table(flags) + 1  # descriptor, local colours, LZW code size
        else:
            break
        while pos < len(data) and data[pos]:  # data sub-blocks
            lengths.append((pos, 1, "big"))
            if introducer == 0x2C:
                body.append((pos + 1, min(len(data), pos + 1 + data[pos])))
            pos += 1 + data[pos]
        pos += 1
        chunks.append((start, min(pos, len(data))))
    if not chunks:
        return None
    return Layout(chunks, lengths, body, body[0][0] if body else len(data))


def _colour_table(flags: int) -> int:
    """Bytes of the colour table a GIF screen or image descriptor's flags announce."""
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _webp(data: bytes) -> Layout | None:
    chunks, lengths, body, pos = [], [(4, 4, "little")], [], 12
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        end = min(len(data), pos + 8 + size + (size & 1))
        chunks.append((pos, end))
        lengths.append((pos + 4, 4, "little"))
        fourcc = data[pos : pos + 4]
        if fourcc in (b"VP8 ", b"VP8L", b"ALPH"):
            body.append((pos + 8 + min(size, 10), end))
        elif fourcc == b"ANMF":
            body.append((pos + 8 + min(size, 40), end))
        pos = end
    if not chunks:
        return None
    return Layout(chunks, lengths, [(a, b) for a, b in body if b > a], body[0][0] if body else 12)


def fix_png_crcs(data: bytes) -> bytes:
    """The PNG with every chunk's CRC right again, so a decoder looks past them."""
    out, pos = bytearray(data), 8
    if not data.startswith(PNG_SIGNATURE):
        return data
    while pos + 12 <= len(out):
        length = int.from_bytes(out[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(out):
            break
        out[end - 4 : end] = struct.pack(">I", zlib.crc32(out[pos + 4 : end - 4]))
        pos = end
    return bytes(out)


# --- the mutations ----------------------------------------------------------------------


def _body_offset(data: bytes, rng: random.Random) -> int | None:
    regions = [(a, b) for a, b in layout(data).body if b > a]
    if not regions:
        return None
    a, b = rng.choices(regions, weights=[b - a for a, b in regions])[0]
    return rng.randrange(a, b)


def bitflip(data: bytes, rng: random.Random) -> bytes | None:
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3, 8, 32])):
        at = _body_offset(data, rng)
        if at is None:
            return None
        out[at] ^= 1 << rng.randrange(8)
    return bytes(out)


def overwrite(data: bytes, rng: random.Random) -> bytes | None:
    at = _body_offset(data, rng)
    if at is None:
        return None
    size = rng.choice([1, 2, 4, 16, 64])
    return data[:at] + rng.randbytes(size) + data[at + size :]


def fill(data: bytes, rng: random.Random) -> bytes | None:
    at = _body_offset(data, rng)
    if at is None:
        return None
    size = rng.choice([16, 128, 1024, 8192])
    return data[:at] + bytes([rng.choice([0x00, 0xFF])]) * size + data[at + size :]


def stray_marker(data: bytes, rng: random.Random) -> bytes | None:
    """A JPEG marker in the middle of entropy-coded data."""
    if kind_of(data) != "jpeg":
        return None
    at = _body_offset(data, rng)
    if at is None:
        return None
    marker = rng.choice([0xD8, 0xD9, 0xDA, 0xC4, 0xDB, 0xC0, 0xDD, 0xD0, 0xFE, rng.randrange(256)])
    insert = bytes([0xFF, marker])
    return data[:at] + insert + data[at + (0 if rng.random() < 0.5 else 2) :]


def truncate(data: bytes, rng: random.Random) -> bytes | None:
    return data[: rng.randrange(1, len(data))] if len(data) > 1 else None


def truncate_body(data: bytes, rng: random.Random) -> bytes | None:
    at = _body_offset(data, rng)
    return data[:at] if at else None


def header_only(data: bytes, rng: random.Random) -> bytes | None:
    """Everything up to the pixel data, and perhaps a little of it."""
    end = layout(data).header_end
    return data[: end + rng.choice([0, 0, 1, 2, 16])] if 0 < end < len(data) else None


def cut_header(data: bytes, rng: random.Random) -> bytes | None:
    """The first bytes gone: the magic number, or a whole first chunk or segment."""
    chunks = layout(data).chunks
    if chunks and rng.random() < 0.5:
        a, b = chunks[0]
        return data[:a] + data[b:]
    n = rng.choice([1, 2, 4, 8, 12, 20, 64])
    return data[n:] if n < len(data) else None


def drop_chunk(data: bytes, rng: random.Random) -> bytes | None:
    chunks = layout(data).chunks
    if not chunks:
        return None
    a, b = rng.choice(chunks)
    return data[:a] + data[b:]


def duplicate_chunk(data: bytes, rng: random.Random) -> bytes | None:
    chunks = layout(data).chunks
    if not chunks:
        return None
    a, b = rng.choice(chunks)
    at = rng.choice([b, a, rng.choice(chunks)[0]])
    return data[:at] + data[a:b] + data[at:]


def swap_chunks(data: bytes, rng: random.Random) -> bytes | None:
    chunks = layout(data).chunks
    if len(chunks) < 2:
        return None
    i = rng.randrange(len(chunks) - 1)
    j = rng.choice([i + 1, rng.randrange(i + 1, len(chunks))])
    (a, b), (c, d) = chunks[i], chunks[j]
    return data[:a] + data[c:d] + data[b:c] + data[a:b] + data[d:]


def junk(data: bytes, rng: random.Random) -> bytes | None:
    """Random bytes inserted, often between two chunks or segments."""
    chunks = layout(data).chunks
    at = rng.choice(chunks)[0] if chunks and rng.random() < 0.5 else rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.choice([1, 3, 16, 255, 4096])) + data[at:]


def bad_length(data: bytes, rng: random.Random) -> bytes | None:
    """A length field swapped with another one, or set to a nearby, zero or huge value."""
    fields = layout(data).lengths
    if not fields:
        return None
    at, width, order = rng.choice(fields)
    old = int.from_bytes(data[at : at + width], order)
    other_at, other_width, _ = rng.choice(fields)
    top = (1 << (8 * width)) - 1
    if rng.random() < 0.3 and other_width == width and other_at != at:
        out = bytearray(data)
        out[at : at + width], out[other_at : other_at + width] = (
            data[other_at : other_at + width],
            data[at : at + width],
        )
        return bytes(out)
    new = rng.choice([0, 1, old - 1, old + 1, old * 2, top, rng.randrange(top + 1)])
    new = min(max(new, 0), top)
    return data[:at] + new.to_bytes(width, order) + data[at + width :]


def header_field(data: bytes, rng: random.Random) -> bytes | None:
    """One byte of a header chunk or segment changed (bit depth, colour type, tables,
    frame counts, ...); a PNG's CRCs are made right again so that decoders read on."""
    layout_ = layout(data)
    headers = [(a, b) for a, b in layout_.chunks if b - a > 4 and a < layout_.header_end]
    if not headers:
        return None
    a, b = rng.choice(headers)
    at = rng.randrange(a + 4, b)
    out = data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    return fix_png_crcs(out) if kind_of(data) == "png" else out


def dimensions(data: bytes, rng: random.Random) -> bytes | None:
    """Width or height in the header changed: zero, one, a little or a lot more."""
    kind, out = kind_of(data), bytearray(data)
    if kind == "png" and data[12:16] == b"IHDR":
        at, width, order = rng.choice([16, 20]), 4, "big"
    elif kind == "gif":
        at, width, order = rng.choice([6, 8]), 2, "little"
    elif kind == "jpeg":
        sofs = [a for a, _ in layout(data).chunks if data[a + 1] in range(0xC0, 0xD0)]
        sofs = [a for a in sofs if data[a + 1] not in (0xC4, 0xC8, 0xCC)]
        if not sofs:
            return None
        at, width, order = sofs[0] + rng.choice([5, 7]), 2, "big"
    elif kind == "webp" and data[12:16] == b"VP8X":
        at, width, order = rng.choice([24, 27]), 3, "little"
    else:
        return None
    if at + width > len(data):
        return None
    old = int.from_bytes(data[at : at + width], order)
    new = rng.choice([0, 1, old + 1, max(1, old - 1), min(MAX_SIDE, old * 2), MAX_SIDE])
    out[at : at + width] = new.to_bytes(width, order)
    return fix_png_crcs(bytes(out)) if kind == "png" else bytes(out)


def trailing_garbage(data: bytes, rng: random.Random) -> bytes | None:
    """Bytes after the end: random, a second start-of-image, or a JPEG marker soup."""
    tail = rng.choice(
        [
            rng.randbytes(rng.choice([1, 17, 1000])),
            b"\xff\xd8\xff\xe0" + rng.randbytes(100),
            b"\xff\xd9" + rng.randbytes(50) + b"\xff\xd9",
            data[: len(data) // 2],
        ]
    )
    return data + tail


def cut_range(data: bytes, rng: random.Random) -> bytes | None:
    if len(data) < 4:
        return None
    a = rng.randrange(1, len(data) - 1)
    return data[:a] + data[rng.randrange(a + 1, min(len(data), a + 4096) + 1) :]


def repeat_range(data: bytes, rng: random.Random) -> bytes | None:
    if len(data) < 4:
        return None
    a = rng.randrange(1, len(data) - 1)
    b = rng.randrange(a + 1, min(len(data), a + 4096) + 1)
    return data[:b] + data[a:b] + data[b:]


def tail_flip(data: bytes, rng: random.Random) -> bytes | None:
    """Damage in the second half of the file: later frames, an MPO's second picture."""
    if len(data) < 4:
        return None
    out = bytearray(data)
    for _ in range(rng.choice([1, 4, 16])):
        out[rng.randrange(len(data) // 2, len(data))] ^= 1 << rng.randrange(8)
    return bytes(out)


def empty(data: bytes, rng: random.Random) -> bytes | None:
    return b""


def one_byte(data: bytes, rng: random.Random) -> bytes | None:
    return rng.choice([data[:1], bytes([rng.randrange(256)])])


MUTATIONS: dict[str, tuple[Callable[[bytes, random.Random], bytes | None], int]] = {
    "bitflip": (bitflip, 12),
    "overwrite": (overwrite, 8),
    "fill": (fill, 4),
    "marker": (stray_marker, 6),
    "truncate": (truncate, 5),
    "truncbody": (truncate_body, 5),
    "headeronly": (header_only, 2),
    "cuthead": (cut_header, 3),
    "dropchunk": (drop_chunk, 5),
    "dupchunk": (duplicate_chunk, 5),
    "swapchunks": (swap_chunks, 4),
    "junk": (junk, 5),
    "length": (bad_length, 5),
    "field": (header_field, 6),
    "dims": (dimensions, 5),
    "trailing": (trailing_garbage, 4),
    "cutrange": (cut_range, 3),
    "repeat": (repeat_range, 2),
    "tailflip": (tail_flip, 4),
    "empty": (empty, 1),
    "onebyte": (one_byte, 1),
}
STACKED = 6  # weight of "stacked": two to four of the others, one after another
STACKABLE = [name for name in MUTATIONS if name not in ("empty", "onebyte")]


def mutate_kind(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """(kind, damaged bytes): a mutation drawn by weight among those that apply to ``data``
    (a stray marker needs a JPEG, a dropped chunk needs chunks); never ``data`` itself."""
    names = [*MUTATIONS, "stacked"]
    weights = [w for _, w in MUTATIONS.values()] + [STACKED]
    for _ in range(8):
        kind = rng.choices(names, weights)[0]
        if kind == "stacked":
            out = data
            for _ in range(rng.randrange(2, 5)):
                out = MUTATIONS[rng.choice(STACKABLE)][0](out, rng) or out
        else:
            out = MUTATIONS[kind][0](data, rng)
        if out is not None and out != data:
            return kind, out
    return "bitflip-any", _flip_anywhere(data, rng)


def mutate(data: bytes, rng: random.Random) -> bytes:
    """``data`` damaged in one way drawn from ``rng``; pure: same bytes and state, same result."""
    return mutate_kind(data, rng)[1]


def _flip_anywhere(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return b"\x00"
    out = bytearray(data)
    out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


# --- names ------------------------------------------------------------------------------

# Each is formatted with a number that makes it unique; the first b"bad\xffname.jpg" is exact.
ODD_NAMES: list[bytes] = [
    b"bad\xffname.jpg",
    b"latin1-caf\xe9-%d.jpg",
    b"\xe2\x82-cut-utf8-%d.png",
    b"\xc0\xaf-overlong-%d.gif",
    b"surrogate-\xed\xa0\x80-%d.webp",
    b"%d-no-extension-\x80\x81\xfe\xff",
    b"new\nline-%d.jpg",
    b"%d-ends-in-newline.png\n",
    b"carriage\rreturn-%d.jpg",
    b"tab\there-%d.gif",
    b" leading space %d.jpg",
    b"trailing space %d.png ",
    b"many   spaces   %d.jpg",
    b"-%d.jpg",
    b"--json-%d.png",
    b"-rf %d",
    b"--%d",
    b"back\\slash-%d.jpg",
    b"quote\"s and 'apostrophes' %d.jpg",
    b"$(touch pwned)-%d.jpg",
    b"*glob?[x]-%d.png",
    b"%%s%%n%%x-%d.jpg",
    b"\x1b[31mansi-%d.jpg",
    b"ctrl-\x01\x7f-%d.png",
    "emoji-\U0001f4f7-%d.jpg".encode(),
    "rtl-\u202egpj.exe-%d".encode(),
    "nfd-e\u0301-%d.jpg".encode(),
    "full-width-\uff4a\uff50\uff47-%d".encode(),
    b"wrong-extension-%d.png",
    b"wrong-extension-%d.tiff",
    b"%d.jpg.exe",
]
LONG_NAME = 255  # bytes: the longest name Linux file systems take


def odd_name(index: int, rng: random.Random) -> bytes:
    """The ``index``-th odd name: templates first, then long and digest-like ones, cycling."""
    extra = 6  # long ASCII, long UTF-8, long non-UTF-8, a digest, a prefix, "sha256:" digest
    slot = index % (len(ODD_NAMES) + extra)
    if index == 0:
        return ODD_NAMES[0]
    if slot < len(ODD_NAMES):
        template = ODD_NAMES[slot] if slot else b"bad\xffname-%d.jpg"
        return template % index
    digest = hashlib.sha256(rng.randbytes(32)).hexdigest().encode()
    tag = b"%d-" % index
    match slot - len(ODD_NAMES):
        case 0:
            return _fill(tag, b"x", b".jpg")
        case 1:
            return _fill(tag, "\u00e9".encode(), b".png")
        case 2:
            return _fill(tag, b"\xff", b".jpg")
        case 3:
            return digest
        case 4:
            return digest[: rng.choice([6, 8, 12])]
        case _:
            return b"sha256:" + digest
    raise AssertionError(slot)


def _fill(head: bytes, unit: bytes, tail: bytes) -> bytes:
    room = LONG_NAME - len(head) - len(tail)
    units, rest = divmod(room, len(unit))
    return head + unit * units + b"_" * rest + tail


SUBFOLDERS = [b"nested", b"bad\xfedir", b"-dash dir", b"new\nline dir", b"a/b c"]


# --- the corpus and the plan ------------------------------------------------------------


@cache
def sources(corpus: Path = CORPUS) -> tuple[Path, ...]:
    """Accepted images (valid/, edge/) and the broken/ files in an accepted format."""
    with open(corpus / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    chosen = [
        r
        for r in rows
        if r["path"].split("/")[0] in ("valid", "edge")
        or (
            r["path"].startswith("broken/")
            and r["format"] in ACCEPTED_FORMATS
            and r["expected"] != "reject_too_large"
        )
    ]
    return tuple(corpus / r["path"] for r in sorted(chosen, key=lambda r: r["path"]))


@dataclass(frozen=True)
class Mutant:
    name: bytes  # path relative to the folder written, as raw bytes
    kind: str  # the mutation, or "clean" for an undamaged copy under an odd name
    source: Path
    data: bytes


def plan(count: int, seed: int, corpus: Path = CORPUS) -> list[Mutant]:
    """The files ``write_mutants`` writes, in order: every sixth under an odd name (two in
    three of those an undamaged copy of a source), the others damaged copies under plain
    names; some in subfolders (with odd names too)."""
    rng = random.Random(seed)
    pool = sources(corpus)
    broken = [p for p in pool if p.relative_to(corpus).parts[0] == "broken"]
    main = [p for p in pool if p not in broken]
    mutants, odd = [], 0
    for index in range(count):
        source = rng.choice(broken if broken and rng.random() < 0.15 else main)
        data = _read(source)
        if index % 6 == 5:
            name = odd_name(odd, rng)
            kind, data = mutate_kind(data, rng) if odd % 3 == 2 else ("clean", data)
            odd += 1
        else:
            kind, data = mutate_kind(data, rng)
            name = f"{index:04d}-{kind}-{source.stem}{source.suffix}".encode()
        if rng.random() < 0.15:
            name = rng.choice(SUBFOLDERS) + b"/" + name
        mutants.append(Mutant(name, kind, source, data))
    return mutants


@cache
def _read(path: Path) -> bytes:
    return path.read_bytes()


def write_mutants(folder: Path, count: int, seed: int, corpus: Path = CORPUS) -> list[Path]:
    """Write ``plan(count, seed)`` under ``folder``; the paths written, in plan order."""
    written = []
    base = os.fsencode(folder)
    for mutant in plan(count, seed, corpus):
        path = Path(os.fsdecode(base + b"/" + mutant.name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mutant.data)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1])
    paths = write_mutants(
        target,
        int(sys.argv[2]) if len(sys.argv) > 2 else 300,
        int(sys.argv[3]) if len(sys.argv) > 3 else 0,
    )
    print(f"{len(paths)} files under {target}")
