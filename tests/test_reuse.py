"""Reuse of near-duplicates: ``add --reuse-near`` and ``push --reuse-near`` link a
near-duplicate to its best copy's rendition (one upload for the group, ``block`` gives the
best copy's file id, ``show`` says so), ``dupes unlink`` undoes it; removing either side,
re-running ``add``, ``gc`` and ``export``/``import`` keep every asset working.

Generated pictures and their variants (``near_images.py``), added for real and uploaded to
the emulator through the real SDK.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from assetmgr.catalogue import Catalogue
from assetmgr.errors import ExitCode

sys.path.insert(0, str(Path(__file__).parent))
from near_images import VARIANTS, encoded, flat, picture  # noqa: E402

pytestmark = pytest.mark.backends()  # catalogue tests on SQLite and PostgreSQL


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def family(folder: Path, seed: int) -> list[Path]:
    """A picture and each of its variants (the picture first)."""
    original = encoded(picture(seed))
    paths = [write(folder / f"p{seed}.jpg", original)]
    for index, variant in enumerate(VARIANTS.values()):
        data = variant(original)
        suffix = "png" if data.startswith(b"\x89PNG") else "jpg"
        paths.append(write(folder / f"p{seed}_{index}.{suffix}", data))
    return paths


def others(folder: Path) -> list[Path]:
    """An unrelated picture and a flat one: never linked."""
    return [
        write(folder / "u1.jpg", encoded(picture(101))),
        write(folder / "black.png", encoded(flat((0, 0, 0)), "PNG")),
    ]


def posts(emulator) -> int:
    return emulator.request_counts().get("POST /v1/files", 0)


def record(run, ref) -> dict:
    result = run("show", ref, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def file_id(run, ref) -> str:
    result = run("block", ref)
    assert result.exit_code == 0, result.stderr
    [block] = json.loads(result.stdout)
    return block["source"]["file_id"]


def group(run) -> tuple[str, list[str]]:
    """The best copy and the other members of the one near-duplicate group."""
    result = run("dupes", "--near", "--json")
    [found] = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return found["best"], [m["asset"] for m in found["members"][1:]]


def linked_members(run, best: str, members: list[str]) -> list[str]:
    """The members whose rendition is the best copy's by a link (not by identical bytes)."""
    linked = [m for m in members if record(run, m)["reuses"]]
    for m in linked:
        [link] = record(run, m)["reuses"]
        assert (link["policy"], link["best_sha256"]) == ("vision", best)
    return linked


def test_add_reuse_near_uploads_once_per_group(run, uploading, tmp_path):
    paths = family(tmp_path / "pics", 1)
    unrelated = others(tmp_path / "pics")
    result = run("add", tmp_path / "pics", "--reuse-near", "--json")
    assert result.exit_code == 0, result.stderr
    best, members = group(run)
    linked = linked_members(run, best, members)
    assert len(linked) >= 4  # resized, cropped, re-compressed, brighter at least
    assert f"{len(linked)} near-duplicates reuse their best copy's rendition" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {o["sha256"] for o in lines if o["reuses"]} == set(linked)
    assert {o["reuses"] for o in lines if o["reuses"]} == {best}
    assert posts(uploading) == 1 + len(unrelated)  # one for the group, one each for the others
    for m in members:
        assert file_id(run, m) == file_id(run, best)
    for path in unrelated:
        assert record(run, path)["reuses"] == []
    assert len(paths) == len(members) + 1
    text = run("show", linked[0]).stdout
    assert f"vision: best copy sha256:{best[:12]}'s rendition" in text
    assert "dupes unlink" in text
    whereis = run("whereis", linked[0])
    assert whereis.exit_code == 0 and file_id(run, best) in whereis.stdout
    assert all("reuses" in line for line in run.json_lines("ls"))
    assert posts(uploading) == 1 + len(unrelated)  # block and show uploaded nothing


