"""Under the vision policy nothing but pixels leaves: GPS EXIF in every place a container can hide
it, added through the CLI, and the rendition's raw bytes searched."""

from __future__ import annotations

import io
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from PIL import Image, ImageCms

from assetmgr.containers import pixels_only
from assetmgr.probe import sniff

SECRET = b"ASSETMGR-SECRET-GPS"
FORBIDDEN = (
    SECRET,
    b"Exif",
    b"GPS",
    b"http://ns.adobe.com/xap/1.0/",
    b"xmpmeta",
    b"XMP",
    b"Photoshop 3.0",
    b"8BIM",
    b"ICC_PROFILE",
    b"MPF",
)
XMP = (
    b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="51,30.0N" '
    b'exif:GPSMapDatum="ASSETMGR-SECRET-GPS"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
PNG_KEPT = {b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"}


def gps_exif() -> bytes:
    """EXIF (with its b"Exif\\0\\0" header) whose GPS IFD places the picture and names SECRET."""
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif.get_ifd(0x8825).update(
        {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0), 0x12: SECRET.decode()}
    )
    return exif.tobytes()


EXIF = gps_exif()


def picture(mode: str = "RGB", size=(96, 64), seed: int = 0) -> Image.Image:
    """Noise in every channel: entropy-coded data full of stuffed 0xFF bytes."""
    rng = random.Random(seed)
    bands = [Image.frombytes("L", size, rng.randbytes(size[0] * size[1])) for _ in mode]
    if mode == "P":
        return Image.merge("RGB", bands * 3).quantize(16)
    return Image.merge(mode, bands)


def encoded(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


@dataclass(frozen=True)
class Carrier:
    source: bytes
    clean: bytes | None  # the same picture written with nothing but pixels: the rendition


# --- JPEG carriers ------------------------------------------------------------

JPEG = encoded(picture(), "JPEG", quality=90)
JFIF_END = 4 + int.from_bytes(JPEG[4:6], "big")  # after SOI and Pillow's JFIF segment


def segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + (len(payload) + 2).to_bytes(2, "big") + payload


def jpeg_with(*segments: bytes, base: bytes = JPEG) -> bytes:
    """``base`` with ``segments`` right after its JFIF segment."""
    return base[:JFIF_END] + b"".join(segments) + base[JFIF_END:]


def photoshop_resource(kind: int, data: bytes) -> bytes:
    padded = data + b"\x00" * (len(data) & 1)
    return b"8BIM" + kind.to_bytes(2, "big") + b"\x00\x00" + len(data).to_bytes(4, "big") + padded


def jfif_thumbnail() -> bytes:
    width = len(EXIF) // 3 + 1
    thumbnail = EXIF.ljust(3 * width, b"\x00")  # 1 px high, RGB
    payload = b"JFIF\x00\x01\x02\x01\x00\x48\x00\x48" + bytes((width, 1)) + thumbnail
    return JPEG[:2] + segment(0xE0, payload) + JPEG[JFIF_END:]


def progressive_with_exif_between_scans() -> Carrier:
    clean = encoded(picture(seed=1), "JPEG", quality=90, progressive=True)
    second_scan = clean.index(b"\xff\xda", clean.index(b"\xff\xda") + 2)
    source = clean[:second_scan] + segment(0xE1, EXIF) + clean[second_scan:]
    return Carrier(source, clean)


def jpeg_with_comment_before_eoi() -> Carrier:
    return Carrier(JPEG[:-2] + segment(0xFE, EXIF) + JPEG[-2:], JPEG)


def mpo_with_gps_in_second_picture() -> Carrier:
    first, second = picture(), picture(seed=2)
    second.encoderinfo = {"exif": EXIF}  # a later picture's own options win over the first's
    source = encoded(first, "MPO", save_all=True, append_images=[second], quality=90)
    assert source.count(SECRET) == 1 and source.index(SECRET) > source.index(b"\xff\xd9")
    return Carrier(source, encoded(first, "JPEG", quality=90))


JPEG_CARRIERS: dict[str, Callable[[], Carrier]] = {
    "jpeg-app1-exif": lambda: Carrier(jpeg_with(segment(0xE1, EXIF)), JPEG),
    "jpeg-app1-xmp": lambda: Carrier(
        jpeg_with(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)), JPEG
    ),
    "jpeg-app13-iptc": lambda: Carrier(
        jpeg_with(
            segment(
                0xED,
                b"Photoshop 3.0\x00"
                + photoshop_resource(0x0404, b"\x1c\x02\x78" + len(SECRET).to_bytes(2, "big"))
                + SECRET
                + photoshop_resource(0x0422, EXIF[6:]),
            )
        ),
        JPEG,
    ),
    "jpeg-com": lambda: Carrier(jpeg_with(segment(0xFE, EXIF)), JPEG),
    "jpeg-com-before-eoi": jpeg_with_comment_before_eoi,
    "jpeg-app2-icc": lambda: Carrier(
        jpeg_with(segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + SRGB + EXIF)), JPEG
    ),
    "jpeg-app0-jfif-thumbnail": lambda: Carrier(jfif_thumbnail(), JPEG),
    "jpeg-app0-jfxx": lambda: Carrier(
        jpeg_with(
            segment(0xE0, b"JFXX\x00\x10" + encoded(picture(size=(8, 8)), "JPEG", exif=EXIF))
        ),
        JPEG,
    ),
    "jpeg-app14-trailing": lambda: Carrier(
        jpeg_with(segment(0xEE, b"Adobe\x00\x64\x80\x00\x00\x00\x01" + EXIF)), None
    ),
    "jpeg-app15": lambda: Carrier(jpeg_with(segment(0xEF, EXIF)), JPEG),
    "jpeg-progressive-exif-between-scans": progressive_with_exif_between_scans,
    "mpo-second-picture": mpo_with_gps_in_second_picture,
    "jpeg-then-jpeg-with-gps": lambda: Carrier(
        JPEG + encoded(picture(seed=3), "JPEG", exif=EXIF), JPEG
    ),
    "jpeg-junk-after-eoi": lambda: Carrier(JPEG + b"\x00\x00" + EXIF, JPEG),
    "jpeg-fill-and-stray-bytes": lambda: Carrier(
        JPEG[:JFIF_END] + b"\xff\xff\x00\x00" + segment(0xE1, EXIF) + JPEG[JFIF_END:], JPEG
    ),
}


