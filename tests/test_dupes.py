"""Duplicates: exact (several paths) and near (the same picture in different bytes).

Generated pictures and their variants (``near_images.py``) are added for real and found by
``assetmgr dupes --near``; unrelated pictures, flat colours and gradients are not grouped;
the index finds what comparing every pair finds; groups never chain unrelated pictures.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from assetmgr.catalogue import FingerprintRow
from assetmgr.dupes import near_groups
from assetmgr.errors import ExitCode
from assetmgr.nearindex import brute_force, pairs_within
from assetmgr.phash import Fingerprint, alike, fingerprint

sys.path.insert(0, str(Path(__file__).parent))
from near_images import VARIANTS, encoded, flat, gradient, picture  # noqa: E402

pytestmark = pytest.mark.backends()  # catalogue tests on SQLite and PostgreSQL


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def family(folder: Path, seed: int, size=(640, 480)) -> list[Path]:
    """A picture (``p<seed>.jpg``, first in walk order) and each of its variants."""
    original = encoded(picture(seed, size))
    paths = [write(folder / f"p{seed}.jpg", original)]
    for index, variant in enumerate(VARIANTS.values()):
        data = variant(original)
        suffix = "png" if data.startswith(b"\x89PNG") else "jpg"
        paths.append(write(folder / f"p{seed}_{index}.{suffix}", data))
    return paths


def near_json(run, *args) -> list[dict]:
    result = run("dupes", "--near", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def asset_of(run, path: Path) -> str:
    return (
        run("show", str(path), "--json").stdout
        and json.loads(run("show", str(path), "--json").stdout)["sha256"]
    )


def test_every_variant_is_found_and_nothing_else(run, tmp_path):
    families = [family(tmp_path / "pics", seed) for seed in range(3)]
    others = [
        write(tmp_path / "pics" / "u1.jpg", encoded(picture(101))),
        write(tmp_path / "pics" / "u2.jpg", encoded(picture(102))),
        write(tmp_path / "pics" / "black.png", encoded(flat((0, 0, 0)), "PNG")),
        write(tmp_path / "pics" / "black.jpg", encoded(flat((3, 3, 3)))),
        write(tmp_path / "pics" / "white.png", encoded(flat((255, 255, 255)), "PNG")),
        write(tmp_path / "pics" / "sky.png", encoded(flat((120, 170, 230)), "PNG")),
        write(tmp_path / "pics" / "red.png", encoded(gradient((640, 480), (0, 0, 0), (255, 0, 0)), "PNG")),
        write(tmp_path / "pics" / "blue.png", encoded(gradient((640, 480), (0, 0, 0), (0, 0, 255)), "PNG")),
        write(tmp_path / "pics" / "grey.png", encoded(gradient((640, 480), (40, 40, 40), (200, 200, 200)), "PNG")),
    ]  # fmt: skip
    assert run("add", tmp_path / "pics", "--no-upload").exit_code == 0
    assert "computed" not in run("dupes", "--near").stderr  # every one made at ingest
    groups = near_json(run)
    expected = [{asset_of(run, p) for p in paths} for paths in families]
    found = [{m["asset"] for m in g["members"]} for g in groups]
    assert sorted(map(sorted, found)) == sorted(map(sorted, expected))
    alone = {asset_of(run, p) for p in others}
    assert not alone & set().union(*found)
    originals = {asset_of(run, paths[0]) for paths in families}
    assert {g["best"] for g in groups} == originals  # most pixels, original format, oldest
    for g in groups:
        assert g["members"][0]["reason"].startswith("best copy")
        assert all(m["distance"] <= 10 for m in g["members"])


def test_the_original_policy_fingerprints_the_pixels_it_checks(run, tmp_path):
    original = encoded(picture(31))
    write(tmp_path / "pics" / "a.jpg", original)
    write(tmp_path / "pics" / "b.png", VARIANTS["JPEG to PNG"](original))
    assert run("add", tmp_path / "pics", "--no-upload", "--policy", "original").exit_code == 0
    result = run("dupes", "--near", "--json")
    assert "computed" not in result.stderr
    [group] = [json.loads(line) for line in result.stdout.splitlines()]
    assert [m["format"] for m in group["members"]] == ["JPEG", "PNG"]  # the original format


def test_a_smaller_distance_finds_fewer(run, tmp_path):
    family(tmp_path / "pics", 7)
    run("add", tmp_path / "pics", "--no-upload")
    (everything,) = near_json(run)
    strict = near_json(run, "--distance", "0")
    assert len(everything["members"]) == 7
    assert sum(len(g["members"]) for g in strict) < 7


def test_exact_duplicates_are_assets_at_several_paths(run, tmp_path):
    data = encoded(picture(5))
    write(tmp_path / "a" / "one.jpg", data)
    write(tmp_path / "b" / "two.jpg", data)
    write(tmp_path / "a" / "other.jpg", encoded(picture(6)))
    run("add", tmp_path, "--no-upload")
    (line,) = run.json_lines("dupes")
    assert sorted(Path(p).name for p in line["paths"]) == ["one.jpg", "two.jpg"]
    text = run("dupes").stdout
    assert "one.jpg" in text and "other.jpg" not in text


@pytest.mark.parametrize("workers", [False, True], ids=["in-process", "worker-processes"])
def test_fingerprints_come_from_stored_renditions_when_missing(
    run, db, tmp_path, monkeypatch, workers
):
    if workers:  # the path a large catalogue takes: decoded in worker processes
        monkeypatch.setattr("assetmgr.dupes.PARALLEL_FROM", 1)
    # Larger than the vision rendition: the store keeps the new bytes, the sources can go.
    made = family(tmp_path / "pics", 11, size=(2000, 1500))
    paths = [made[0], made[2], made[4]]  # the original, quality 30, brighter: all 2000x1500
    for extra in set(made) - set(paths):
        extra.unlink()
    run("add", tmp_path / "pics", "--no-upload")
    before = near_json(run)
    with run_catalogue(db) as catalogue, catalogue.writing() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM perceptual_hashes").scalar() == 3
        assert {r[0] for r in conn.exec_driver_sql("SELECT DISTINCT algorithm FROM perceptual_hashes")} == {"dct-phash"}  # fmt: skip
        conn.exec_driver_sql("DELETE FROM perceptual_hashes")
    for path in paths:
        path.unlink()
    result = run("dupes", "--near", "--json")
    assert "computed 3 missing fingerprints" in result.stderr
    after = [json.loads(line) for line in result.stdout.splitlines()]
    assert [sorted(m["asset"] for m in g["members"]) for g in after] == [
        sorted(m["asset"] for m in g["members"]) for g in before
    ]  # the same group, from the stored renditions' pixels
    assert [g["best"] for g in after] == [g["best"] for g in before]
    assert "computed" not in run("dupes", "--near").stderr  # kept


def run_catalogue(db):
    from assetmgr.catalogue import Catalogue

    return Catalogue.open(str(db))


def test_decisions_persist_and_are_honoured(run, db, tmp_path):
    paths = family(tmp_path / "pics", 21)
    other = write(tmp_path / "pics" / "z.jpg", encoded(picture(22)))
    run("add", tmp_path / "pics", "--no-upload")
    original, resized, unrelated = (asset_of(run, p) for p in (paths[0], paths[1], other))
    result = run("dupes", "mark", original[:8], resized[:8], "--not-duplicate")
    assert result.exit_code == 0, result.stderr
    result = run("dupes", "mark", original[:8], unrelated[:8], "--same")
    assert result.exit_code == 0, result.stderr
    groups = near_json(run)  # each command opens the catalogue anew: the decisions are kept
    together = [{m["asset"] for m in g["members"]} for g in groups]
    assert not any({original, resized} <= members for members in together)
    assert any({original, unrelated} <= members for members in together)
    run("dupes", "mark", original[:8], resized[:8], "--same")  # the last decision stands
    together = [{m["asset"] for m in g["members"]} for g in near_json(run)]
    assert any({original, resized} <= members for members in together)
    assert run("dupes", "mark", original[:8], resized[:8]).exit_code == ExitCode.USAGE
    assert run("dupes", "mark", original[:8], original[:8], "--same").exit_code == ExitCode.USAGE
    assert run("dupes", "mark", "ffffff", resized[:8], "--same").exit_code == ExitCode.NOT_FOUND


def test_a_removed_asset_takes_its_fingerprint_and_decisions_with_it(run, db, tmp_path):
    paths = family(tmp_path / "pics", 41)[:3]
    for extra in set(family(tmp_path / "pics", 41)) - set(paths):
        extra.unlink()
    run("add", tmp_path / "pics", "--no-upload")
    gone = asset_of(run, paths[1])
    run("dupes", "mark", asset_of(run, paths[0])[:8], gone[:8], "--same")
    assert run("rm", gone[:8], "--yes").exit_code == 0
    [group] = near_json(run)
    assert gone not in {m["asset"] for m in group["members"]}
    with run_catalogue(db) as catalogue, catalogue.writing() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM perceptual_hashes").scalar() == 2
        assert conn.exec_driver_sql("SELECT count(*) FROM near_decisions").scalar() == 0


def test_distance_out_of_range_is_a_usage_error(run):
    result = run("dupes", "--near", "--distance", "65")
    assert result.exit_code == ExitCode.USAGE
    assert "'--distance': 65 is not in the range 0<=x<=16" in result.stderr
    assert run("dupes", "--distance", "4").exit_code == ExitCode.USAGE
    from assetmgr.errors import UsageError
    from assetmgr.library import Library

    with Library.open(str(run.db)) as library, pytest.raises(UsageError, match="between 0 and 16"):
        library.near_duplicates(17)


# -- the index and the grouping, without a catalogue -------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_the_index_agrees_with_brute_force(seed):
    rng = random.Random(seed)
    hashes = [rng.getrandbits(64) for _ in range(400)]
    for base in hashes[:80]:  # clusters of near hashes, and exact repeats
        flips = rng.sample(range(64), rng.randint(0, 14))
        hashes.append(base ^ sum(1 << bit for bit in flips))
    hashes += hashes[:5]
    rng.shuffle(hashes)
    for k in (0, 1, 3, 4, 7, 8, 10, 12, 16):
        assert sorted(pairs_within(hashes, k)) == sorted(brute_force(hashes, k)), k


def row(sha: str, hash_: int, thumb: bytes = bytes(range(48)), size=(640, 480)) -> FingerprintRow:
    return FingerprintRow(sha, "JPEG", *size, Fingerprint(hash_, thumb, 40.0))


def test_groups_never_chain_through_a_middle_picture():
    # a - b and b - c are 4 bits apart, a - c 8: within 6 bits, no group holds both a and c.
    a, b, c = 0, 0x0F, 0xFF
    rows = [row("b", b, size=(800, 600)), row("a", a), row("c", c)]
    groups = near_groups(rows, 6)
    assert [[m.sha256 for m in g.members] for g in groups] == [["b", "a", "c"]]
    rows = [row("a", a, size=(800, 600)), row("b", b), row("c", c)]
    assert [[m.sha256 for m in g.members] for g in near_groups(rows, 6)] == [["a", "b"]]
    rows = [row(str(i), (1 << (i + 1)) - 1) for i in range(40)]  # a chain of 40, 1 bit apart
    assert max(len(g.members) for g in near_groups(rows, 6)) <= 13  # never one giant group


def test_near_uniform_pictures_are_never_linked_by_the_hash_alone():
    black, navy = flat((0, 0, 0)), flat((0, 0, 60))
    same_black = flat((1, 1, 1))
    f_black, f_navy, f_same = map(fingerprint, (black, navy, same_black))
    assert f_black.flat and f_navy.flat
    forced = Fingerprint(f_black.hash, f_navy.thumb, f_navy.spread)  # the same hash
    assert not alike(f_black, forced, 4 / 3, 4 / 3)
    assert alike(f_black, f_same, 4 / 3, 4 / 3)
    photo = fingerprint(picture(1))
    assert not alike(photo, Fingerprint(photo.hash, f_black.thumb, f_black.spread), 4 / 3, 4 / 3)
    assert not alike(photo, photo, 4 / 3, 16 / 9)  # another shape
    red = fingerprint(gradient((640, 480), (0, 0, 0), (255, 0, 0)))
    blue = fingerprint(gradient((640, 480), (0, 0, 0), (0, 0, 255)))
    assert not alike(red, blue, 4 / 3, 4 / 3)


def test_mark_takes_exactly_one_decision(run):
    for flags in ([], ["--same", "--not-duplicate"]):
        result = run("dupes", "mark", "a" * 12, "b" * 12, *flags)
        assert result.exit_code == 2 and "say which: --not-duplicate or --same" in result.stderr