def test_unlink_gives_the_own_rendition_back(run, uploading, tmp_path):
    family(tmp_path / "pics", 2)
    assert run("add", tmp_path / "pics", "--reuse-near").exit_code == 0
    best, members = group(run)
    linked = linked_members(run, best, members)
    variant = linked[0]
    shared = file_id(run, best)
    own = record(run, variant)["reuses"][0]["own_rendition_sha256"]
    before = posts(uploading)
    result = run("dupes", "unlink", variant[:12])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == [variant]
    after = record(run, variant)
    assert after["reuses"] == [] and after["renditions"][0]["sha256"] == own
    fresh = file_id(run, variant)  # block uploads the own rendition
    assert fresh != shared and posts(uploading) == before + 1
    assert file_id(run, best) == shared
    again = run("dupes", "unlink", variant)
    assert again.exit_code == ExitCode.USAGE == 2
    lines = again.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "does not reuse" in lines[0]
    every = run("dupes", "unlink", "--all")
    assert every.exit_code == 0 and sorted(every.stdout.split()) == sorted(linked[1:])
    assert all(record(run, m)["reuses"] == [] for m in members)


def test_rm_of_the_best_copy_keeps_the_near_duplicate_working(run, uploading, tmp_path):
    family(tmp_path / "pics", 3)
    assert run("add", tmp_path / "pics", "--reuse-near").exit_code == 0
    best, members = group(run)
    variant = linked_members(run, best, members)[0]
    shared = file_id(run, best)
    planned = run("rm", best)
    assert "delete" not in planned.stdout or shared not in planned.stdout
    assert run("rm", best, "--yes").exit_code == 0
    assert shared in {f["id"] for f in uploading.files()}  # the linked ones use it
    before = posts(uploading)
    assert file_id(run, variant) == shared and posts(uploading) == before
    [link] = record(run, variant)["reuses"]
    assert link["best_sha256"] is None
    assert "removed since" in run("show", variant).stdout
    assert run("dupes", "unlink", variant).exit_code == 0
    assert file_id(run, variant) != shared and posts(uploading) == before + 1


def test_rm_of_a_near_duplicate_forgets_its_own_rendition(run, uploading, tmp_path, db):
    family(tmp_path / "pics", 4)
    assert run("add", tmp_path / "pics", "--reuse-near").exit_code == 0
    best, members = group(run)
    variant = linked_members(run, best, members)[0]
    own = record(run, variant)["reuses"][0]["own_rendition_sha256"]
    shared = file_id(run, best)
    with Catalogue.open(str(db)) as catalogue:
        assert catalogue.known_renditions([own]) == {own}
    assert run("rm", variant, "--yes").exit_code == 0
    with Catalogue.open(str(db)) as catalogue:
        assert catalogue.known_renditions([own]) == set()
    assert file_id(run, best) == shared  # the best copy's rendition and upload stay
    assert run("verify").exit_code == 0


def test_push_reuse_near_and_an_upload_of_its_own_kept_for_unlink(run, uploading, tmp_path):
    paths = family(tmp_path / "pics", 5)
    others(tmp_path / "pics")
    assert run("add", tmp_path / "pics", "--no-upload").exit_code == 0
    best, members = group(run)
    first = members[0]
    own_id = file_id(run, first)  # uploaded on its own before any link
    result = run("push", "--reuse-near")
    assert result.exit_code == 0, result.stderr
    assert "near-duplicates reuse their best copy's rendition" in result.stderr
    linked = linked_members(run, best, members)
    assert first in linked
    assert posts(uploading) == 1 + 1 + 2  # the variant alone, the group, two unrelated
    assert {file_id(run, m) for m in members} == {file_id(run, best)}
    uploading.advance(3600)
    planned = run("gc", "--json")
    assert own_id not in planned.stdout  # kept: dupes unlink gives it back
    assert run("dupes", "unlink", first).exit_code == 0
    before = posts(uploading)
    assert file_id(run, first) == own_id and posts(uploading) == before
    again = run("push", "--reuse-near")
    assert again.exit_code == 0 and first in linked_members(run, best, members)
    assert len(paths) == len(members) + 1


def test_push_reuse_near_of_named_assets_only(run, uploading, tmp_path):
    family(tmp_path / "pics", 6)
    assert run("add", tmp_path / "pics", "--no-upload").exit_code == 0
    best, members = group(run)
    result = run("push", "--reuse-near", members[0], members[1])
    assert result.exit_code == 0, result.stderr
    linked = linked_members(run, best, members)
    assert set(linked) <= {members[0], members[1]} and linked


