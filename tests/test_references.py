"""Naming assets: full sha256, prefixes, sha256:<hex>, paths; clear errors otherwise."""

from __future__ import annotations

import hashlib

import pytest

from assetmgr import AmbiguousReference, Library, NotFound, UsageError
from assetmgr.catalogue import IngestBatch
from assetmgr.references import parse, tag_names
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


# -- one rule, three readers: the catalogue, the library and the fast path ------------------------


def fake_assets(lib: Library, shas: list[str]) -> None:
    """Catalogue assets with chosen sha256s (no files behind them), to make prefixes collide."""
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


@pytest.fixture
def readers(tmp_path, db_path, monkeypatch):
    """Two real assets (a.png, b.png) and two whose prefixes collide; a function that reads a
    reference through all three readers and returns what each said (a sha256 or the error
    type; the fast path says None when it cannot answer)."""
    from assetmgr import lookup
    from assetmgr.config import sqlite_url

    monkeypatch.chdir(tmp_path)
    a = write_image(tmp_path / "a.png", seed=1)
    b = write_image(tmp_path / "b.png", seed=2)
    lib = Library.open(db_path)
    shas = {o.path: o.sha256 for o in lib.add([a, b])}
    fake_assets(lib, ["abcdef" + "0" * 58, "abcdef" + "1" * 58])
    conn = lookup.open_readonly(sqlite_url(db_path))
    assert conn is not None

    def outcome(call):
        try:
            return call()
        except Exception as e:  # the type is what is compared
            return type(e)

    def read(reference: str) -> dict:
        fast = lookup.resolve(conn, [reference])
        return {
            "catalogue": outcome(lambda: lib.catalogue.resolve(reference)),
            "library": outcome(lambda: lib.resolve(reference)),
            "find": outcome(lambda: lib.find([reference])[0]),
            "fast": fast[0] if fast else None,
        }

    yield read, shas[str(a)], shas[str(b)], lib
    conn.close()
    lib.close()


def same_everywhere(said: dict, sha: str) -> None:
    assert said == {"catalogue": sha, "library": sha, "find": sha, "fast": sha}


def refused_everywhere(said: dict, error: type) -> None:
    assert said["fast"] is None  # the library then says why
    assert said["catalogue"] is said["library"] is error
    assert issubclass(said["find"], NotFound if issubclass(error, NotFound) else error)


@pytest.mark.parametrize(
    "form",
    ["full", "prefix6", "prefix10", "tagged", "tagged-upper", "upper", "padded", "tagged-prefix"],
)
def test_hash_forms_read_alike(readers, form):
    read, sha, _, _ = readers
    reference = {
        "full": sha,
        "prefix6": sha[:6],
        "prefix10": sha[:10],
        "tagged": "sha256:" + sha,
        "tagged-upper": "SHA256:" + sha.upper(),
        "upper": sha[:12].upper(),
        "padded": f"  {sha[:8]}\t",
        "tagged-prefix": "sha256:" + sha[:7],
    }[form]
    same_everywhere(read(reference), sha)


def test_an_existing_path_wins_over_a_hex_string(readers, tmp_path):
    """A file named like b's prefix (or b's full sha256) but holding a's bytes names a."""
    read, a, b, _ = readers
    for name in (b[:8], b):
        (tmp_path / name).write_bytes((tmp_path / "a.png").read_bytes())
        same_everywhere(read(name), a)
        same_everywhere(read(f"./{name}"), a)
        same_everywhere(read(str(tmp_path / name)), a)


def test_sha256_colon_is_hex_even_when_such_a_file_exists(readers, tmp_path):
    read, a, b, _ = readers
    (tmp_path / f"sha256:{b[:8]}").write_bytes((tmp_path / "a.png").read_bytes())
    same_everywhere(read(f"sha256:{b[:8]}"), b)


def test_a_directory_is_not_a_file(readers, tmp_path):
    read, a, _, _ = readers
    (tmp_path / a[:8]).mkdir()
    same_everywhere(read(a[:8]), a)


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("abc", UsageError),
        ("abcde", UsageError),
        ("sha256:abc", UsageError),
        ("sha256:", UsageError),
        ("a" * 65, NotFound),
        ("not-a-hash", NotFound),
        ("sha256:xyz123", NotFound),
        ("", UsageError),
        ("missing/file.png", NotFound),
        ("0123456789", NotFound),
        ("0" * 64, NotFound),
        ("abcdef", AmbiguousReference),
        ("ABCDEF", AmbiguousReference),
    ],
)
def test_refusals_read_alike(readers, reference, error):
    read, _, _, _ = readers
    refused_everywhere(read(reference), error)


