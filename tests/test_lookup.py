"""The fast path on its own: when ``lookup`` answers, it answers as the library does;
otherwise it says None and the library takes over. Real SQLite catalogues, made by the library."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest

from assetmgr import Library, NotFound, lookup
from assetmgr.config import sqlite_url
from assetmgr.remote import RemoteSpec
from assetmgr.schema_version import head_revision
from tests.conftest import write_image


@pytest.fixture
def catalogue(tmp_path, run, uploading, db_path):
    """Three assets uploaded to the emulator (the first also under the original policy, not
    uploaded), one catalogued without an upload; their sha256s, and the catalogue's URL."""
    write_image(tmp_path / "in" / "0.png", seed=0, size=(1800, 200))  # vision downscales it
    for i in (1, 2):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(300 + i, 200))
    uploaded = [r["sha256"] for r in run.json_lines("add", tmp_path / "in")]
    write_image(tmp_path / "later" / "x.png", seed=7)
    [later] = run.json_lines("add", tmp_path / "later", "--no-upload")
    run("add", tmp_path / "in" / "0.png", "--no-upload", "--policy", "original")
    run("tag", "add", "picked", uploaded[2], uploaded[0])
    return uploaded, later["sha256"], sqlite_url(db_path)


def fast(url: str, references=(), **options):
    return lookup.answer(url, references, remote=RemoteSpec.from_env(), **options)


def slow(db_path, references=(), *, tag=None, policy=None):
    with Library.open(db_path) as lib:
        return lib.images(lib.find(references, tag=tag), policy=policy, upload=False)


# -- open_readonly ------------------------------------------------------------------------------


def test_open_readonly_takes_a_sqlite_catalogue_at_the_newest_schema(catalogue):
    *_, url = catalogue
    with closing(lookup.open_readonly(url)) as conn:
        assert conn.execute("SELECT count(*) FROM assets").fetchone() == (4,)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM tags")


def test_open_readonly_refuses_an_older_schema(db_path):
    Library.open(db_path).close()
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    assert lookup.open_readonly(sqlite_url(db_path)) is None


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://user@localhost/assetmgr",
        "sqlite://",
        "sqlite:///:memory:",
        "mysql:///catalogue.db",
    ],
)
def test_open_readonly_refuses_other_databases(url):
    assert lookup.open_readonly(url) is None


def test_open_readonly_refuses_a_missing_file_and_creates_none(tmp_path):
    missing = tmp_path / "none" / "catalogue.db"
    assert lookup.open_readonly(sqlite_url(missing)) is None
    assert not missing.parent.exists()
    (tmp_path / "folder.db").mkdir()
    assert lookup.open_readonly(sqlite_url(tmp_path / "folder.db")) is None


