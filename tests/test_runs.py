"""Re-analysis runs (``assetmgr run``, ``runs``, ``answers``) against the emulator through the
real SDK, on SQLite and PostgreSQL: answers kept, nothing asked twice, cost before sending."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import write_image

pytestmark = pytest.mark.backends()


@pytest.fixture
def assets(tmp_path, run):
    """Twelve small catalogued images tagged ``shots``, not uploaded; their sha256s."""
    for i in range(12):
        write_image(tmp_path / "in" / f"{i:02}.png", seed=i, size=(200 + i, 150))
    shas = [r["sha256"] for r in run.json_lines("add", tmp_path / "in", "--tag", "shots")]
    return shas


def sent(emulator) -> int:
    return emulator.request_counts().get("POST /v1/messages", 0)


def test_a_run_keeps_its_answers_and_a_rerun_sends_nothing(assets, run, emulated, db):
    emulator = emulated()
    result = run("run", "--tag", "shots", "--prompt", "What is it?", "--per-request", "1")
    assert result.exit_code == 0, result.stderr
    assert sent(emulator) == 12 and emulator.request_counts()["POST /v1/files"] == 12
    assert "run 1: 12 requests: 12 answered; 12 answered now" in result.stderr
    again = run("run", "--tag", "shots", "--prompt", "What is it?", "--per-request", "1")
    assert again.exit_code == 0, again.stderr
    assert sent(emulator) == 12 and "0 answered now" in again.stderr
    rows = run.json_lines("answers", "--run", "1")
    assert [r["request"] for r in rows] == list(range(12))
    assert [r["assets"] for r in rows] == [[sha] for sha in assets]
    assert all(r["state"] == "answered" and r["text"] and r["tags"] == [["shots"]] for r in rows)
    assert all(r["usage"]["input_tokens"] > 0 and r["cost"] > 0 for r in rows)
    table = list(csv.DictReader(io.StringIO(run("answers", "--run", "1", "--csv").stdout)))
    assert [row["assets"] for row in table] == assets and table[0]["tags"] == "shots"
    [listed] = run.json_lines("runs")
    assert listed["requests"] == 12 and listed["states"] == {"answered": 12}
    assert listed["estimated_tokens"] > 0 and listed["cost"] > 0
    assert db.count("SELECT count(*) FROM run_requests") == 12


def test_dry_run_sends_nothing_and_max_cost_refuses(assets, run, emulated):
    emulator = emulated()
    before = dict(emulator.request_counts())
    result = run("run", "--tag", "shots", "--prompt", "x", "--per-request", "4", "--dry-run",
                 "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["requests"] == 3 and plan["images"] == 12 and plan["files_to_upload"] == 12
    assert plan["input_tokens"] > 0 and plan["estimated_cost"] > 0
    assert "12 images in 3 requests" in result.stderr and "files to upload: 12" in result.stderr
    assert emulator.request_counts() == before
    refused = run("run", "--tag", "shots", "--prompt", "x", "--max-cost", "0.000001")
    assert refused.exit_code == 12 and refused.stderr.startswith("Error: the estimated cost")
    assert emulator.request_counts() == before


DRY_RUN_IMPORTS = """
import sys
from assetmgr.cli import cli
try:
    cli(sys.argv[1:])
except SystemExit:
    pass
print(sorted(m for m in ("anthropic", "sqlalchemy", "PIL", "alembic") if m in sys.modules))
"""


@pytest.mark.backends("sqlite")  # the fast path reads SQLite catalogues only
def test_a_dry_run_of_uploaded_assets_is_planned_without_sqlalchemy_and_agrees(
    assets, run, emulated, db
):
    """Every asset uploaded: the dry run plans through ``lookup.dry_plan`` (sqlite3 alone),
    answered requests included, and its plan equals the library's."""
    from assetmgr import Library
    from assetmgr.cli_analysis import plan_record

    emulated()
    assert run("push", "--tag", "shots").exit_code == 0
    done = run("run", "--tag", "shots", "--prompt", "x", "--per-request", "5")
    assert done.exit_code == 0, done.stderr
    for per_request, answered in (("5", 3), ("4", 0)):
        args = ["--db", str(db), "run", "--tag", "shots", "--prompt", "x", "--per-request",
                per_request, "--dry-run", "--json"]  # fmt: skip
        result = subprocess.run([sys.executable, "-c", DRY_RUN_IMPORTS, *args],
                                capture_output=True, text=True)  # fmt: skip
        record, imported = result.stdout.splitlines()
        assert imported == "[]", result.stderr
        with Library.open(str(db)) as lib:
            shas = lib.find([], tag="shots")
            slow = lib.run_plan(shas, prompt="x", per_request=int(per_request))
        assert json.loads(record) == plan_record(slow)
        assert json.loads(record)["answered"] == answered


