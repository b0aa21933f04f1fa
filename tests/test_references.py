"""Naming assets: full sha256, prefixes, sha256:<hex>, paths; clear errors otherwise."""

from __future__ import annotations

import pytest

from assetmgr import AmbiguousReference, Library, NotFound, UsageError
from assetmgr.catalogue import IngestBatch
from tests.conftest import write_image


@pytest.fixture
def added(tmp_path, db_path):
    path = write_image(tmp_path / "a.png", seed=1)
    with Library.open(db_path) as lib:
        [outcome] = lib.add([path])
        yield lib, outcome.sha256, path


@pytest.mark.parametrize("form", ["full", "prefix6", "prefix10", "tagged", "upper"])
def test_hash_forms(added, form):
    lib, sha, _ = added
    reference = {
        "full": sha,
        "prefix6": sha[:6],
        "prefix10": sha[:10],
        "tagged": "sha256:" + sha,
        "upper": sha[:12].upper(),
    }[form]
    assert lib.resolve(reference) == sha


def test_path_is_hashed_and_looked_up(added, tmp_path):
    lib, sha, path = added
    copy = tmp_path / "elsewhere.png"
    copy.write_bytes(path.read_bytes())
    assert lib.resolve(str(copy)) == sha


def test_unknown_path_says_how_to_add_it(added, tmp_path):
    lib, _, _ = added
    other = write_image(tmp_path / "other.png", seed=2)
    with pytest.raises(NotFound, match="not catalogued; run: assetmgr add"):
        lib.resolve(str(other))


def test_short_and_unknown_references(added):
    lib, _, _ = added
    with pytest.raises(UsageError, match="at least 6 hex digits"):
        lib.resolve("abc")
    with pytest.raises(NotFound, match="no asset has a sha256 starting with"):
        lib.resolve("000000000")
    with pytest.raises(NotFound, match="neither a sha256"):
        lib.resolve("not-a-hash")


def test_ambiguous_prefix_names_the_candidates(db_path):
    shas = ["abcdef" + "0" * 58, "abcdef" + "1" * 58, "abcdee" + "2" * 58]
    with Library.open(db_path) as lib:
        batch = IngestBatch.new()
        for sha in shas:
            batch.assets.append(
                {
                    "sha256": sha,
                    "format": "PNG",
                    "media_type": "image/png",
                    "width": 1,
                    "height": 1,
                    "mode": "RGB",
                    "frames": 1,
                    "orientation": None,
                    "size_bytes": 1,
                }
            )
            batch.sources.append((f"/nowhere/{sha}.png", sha, 1, 1, 1))
        lib.catalogue.record(batch)
        with pytest.raises(AmbiguousReference) as info:
            lib.resolve("abcdef")
        assert sorted(info.value.candidates) == shas[:2]
        assert "abcdef000000" in str(info.value) and "abcdef111111" in str(info.value)
        assert lib.resolve("abcdef0") == shas[0]
        assert lib.resolve("abcdee") == shas[2]


def test_cli_errors_have_exit_codes_and_no_traceback(added, run):
    _, sha, _ = added
    assert run("show", sha[:8]).exit_code == 0
    missing = run("show", "0123456789")
    assert missing.exit_code == 4
    assert missing.stderr.startswith("Error: no asset has a sha256 starting with 0123456789")
    assert run("show", "abc").exit_code == 2
    assert "Traceback" not in missing.stderr + missing.stdout