def test_open_readonly_refuses_what_is_not_a_catalogue(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a sqlite file" * 100)
    assert lookup.open_readonly(sqlite_url(garbage)) is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert lookup.open_readonly(sqlite_url(empty)) is None


def test_open_readonly_takes_odd_paths_and_query_strings(tmp_path):
    odd = tmp_path / "a#b c" / "catalogue.db"
    odd.parent.mkdir()
    Library.open(odd).close()
    for url in (sqlite_url(odd), sqlite_url(odd) + "?timeout=10"):
        with closing(lookup.open_readonly(url)) as conn:
            assert conn.execute("SELECT count(*) FROM assets").fetchone() == (0,)


# -- when it answers, it answers as the library does ---------------------------------------------


def test_answers_equal_the_librarys(catalogue, db_path):
    uploaded, _, url = catalogue
    a, b, c = uploaded
    cases = [
        {"references": [a]},
        {"references": [c, a[:6], "sha256:" + b, a, a]},
        {"references": [a], "policy": "vision"},
        {"tag": "picked"},
        {"tag": "nobody-has-this"},
    ]
    for case in cases:
        answer = fast(url, **case)
        assert answer is not None, case
        assert answer == slow(db_path, **case), case
        assert all(image.file_id for image in answer)


def test_a_path_reference_is_hashed(catalogue, db_path, tmp_path):
    uploaded, _, url = catalogue
    [image] = fast(url, [str(tmp_path / "in" / "1.png")])
    assert image.asset_sha256 == uploaded[1] and image.policy == "vision"


# -- when it cannot, it says None ---------------------------------------------------------------


def test_it_declines_what_only_the_library_can_do_or_explain(catalogue, db_path):
    uploaded, later, url = catalogue
    a = uploaded[0]
    declined = {
        "ambiguous prefix": fast(url, [_shared_prefix(db_path)]),
        "unknown full sha256": fast(url, ["0" * 64]),
        "unknown prefix": fast(url, ["0123456789"]),
        "too short": fast(url, ["abc"]),
        "not a reference": fast(url, ["no-such-file.png"]),
        "one bad among good ones": fast(url, [a, "0" * 64]),
        "asset without an upload": fast(url, [later]),
        "one without an upload among good ones": fast(url, [a, later]),
        "policy not uploaded": fast(url, [a], policy="original"),
        "policy the asset lacks": fast(url, [uploaded[1]], policy="original"),
        "references and a tag": fast(url, [a], tag="picked"),
    }
    assert {k: v for k, v in declined.items() if v is not None} == {}


def test_it_declines_an_upload_in_another_workspace(catalogue, monkeypatch):
    uploaded, _, url = catalogue
    monkeypatch.setenv("ASSETMGR_WORKSPACE", "elsewhere")
    assert fast(url, [uploaded[0]]) is None


def test_it_declines_an_expired_or_expiring_upload(catalogue, db_path):
    uploaded, _, url = catalogue
    assert fast(url, [uploaded[0]]) is not None
    for expires in ("2000-01-01 00:00:00.000000", _soon()):
        with closing(sqlite3.connect(db_path)) as conn, conn:
            conn.execute("UPDATE uploads SET expires_at = ?", (expires,))
        assert fast(url, [uploaded[0]]) is None
        assert fast(url, [uploaded[1]]) is None


def test_it_declines_an_upload_that_is_not_active(catalogue, db_path):
    uploaded, _, url = catalogue
    with closing(sqlite3.connect(db_path)) as conn, conn:
        conn.execute("UPDATE uploads SET state = 'missing'")
    assert fast(url, [uploaded[0]]) is None


# -- the routing ---------------------------------------------------------------------------------


def test_images_uses_the_library_only_when_the_fast_path_declines(catalogue, db_path):
    uploaded, later, _ = catalogue

    def no_library():
        raise AssertionError("the fast path should have answered")

    answered = lookup.images(str(db_path), uploaded, library=no_library)
    assert answered == slow(db_path, uploaded)
    opened = []
    with Library.open(db_path) as lib:

        def library():
            opened.append(lib)
            return lib

        with pytest.raises(NotFound, match="no live upload"):
            lookup.images(str(db_path), [later], upload=False, library=library)
        assert opened == [lib]
        base64 = lookup.images(str(db_path), [uploaded[0]], source="base64", library=library)
        assert base64[0].data and len(opened) == 2  # only file sources take the fast path
    with pytest.raises(NotFound, match="no live upload"):  # a Library of its own, closed again
        lookup.images(str(db_path), [later], upload=False)


def test_images_refuses_bad_requests_before_opening_anything(db_path):
    from assetmgr import UsageError

    def no_library():
        raise AssertionError("nothing should have been opened")

    for options in (
        {"references": []},
        {"references": ["abcdef"], "source": "url"},
        {"references": ["abcdef"], "source": "url", "url_template": "https://x/{0}"},
        {"references": ["abcdef"], "source": "carrier-pigeon"},
    ):
        with pytest.raises(UsageError):
            lookup.images(str(db_path), library=no_library, **options)
    assert not db_path.exists()


def test_the_fast_path_imports_neither_sqlalchemy_nor_pillow_nor_the_sdk_nor_numpy(catalogue):
    uploaded, _, url = catalogue
    code = (
        "import sys\n"
        "from assetmgr import lookup\n"
        "from assetmgr.remote import RemoteSpec\n"
        f"refs = lookup.answer({url!r}, {uploaded!r}, remote=RemoteSpec.from_env())\n"
        "print(len(refs))\n"
        "heavy = ('anthropic', 'sqlalchemy', 'PIL', 'alembic', 'numpy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.splitlines() == ["3", "[]"], result.stderr


def test_block_answers_the_same_on_either_path(catalogue, run, db_path, monkeypatch):
    uploaded, _, _ = catalogue
    quick = json.loads(run("block", *uploaded, "--label").stdout)
    monkeypatch.setattr(lookup, "answer", lambda *args, **kwargs: None)
    assert json.loads(run("block", *uploaded, "--label").stdout) == quick


def _shared_prefix(db_path) -> str:
    """A 6-digit prefix two catalogued assets share (two are added with chosen sha256s)."""
    from assetmgr.catalogue import IngestBatch

    with Library.open(db_path) as lib:
        batch = IngestBatch.new()
        for sha in ("fedcba" + "0" * 58, "fedcba" + "1" * 58):
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
        lib.catalogue.record(batch)
    return "fedcba"


def _soon() -> str:
    """Inside the safety margin: an upload expiring this soon is not handed out."""
    from datetime import datetime, timedelta, timezone

    moment = datetime.now(timezone.utc) + timedelta(seconds=5)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


# -- Reader: one connection kept across lookups (serve) -------------------------------------


def test_a_reader_keeps_one_connection_and_sees_what_writers_commit(catalogue, db_path, tmp_path):
    uploaded, later, url = catalogue
    remote = RemoteSpec.from_env()
    with lookup.Reader(url) as reader:
        conn = reader.connection()
        assert reader.connection() is conn
        assert lookup.read(reader, [uploaded[0][:8]], remote=remote) is not None
        write_image(tmp_path / "new.png", seed=99)
        with Library.open(db_path) as lib:
            [outcome] = lib.add([tmp_path / "new.png"])
        assert lookup.find(reader, [outcome.sha256[:10]]) == [outcome.sha256]
        assert reader.connection() is conn


def test_a_reader_follows_the_schema_and_a_replaced_file(catalogue, db_path, tmp_path):
    uploaded, _, url = catalogue
    with lookup.Reader(url) as reader:
        assert lookup.find(reader, uploaded) == uploaded
        with closing(sqlite3.connect(db_path)) as conn, conn:
            conn.execute("UPDATE alembic_version SET version_num = '0001'")
        assert reader.connection() is None and lookup.find(reader, uploaded) is None
        with closing(sqlite3.connect(db_path)) as conn, conn:
            conn.execute(f"UPDATE alembic_version SET version_num = '{head_revision()}'")
        assert lookup.find(reader, uploaded) == uploaded
        other = tmp_path / "other.db"
        with Library.open(other) as lib:
            [outcome] = lib.add([write_image(tmp_path / "o.png", seed=5)])
        os.replace(other, db_path)
        assert lookup.find(reader, [outcome.sha256]) == [outcome.sha256]
        assert lookup.find(reader, uploaded[:1]) is None
        db_path.unlink()
        assert reader.connection() is None