def test_one_image_per_request_and_ask_json_join_keys(assets, run, emulated):
    emulated()
    result = run("ask", *assets[:2], "--prompt", "x", "--per-request", "1", "--json")
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["assetmgr"]["assets"] for line in lines] == [[assets[0]], [assets[1]]]
    assert all(line["assetmgr"]["truncated"] is False for line in lines)


def test_cache_marks_the_shared_prefix_so_later_requests_read_it(assets, run, emulated, tmp_path):
    """--cache 5m: the system prompt and the instruction lead every request, marked; the first
    request writes that prefix and the next ones read it (the emulator counts as the API does),
    and the catalogue keeps both figures. A prefix below the model's minimum warns."""
    emulated()
    rules = tmp_path / "rules.md"
    rules.write_text("Rules for judging damage. " * 120)  # ~3,000 characters: over 512 tokens
    args = ("run", "--tag", "shots", "--prompt", "Is it damaged?", "--per-request", "1",
            "--jobs", "1", "--cache", "5m", "--system-file", rules)  # fmt: skip
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    usage = [r["usage"] for r in run.json_lines("answers", "--run", "1")]
    writes = [u["cache_creation_input_tokens"] for u in usage]
    reads = [u["cache_read_input_tokens"] for u in usage]
    assert writes[0] > 512 and reads[0] == 0
    assert all(w == 0 for w in writes[1:]) and all(r == writes[0] for r in reads[1:])
    [listed] = run.json_lines("runs")
    assert listed["cost"] == pytest.approx(
        sum(r["cost"] for r in run.json_lines("answers", "--run", "1"))
    )
    short = run("run", "--tag", "shots", "--prompt", "Short?", "--cache", "5m", "--dry-run")
    assert short.exit_code == 0 and "warning:" in short.stderr and "cach" in short.stderr


# -- Message Batches --------------------------------------------------------------------------


@pytest.fixture
def batching(emulated, monkeypatch):
    """An emulator whose batches are processed at once, polled every 50 ms."""
    monkeypatch.setenv("ASSETMGR_BATCH_POLL", "0.05")
    return emulated(batch_delay_seconds=0)


def batches_made(emulator) -> int:
    return emulator.request_counts().get("POST /v1/messages/batches", 0)


def test_a_batch_run_keeps_answers_and_retries_errored_items(assets, run, batching, db):
    batching.set_faults(item_error_next=3)
    args = ("run", "--tag", "shots", "--prompt", "What is it?", "--per-request", "1", "--batch")
    first = run(*args)
    assert first.exit_code == 11, first.stderr
    assert "9 answered, 3 errored" in first.stderr and batches_made(batching) == 1
    second = run(*args)
    assert second.exit_code == 0, second.stderr
    assert batches_made(batching) == 2 and [b["request_counts"]["succeeded"] for b in
                                            batching.batch_list()] == [9, 3]  # fmt: skip
    third = run(*args)
    assert third.exit_code == 0 and batches_made(batching) == 2
    assert sent(batching) == 0
    rows = run.json_lines("answers", "--run", "1")
    assert len(rows) == 12 and all(r["state"] == "answered" for r in rows)
    assert db.count("SELECT count(*) FROM message_batches WHERE state = 'collected'") == 2
    [listed] = run.json_lines("runs")
    assert listed["batch"] and listed["pending_batches"] == 0
    assert listed["cost"] == pytest.approx(sum(r["cost"] for r in rows))


