"""Sources the API does not take: HEIC/HEIF, AVIF, TIFF and BMP (made here) become vision
renditions and are rejected under ``original``; each decoder runs only on its own files."""

from __future__ import annotations

import functools
import hashlib
import io
import sys

import pytest
from PIL import Image, TiffImagePlugin

from assetmgr import Library
from assetmgr.limits import HIGH, fit_size
from assetmgr.probe import HEIF_MISSING, Rejected, probe, sniff
from tests.conftest import assetmgr
from tests.test_renditions import decoded, exif_with_gps, photo, upright_reference

pillow_heif = pytest.importorskip("pillow_heif")
pillow_heif.register_heif_opener()  # to write HEIC here; assetmgr registers it on its own

SIZE = (2400, 1600)
SECRET = b"SERIAL-0123456789"
NOT_SENT = "; the API accepts JPEG, PNG, GIF and WebP; --policy vision converts it"


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@functools.cache
def camera_file(fmt: str) -> bytes:
    """A photo in ``fmt`` with EXIF, GPS and a serial number where the format carries them."""
    exif = {} if fmt == "BMP" else {"exif": exif_with_gps(1).tobytes()}
    return saved(photo(SIZE, seed=5), fmt, **exif)


FORMATS = {"HEIF": "HEIC", "AVIF": "AVIF", "TIFF": "TIFF", "BMP": "BMP"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_new_format_becomes_a_rendition_without_metadata(tmp_path, fmt, db_path):
    data = camera_file(fmt)
    assert fmt == "BMP" or SECRET in data
    (tmp_path / "photo.bin").write_bytes(data)  # the content decides, not the name
    with Library.open(db_path) as lib:
        [outcome] = lib.add([tmp_path / "photo.bin"], policy="vision")
        assert outcome.outcome == "new", outcome.reason
        rendition, out = lib.rendition(outcome.sha256)
        [hd] = lib.add([tmp_path / "photo.bin"], policy="vision-hd")
        hd_rendition, _ = lib.rendition(hd.sha256, "vision-hd")
    assert (rendition.width, rendition.height) == fit_size(*SIZE) == (1344, 896)
    assert (hd_rendition.width, hd_rendition.height) == fit_size(*SIZE, HIGH) == (2352, 1568)
    assert rendition.media_type == "image/jpeg"  # a photograph, whatever its format
    image = decoded(out)
    assert image.size == (1344, 896)
    assert SECRET not in out and b"Exif" not in out
    assert not image.getexif() and not {"exif", "xmp", "icc_profile"} & set(image.info)


@pytest.mark.parametrize("fmt", FORMATS)
def test_original_rejects_a_new_format_with_the_reason(tmp_path, fmt, run):
    (tmp_path / f"photo.{fmt.lower()}").write_bytes(camera_file(fmt))
    [record] = run.json_lines("add", tmp_path, "--policy", "original")
    assert record["outcome"] == "rejected"
    assert record["reason"] == f"unsupported format: {FORMATS[fmt]}{NOT_SENT}"


def test_new_formats_through_the_real_command(tmp_path):
    folder = tmp_path / "camera"
    folder.mkdir()
    for fmt in FORMATS:
        (folder / f"photo.{fmt.lower()}").write_bytes(camera_file(fmt))
    db = tmp_path / "catalogue.db"
    result = assetmgr("add", folder, "--json", "--no-upload", db=db)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    import json

    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["format"] for r in records) == ["AVIF", "BMP", "HEIF", "TIFF"]
    for record in records:
        shown = json.loads(assetmgr("show", record["sha256"], "--json", db=db).stdout)
        [rendition] = shown["renditions"]
        assert (rendition["width"], rendition["height"]) == (1344, 896)
        assert rendition["media_type"] in ("image/jpeg", "image/png")


def test_heic_is_turned_once_by_its_own_transform_not_again_by_exif(tmp_path, db_path):
    """A phone's HEIC: pixels stored sideways with an irot transform, and EXIF orientation
    6 describing the same turn. libheif applies irot when decoding; EXIF must not turn the
    picture a second time."""
    upright = upright_reference().resize((240, 160), Image.Resampling.NEAREST)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what orientation 6 stores
    data = saved(stored, "HEIF", exif=exif_with_gps(6).tobytes(), quality=95)
    assert b"irot" in data
    exif = Image.Exif()
    exif.load(pillow_heif.open_heif(io.BytesIO(data)).info["exif"])
    assert exif[0x0112] == 6  # the file still says 6 in its EXIF
    (tmp_path / "turned.heic").write_bytes(data)
    with Library.open(db_path) as lib:
        [outcome] = lib.add([tmp_path / "turned.heic"])
        rendition, out = lib.rendition(outcome.sha256)
    image = decoded(out).convert("RGB")
    assert (rendition.width, rendition.height) == image.size == (240, 160)
    for (x, y), colour in [((60, 40), (255, 0, 0)), ((180, 40), (0, 255, 0)),
                           ((60, 120), (0, 0, 255)), ((220, 150), (0, 0, 0))]:  # fmt: skip
        assert all(abs(a - b) < 40 for a, b in zip(image.getpixel((x, y)), colour)), (x, y)
    assert SECRET not in out


def test_tiff_orientation_is_applied_once():
    """Pillow's TIFF plugin turns the picture upright on load: it must not turn twice."""
    reference = upright_reference()
    stored = reference.transpose(Image.Transpose.ROTATE_90)  # orientation 6 stores this
    data = saved(stored, "TIFF", exif=exif_with_gps(6).tobytes())
    from assetmgr.renditions import render_bytes

    facts, out = render_bytes("vision", data, probe(data), hashlib.sha256(data).hexdigest())
    assert decoded(out).convert("RGB").tobytes() == reference.tobytes()
    assert (facts.width, facts.height) == (60, 40)