# --- PNG carriers -------------------------------------------------------------

PNG = encoded(picture(), "PNG")


def chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload).to_bytes(4, "big")
    return len(payload).to_bytes(4, "big") + kind + payload + crc


def png_with(*, before: bytes = b"", after: bytes = b"", tail: bytes = b"") -> bytes:
    """PNG with ``before`` ahead of its IDAT, ``after`` between IDAT and IEND, ``tail`` past
    IEND."""
    idat, iend = PNG.index(b"IDAT") - 4, PNG.index(b"IEND") - 4
    return PNG[:idat] + before + PNG[idat:iend] + after + PNG[iend:] + tail


PNG_CHUNKS = {
    "exif": chunk(b"eXIf", EXIF[6:]),
    "text": chunk(b"tEXt", b"GPSPosition\x00" + SECRET),
    "itxt": chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + XMP),
    "ztxt": chunk(b"zTXt", SECRET + b"\x00\x00" + zlib.compress(EXIF)),
    "time": chunk(b"tIME", b"\x07\xe8\x06\x01\x0c\x00\x00"),
}
PNG_CARRIERS: dict[str, Callable[[], Carrier]] = {
    **{
        f"png-{name}-{where}": (
            lambda data=data, where=where: Carrier(png_with(**{where: data}), PNG)
        )
        for name, data in PNG_CHUNKS.items()
        for where in ("before", "after")
    },
    "png-after-iend": lambda: Carrier(png_with(tail=EXIF), PNG),
    "png-private-chunk": lambda: Carrier(png_with(before=chunk(b"prVt", EXIF)), PNG),
    "png-iccp-srgb": lambda: Carrier(
        encoded(picture(), "PNG", icc_profile=SRGB, exif=EXIF, dpi=(300, 300)), PNG
    ),
    "png-palette-transparency": lambda: Carrier(
        encoded(picture("P"), "PNG", transparency=3, exif=EXIF),
        encoded(picture("P"), "PNG", transparency=3),
    ),
}


# --- GIF carriers -------------------------------------------------------------

GIF = encoded(picture("P"), "GIF")
GIF_TRANSPARENT = encoded(picture("P"), "GIF", transparency=3)


def sub_blocks(data: bytes) -> bytes:
    blocks = [data[i : i + 255] for i in range(0, len(data), 255)]
    return b"".join(bytes((len(b),)) + b for b in blocks) + b"\x00"


