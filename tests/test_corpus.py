"""Every file of the shared corpus ends in the outcome its manifest row implies."""

from __future__ import annotations

import csv

import pytest


def manifest(corpus):
    with open(corpus / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_every_corpus_file_gets_the_expected_outcome(corpus, run):
    result = run("add", corpus, "--json", "--no-upload")
    outcomes = {}
    for line in result.stdout.splitlines():
        import json

        record = json.loads(line)
        outcomes[record["path"]] = record
    assert "Traceback" not in result.stderr
    rows = manifest(corpus)
    assert len(rows) == 333
    for row in rows:
        got = outcomes[str(corpus / row["path"])]
        if row["expected"].startswith("accept"):
            assert got["outcome"] in ("new", "duplicate"), (row["path"], got)
            assert got["sha256"] == row["sha256"]
            assert (got["width"], got["height"]) == (int(row["width"]), int(row["height"]))
        else:
            assert got["outcome"] == "rejected", (row["path"], got)
            assert got["reason"], row["path"]
    # the three non-image files beside the images are rejected too, and the run says so
    assert result.exit_code == 3
    assert "rejected" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("unsupported/hopper.tif", "unsupported format: TIFF"),
        ("broken/truncated_jpeg.jpg", "truncated or corrupt image"),
        ("broken/truncated_image.png", "truncated or corrupt image"),
        ("broken/decompression_bomb.gif", "decompression bomb"),
        ("unsupported/anchor_horizontal.svg", "unsupported format: SVG"),
    ],
)
def test_rejection_reasons_are_readable(corpus, run, name, reason):
    [record] = run.json_lines("add", corpus / name)
    assert record["outcome"] == "rejected"
    assert record["reason"].startswith(reason)


def test_corpus_second_run_is_unchanged(corpus, run):
    run("add", corpus / "valid")
    records = run.json_lines("add", corpus / "valid")
    assert records and {r["outcome"] for r in records} == {"unchanged"}


def test_content_decides_the_format_not_the_extension(corpus, run):
    [record] = run.json_lines("add", corpus / "broken" / "courB08.pbm")
    assert (record["outcome"], record["format"]) == ("new", "PNG")