def test_rerunning_add_keeps_the_link(run, uploading, tmp_path):
    paths = family(tmp_path / "pics", 7)
    assert run("add", tmp_path / "pics", "--reuse-near").exit_code == 0
    best, members = group(run)
    linked = linked_members(run, best, members)
    shared = file_id(run, best)
    before = posts(uploading)
    assert run("add", tmp_path / "pics").exit_code == 0  # the fast path: nothing read
    for path in paths:  # touched: read again, same bytes
        os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 10**9))
    again = run("add", tmp_path / "pics", "--reuse-near", "--json")
    assert again.exit_code == 0, again.stderr
    assert all(json.loads(line)["outcome"] == "unchanged" for line in again.stdout.splitlines())
    copy = write(tmp_path / "more" / "copy.jpg", paths[1].read_bytes())  # another path of one
    assert run("add", copy).exit_code == 0
    assert linked_members(run, best, members) == linked
    assert {file_id(run, m) for m in members} == {shared} and posts(uploading) == before
    assert run("stats").exit_code == 0


def test_export_and_import_of_a_linked_asset(run, uploading, tmp_path, db):
    family(tmp_path / "pics", 8)
    assert run("add", tmp_path / "pics", "--reuse-near").exit_code == 0
    best, members = group(run)
    variant = linked_members(run, best, members)[0]
    shared = file_id(run, best)
    exported = run("export", "-o", tmp_path / "out.jsonl")
    assert exported.exit_code == 0, exported.stderr
    assert run("rm", variant, "--yes").exit_code == 0
    assert run("import", tmp_path / "out.jsonl").exit_code == 0
    # the import carries what it used: the best copy's rendition, as its own
    assert record(run, variant)["reuses"] == []
    assert file_id(run, variant) == shared


def test_near_distance_needs_reuse_near(run, tmp_path):
    family(tmp_path / "pics", 9)
    result = run("add", tmp_path / "pics", "--near-distance", "4")
    assert result.exit_code == ExitCode.USAGE and "--reuse-near" in result.stderr
    assert run("add", tmp_path / "pics", "--reuse-near", "--near-distance", "0").exit_code == 0


def test_nothing_is_linked_to_a_best_copy_whose_bytes_are_gone(run, tmp_path, store_root):
    original, variant = family(tmp_path / "pics", 10)[:2]
    assert run("add", original).exit_code == 0
    original.unlink()
    for stored in store_root.rglob("*"):
        if stored.is_file():
            stored.unlink()
    result = run("add", variant, "--reuse-near")
    assert result.exit_code == 0, result.stderr
    assert "0 near-duplicates reuse" in result.stderr
    assert "1 near-duplicates not linked" in result.stderr
    assert record(run, variant)["reuses"] == []


def test_links_never_chain(run, tmp_path, db):
    paths = [write(tmp_path / f"u{i}.jpg", encoded(picture(200 + i))) for i in range(3)]
    assert run("add", tmp_path).exit_code == 0
    x, b, c = (record(run, p)["sha256"] for p in paths)
    renditions = {s: record(run, s)["renditions"][0]["sha256"] for s in (x, b, c)}
    with Catalogue.open(str(db)) as catalogue:
        assert catalogue.link_near([(x, b, 3)]) == [x]
        assert catalogue.link_near([(b, c, 2)]) == [b]  # x follows b to c
        assert catalogue.link_near([(c, x, 1)]) == []  # c is everyone's best copy: no cycle
        links = catalogue.near_links()
    assert {s: [(r.best_sha256, r.own_rendition_sha256) for r in links[s]] for s in links} == {
        x: [(c, renditions[x])],
        b: [(c, renditions[b])],
    }
    assert {record(run, s)["renditions"][0]["sha256"] for s in (x, b, c)} == {renditions[c]}
    assert run("dupes", "unlink", b).exit_code == 0
    assert record(run, b)["renditions"][0]["sha256"] == renditions[b]
    assert record(run, x)["renditions"][0]["sha256"] == renditions[c]
