"""Renditions under the vision and original policies: pixels, privacy, bounds, sharing."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import random
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageOps, ImageStat

from assetmgr import Library
from assetmgr.containers import pixels_only
from assetmgr.limits import MAX_IMAGE_BYTES, served_tokens, visual_tokens
from assetmgr.policies import POLICY_TIER
from assetmgr.probe import Rejected, probe, sniff
from assetmgr.renditions import load_bytes, render_bytes

# orientation -> the transpose that turns the upright picture into what is stored
STORE_AS = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def upright_reference() -> Image.Image:
    """A 60x40 picture whose every flip and turn looks different: four coloured quadrants."""
    image = Image.new("RGB", (60, 40), (255, 255, 255))
    for box, colour in [
        ((0, 0, 30, 20), (255, 0, 0)),
        ((30, 0, 60, 20), (0, 255, 0)),
        ((0, 20, 30, 40), (0, 0, 255)),
        ((50, 30, 60, 40), (0, 0, 0)),
    ]:
        image.paste(colour, box)
    return image


def encoded(image: Image.Image, fmt: str, **save) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def vision(data: bytes) -> tuple[object, bytes]:
    return render_bytes("vision", data, probe(data), hashlib.sha256(data).hexdigest())


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def psnr(a: Image.Image, b: Image.Image) -> float:
    assert a.size == b.size
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(ImageStat.Stat(diff).sum2) / (3 * a.width * a.height)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def photo(size=(800, 600), seed=0) -> Image.Image:
    """Smooth colour gradients with mild noise: compresses like a photograph."""
    rng = random.Random(seed)
    base = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 12).convert("L")
    return Image.merge(
        "RGB", (base, ImageChops.add(base.rotate(90).resize(size), noise, 2), ImageOps.invert(base))
    ).rotate(rng.randrange(4) * 90, expand=False)


def exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    exif[0xA431] = "SERIAL-0123456789"  # body serial number
    exif.get_ifd(0x8825).update({1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)})
    return exif


def test_every_orientation_gives_the_same_upright_pixels():
    reference = upright_reference()
    shas = set()
    for orientation, turn in STORE_AS.items():
        stored = reference if turn is None else reference.transpose(turn)  # FLIP_LEFT_RIGHT is 0
        facts, data = vision(encoded(stored, "PNG", exif=exif_with_gps(orientation)))
        assert decoded(data).convert("RGB").tobytes() == reference.tobytes(), orientation
        assert (facts.width, facts.height) == (60, 40)
        if orientation != 1:  # 1 needs no turn: its own pixel data, only its container rewritten
            shas.add(facts.sha256)
    assert len(shas) == 1  # one picture, seven turned files: one rendition


@pytest.mark.parametrize("orientation", range(2, 9))
def test_jpeg_orientation_matches_pillows_reference(corpus, orientation):
    for suffix in ("jpg", "webp"):
        source = (corpus / "edge" / f"hopper_orientation_{orientation}.{suffix}").read_bytes()
        _, data = vision(source)
        reference = ImageOps.exif_transpose(decoded(source))
        assert psnr(decoded(data), reference) > 30


def test_no_exif_gps_or_serial_survives(tmp_path):
    big = photo((2400, 1800))
    sources = {
        "resized": encoded(big, "JPEG", exif=exif_with_gps(6), comment=b"private", quality=90),
        "stripped": encoded(photo(), "JPEG", exif=exif_with_gps(1), quality=90),
        "png": encoded(photo(), "PNG", exif=exif_with_gps(1)),
        "webp": encoded(photo(), "WEBP", exif=exif_with_gps(3)),
    }
    for name, source in sources.items():
        assert b"SERIAL-0123456789" in source
        _, data = vision(source)
        image = decoded(data)
        assert (
            b"SERIAL-0123456789" not in data and b"Exif" not in data and b"private" not in data
        ), name
        assert not image.getexif(), name
        assert not {"exif", "xmp", "icc_profile", "comment", "photoshop"} & set(image.info), name


def test_corpus_gps_and_xmp_files_are_cleaned(corpus):
    for name in ("edge/exif_gps.jpg", "edge/xmp_test.jpg", "valid/flower2.jpg", "valid/iptc.jpg"):
        _, data = vision((corpus / name).read_bytes())
        image = decoded(data)
        assert not image.getexif() and not {"exif", "xmp", "photoshop", "icc_profile"} & set(
            image.info
        )


def test_cmyk_becomes_rgb_with_the_right_colours():
    cmyk = Image.new("CMYK", (300, 200), (255, 0, 0, 0))  # cyan
    cmyk.paste((0, 255, 255, 0), (150, 0, 300, 200))  # red
    facts, data = vision(encoded(cmyk, "JPEG", quality=95))
    image = decoded(data).convert("RGB")
    assert facts.media_type == "image/jpeg"
    for (x, y), expected in [((50, 100), (0, 255, 255)), ((250, 100), (255, 0, 0))]:
        assert all(abs(a - b) <= 12 for a, b in zip(image.getpixel((x, y)), expected))


def test_sixteen_bit_grey_is_scaled_not_clipped():
    image = Image.new("I;16", (300, 200), 32768)
    image.paste(65535, (0, 0, 100, 200))
    _, data = vision(encoded(image, "PNG"))
    out = decoded(data).convert("L")
    assert abs(out.getpixel((200, 100)) - 128) <= 1 and out.getpixel((50, 100)) == 255


def test_palette_with_transparency_keeps_alpha_and_colours():
    image = Image.new("P", (300, 200), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (0, 0, 150, 200))  # left half blue, right half red
    facts, data = vision(encoded(image, "PNG", transparency=1))  # blue is transparent
    out = decoded(data).convert("RGBA")
    assert facts.media_type == "image/png"
    assert out.getpixel((50, 100))[3] == 0
    assert out.getpixel((250, 100)) == (255, 0, 0, 255)


def test_grey_with_alpha_keeps_both():
    grey = Image.new("L", (300, 200), 90)
    alpha = Image.linear_gradient("L").resize((300, 200))
    facts, data = vision(encoded(Image.merge("LA", (grey, alpha)), "PNG"))
    out = decoded(data).convert("LA")
    assert facts.media_type == "image/png"
    assert out.getpixel((150, 199))[1] > 240 and out.getpixel((150, 0))[1] < 15
    assert out.getpixel((150, 150))[0] == 90


def accepted_corpus_rows(corpus):
    with open(corpus / "manifest.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["expected"].startswith("accept")]


def test_size_bounds_hold_for_every_accepted_corpus_image(corpus):
    """Every rendition is within the limits and holds nothing but pixels, whatever made it."""
    rows = accepted_corpus_rows(corpus)
    assert len(rows) == 147
    for row in rows:
        facts, data = vision((corpus / row["path"]).read_bytes())
        assert max(facts.width, facts.height) <= 1568, row["path"]
        assert visual_tokens(facts.width, facts.height) == facts.tokens <= 1568, row["path"]
        assert len(data) == facts.size_bytes < MAX_IMAGE_BYTES, row["path"]
        assert decoded(data).size == (facts.width, facts.height), row["path"]
        assert facts.media_type in ("image/jpeg", "image/png", "image/gif", "image/webp")
        assert pixels_only(data, sniff(data)) == data, row["path"]  # nothing but pixels


@pytest.mark.parametrize(
    ("size", "expected"),
    [((4000, 3000), (1270, 952)), ((8000, 2000), (1568, 392)), ((1000, 1000), (1000, 1000))],
)
def test_generated_large_images_are_downscaled_to_the_limits(size, expected):
    source = encoded(photo(size), "JPEG", quality=85)
    facts, data = vision(source)
    assert (facts.width, facts.height) == expected == decoded(data).size
    assert facts.tokens == visual_tokens(*expected)
    if size == expected:
        assert data == source  # a clean JPEG within the limits is uploaded byte for byte


def test_same_source_same_bytes_every_run(corpus):
    for name in ("edge/hopper_orientation_6.jpg", "edge/itxt_chunks.png", "valid/transparent.gif"):
        source = (corpus / name).read_bytes()
        assert vision(source)[1] == vision(source)[1]


def test_renditions_are_identical_across_processes(tmp_path, corpus, db_path):
    source = corpus / "edge" / "xmp_test.jpg"
    shas = []
    for jobs in (1, 2):
        with Library.open(tmp_path / f"c{jobs}.db") as lib:
            [outcome] = lib.add([source], jobs=jobs)
            shas.append(lib.show(outcome.sha256).renditions[0].sha256)
    assert shas[0] == shas[1]


def test_png_with_and_without_its_text_chunk_share_one_rendition(tmp_path, db_path):
    """A photo saved by an editor as PNG (with its usual text chunk) and the same PNG without
    it: the chunk is dropped losslessly, so both share one rendition, the clean file itself."""
    from PIL import PngImagePlugin

    picture = photo((800, 600), seed=3)
    text = PngImagePlugin.PngInfo()
    text.add_text("Software", "An image editor 1.0")
    (tmp_path / "photo.png").write_bytes(encoded(picture, "PNG", pnginfo=text))
    (tmp_path / "photo-clean.png").write_bytes(encoded(picture, "PNG"))
    with Library.open(db_path) as lib:
        outcomes = list(lib.add([tmp_path]))
        assert [o.outcome for o in outcomes] == ["new", "new"]
        renditions = {lib.show(o.sha256).renditions[0].sha256 for o in outcomes}
        assert renditions == {
            hashlib.sha256((tmp_path / "photo-clean.png").read_bytes()).hexdigest()
        }
        [vision_stats] = lib.stats().policies
        assert (vision_stats.assets, vision_stats.renditions) == (2, 1)


def test_same_photo_with_different_exif_shares_one_rendition(tmp_path, db_path):
    clean = encoded(photo(seed=4), "JPEG", quality=90)
    app1 = b"Exif\x00\x00" + exif_with_gps(1).tobytes()
    segment = b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1
    jfif_end = 2 + 2 + int.from_bytes(clean[4:6], "big")  # after SOI and the JFIF segment
    (tmp_path / "a.jpg").write_bytes(clean)
    (tmp_path / "b-with-gps.jpg").write_bytes(clean[:jfif_end] + segment + clean[jfif_end:])
    with Library.open(db_path) as lib:
        a, b = lib.add([tmp_path])
        assert a.sha256 != b.sha256
        ra, rb = (lib.show(o.sha256).renditions[0] for o in (a, b))
        assert ra.sha256 == rb.sha256 == a.sha256  # the clean file is its own rendition


def test_animated_gif_becomes_its_first_frame_with_a_warning(tmp_path, db_path):
    frames = [Image.new("RGB", (240, 240), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Library.open(db_path) as lib:
        [outcome] = lib.add([path])
        rendition, data = lib.rendition(outcome.sha256)
    assert "animated: first frame only" in rendition.warnings
    image = decoded(data)
    assert getattr(image, "n_frames", 1) == 1 and image.convert("RGB").getpixel((10, 10)) == (
        255,
        0,
        0,
    )


def test_small_and_extreme_images_are_warned_about(tmp_path, db_path):
    (tmp_path / "small.png").write_bytes(encoded(photo((150, 100)), "PNG"))
    (tmp_path / "strip.png").write_bytes(encoded(photo((3000, 200)), "PNG"))
    with Library.open(db_path) as lib:
        small, strip = (lib.show(o.sha256).renditions[0].warnings for o in lib.add([tmp_path]))
    assert "smaller than 200 px" in small
    assert "extreme aspect ratio" in strip


def test_original_policy_rejects_what_the_api_would_not_take(tmp_path, run):
    noisy = Image.merge("RGB", [Image.effect_noise((1800, 1800), 120)] * 3)
    (tmp_path / "huge.png").write_bytes(encoded(noisy, "PNG"))
    assert (tmp_path / "huge.png").stat().st_size > MAX_IMAGE_BYTES
    [rejected] = run.json_lines("add", tmp_path, "--policy", "original")
    assert (
        rejected["outcome"] == "rejected"
        and "the API accepts at most 5.0 MB per image" in rejected["reason"]
    )
    [accepted] = run.json_lines("add", tmp_path)
    assert accepted["outcome"] == "new"
    [record] = run.json_lines("show", accepted["sha256"])
    assert record["renditions"][0]["size_bytes"] < MAX_IMAGE_BYTES


def test_one_asset_with_renditions_under_both_policies(tmp_path, run):
    (tmp_path / "p.jpg").write_bytes(encoded(photo((3000, 2000)), "JPEG", quality=90))
    run("add", tmp_path)
    [again] = run.json_lines("add", tmp_path, "--policy", "original")
    assert again["outcome"] == "unchanged"
    [record] = run.json_lines("show", again["sha256"])
    by_policy = {r["policy"]: r for r in record["renditions"]}
    assert by_policy["original"]["sha256"] == record["sha256"]
    assert (by_policy["original"]["width"], by_policy["vision"]["width"]) == (3000, 1344)


def test_cat_writes_the_rendition_and_rederives_it_when_the_store_is_gone(
    tmp_path, run, store_root
):
    source = tmp_path / "in" / "p.jpg"
    source.parent.mkdir()
    source.write_bytes(encoded(photo((2400, 1800)), "JPEG", exif=exif_with_gps(6)))
    [outcome] = run.json_lines("add", source.parent)
    [record] = run.json_lines("show", outcome["sha256"])
    wanted = record["renditions"][0]["sha256"]
    out = tmp_path / "what-claude-sees.jpg"
    assert run("cat", outcome["sha256"][:8], "-o", out).exit_code == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == wanted
    assert list(store_root.rglob(wanted))
    for stored in store_root.rglob(wanted):
        stored.unlink()
    piped = run("cat", outcome["sha256"])
    assert hashlib.sha256(piped.stdout_bytes).hexdigest() == wanted
    for stored in store_root.rglob(wanted):
        stored.unlink()
    source.unlink()
    gone = run("cat", outcome["sha256"])
    assert gone.exit_code == 4 and "no source file with the asset's bytes is left" in gone.stderr


def test_stats_sums_tokens_and_prices_them(tmp_path, run):
    (tmp_path / "a.png").write_bytes(encoded(photo((1000, 750)), "PNG"))
    (tmp_path / "b.png").write_bytes(encoded(photo((500, 300), seed=1), "PNG"))
    run("add", tmp_path)
    [stats] = run.json_lines("stats", "--price", "3")
    [vision_stats] = stats["policies"]
    assert stats["assets"] == 2
    assert vision_stats["tokens"] == 36 * 27 + 18 * 11  # ceil(w/28) * ceil(h/28) each
    assert vision_stats["cost_per_1000_images"] == pytest.approx(585 * 1000 * 3 / 1e6)
    assert "per 1,000 images at $3/Mtok" in run("stats").stdout


def test_unreadable_decoding_is_a_rejection_not_a_crash():
    with pytest.raises(Rejected):
        probe(b"\xff\xd8\xff\xe0" + b"\x00" * 20)


def old_rule_rendition(source: bytes) -> tuple[tuple[int, int], bytes]:
    """A vision rendition as earlier versions made it: the long edge within 1568 px and the
    area within 1.15 MP (1920x1080 -> 1429x804), LANCZOS, JPEG at quality 85, no metadata."""
    image = decoded(source)
    scale = min(1.0, 1568 / max(image.size), math.sqrt(1_150_000 / (image.width * image.height)))
    size = (int(image.width * scale), int(image.height * scale))
    small = image.resize(size, Image.Resampling.LANCZOS)
    small.info = {}
    return size, encoded(small, "JPEG", quality=85)


def test_a_rendition_made_under_the_old_size_rule_is_made_again_byte_for_byte(
    tmp_path, run, db, store_root
):
    source = tmp_path / "in" / "wide.jpg"
    source.parent.mkdir()
    source.write_bytes(encoded(photo((1920, 1080), seed=7), "JPEG", quality=90))
    (width, height), old = old_rule_rendition(source.read_bytes())
    assert (width, height) == (1429, 804)
    [outcome] = run.json_lines("add", source.parent)
    [record] = run.json_lines("show", outcome["sha256"])
    current = record["renditions"][0]
    assert (current["width"], current["height"]) == (1456, 819)
    # the catalogue of an earlier version: its vision rendition is the old-rule one
    old_sha = hashlib.sha256(old).hexdigest()
    db.execute(
        "UPDATE renditions SET sha256 = :new, width = :w, height = :h, size_bytes = :n "
        "WHERE sha256 = :sha",
        new=old_sha, w=width, h=height, n=len(old), sha=current["sha256"],
    )  # fmt: skip
    for stored in store_root.rglob("*"):
        if stored.is_file():
            stored.unlink()
    piped = run("cat", outcome["sha256"])
    assert piped.exit_code == 0, piped.stderr
    assert piped.stdout_bytes == old
    assert [p.name for p in store_root.rglob(old_sha)]  # kept for whoever shares the store


def test_a_rendition_shrunk_to_fit_its_byte_budget_is_made_again_by_the_current_rule(tmp_path):
    from assetmgr.catalogue import AssetSources
    from assetmgr.store import RenditionStore

    noise = [Image.effect_noise((2000, 1500), 120) for _ in range(3)]
    data = encoded(Image.merge("RGBA", (*noise, Image.new("L", (2000, 1500), 200))), "PNG")
    (tmp_path / "noise.png").write_bytes(data)
    sha = hashlib.sha256(data).hexdigest()
    facts, made = render_bytes("vision", data, probe(data), sha)
    assert facts.media_type == "image/png" and (facts.width, facts.height) < (1456, 1092)
    assert len(made) <= MAX_IMAGE_BYTES * 3 // 4  # its base64 is within 5 MB too
    asset = AssetSources(sha, (str(tmp_path / "noise.png"),))
    assert load_bytes(asset, facts, RenditionStore(tmp_path / "store")) == made


def big_sources(folder):
    """A 45 MP camera frame (JPEG) and a 12000x3000 panorama (PNG): over 8000 px on a side."""
    folder.mkdir()
    ramp = Image.linear_gradient("L")
    camera = Image.merge("RGB", [ramp.resize((8192, 5464)), ramp.rotate(90).resize((8192, 5464)),
                                 ImageOps.invert(ramp).resize((8192, 5464))])  # fmt: skip
    camera.save(folder / "camera.jpg", quality=80)
    ramp.rotate(90).resize((12000, 3000)).save(folder / "panorama.png", compress_level=1)
    return folder


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return big_sources(tmp_path_factory.mktemp("big") / "in")


@pytest.mark.parametrize(
    ("policy", "camera", "panorama"),
    [("vision", (1344, 896), (1568, 392)), ("vision-hd", (2351, 1568), (2576, 644))],
)
def test_sources_over_8000_px_become_renditions_of_the_tier(big, run, policy, camera, panorama):
    records = {Path(r["path"]).name: r for r in run.json_lines("add", big, "--policy", policy)}
    assert {r["outcome"] for r in records.values()} == {"new"}, records
    for name, expected in (("camera.jpg", camera), ("panorama.png", panorama)):
        [shown] = run.json_lines("show", records[name]["sha256"])
        [rendition] = [r for r in shown["renditions"] if r["policy"] == policy]
        assert (rendition["width"], rendition["height"]) == expected, name
        assert rendition["tokens"] == served_tokens(*expected) <= 1568  # the standard figure
        assert served_tokens(*expected, POLICY_TIER[policy]) == visual_tokens(*expected)


def test_sources_over_8000_px_are_rejected_under_original(big, run):
    records = run.json_lines("add", big, "--policy", "original")
    reasons = sorted(r["reason"] for r in records)
    assert reasons == [
        "image is 12000x3000 px; the API accepts at most 8000 px per side; "
        "--policy vision downscales it",
        "image is 8192x5464 px; the API accepts at most 8000 px per side; "
        "--policy vision downscales it",
    ]


def test_the_decompression_bomb_limit_bounds_big_sources_and_can_be_raised(tmp_path, run):
    Image.new("1", (8200, 8000)).save(tmp_path / "huge.png")  # 65.6 MP, a few KB
    [record] = run.json_lines("add", tmp_path)
    assert record["reason"] == (
        "decompression bomb: 65.6 MP in one frame, over the limit of 64.0 MP "
        "(raise it with --max-pixels)"
    )
    [relaxed] = run.json_lines("add", tmp_path, "--max-pixels", "70M")
    assert relaxed["outcome"] == "new"


def test_a_clean_photo_is_its_own_vision_hd_rendition_but_is_resized_for_vision(tmp_path, run):
    source = encoded(photo((1920, 1080), seed=9), "JPEG", quality=85)
    (tmp_path / "hd.jpg").write_bytes(source)
    [first] = run.json_lines("add", tmp_path, "--policy", "vision-hd")
    [second] = run.json_lines("add", tmp_path)  # the other policy: a second rendition
    assert (first["outcome"], second["outcome"]) == ("new", "unchanged")
    [shown] = run.json_lines("show", first["sha256"])
    by_policy = {r["policy"]: r for r in shown["renditions"]}
    assert by_policy["vision-hd"]["sha256"] == hashlib.sha256(source).hexdigest()
    assert (by_policy["vision-hd"]["width"], by_policy["vision-hd"]["height"]) == (1920, 1080)
    assert (by_policy["vision"]["width"], by_policy["vision"]["height"]) == (1456, 819)
    assert by_policy["vision"]["sha256"] != by_policy["vision-hd"]["sha256"]
    assert "vision-hd" in run("add", "--help").stdout
