"""Linear everywhere, by counting work, not timing it: ``split`` weighs each image once, and
the SQL statements of ``ls``, ``push`` (planning and all-present), ``Library.requests`` and
the fast lookup grow with the number of 500-asset chunks, not with the number of assets.

Catalogues are filled through the catalogue's own write path with rows alone (no image
files, no emulator); ``bench/bench_scale.py`` times the same commands at 100,000 assets.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from assetmgr import Library, blocks, lookup
from assetmgr.blocks import ImageRef, fits, split
from assetmgr.catalogue import Catalogue
from assetmgr.config import sqlite_url
from assetmgr.journal import Journal
from assetmgr.remote import RemoteSpec
from assetmgr.uploads import Uploader, UploadSession
from tests.synthetic import asset_batch, record_uploads

REMOTE = RemoteSpec("http://127.0.0.1:9", "default")  # nothing listens: no request may be made
TAG = "all"
SIZES = (500, 1000, 2000)  # 1, 2 and 4 chunks of 500


def build(db_path, n: int) -> list[str]:
    """``n`` assets, each with a vision rendition, a source path and the tag, and an active
    upload in ``REMOTE`` checked just now that never expires; their sha256s, oldest first."""
    batch, shas = asset_batch(n, sources=True)
    with Catalogue.open(db_path) as catalogue:
        catalogue.record(batch)
        catalogue.add_tags(shas, [TAG])
        remote_id = Journal(catalogue, REMOTE).remote_id
        record_uploads(
            catalogue, remote_id, lambda sha: (f"file_{sha}", f"x.sha256-{sha}.png", 900)
        )
    return shas


@contextmanager
def counting(lib: Library):
    """Counts the work ``lib``'s catalogue asks of the database: SQL statements (each
    connection's ``BEGIN`` too), and SQLite's virtual machine steps, in hundreds (its
    progress handler), which grow with every row a statement reads, fetched or not."""
    count = {"statements": 0, "steps": 0}

    def step() -> int:
        count["steps"] += 1
        return 0  # go on

    def one(conn, *_):
        count["statements"] += 1
        conn.connection.dbapi_connection.set_progress_handler(step, 100)

    event.listen(lib.catalogue.engine, "before_cursor_execute", one)
    try:
        yield count
    finally:
        event.remove(lib.catalogue.engine, "before_cursor_execute", one)


def work(tmp_path_factory, task: Callable[[Library, list[str]], object]) -> dict[str, list[int]]:
    """The statements and steps ``task(lib, shas)`` costs, on catalogues of each of ``SIZES``."""
    counts: dict[str, list[int]] = {"statements": [], "steps": []}
    for n in SIZES:
        db_path = tmp_path_factory.mktemp("scale") / "catalogue.db"
        shas = build(db_path, n)
        with Library.open(db_path) as lib, counting(lib) as count:
            task(lib, shas)
        for name, value in count.items():
            counts[name].append(value)
    return counts


def assert_per_chunk(counts: dict[str, list[int]], most: int) -> None:
    """A fixed cost plus the same for each chunk of 500 assets: one more chunk costs as many
    statements as the one before (far below one per asset), and as many steps give or take
    3%. A statement that reads all the rows so far for every chunk shows here already at
    these sizes: before they were linear, push was 20% off, its planning 9%, ls --tag 7%."""
    one, two, four = counts["statements"]
    per_chunk = two - one
    assert four - two == 2 * per_chunk, counts
    assert 0 < per_chunk <= most, counts
    one, two, four = counts["steps"]
    assert abs((four - two) - 2 * (two - one)) <= 0.03 * (four - two), counts


# -- split -----------------------------------------------------------------------------------


def reference_split(images, source="file"):
    """``split`` as it was: every image tried with the whole chunk so far (quadratic)."""
    chunks, current = [], []
    for image in images:
        if current and not fits([*current, image], source):
            chunks.append(current)
            current = []
        current.append(image)
    return chunks + ([current] if current else [])


def images(n: int, seed: int = 0) -> list[ImageRef]:
    rng = random.Random(seed)
    return [
        ImageRef(f"{i:064x}", f"{i:064x}", "image/jpeg", rng.choice([800, 1568, 2001, 4000]),
                 rng.choice([600, 2000]), rng.choice([1000, 900_000, 3_000_000]), f"file_{i}")
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize("source", ["file", "base64"])
def test_split_weighs_each_image_once(monkeypatch, source):
    weighed = [0]
    weigh = blocks.weigh

    def counted(image):
        weighed[0] += 1
        return weigh(image)

    monkeypatch.setattr(blocks, "weigh", counted)
    work = []
    for n in (1000, 2000, 4000):
        weighed[0] = 0
        chunks = split(images(n), source=source)
        assert sum(map(len, chunks)) == n
        work.append(weighed[0])
    assert work == [1000, 2000, 4000]  # the quadratic split weighed each chunk again per image


@pytest.mark.parametrize("source", ["file", "base64"])
def test_split_gives_the_chunks_it_gave_before(source):
    for seed in range(5):
        given_images = images(600, seed)
        assert split(given_images, source=source) == reference_split(given_images, source)


image = st.builds(
    lambda n, w, size: ImageRef(f"{n:064x}", f"{n:064x}", "image/png", w, 100, size, "f"),
    st.integers(0, 10**6),
    st.sampled_from([100, 2000, 2001]),
    st.sampled_from([10, 1_000_000, 8_000_000, 30_000_000]),
)


@settings(max_examples=50, deadline=None)
@given(st.lists(image, max_size=250), st.sampled_from(["file", "base64"]))
def test_split_agrees_with_the_quadratic_split(given_images, source):
    assert split(given_images, source=source) == reference_split(given_images, source)


# -- SQL statements ----------------------------------------------------------------------------


def test_ls_reads_a_page_of_500_assets_in_a_fixed_number_of_statements(tmp_path_factory):
    def listing(lib, shas):
        assert [r.sha256 for r in lib.assets()] == shas
        assert [r.sha256 for r in lib.assets(tag=TAG)] == shas
        assert [r.path for r in lib.asset_rows()] == [
            f"/nowhere/{i:05}.png" for i in range(len(shas))
        ]

    # per page: BEGIN, the assets, then renditions, uploads, their workspaces' labels, sources
    # and tags (records) or sources and tags (rows)
    assert_per_chunk(work(tmp_path_factory, listing), most=2 * 7 + 4)


def test_push_with_everything_there_costs_statements_per_chunk(tmp_path_factory):
    def push(lib, shas):
        summary = lib.push(remote=REMOTE)
        assert summary.count("present") == len(shas)

    assert_per_chunk(work(tmp_path_factory, push), most=12)


def test_push_planning_costs_statements_per_chunk(tmp_path_factory, monkeypatch):
    planned = []
    monkeypatch.setattr(UploadSession, "_start", lambda session, jobs: planned.extend(jobs))
    # Nothing listens: no listing of the workspace for copies to adopt, which is a request.
    monkeypatch.setattr(Uploader, "_adopt", lambda uploader, jobs, known: jobs)

    def plan(lib, shas):
        planned.clear()
        lib.push(remote=RemoteSpec(REMOTE.base_url, "elsewhere"))  # no uploads there
        assert sorted(job.asset.sha256 for job in planned) == shas
        job = planned[0]
        assert job.filename == f"{job.asset.paths[0][9:14]}.sha256-{job.rendition.sha256}.png"

    assert_per_chunk(work(tmp_path_factory, plan), most=20)


def test_library_requests_cost_statements_per_chunk(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", REMOTE.base_url)

    def requests(lib, shas):
        bodies = list(lib.requests(lib.find(tag=TAG), prompt="p", upload=False))
        assert [sha for body in bodies for sha in body.assets] == shas

    assert_per_chunk(work(tmp_path_factory, requests), most=4)


def test_the_fast_lookup_costs_statements_per_chunk(tmp_path_factory, monkeypatch):
    counts: dict[str, list[int]] = {"statements": [], "steps": []}
    connection = lookup.Reader.connection

    def count(name: str) -> int:
        counts[name][-1] += 1
        return 0

    def traced(reader):
        conn = connection(reader)
        conn.set_trace_callback(lambda _: count("statements"))
        conn.set_progress_handler(lambda: count("steps"), 100)
        return conn

    monkeypatch.setattr(lookup.Reader, "connection", traced)
    for n in SIZES:
        db_path = tmp_path_factory.mktemp("scale") / "catalogue.db"
        shas = build(db_path, n)
        counts["statements"].append(0)
        counts["steps"].append(0)
        for references, tag in ((shas, None), ((), TAG)):
            found = lookup.answer(sqlite_url(db_path), references, tag=tag, remote=REMOTE)
            assert [image.asset_sha256 for image in found] == shas
    assert_per_chunk(counts, most=4)


def test_the_builder_makes_what_the_commands_expect(tmp_path):
    shas = build(tmp_path / "c.db", 3)
    with sqlite3.connect(tmp_path / "c.db") as conn:
        states = conn.execute("SELECT state, count(*) FROM uploads GROUP BY state").fetchall()
    assert states == [("active", 3)] and len(shas) == 3