def gif_with(*, before: bytes = b"", after: bytes = b"", base: bytes = GIF) -> bytes:
    """``base`` with ``before`` ahead of its image (after the colour table), ``after`` behind."""
    table = 3 << ((base[10] & 7) + 1) if base[10] & 0x80 else 0
    return base[: 13 + table] + before + base[13 + table : -1] + after + base[-1:]


XMP_APPLICATION = (  # XMP's own way into a GIF: raw bytes, then a "magic trailer" of sizes
    b"\x21\xff\x0bXMP DataXMP" + XMP + b"\x01" + bytes(range(255, -1, -1)) + b"\x00"
)
GIF_EXTENSIONS = {
    "comment": b"\x21\xfe" + sub_blocks(EXIF),
    "xmp": XMP_APPLICATION,
    "plain-text": b"\x21\x01\x0c" + bytes(12) + sub_blocks(SECRET + b" GPS"),
    "netscape-and-comment": b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    + b"\x21\xfe"
    + sub_blocks(EXIF),
}
GIF_CARRIERS: dict[str, Callable[[], Carrier]] = {
    **{
        f"gif-{name}-{where}": (
            lambda data=data, where=where: Carrier(gif_with(**{where: data}), GIF)
        )
        for name, data in GIF_EXTENSIONS.items()
        for where in ("before", "after")
    },
    "gif-control-with-delay-and-disposal": lambda: Carrier(
        encoded(picture("P"), "GIF", transparency=3, duration=500, disposal=2, comment=EXIF),
        GIF_TRANSPARENT,
    ),
}


# --- WebP carriers ------------------------------------------------------------


def riff(body: bytes) -> bytes:
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def webp_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + len(payload).to_bytes(4, "little") + payload + b"\x00" * (len(payload) & 1)


def webp_with(base: bytes, *chunks: bytes, tail: bytes = b"") -> bytes:
    """``base`` with ``chunks`` after its own (the RIFF size fixed), ``tail`` past its end."""
    return riff(base[8:] + b"".join(chunks)) + tail


def webp_pair(mode: str, **save) -> tuple[bytes, bytes]:
    """A WebP with EXIF, XMP and an (sRGB) ICC profile, and the same picture without them."""
    image = picture(mode)
    carrying = encoded(image, "WEBP", exif=EXIF, xmp=XMP, icc_profile=SRGB + EXIF, **save)
    return carrying, encoded(image, "WEBP", **save)


WEBP_LOSSY = encoded(picture(), "WEBP")
WEBP_ALPHA = encoded(picture("RGBA"), "WEBP")
WEBP_CARRIERS: dict[str, Callable[[], Carrier]] = {
    "webp-lossy-exif-xmp-iccp": lambda: Carrier(*webp_pair("RGB")),
    "webp-lossless-exif-xmp-iccp": lambda: Carrier(*webp_pair("RGB", lossless=True)),
    "webp-alpha-exif-xmp-iccp": lambda: Carrier(*webp_pair("RGBA")),
    "webp-simple-unknown-chunk": lambda: Carrier(
        webp_with(WEBP_LOSSY, webp_chunk(b"ZZZZ", EXIF), webp_chunk(b"EXIF", EXIF[6:])),
        WEBP_LOSSY,
    ),
    "webp-extended-unknown-chunk": lambda: Carrier(
        webp_with(WEBP_ALPHA, webp_chunk(b"GPS!", SECRET), webp_chunk(b"XMP ", XMP)), WEBP_ALPHA
    ),
    "webp-after-riff-end": lambda: Carrier(WEBP_LOSSY + EXIF, WEBP_LOSSY),
}

CARRIERS = {**JPEG_CARRIERS, **PNG_CARRIERS, **GIF_CARRIERS, **WEBP_CARRIERS}
SUFFIXES = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


def vision_rendition(run, path) -> tuple[dict, bytes]:
    """What ``assetmgr add`` makes of ``path`` under the vision policy, and ``cat`` writes."""
    [added] = run.json_lines("add", path)
    assert added["outcome"] == "new", added
    out = path.with_name(path.name + ".rendition")
    assert run("cat", added["sha256"], "-o", out).exit_code == 0
    return added, out.read_bytes()


def first_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.seek(0)
    return image.convert("RGBA")