def start_run(db, emulator, *args):
    """``assetmgr run`` in a process of its own, to be killed."""
    env = {**os.environ, "ANTHROPIC_BASE_URL": emulator.base_url, "ANTHROPIC_API_KEY": "test-key",
           "ASSETMGR_BATCH_POLL": "0.05"}  # fmt: skip
    command = [sys.executable, "-m", "assetmgr", "--db", str(db), "run", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_when(process, db, query: str) -> None:
    deadline = time.monotonic() + 60
    while db.count(query) == 0:
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    process.kill()
    process.wait()


BATCH = ("--tag", "shots", "--prompt", "What is it?", "--per-request", "1", "--batch")


def test_kill_9_while_a_batch_is_pending_then_again(assets, run, batching, db):
    """Killed while its batch is processing: gc keeps and rm refuses its files; the next run
    collects that batch instead of submitting another, and every answer is kept once."""
    assert run("push", "--tag", "shots").exit_code == 0
    batching.set_batch_timing(delay_seconds=3600)
    process = start_run(db, batching, *BATCH)
    kill_when(process, db, "SELECT count(*) FROM message_batches WHERE state = 'submitted'")
    refused = run("rm", assets[0])
    assert refused.exit_code == 2 and "Message Batch not yet collected" in refused.stderr
    # its upload replaced by another copy: gc would delete it as an extra copy, once past the
    # grace of a new file, but the batch refers to it
    [(old,)] = db.rows("SELECT file_id FROM uploads ORDER BY id LIMIT 1")
    db.execute("UPDATE uploads SET state = 'expired' WHERE file_id = :f", f=old)
    assert run("push", "--tag", "shots").exit_code == 0
    batching.advance(1800)
    gc = run("gc", "--all")
    assert gc.exit_code == 0, gc.stderr
    assert old in {f["id"] for f in batching.files()}
    batching.finish_batches()
    again = run("run", *BATCH)
    assert batches_made(batching) == 1
    rows = run.json_lines("answers", "--run", "1")
    assert again.exit_code == 0, again.stderr
    assert sorted(r["state"] for r in rows) == ["answered"] * 12
    assert db.count("SELECT count(*) FROM run_requests WHERE state = 'answered'") == 12


def test_kill_9_during_submission_then_again(assets, run, batching, db):
    """Killed between journalling a batch and hearing of it: the next run adopts the batch the
    API made (or, when it made none, submits one): one batch, every answer once."""
    assert run("push", "--tag", "shots").exit_code == 0
    batching.set_faults(latency_ms=1500)
    process = start_run(db, batching, *BATCH)
    kill_when(process, db, "SELECT count(*) FROM message_batches WHERE state = 'submitting'")
    time.sleep(2)  # the request that was on its way lands
    batching.set_faults(latency_ms=0)
    again = run("run", *BATCH)
    assert again.exit_code == 0, again.stderr
    assert batches_made(batching) == 1
    assert db.count("SELECT count(*) FROM run_requests WHERE state = 'answered'") == 12
    assert db.count("SELECT count(*) FROM message_batches WHERE state = 'collected'") == 1


def test_uploads_expiring_within_the_batch_window_are_made_again(assets, run, batching):
    assert run("push", "--tag", "shots", "--expires-in", "2h").exit_code == 0
    old = {f["id"] for f in batching.files()}
    plan = json.loads(run("run", *BATCH, "--dry-run", "--json").stdout)
    assert plan["files_to_upload"] == 12
    result = run("run", *BATCH)
    assert result.exit_code == 0, result.stderr
    assert batching.request_counts()["POST /v1/files"] == 24
    [batch] = batching.batch_list()
    assert batch["request_counts"]["succeeded"] == 12
    rows = run.json_lines("answers", "--run", "1")
    assert all(r["state"] == "answered" for r in rows) and len(old) == 12


def test_three_hundred_images_in_one_batch(tmp_path, run, batching):
    for i in range(300):
        write_image(tmp_path / "many" / f"{i:03}.png", seed=1000 + i, size=(40, 30))
    assert run("add", tmp_path / "many", "--tag", "many").exit_code == 0
    args = ("run", "--tag", "many", "--prompt", "x", "--per-request", "1", "--batch")
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert (
        len([r for r in run.json_lines("answers", "--run", "1") if r["state"] == "answered"]) == 300
    )
    assert batches_made(batching) == 1
    again = run(*args)
    assert again.exit_code == 0 and batches_made(batching) == 1 and sent(batching) == 0


def test_kill_9_at_any_moment_never_loses_an_answer_nor_pays_twice(tmp_path, run, batching, db):
    """A batch run killed again and again at random moments (journalling, submitting, polling,
    collecting), then left to finish: every request is answered once in the catalogue, and the
    API answered each one once (no batch made twice for the same requests)."""
    import random

    for i in range(40):
        write_image(tmp_path / "k" / f"{i:02}.png", seed=500 + i, size=(60, 40))
    assert run("add", tmp_path / "k", "--tag", "k").exit_code == 0
    assert run("push", "--tag", "k").exit_code == 0
    batching.set_faults(latency_ms=60)  # every API call takes a while: kills land inside them
    batching.set_batch_timing(delay_seconds=1, item_seconds=0.05)
    args = ("--tag", "k", "--prompt", "What is it?", "--per-request", "1", "--batch")
    pick = random.Random(14)
    for _ in range(8):
        process = start_run(db, batching, *args)
        time.sleep(pick.uniform(0.3, 2.5))
        process.kill()
        process.wait()
        batching.advance(pick.uniform(0, 3))
    batching.set_faults(latency_ms=0)
    final = run("run", *args)
    assert final.exit_code == 0, final.stderr
    # one run, whatever its id: PostgreSQL spends a sequence number on a transaction killed
    # before it committed, so the run the kills left may be run 2 or later
    [made_run] = run.json_lines("runs")
    rows = run.json_lines("answers", "--run", str(made_run["id"]))
    assert len(rows) == 40 and all(r["state"] == "answered" for r in rows)
    assert db.count("SELECT count(*) FROM run_requests WHERE state = 'answered'") == 40
    made = batching.batch_list()
    assert sum(b["request_counts"]["succeeded"] for b in made) == 40, made
    assert sent(batching) == 0  # nothing went one at a time either


def test_refusals_are_reported_and_never_sent_again(assets, run, batching, db):
    """Two items the model refuses (stop_reason "refusal"): reported, kept as refused, and a
    run asked again sends nothing, in batches or one at a time."""
    batching.set_faults(item_refusal_next=2)
    first = run("run", *BATCH)
    assert first.exit_code == 0, first.stderr
    assert first.stderr.count("refused: request") == 2
    rows = run.json_lines("answers", "--run", "1")
    states = sorted(r["state"] for r in rows)
    assert states == ["answered"] * 10 + ["refused"] * 2
    refused = [r for r in rows if r["state"] == "refused"]
    assert all(r["stop_reason"] == "refusal" for r in refused)
    again = run("run", *BATCH)
    assert again.exit_code == 0 and batches_made(batching) == 1 and sent(batching) == 0
    trigger = ("run", "--tag", "shots", "--per-request", "6", "--prompt",
               "[assetmgr-emulator:refuse] What is it?")  # fmt: skip
    direct = run(*trigger)
    assert direct.exit_code == 0 and direct.stderr.count("refused: request") == 2
    assert run(*trigger).exit_code == 0 and sent(batching) == 2


def test_hostile_run_arguments_are_one_line_errors_and_record_nothing(assets, run, tmp_path, db):
    """A prompt file that is not UTF-8, no assets named (never "all of them"), a tag no asset
    carries: a one-line error (exit 2), or nothing to ask; no run is recorded."""
    latin = tmp_path / "prompt.md"
    latin.write_bytes("Schäden?".encode("latin-1"))
    result = run("run", "--tag", "shots", "--prompt-file", latin, "--dry-run")
    assert result.exit_code == 2 and "not UTF-8 text (byte 3); save it as UTF-8" in result.stderr
    assert "Traceback" not in result.stderr
    unnamed = run("run", "--prompt", "x")
    assert unnamed.exit_code == 2
    assert unnamed.stderr == "Error: name assets: references, --tag NAME, or --stdin\n"
    empty = run("run", "--tag", "nobody", "--prompt", "x")
    assert empty.exit_code == 0 and empty.stderr == "nothing to ask: no assets\n"
    assert db.count("SELECT count(*) FROM runs") == 0


def test_a_resumed_run_uploads_only_what_its_unanswered_requests_need(assets, run, emulated, db):
    """Six of twelve requests answered, then every upload gone: the run over all twelve
    uploads and sends the six still due, not the twelve; an asset named twice is asked once."""
    emulator = emulated()
    args = ("--prompt", "What is it?", "--per-request", "1")
    assert run("run", *assets[:6], *args).exit_code == 0
    db.execute("UPDATE uploads SET state = 'expired'")
    plan = json.loads(run("run", "--tag", "shots", *args, "--dry-run", "--json").stdout)
    assert (plan["answered"], plan["to_send"], plan["files_to_upload"]) == (6, 6, 6)
    result = run("run", "--tag", "shots", *args)
    assert result.exit_code == 0, result.stderr
    assert emulator.request_counts()["POST /v1/files"] == 6 + 6 and sent(emulator) == 6 + 6
    twice = json.loads(run("run", assets[0], assets[0], *args, "--dry-run", "--json").stdout)
    assert (twice["requests"], twice["images"]) == (1, 1)
