"""``ls``: filters (tag, policy, format, size, date), every sort both ways, limits across
pages of the keyset, and each output (table, JSON lines, CSV, a format string), odd names
included; an empty result says so on stderr."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from conftest import write_image

from assetmgr.errors import ExitCode

pytestmark = pytest.mark.backends()

SORTS = {
    "added": lambda r: 0, "bytes": lambda r: r["size_bytes"],
    "pixels": lambda r: r["width"] * r["height"], "width": lambda r: r["width"],
    "height": lambda r: r["height"], "format": lambda r: r["format"],
    "sha256": lambda r: r["sha256"],
}  # fmt: skip


@pytest.fixture
def listed(run, tmp_path, monkeypatch):
    """Nine assets of several formats, sizes and tags, in pages of two (so that every listing
    crosses pages); their ``ls --json`` records, oldest first."""
    monkeypatch.setattr("assetmgr.catalogue.CHUNK", 2)
    sizes = [
        (40, 30),
        (90, 20),
        (33, 33),
        (120, 80),
        (40, 30),
        (64, 64),
        (10, 90),
        (77, 5),
        (50, 50),
    ]
    formats = ["PNG", "JPEG", "GIF"]
    for n, size in enumerate(sizes):
        fmt = formats[n % 3]
        name = f'p{n}, "odd".{fmt.lower()}' if n == 4 else f"p{n}.{fmt.lower()}"
        write_image(tmp_path / "in" / name, size=size, fmt=fmt, seed=n)
        result = run("add", tmp_path / "in" / name, *(["--tag", "even"] if n % 2 == 0 else []))
        assert result.exit_code == 0, result.stderr
    run("add", tmp_path / "in" / "p1.jpeg", "--policy", "original")
    return run.json_lines("ls")


def shas(run, *args) -> list[str]:
    result = run("ls", *args, "--format", "{sha256}")
    assert result.exit_code == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("key", list(SORTS))
def test_every_sort_both_ways_and_limits_across_pages(run, listed, key):
    order = sorted(range(len(listed)), key=lambda i: (SORTS[key](listed[i]), i))
    expected = [listed[i]["sha256"] for i in order]
    assert shas(run, "--sort", key) == expected
    assert shas(run, "--sort", key, "--reverse") == expected[::-1]
    assert shas(run, "--sort", key, "--limit", "5") == expected[:5]
    assert shas(run, "--sort", key, "--reverse", "--limit", "3") == expected[::-1][:3]


def test_filters(run, listed):
    everything = [r["sha256"] for r in listed]
    assert shas(run) == everything
    assert shas(run, "--tag", "even") == everything[0::2]
    assert shas(run, "--type", "png", "--type", "GIF") == [
        r["sha256"] for r in listed if r["format"] in ("PNG", "GIF")
    ]
    assert shas(run, "--policy", "original") == [listed[1]["sha256"]]
    middle = sorted(r["size_bytes"] for r in listed)[4]
    assert shas(run, "--min-bytes", str(middle)) == [
        r["sha256"] for r in listed if r["size_bytes"] >= middle
    ]
    assert shas(run, "--max-bytes", str(middle), "--tag", "even") == [
        r["sha256"] for r in listed[0::2] if r["size_bytes"] <= middle
    ]
    assert shas(run, "--since", "1h") == everything
    assert shas(run, "--until", "1h") == []
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert shas(run, "--until", tomorrow, "--limit", "2") == everything[:2]


def test_an_empty_result_says_so_on_stderr(run, listed):
    result = run("ls", "--since", "2099-01-01")
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == "no assets match\n"
    csv_only = run("ls", "--type", "webp", "--csv")
    assert csv_only.stdout.startswith("sha256,format,") and csv_only.stdout.count("\n") == 1


def test_an_empty_catalogue(run):
    result = run("ls")
    assert result.stdout == "" and result.stderr == "no assets\n"


def test_csv_quotes_what_needs_it(run, listed):
    result = run("ls", "--csv", "--sort", "width")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["sha256"] for r in rows] == shas(run, "--sort", "width")
    odd = next(r for r in rows if "odd" in r["path"])
    assert odd["path"].endswith('p4, "odd".jpeg') and odd["tags"] == "even"
    assert odd["added"].endswith("Z") and int(odd["bytes"]) > 0


def test_format_strings(run, listed):
    result = run(
        "ls", "--format", "{sha256:.12} {width}x{height} {pixels} {tags!r}", "--limit", "1"
    )
    first = listed[0]
    assert result.stdout == (f"{first['sha256'][:12]} 40x30 40x30 'even'\n")


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "{nope}"], "--format: no field 'nope'; fields: sha256, short"),
        (["--format", "{width:q}"], "--format '{width:q}': Unknown format code"),
        (["--json", "--csv"], "choose one of --json, --csv and --format"),
        (["--since", "yesterday"], "give a date (2026-11-01)"),
        (["--sort", "colour"], "'colour' is not one of"),
        (["--limit", "0"], "0 is not in the range x>=1"),
    ],
)
def test_bad_options_are_one_line_usage_errors(run, args, message):
    result = run("ls", *args)
    assert result.exit_code == ExitCode.USAGE and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_json_lines_are_whole_records(run, listed):
    [first] = run.json_lines("ls", "--sort", "bytes", "--reverse", "--limit", "1")
    biggest = max(listed, key=lambda r: (r["size_bytes"], listed.index(r)))
    assert first == biggest and json.dumps(first)
