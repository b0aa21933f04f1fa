"""``run --skip-near``: one request per group of near-duplicates, its answer copied to the other
members, marked as copies, at no cost; on SQLite and PostgreSQL, against the emulator.

Three generated pictures with their six variants each (``near_images.py``), two unrelated
pictures and four near-uniform ones (flat colours, never each other's copies).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from near_images import VARIANTS, encoded, flat, picture  # noqa: E402

pytestmark = pytest.mark.backends()

PROMPT = ("--prompt", "What is it?", "--per-request", "1")


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def shots(tmp_path, run):
    """The pictures, catalogued and tagged ``t``: {"groups": [[best, *others]] as ``dupes
    --near`` has them, "alone": every asset in no group}."""
    folder = tmp_path / "t"
    for seed in range(3):
        original = encoded(picture(seed))
        write(folder / f"p{seed}.jpg", original)
        for index, variant in enumerate(VARIANTS.values()):
            data = variant(original)
            suffix = "png" if data.startswith(b"\x89PNG") else "jpg"
            write(folder / f"p{seed}_{index}.{suffix}", data)
    write(folder / "u1.jpg", encoded(picture(101)))
    write(folder / "u2.jpg", encoded(picture(102)))
    flats = [
        write(folder / "black.png", encoded(flat((0, 0, 0)), "PNG")),
        write(folder / "black.jpg", encoded(flat((3, 3, 3)))),
        write(folder / "white.png", encoded(flat((255, 255, 255)), "PNG")),
        write(folder / "sky.png", encoded(flat((120, 170, 230)), "PNG")),
    ]
    added = run.json_lines("add", folder, "--tag", "t", "--no-upload")
    by_path = {Path(r["path"]).name: r["sha256"] for r in added}
    assert len(set(by_path.values())) == 27
    near = run.json_lines("dupes", "--near")
    groups = [[(m["asset"], m["distance"]) for m in g["members"]] for g in near]
    assert sorted(len(g) for g in groups) == [7, 7, 7]
    grouped = {sha for g in groups for sha, _ in g}
    alone = [sha for sha in by_path.values() if sha not in grouped]
    assert {by_path[p.name] for p in flats} <= set(alone) and len(alone) == 6
    return {"groups": groups, "alone": alone, "flats": [by_path[p.name] for p in flats]}


def sent(emulator) -> int:
    return emulator.request_counts().get("POST /v1/messages", 0)


def check_answers(rows: list[dict], shots, copies: int) -> None:
    """Every asset answered once; each copy with its best copy's request's answer."""
    assert sorted(a for r in rows for a in r["assets"]) == sorted(
        [sha for g in shots["groups"] for sha, _ in g] + shots["alone"]
    )
    asked = {r["assets"][0]: r for r in rows if r["copy_of"] is None}
    copied = [r for r in rows if r["copy_of"] is not None]
    assert len(copied) == copies and len(asked) == 27 - copies
    assert all(r["state"] == "answered" and r["text"] for r in rows)
    best_of = {sha: (g[0][0], d) for g in shots["groups"] for sha, d in g[1:]}
    for row in copied:
        [asset] = row["assets"]
        assert (row["copy_of"], row["distance"]) == best_of[asset]
        best = asked[row["copy_of"]]
        assert (row["request"], row["text"], row["renditions"]) == (
            best["request"], best["text"], best["renditions"]
        )  # fmt: skip
        assert row["cost"] == 0 and row["usage"]["input_tokens"] == 0 and row["tags"] == [["t"]]
    for sha in shots["flats"]:
        assert asked[sha]["distance"] is None  # asked, never a copy


def test_one_request_per_group_the_others_get_its_answer_marked(shots, run, emulated, db):
    emulator = emulated()
    result = run("run", "--tag", "t", *PROMPT, "--skip-near")
    assert result.exit_code == 0, result.stderr
    assert sent(emulator) == 3 + 6  # a request per group, and one per asset in none
    rows = run.json_lines("answers", "--run", "1")
    check_answers(rows, shots, copies=18)
    assert db.count("SELECT count(*) FROM run_copies") == 18
    [listed] = run.json_lines("runs")
    assert listed["copies"] == 18 and listed["requests"] == 9 and listed["images"] == 9
    assert listed["cost"] == pytest.approx(sum(r["cost"] for r in rows))
    assert "18 answered by copy" in run("runs").stdout
    text = run("answers", "--run", "1").stdout
    best, (other, d) = shots["groups"][0][0][0], shots["groups"][0][1]
    assert f"({other[:12]}): answered (copy of {best[:12]}… at distance {d})" in text
    table = list(csv.DictReader(io.StringIO(run("answers", "--run", "1", "--csv").stdout)))
    assert {row["assets"]: row["copy_of"] for row in table}[other] == best
    assert sum(1 for row in table if row["copy_of"]) == 18

    again = run("run", "--tag", "t", *PROMPT, "--skip-near")
    assert again.exit_code == 0, again.stderr
    assert sent(emulator) == 9 and len(run.json_lines("runs")) == 1  # the same run, resumed
    assert db.count("SELECT count(*) FROM run_copies") == 18

    plain = run("run", "--tag", "t", *PROMPT)  # without --skip-near: another run
    assert plain.exit_code == 0, plain.stderr
    assert sent(emulator) == 9 + 18  # the requests both share are answered already
    rows = run.json_lines("answers", "--run", "2")
    assert len(rows) == 27 and all(r["copy_of"] is None for r in rows)
    assert run.json_lines("runs")[1]["copies"] == 0


def test_a_dry_run_counts_the_near_duplicates_and_plans_without_them(shots, run, emulated):
    emulator = emulated()
    before = dict(emulator.request_counts())
    result = run("run", "--tag", "t", *PROMPT, "--skip-near", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert (plan["requests"], plan["images"], plan["near_duplicates"]) == (9, 9, 18)
    assert plan["files_to_upload"] == 9
    assert "18 near-duplicates answered by their best copy's request" in result.stderr
    whole = json.loads(run("run", "--tag", "t", *PROMPT, "--dry-run", "--json").stdout)
    assert (whole["requests"], whole["near_duplicates"]) == (27, 0)
    assert whole["input_tokens"] > plan["input_tokens"]
    close = json.loads(run("run", "--tag", "t", *PROMPT, "--skip-near", "--near-distance", "0",
                           "--dry-run", "--json").stdout)  # fmt: skip
    assert 0 < close["near_duplicates"] < 18  # at 0 bits, only the variants of equal hash
    assert emulator.request_counts() == before
    assert run.json_lines("runs") == []


def test_several_images_a_request_each_copy_carries_the_whole_answer(shots, run, emulated):
    emulated()
    result = run("run", "--tag", "t", "--prompt", "What are they?", "--skip-near")
    assert result.exit_code == 0, result.stderr
    rows = run.json_lines("answers", "--run", "1")
    [asked] = [r for r in rows if r["copy_of"] is None]
    assert len(asked["assets"]) == 9
    copies = [r for r in rows if r["copy_of"] is not None]
    assert len(copies) == 18 and all(r["text"] == asked["text"] for r in copies)
    for row in copies:
        [rendition] = row["renditions"]
        assert rendition == asked["renditions"][asked["assets"].index(row["copy_of"])]


def test_a_decision_not_duplicate_makes_both_asked(shots, run, emulated):
    emulator = emulated()
    (best, _), (other, _) = shots["groups"][1][:2]
    assert run("dupes", "mark", best, other, "--not-duplicate").exit_code == 0
    result = run("run", "--tag", "t", *PROMPT, "--skip-near")
    assert result.exit_code == 0, result.stderr
    assert sent(emulator) == 10
    rows = run.json_lines("answers", "--run", "1")
    asked = {r["assets"][0] for r in rows if r["copy_of"] is None}
    assert {best, other} <= asked and len(rows) == 27
    assert sum(1 for r in rows if r["copy_of"] is not None) == 17


def test_a_batch_run_sends_one_request_per_group(shots, run, emulated, monkeypatch):
    monkeypatch.setenv("ASSETMGR_BATCH_POLL", "0.05")
    batching = emulated(batch_delay_seconds=0)
    args = ("run", "--tag", "t", *PROMPT, "--skip-near", "--batch")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    [batch] = batching.batch_list()
    assert batch["request_counts"]["succeeded"] == 9 and sent(batching) == 0
    check_answers(run.json_lines("answers", "--run", "1"), shots, copies=18)
    assert run(*args).exit_code == 0 and len(batching.batch_list()) == 1


def test_near_distance_goes_with_skip_near_and_within_range(shots, run):
    alone = run("run", "--tag", "t", *PROMPT, "--near-distance", "4", "--dry-run")
    assert alone.exit_code == 2 and "--near-distance goes with --skip-near" in alone.stderr
    far = run("run", "--tag", "t", *PROMPT, "--skip-near", "--near-distance", "40", "--dry-run")
    assert far.exit_code == 2 and "'--near-distance': 40 is not in the range 0<=x<=16" in far.stderr
    assert "Traceback" not in far.stderr + alone.stderr


def test_the_run_key_names_its_copies_the_request_keys_do_not(shots, db):
    """Asking about a group with --skip-near, and about its best copy alone, are two runs
    (one has copies to record, the other none) that share their one request."""
    from assetmgr import Library

    group = [sha for sha, _ in shots["groups"][0]]
    with Library.open(str(db)) as lib:
        skipping = lib.run_plan(group, prompt="x", skip_near=True)
        best = lib.run_plan(group[:1], prompt="x")
    assert [c.asset for c in skipping.copies] == group[1:]
    assert [r.key for r in skipping.requests] == [r.key for r in best.requests]
    assert skipping.key != best.key


def test_a_refused_request_is_reported_once_and_its_copies_share_its_state(shots, run, emulated):
    emulated()
    result = run("run", "--tag", "t", "--per-request", "1", "--skip-near", "--prompt",
                 "[assetmgr-emulator:refuse] What is it?")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("refused: request") == 9
    rows = run.json_lines("answers", "--run", "1")
    assert len(rows) == 27 and all(r["state"] == "refused" for r in rows)