def test_multi_page_tiff_takes_its_first_page_with_a_warning(tmp_path, db_path):
    pages = [Image.new("RGB", (400, 300), colour) for colour in ("red", "green", "blue")]
    path = tmp_path / "scan.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with Library.open(db_path) as lib:
        [outcome] = lib.add([path])
        rendition, out = lib.rendition(outcome.sha256)
    assert "multi-page TIFF: first page only" in rendition.warnings
    assert decoded(out).convert("RGB").getpixel((10, 10)) == (255, 0, 0)


@pytest.mark.parametrize("mode", ["CMYK", "I;16"])
def test_cmyk_and_sixteen_bit_tiffs_become_eight_bit_renditions(mode):
    image = Image.new(mode, (300, 200), (0, 255, 255, 0) if mode == "CMYK" else 40000)
    data = saved(image, "TIFF")
    from assetmgr.renditions import render_bytes

    facts, out = render_bytes("vision", data, probe(data), hashlib.sha256(data).hexdigest())
    assert (facts.width, facts.height) == (300, 200)
    pixel = decoded(out).convert("RGB").getpixel((150, 100))
    expected = (255, 0, 0) if mode == "CMYK" else (156, 156, 156)  # 40000 / 256: scaled
    assert all(abs(a - b) <= 12 for a, b in zip(pixel, expected)), pixel


def test_each_decoder_runs_only_on_files_whose_magic_bytes_name_it(monkeypatch):
    opened = []
    original = TiffImagePlugin.TiffImageFile._open

    def spy(self):
        opened.append(self.fp)
        return original(self)

    monkeypatch.setattr(TiffImagePlugin.TiffImageFile, "_open", spy)
    bmp = saved(photo((300, 200)), "BMP")
    assert probe(bmp).format == "BMP" and not opened
    tiff = saved(photo((300, 200)), "TIFF")
    with pytest.raises(Rejected, match="converts it"):
        probe(tiff, formats={"JPEG", "PNG", "GIF", "WEBP"})  # the original policy's formats
    assert not opened
    assert probe(tiff).format == "TIFF" and len(opened) == 1


@pytest.mark.parametrize(
    ("major", "compatible", "expected"),
    [
        (b"heic", [b"mif1", b"heic"], "HEIC"),
        (b"mif1", [b"mif1", b"heic"], "HEIC"),
        (b"mif1", [b"mif1", b"miaf", b"avif"], "AVIF"),
        (b"avif", [b"avif", b"mif1"], "AVIF"),
        (b"isom", [b"isom", b"mp41"], "ISO media"),
    ],
)
def test_iso_media_brands_decide_heic_or_avif(major, compatible, expected):
    box = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    head = (8 + len(box)).to_bytes(4, "big") + b"ftyp" + box
    assert sniff(head + b"\x00" * 32) == expected


def test_without_pillow_heif_a_heic_is_rejected_with_the_install_hint_until_it_is_there(
    tmp_path,
):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "photo.heic").write_bytes(camera_file("HEIF"))
    shadow = tmp_path / "shadow" / "pillow_heif"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('pillow_heif is not installed')\n")
    db = tmp_path / "catalogue.db"
    env = {"PYTHONPATH": f"{shadow.parent}:{':'.join(sys.path)}"}
    missing = assetmgr("add", tmp_path / "in", "--json", "--no-upload", db=db, env=env)
    assert '"outcome": "rejected"' in missing.stdout and HEIF_MISSING in missing.stdout
    assert "Traceback" not in missing.stderr
    installed = assetmgr("add", tmp_path / "in", "--json", "--no-upload", db=db)
    assert '"outcome": "new"' in installed.stdout  # not a rejection the stat cache keeps


def test_files_rejected_under_earlier_rules_are_judged_again(tmp_path, run, db):
    """TIFFs an earlier version rejected (its rules had no version) are read again now, by
    the command (its fast path first) and by the library."""
    from assetmgr.limits import DEFAULT_LIMITS

    for name in ("a.tif", "b.tif"):
        (tmp_path / name).write_bytes(saved(photo((300, 200), seed=len(name)), "TIFF"))
    first = run.json_lines("add", tmp_path, "--max-file-size", "10")
    assert [r["outcome"] for r in first] == ["rejected", "rejected"]
    earlier = DEFAULT_LIMITS.rules("vision").split(";", 1)[1]  # the same, without the version
    db.execute("UPDATE rejections SET rules = :rules, reason = 'unsupported format: TIFF'",
               rules=earlier)  # fmt: skip
    [again] = run.json_lines("add", tmp_path / "a.tif")
    assert again["outcome"] == "new"
    with Library.open(db.path) as lib:
        assert [o.outcome for o in lib.add([tmp_path / "b.tif"])] == ["new"]


def test_without_a_pillow_that_reads_avif_an_avif_is_rejected_for_now_not_for_good(monkeypatch):
    """A Pillow built without libavif cannot tell a good AVIF from a bad one: the rejection
    says what to install and is not kept (the file is judged again next run)."""
    from PIL import features

    data = camera_file("AVIF")
    real = features.check
    monkeypatch.setattr(features, "check", lambda name: False if name == "avif" else real(name))
    with pytest.raises(Rejected) as rejected:
        probe(data)
    assert rejected.value.reason.startswith("AVIF needs a Pillow built with libavif")
    assert rejected.value.lasting is False


def test_an_unknown_policy_is_a_usage_error_not_a_key_error():
    from assetmgr.errors import UsageError
    from assetmgr.limits import STANDARD
    from assetmgr.policies import check

    with pytest.raises(UsageError, match="unknown policy 'vision-xl'"):
        check("vision-xl", STANDARD)