def assert_nothing_but_pixels(rendition: bytes) -> None:
    leaked = [evidence for evidence in FORBIDDEN if evidence in rendition]
    assert not leaked, leaked
    fmt = sniff(rendition)
    assert pixels_only(rendition, fmt) == rendition  # nothing in it that would be dropped
    image = Image.open(io.BytesIO(rendition))
    assert not {"exif", "xmp", "icc_profile", "comment", "photoshop", "dpi", "extension"} & set(
        image.info
    ), image.info
    if fmt == "JPEG":
        assert [name for name, _ in image.applist] in (["APP0"], ["APP0", "APP14"], [])
    if fmt == "PNG":
        assert set(png_chunk_types(rendition)) <= PNG_KEPT


def png_chunk_types(data: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(data):
        kinds.append(data[pos + 4 : pos + 8])
        pos += 12 + int.from_bytes(data[pos : pos + 4], "big")
    assert pos == len(data) and kinds[-1] == b"IEND"  # nothing after IEND either
    return kinds


@pytest.mark.parametrize("name", CARRIERS)
def test_no_metadata_survives_in_any_carrier(name, tmp_path, run):
    carrier = CARRIERS[name]()
    assert SECRET in carrier.source or b"tIME" in carrier.source
    fmt = sniff(carrier.source)
    path = tmp_path / f"{name}.{SUFFIXES[fmt]}"
    path.write_bytes(carrier.source)
    _, rendition = vision_rendition(run, path)
    assert_nothing_but_pixels(rendition)
    assert b"tIME" not in rendition
    assert sniff(rendition) == fmt  # the lossless path: compressed pixels kept as they were
    assert first_image(rendition).tobytes() == first_image(carrier.source).tobytes()
    if carrier.clean is not None:
        assert rendition == carrier.clean  # the picture alone decides the bytes


def test_the_corpus_png_with_exif_text_and_time_loses_them(corpus, tmp_path, run):
    source = (corpus / "valid" / "exif.png").read_bytes()
    assert {b"eXIf", b"tEXt", b"tIME"} <= set(png_chunk_types(source))
    path = tmp_path / "exif.png"
    path.write_bytes(source)
    _, rendition = vision_rendition(run, path)
    assert_nothing_but_pixels(rendition)
    assert first_image(rendition).tobytes() == first_image(source).tobytes()


def test_jpegs_differing_only_in_metadata_share_one_rendition(tmp_path, run):
    a = jpeg_with(segment(0xE1, EXIF), segment(0xFE, b"shot by me"))
    b = jpeg_with(segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + XMP)) + b"trailing"
    (tmp_path / "a.jpg").write_bytes(a)
    (tmp_path / "b.jpg").write_bytes(b)
    added = run.json_lines("add", tmp_path)
    renditions = {run.json_lines("show", o["sha256"])[0]["renditions"][0]["sha256"] for o in added}
    assert len(added) == 2 and len(renditions) == 1


def test_what_decoding_needs_is_kept_in_one_canonical_form():
    dense = b"JFIF\x00\x01\x02\x01\x01\x2c\x01\x2c\x00\x00"  # version 1.02, 300 dpi
    assert pixels_only(JPEG[:2] + segment(0xE0, dense) + JPEG[JFIF_END:], "JPEG") == JPEG
    for transform in (0, 1, 2):
        adobe = segment(0xEE, b"Adobe\x00\x65\x40\x00\x00\x00" + bytes((transform,)) + SECRET)
        kept = pixels_only(jpeg_with(adobe), "JPEG")
        assert kept == jpeg_with(
            segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00" + bytes((transform,)))
        )
    no_jfif = JPEG[:2] + JPEG[JFIF_END:]  # without JFIF, colours decode another way: kept so
    assert pixels_only(no_jfif, "JPEG") == no_jfif
    assert pixels_only(b"GIF89a" + GIF[6:], "GIF") == GIF  # 89a only for a control extension
    assert GIF_TRANSPARENT.startswith(b"GIF89a") and pixels_only(GIF_TRANSPARENT, "GIF") == (
        GIF_TRANSPARENT
    )


