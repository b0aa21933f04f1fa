"""Models: the table (ids, dated ids, families), unknown, deprecated and retired models, what
``models --refresh`` stores and what follows from it, and sampling parameters the 5.x models
reject. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest

from assetmgr import Library
from assetmgr.errors import UsageError
from assetmgr.limits import HIGH, STANDARD
from assetmgr.modelspec import (
    DEFAULT_MODEL,
    ModelWarning,
    describe,
    images_for,
    sendable,
    spec_for,
)
from tests.conftest import write_image

pytestmark = pytest.mark.backends()


# -- the table ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "entry", "tier", "images"),
    [
        ("claude-sonnet-5-5", "claude-sonnet-5-5", HIGH, 600),
        ("claude-opus-4-5-20251101", "claude-opus-4-5", STANDARD, 100),  # a dated id
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5", STANDARD, 100),
        ("claude-opus-4-7", "claude-opus-4-7", HIGH, 100),
        ("claude-sonnet-5-7", "claude-sonnet-5", HIGH, 600),  # a later 5.x: its family
        ("claude-fable-5-2-20261001", "claude-fable-5-2", HIGH, 600),
    ],
)
def test_ids_dated_ids_and_families_find_their_row(model, entry, tier, images):
    spec = describe(model)
    assert (spec.entry, spec.tier, spec.images_per_request, spec.known) == (
        entry,
        tier,
        images,
        True,
    )


def test_a_prefix_counts_only_at_a_dash():
    assert describe("claude-opus-4-50").known is False  # not claude-opus-4-5
    assert describe("claude-sonnet-55").entry is None


def test_prices_and_sampling_come_from_the_table():
    sonnet, haiku, opus = (describe(f"claude-{m}-5-5") for m in ("sonnet", "haiku", "opus"))
    assert (sonnet.input_price, sonnet.output_price) == (2.0, 10.0)
    assert (haiku.input_price, haiku.output_price) == (0.10, 0.50)
    assert (opus.input_price, opus.output_price) == (4.0, 20.0)
    assert sonnet.fixed_sampling and describe("claude-opus-4-7").fixed_sampling
    assert not describe("claude-sonnet-4-6").fixed_sampling
    assert describe("claude-opus-4-7").input_price is None  # not documented: --price needed
    assert DEFAULT_MODEL == "claude-sonnet-5-5"


def test_unknown_models_are_standard_with_100_images_and_a_warning():
    with pytest.warns(ModelWarning, match="unknown model claude-next-9: read as standard tier"):
        spec = spec_for("claude-next-9")
    assert (spec.tier, spec.images_per_request, spec.known) == (STANDARD, 100, False)


def test_deprecated_models_warn_and_retired_ones_are_refused():
    with pytest.warns(
        ModelWarning, match="claude-opus-4-5 is deprecated and retires on 2027-01-22"
    ):
        spec_for("claude-opus-4-5")
    with pytest.raises(UsageError, match="claude-sonnet-4-5 was retired on 2026-11-30"):
        spec_for("claude-sonnet-4-5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec_for("claude-sonnet-5-5")  # neither


def test_stored_figures_override_context_lifecycle_and_capabilities():
    assert describe("claude-sonnet-5-5").origin["max_input_tokens"] == "table"
    stored = {"max_input_tokens": 200_000, "lifecycle": "active", "capabilities": None}
    spec = describe("claude-sonnet-5-5", stored)
    assert (spec.max_input_tokens, spec.images_per_request) == (200_000, 100)
    assert spec.origin["max_input_tokens"] == "api" and spec.origin["tier"] == "table"
    assert images_for(200_000) == 100 and images_for(200_001) == 600 and images_for(None) == 100
    retired = {"lifecycle": "retired", "retires_at": "2027-02-01 00:00:00.000000"}
    with pytest.raises(UsageError, match="claude-opus-5-5 was retired on 2027-02-01"):
        spec_for("claude-opus-5-5", retired)
    blind = {"lifecycle": "active", "capabilities": '{"image_input": {"supported": false}}'}
    with pytest.raises(UsageError, match="takes no images"):
        spec_for("claude-opus-5-5", blind)


def test_sampling_parameters_are_dropped_where_the_model_rejects_them():
    body = {"model": "claude-sonnet-5-5", "max_tokens": 5, "temperature": 0.2, "top_k": 3}
    kept, dropped = sendable(body, describe("claude-sonnet-5-5"))
    assert dropped == ["temperature", "top_k"] and kept == {"model": "claude-sonnet-5-5",
                                                           "max_tokens": 5}  # fmt: skip
    assert sendable(body, describe("claude-haiku-4-5")) == (body, [])


# -- through the CLI ---------------------------------------------------------------------------


@pytest.fixture
def catalogued(tmp_path, run):
    """Three small catalogued images, not uploaded; their sha256s."""
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(300 + i, 200))
    return [r["sha256"] for r in run.json_lines("add", tmp_path / "in")]


def test_a_retired_model_is_refused_before_anything_is_uploaded_or_sent(catalogued, run, emulated):
    emulator = emulated()
    for command in ("ask", "request", "block"):
        extra = [] if command == "block" else ["--prompt", "x"]
        result = run(command, *catalogued, "--model", "claude-sonnet-4-5", *extra)
        assert result.exit_code == 2, result.stderr
        assert result.stderr == (
            "Error: claude-sonnet-4-5 was retired on 2026-11-30; choose another --model "
            "(see assetmgr models)\n"
        )
    assert emulator.request_counts() == {}


def test_unknown_and_deprecated_models_warn_once(catalogued, run, uploading):
    result = run("request", *catalogued, "--model", "claude-next-9", "--prompt", "x")
    assert result.exit_code == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [
        "warning: unknown model claude-next-9: read as standard tier, 100 images per request "
        "(assetmgr models lists the known ones)"
    ]
    result = run("block", catalogued[0], "--model", "claude-opus-4-5")
    assert result.exit_code == 0 and result.stderr.count("warning:") == 1
    assert "claude-opus-4-5 is deprecated and retires on 2027-01-22" in result.stderr


def test_models_lists_the_table_with_origins(run):
    result = run("models")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["MODEL", "TIER", "IMAGES", "CONTEXT"]
    sonnet = next(line for line in lines if line.startswith("claude-sonnet-5-5 "))
    assert sonnet.split()[1:3] == ["high", "600"] and "$2 / $10" in sonnet
    assert any(line.startswith("claude-sonnet-4-5 ") and "retired 2026-11-30" in line
               for line in lines)  # fmt: skip
    records = {r["id"]: r for r in run.json_lines("models")}
    assert records["claude-opus-4-5"]["lifecycle"] == "deprecated"
    assert records["claude-sonnet-5"]["family"] is True
    assert records["claude-haiku-5-5"]["origin"]["input_price"] == "table"


def stored_context(db, model: str, context: int, lifecycle: str = "active") -> None:
    """A model_info row as ``models --refresh`` leaves it."""
    db.execute(
        "INSERT INTO model_info (id, lifecycle, max_input_tokens, fetched_at) "
        "VALUES (:id, :lifecycle, :context, CURRENT_TIMESTAMP)",
        id=model,
        lifecycle=lifecycle,
        context=context,
    )


def test_a_stored_context_decides_the_images_per_request(catalogued, run, db, uploading):
    lines = "\n".join(catalogued[i % 3] for i in range(700))
    args = ("request", "--stdin", "--bare", "--prompt", "x", "--model", "claude-opus-5-5")

    def sizes() -> list[int]:
        result = run(*args, input=lines)
        assert result.exit_code == 0, result.stderr
        return [len(json.loads(b)["messages"][0]["content"]) - 1 for b in result.stdout.split("\n")
                if b]  # fmt: skip

    assert sizes() == [600, 100]  # the table's large context
    stored_context(db, "claude-opus-5-5", 200_000)  # what the API says wins
    assert sizes() == [100] * 7
    records = {r["id"]: r for r in run.json_lines("models")}
    assert records["claude-opus-5-5"]["images_per_request"] == 100
    assert records["claude-opus-5-5"]["origin"]["max_input_tokens"] == "api"


def test_a_model_the_api_retired_is_refused_on_the_fast_path_too(catalogued, run, db, uploading):
    assert run("block", catalogued[0], "--model", "claude-opus-5-5").exit_code == 0
    stored_context(db, "claude-opus-5-5", 1_000_000, lifecycle="retired")
    result = run("block", catalogued[0], "--model", "claude-opus-5-5")
    assert result.exit_code == 2 and "claude-opus-5-5 was retired" in result.stderr


@pytest.mark.backends("sqlite")  # the fast path reads SQLite catalogues only
def test_the_fast_path_reads_stored_models_without_sqlalchemy(catalogued, run, db, uploading):
    run("block", *catalogued)  # uploads them
    stored_context(db, "claude-opus-5-5", 200_000)
    code = (
        "import sys; from assetmgr.cli import cli\n"
        f"try: cli(['--db', {str(db)!r}, 'request', '--stdin', '--bare', '--prompt', 'p', "
        "'--model', 'claude-opus-5-5'])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('anthropic', 'sqlalchemy', 'PIL', 'alembic') if m in sys.modules))"
    )
    stdin = "\n".join(catalogued[i % 3] for i in range(700))
    result = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True,
                            text=True)  # fmt: skip
    *bodies, imported = result.stdout.splitlines()
    assert imported == "[]", result.stderr
    assert [len(json.loads(b)["messages"][0]["content"]) - 1 for b in bodies] == [100] * 7


def test_library_send_leaves_out_sampling_a_5x_model_rejects(catalogued, db, uploading):
    with Library.open(str(db)) as lib:
        [body] = lib.requests(catalogued, prompt="Describe.", model="claude-haiku-5-5")
        body["temperature"] = 0.3
        with pytest.warns(ModelWarning, match="claude-haiku-5-5 takes no temperature"):
            [(_, answer)] = list(lib.send([body]))
        assert answer.text.startswith("Image 1: 300x200")
        with pytest.raises(UsageError, match="retired"):
            list(lib.send([{**body, "model": "claude-sonnet-4-5"}]))


# -- show and stats per model -------------------------------------------------------------------


@pytest.fixture
def photo(tmp_path, run):
    """A 1920x1080 asset with a vision and a vision-hd rendition; its sha256."""
    write_image(tmp_path / "p" / "photo.png", seed=4, size=(1920, 1080))
    run("add", tmp_path / "p", "--policy", "vision-hd")
    [record] = run.json_lines("add", tmp_path / "p")
    return record["sha256"]


def test_show_gives_tokens_at_each_tier_and_what_each_model_reads(photo, run):
    text = run("show", photo[:10]).stdout
    assert (
        "rendition vision: image/png 1456x819" in text
        and "~1,560 tokens (standard) / 1,560 (high)" in text
    )
    assert "~1,560 tokens (standard) / 2,691 (high)" in text  # the vision-hd rendition, 1920x1080
    assert (
        "model     claude-sonnet-5-5 (high): vision-hd 1920x1080, ~2,691 tokens, $0.0054 per use"
        in text
    )
    assert (
        "model     claude-haiku-4-5 (standard): vision 1456x819, ~1,560 tokens, no list price known"
        in text
    )
    assert "claude-sonnet-4-5" not in text  # retired
    [record] = run.json_lines("show", photo, "--model", "claude-haiku-5-5")
    hd = next(r for r in record["renditions"] if r["policy"] == "vision-hd")
    assert (hd["tokens"], hd["tokens_standard"], hd["tokens_high"]) == (1560, 1560, 2691)
    assert record["models"] == [{"model": "claude-haiku-5-5", "tier": "high", "policy": "vision-hd",
                                 "width": 1920, "height": 1080, "tokens": 2691,
                                 "price_per_mtok": 0.1, "cost": pytest.approx(2691 * 0.1 / 1e6),
                                 "note": None}]  # fmt: skip


def test_stats_prices_the_models_tier(photo, run):
    def policies(*args) -> dict:
        [record] = run.json_lines("stats", *args)
        return record, {p["policy"]: p for p in record["policies"]}

    record, by_policy = policies()  # as before models: the standard tier, $3
    assert (record["model"], record["tier"], record["price_per_mtok"]) == (None, "standard", 3.0)
    assert by_policy["vision-hd"]["tokens"] == 1560 and by_policy["vision"]["tokens"] == 1560
    record, by_policy = policies("--model", DEFAULT_MODEL)
    assert (record["model"], record["tier"]) == (DEFAULT_MODEL, "high")
    assert record["price_per_mtok"] == 2.0
    assert by_policy["vision-hd"]["tokens"] == 2691 and by_policy["vision"]["tokens"] == 1560
    record, by_policy = policies("--model", "claude-haiku-4-5", "--price", "1")
    assert record["tier"] == "standard" and by_policy["vision-hd"]["tokens"] == 1560
    assert by_policy["vision-hd"]["cost_per_1000_images"] == pytest.approx(1.56)
    record, by_policy = policies("--model", "claude-opus-5-5")
    assert by_policy["vision-hd"]["cost_all_once"] == pytest.approx(2691 * 4 / 1e6)
    result = run("stats", "--model", "claude-opus-4-7")
    assert result.exit_code == 2 and result.stderr == (
        "Error: no list price is known for claude-opus-4-7; give --price DOLLARS (per million "
        "input tokens)\n"
    )
    text = run("stats", "--model", DEFAULT_MODEL).stdout
    assert "tokens as claude-sonnet-5-5 reads them (high tier)" in text
    assert "tokens at the standard tier" in run("stats").stdout


# -- models --refresh, against the emulator's Models API ---------------------------------------


def test_models_refresh_stores_what_the_api_says(run, db, catalogued, uploading):
    result = run("models", "--refresh")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.startswith("stored 11 models from default at http://")
    assert uploading.request_counts()["GET /v1/models?lifecycle[]&limit"] == 1
    stored = dict(db.rows("SELECT id, max_input_tokens FROM model_info"))
    assert stored["claude-sonnet-5-5"] > 200_000 and stored["claude-haiku-4-5"] == 200_000
    assert db.rows("SELECT lifecycle FROM model_info WHERE id = 'claude-sonnet-4-5'") == [
        ("retired",)
    ]
    records = {r["id"]: r for r in run.json_lines("models")}
    assert records["claude-sonnet-5-5"]["images_per_request"] == 600
    assert records["claude-sonnet-5-5"]["origin"]["max_input_tokens"] == "api"
    assert records["claude-haiku-4-5"]["images_per_request"] == 100
    table = run("models").stdout
    assert any(line.startswith("claude-sonnet-5-5 ") and " 600 " in line and "1,000,000" in line
               for line in table.splitlines())  # fmt: skip
    # what follows: the default model takes 600 images a request, and the API accepts them
    lines = "\n".join(catalogued[i % 3] for i in range(700))
    result = run("ask", "--stdin", "--prompt", "How many?", input=lines)
    assert result.exit_code == 0, result.stderr
    assert [line.split(":")[0] for line in result.stderr.splitlines() if "request" in line] == [
        "request 1/2",
        "request 2/2",
    ]
    assert "request 1/2: 600 images" in result.stderr
    assert run("models", "--refresh").exit_code == 0  # again: replaced, not added to
    assert db.count("SELECT count(*) FROM model_info") == 11


def test_models_refresh_needs_a_key(run, monkeypatch):
    result = run("models", "--refresh")
    assert result.exit_code == 7 and result.stderr.startswith("Error: no API key")


@pytest.mark.parametrize("name", ["", " ", "claude sonnet", "claude-\x07"])
def test_a_name_that_cannot_be_a_model_id_is_a_usage_error(name):
    with pytest.raises(UsageError, match="is not a model id"):
        spec_for(name)


def test_only_a_date_or_a_familys_later_version_extends_a_known_id():
    assert describe("claude-opus-4-5-20251101").entry == "claude-opus-4-5"
    assert describe("claude-sonnet-5-7-20270101").entry == "claude-sonnet-5"
    for bogus in ("claude-sonnet-5-5-", "claude-opus-4-6-whatever", "claude-sonnet-5-x"):
        assert describe(bogus).known is False, bogus


def test_a_stored_row_with_impossible_figures_is_read_as_saying_nothing_of_them():
    garbage = {"max_input_tokens": "abc", "lifecycle": "RETIRED", "retires_at": "not a date",
               "deprecated_at": "2026-13-45", "capabilities": "{"}  # fmt: skip
    spec = describe("claude-sonnet-5-5", garbage)
    assert (spec.max_input_tokens, spec.lifecycle, spec.retires_at) == (1_000_000, "active", None)
    for context in (0, -5):
        spec = describe("claude-sonnet-5-5", {"max_input_tokens": context})
        assert spec.max_input_tokens == 1_000_000 and spec.origin["max_input_tokens"] == "table"
