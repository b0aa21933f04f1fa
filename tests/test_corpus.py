"""Every file of the shared corpus ends in the outcome its manifest row implies: under the
``original`` policy as the manifest says (it judges what the API takes), and under the vision
policies with the overrides of ``corpus_vision.csv`` (TIFF, BMP, AVIF and HEIF sources are
converted; each row says why its outcome differs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

VISION_OVERRIDES = Path(__file__).with_name("corpus_vision.csv")


def manifest(corpus):
    with open(corpus / "manifest.csv", newline="") as f:
        return list(csv.DictReader(f))


def vision_overrides() -> dict[str, dict]:
    with open(VISION_OVERRIDES, newline="") as f:
        return {row["path"]: row for row in csv.DictReader(f)}


def corpus_outcomes(run, corpus, policy):
    result = run("add", corpus, "--json", "--no-upload", "--policy", policy)
    assert "Traceback" not in result.stderr
    assert "could not be" not in result.stdout + result.stderr  # no crash, no hang, no bug
    return result, {
        json.loads(line)["path"]: json.loads(line) for line in result.stdout.splitlines()
    }


def test_every_corpus_file_gets_the_expected_outcome(corpus, run):
    result, outcomes = corpus_outcomes(run, corpus, "original")
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


@pytest.mark.parametrize("policy", ["vision", "vision-hd"])
def test_every_corpus_file_gets_its_outcome_under_the_vision_policies(corpus, run, policy):
    """Hostile TIFFs and BMPs (the crash-, timeout- and oom- fuzzing samples among them) end
    rejected within the run, never a crash or a hang; the ones that decode are converted."""
    _, outcomes = corpus_outcomes(run, corpus, policy)
    overrides = vision_overrides()
    rows = {row["path"]: row for row in manifest(corpus)}
    assert set(overrides) <= set(rows)
    for path, row in rows.items():
        got = outcomes[str(corpus / path)]
        expected = overrides.get(path, {"expected": row["expected"], "reason": ""})
        if expected["expected"].startswith("accept"):
            assert got["outcome"] in ("new", "duplicate"), (path, got)
            assert got["sha256"] == row["sha256"]
        else:
            assert got["outcome"] == "rejected", (path, got)
            assert got["reason"].startswith(expected["reason"]), (path, got)
    converted = [
        outcomes[str(corpus / p)] for p, o in overrides.items() if o["expected"] == "accept"
    ]
    assert {r["format"] for r in converted} == {"TIFF", "BMP", "AVIF", "HEIF"}
    multi = outcomes[str(corpus / "unsupported/multipage.tiff")]
    assert "multi-page TIFF: first page only" in multi["warnings"]


@pytest.mark.parametrize(
    ("name", "policy", "reason"),
    [
        (
            "unsupported/hopper.tif",
            "original",
            "unsupported format: TIFF; the API accepts JPEG, PNG, GIF and WebP; "
            "--policy vision converts it",
        ),
        (
            "unsupported/hopper_webp.tif",
            "vision",
            "truncated or corrupt image, or a TIFF variant this build cannot decode",
        ),
        ("broken/truncated_jpeg.jpg", "vision", "truncated or corrupt image"),
        ("broken/truncated_image.png", "vision", "truncated or corrupt image"),
        ("broken/decompression_bomb.gif", "vision", "decompression bomb"),
        ("unsupported/anchor_horizontal.svg", "vision", "unsupported format: SVG"),
    ],
)
def test_rejection_reasons_are_readable(corpus, run, name, policy, reason):
    [record] = run.json_lines("add", corpus / name, "--policy", policy)
    assert record["outcome"] == "rejected"
    assert record["reason"].startswith(reason)


def test_corpus_second_run_is_unchanged(corpus, run):
    run("add", corpus / "valid")
    records = run.json_lines("add", corpus / "valid")
    assert records and {r["outcome"] for r in records} == {"unchanged"}


def test_content_decides_the_format_not_the_extension(corpus, run):
    [record] = run.json_lines("add", corpus / "broken" / "courB08.pbm")
    assert (record["outcome"], record["format"]) == ("new", "PNG")