def test_an_uncatalogued_file_reads_alike(readers, tmp_path):
    read, _, _, lib = readers
    other = write_image(tmp_path / "other.png", seed=3)
    refused_everywhere(read(str(other)), NotFound)
    with pytest.raises(NotFound, match="not catalogued; run: assetmgr add"):
        lib.find([str(other)])


def test_messages_say_which_rule_failed(readers):
    *_, lib = readers
    with pytest.raises(NotFound, match="neither a sha256 \\(or a prefix of one\\) nor an existing"):
        lib.resolve("photos/")
    with pytest.raises(UsageError, match="at least 6 hex digits"):
        lib.resolve("sha256:abc")
    with pytest.raises(NotFound, match="no asset has the sha256 0000"):
        lib.find(["0" * 64])
    with pytest.raises(NotFound, match="2 references name no catalogued asset"):
        lib.find(["0" * 64, "1" * 64])


def test_many_references_read_alike(readers, tmp_path, db_path):
    from contextlib import closing

    from assetmgr import lookup
    from assetmgr.config import sqlite_url

    read, a, b, lib = readers
    references = [b[:6], str(tmp_path / "a.png"), "sha256:" + a, b, a[:9].upper(), b[:6]]
    with closing(lookup.open_readonly(sqlite_url(db_path))) as conn:
        assert lookup.resolve(conn, references) == [b, a, a, b, a, b]
        assert lookup.resolve(conn, [*references, "abcdef"]) is None  # one ambiguous: no answer
    assert lib.find(references) == [b, a, a, b, a, b]


def test_parse_is_pure(tmp_path, monkeypatch):
    from assetmgr.references import parse

    monkeypatch.chdir(tmp_path)
    assert parse(" SHA256:ABCDEF12 ").digits == "abcdef12"
    assert not parse("abcdef12").full and parse("a" * 64).full
    (tmp_path / "abcdef12").write_bytes(b"hello")
    ref = parse("abcdef12")
    assert (ref.path, ref.digits) == ("abcdef12", hashlib.sha256(b"hello").hexdigest())
    assert ref.full


def test_an_unreadable_file_is_a_local_error(tmp_path, monkeypatch):
    from assetmgr import AssetmgrError, references

    def refuse(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(references, "sha256_file", refuse)  # root reads any file
    (tmp_path / "locked.png").write_bytes(b"x")
    with pytest.raises(AssetmgrError, match="cannot read .*locked.png: Permission denied") as info:
        references.parse(str(tmp_path / "locked.png"))
    assert info.value.exit_code == 8


# -- file ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["file_011CNha8iCJcU1wXNR6q4V8w", " file_a-b_C9 "])
def test_a_file_id_is_read_as_one(text):
    ref = parse(text)
    assert ref.file_id == text.strip() and ref.key == text.strip() and not ref.full


@pytest.mark.parametrize("text", ["file_", "file_a b", "file_x.png", "FILE_abc"])
def test_what_is_not_a_file_id(text):
    with pytest.raises(NotFound, match="nor a file id"):
        parse(text)


def test_an_existing_path_wins_over_a_file_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "file_abc", seed=1)
    ref = parse("file_abc")
    assert ref.file_id is None and ref.path == "file_abc"


def test_the_owner_of_a_file_id_is_the_asset_that_does_not_borrow_it():
    ref = parse("file_abc")
    assert ref.owner([("b" * 64, True), ("a" * 64, False)]) == "a" * 64
    assert ref.owner([("b" * 64, True)]) == "b" * 64
    assert ref.owner([("a" * 64, False), ("a" * 64, False)]) == "a" * 64
    with pytest.raises(AmbiguousReference, match="matches 2 assets .*by its sha256"):
        ref.owner([("b" * 64, False), ("a" * 64, False), ("c" * 64, True)])
    with pytest.raises(NotFound, match="no upload in this catalogue has the file id file_abc"):
        ref.owner([])


def test_a_new_tag_may_not_read_as_a_file_id():
    with pytest.raises(UsageError, match="reads as a file id"):
        tag_names(["file_abc"])
    assert tag_names(["file_abc"], new=False) == ["file_abc"]


def test_a_file_id_is_found_through_an_index_not_by_reading_every_upload(added, db_path):
    import sqlite3

    from assetmgr.lookup import FILE_HOLDERS

    with sqlite3.connect(db_path) as conn:
        plan = " / ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {FILE_HOLDERS}",
                                                          ("file_abc",)))  # fmt: skip
    assert "USING INDEX ix_uploads_file_id (file_id=?)" in plan, plan