CLEAN = {
    "baseline.jpg": lambda: JPEG,
    "progressive.jpg": lambda: encoded(picture(), "JPEG", progressive=True),
    "grey.jpg": lambda: encoded(picture("L"), "JPEG"),
    "rgb.png": lambda: PNG,
    "palette-transparent.png": lambda: encoded(picture("P"), "PNG", transparency=3),
    "rgba.png": lambda: encoded(picture("RGBA"), "PNG"),
    "palette.gif": lambda: GIF,
    "transparent.gif": lambda: GIF_TRANSPARENT,
    "lossy.webp": lambda: WEBP_LOSSY,
    "lossless.webp": lambda: encoded(picture(), "WEBP", lossless=True),
    "alpha.webp": lambda: WEBP_ALPHA,
}


@pytest.mark.parametrize("name", CLEAN)
def test_a_file_with_nothing_but_pixels_is_its_own_rendition(name, tmp_path, run):
    path = tmp_path / name
    path.write_bytes(CLEAN[name]())
    added, rendition = vision_rendition(run, path)
    [record] = run.json_lines("show", added["sha256"])
    assert record["renditions"][0]["sha256"] == added["sha256"]
    assert rendition == path.read_bytes()


def test_re_encoded_renditions_carry_nothing_but_pixels(tmp_path, run):
    """Where pixels change (turned, downscaled, animated, CMYK), Pillow writes the rendition:
    it must add nothing of its own (no dpi, EXIF or ICC) and carry nothing over."""
    big = picture(size=(1800, 1400))
    frames = [picture("P", seed=seed) for seed in range(3)]
    sources = {
        "turned.jpg": encoded(picture(), "JPEG", exif=_turned_exif(), icc_profile=SRGB),
        "large.jpg": encoded(big, "JPEG", exif=EXIF, dpi=(300, 300), comment=EXIF),
        "turned.png": encoded(picture("RGBA"), "PNG", exif=_turned_exif(), dpi=(300, 300)),
        "cmyk.jpg": encoded(picture("CMYK"), "JPEG", exif=EXIF, icc_profile=SRGB),
        "animated.gif": encoded(
            frames[0], "GIF", save_all=True, append_images=frames[1:], comment=EXIF, loop=0
        ),
        "animated.webp": encoded(
            picture(), "WEBP", save_all=True, append_images=[picture(seed=4)], exif=EXIF, xmp=XMP
        ),
        "animated.png": encoded(
            frames[0], "PNG", save_all=True, append_images=frames[1:], exif=EXIF
        ),
    }
    for name, source in sources.items():
        (tmp_path / name).write_bytes(source)
        added, rendition = vision_rendition(run, tmp_path / name)
        assert rendition != source, name
        assert_nothing_but_pixels(rendition)
        if sniff(rendition) == "JPEG":
            info = Image.open(io.BytesIO(rendition)).info
            assert (info["jfif_unit"], info["jfif_density"]) == (0, (1, 1)), name


def _turned_exif() -> bytes:
    exif = Image.Exif()
    exif.load(EXIF)
    exif[0x0112] = 6
    return exif.tobytes()


CORPUS_SAMPLES = [
    "valid/hopper.jpg",
    "valid/app13-multiple.jpg",
    "valid/hopper.png",
    "valid/1_trns.png",
    "valid/transparent.gif",
    "valid/hopper.webp",
    "valid/transparent.webp",
    "edge/iss634.webp",
]


def mutations(data: bytes, rng: random.Random, count: int):
    """Truncations, bit flips (often near the start, where the structure is), bytes cut out."""
    for _ in range(count):
        mutated = bytearray(data)
        kind = rng.randrange(3)
        if kind == 0:
            del mutated[rng.randrange(len(mutated)) :]
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                span = len(mutated) if rng.random() < 0.5 else min(len(mutated), 512)
                mutated[rng.randrange(span)] ^= 1 << rng.randrange(8)
        else:
            start = rng.randrange(len(mutated))
            del mutated[start : start + rng.randint(1, 64)]
        yield bytes(mutated)


def test_hostile_input_never_raises(corpus):
    rng = random.Random(20260801)
    for name in CORPUS_SAMPLES:
        data = (corpus / name).read_bytes()
        for mutated in mutations(data, rng, 150):
            for fmt in ("JPEG", "PNG", "GIF", "WEBP"):
                kept = pixels_only(mutated, fmt)
                assert kept is None or pixels_only(kept, fmt) == kept, name
    for data in (b"", b"\xff\xd8", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\xff\xff\xff\xffWEBP"):
        assert all(pixels_only(data, fmt) is None for fmt in ("JPEG", "PNG", "GIF", "WEBP"))
    assert pixels_only(JPEG, "TIFF") is None
