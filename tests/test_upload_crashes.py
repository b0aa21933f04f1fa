"""Crash safety of uploading, with real processes: ``kill -9`` at random moments, then a
re-run, must leave exactly one remote file per rendition and no pending rows; several
processes adding the same folder at once must upload each rendition once.

They run on a SQLite and a PostgreSQL catalogue. Every ``assetmgr`` here is a subprocess (``python -m assetmgr``) talking over loopback to an
emulator served by a thread of the test process. A killed process is killed with SIGKILL
together with its ingest workers (it runs in its own process group), like ``kill -9`` of a
shell job: nothing in it gets to clean up.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.backends import CatalogueDb
from tests.conftest import write_image

NAME = re.compile(r"\.sha256-([0-9a-f]{64})\.")
LATENCY_MS = 250  # per request: uploads of small files take long enough to be killed mid-flight
KILLS = 5
pytestmark = pytest.mark.backends()


# -- helpers -------------------------------------------------------------------------------


def make_images(folder: Path, n: int, large_every: int = 0) -> Path:
    """``n`` distinct PNGs, each its own rendition under the vision policy. With
    ``large_every=k``, every k-th is 2000x1500, which the vision policy downscales and
    re-encodes: that makes ingest take long enough (about 1 s for 30 files) to be killed in."""
    for i in range(n):
        size = (2000, 1500) if large_every and i % large_every == 0 else (320, 240)
        write_image(folder / f"img{i:03}.png", seed=1000 + i, size=size)
    return folder


def cli_env(emulator, home: Path) -> dict[str, str]:
    """The environment of a CLI subprocess that uploads to ``emulator``."""
    env = os.environ.copy()
    env.pop("ASSETMGR_NO_UPLOAD", None)
    env.update(
        ANTHROPIC_BASE_URL=emulator.base_url,
        ANTHROPIC_API_KEY="test-key",
        ASSETMGR_HOME=str(home),
        ASSETMGR_MAX_RETRIES="6",
    )
    return env


class Proc:
    """One ``assetmgr`` subprocess; stderr goes to a file (a pipe nobody reads could fill up)."""

    count = 0

    def __init__(self, db: CatalogueDb, env: dict[str, str], logs: Path, *args):
        Proc.count += 1
        logs.mkdir(parents=True, exist_ok=True)
        self.err_path = logs / f"run{Proc.count:03}.stderr"
        self.out_path = logs / f"run{Proc.count:03}.stdout"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "assetmgr", "--db", str(db), *map(str, args)],
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the process and its ingest workers (same process group), then reap it."""
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(timeout=30)

    def wait(self, timeout: float = 90) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")


def rows(db: CatalogueDb, sql: str) -> list[tuple]:
    return db.rows(sql)


def vision_renditions(db: CatalogueDb) -> set[str]:
    return {
        sha
        for (sha,) in rows(
            db,
            "SELECT DISTINCT r.sha256 FROM renditions r JOIN asset_renditions ar "
            "ON ar.rendition_id = r.id WHERE ar.policy = 'vision'",
        )
    }


def count(db: CatalogueDb, sql: str) -> int:
    """``SELECT count(*) ...``; 0 while there is no catalogue yet (killed before it was made)."""
    return db.count(sql)


def pending_count(db: CatalogueDb) -> int:
    return count(db, "SELECT count(*) FROM uploads WHERE state = 'pending'")


def upload_requests(emulator) -> int:
    return sum(1 for r in emulator.requests if r["method"] == "POST" and r["path"] == "/v1/files")


def assert_one_remote_file_per_rendition(emulator, db: CatalogueDb, history: str = "") -> None:
    """The workspace holds exactly one file per catalogued rendition and nothing else; no
    pending rows; every rendition has an active row naming the one file that holds it."""
    wanted = vision_renditions(db)
    files = emulator.files("default")
    strangers = [f["filename"] for f in files if not NAME.search(f["filename"])]
    assert not strangers, f"files not named after a rendition: {strangers}{history}"
    copies = Counter(NAME.search(f["filename"]).group(1) for f in files)
    extra = {sha[:12]: n for sha, n in copies.items() if n != 1 or sha not in wanted}
    missing = sorted(sha[:12] for sha in wanted - set(copies))
    assert not extra and not missing, (
        f"{len(wanted)} renditions, {len(files)} remote files; copies != 1: {extra}; "
        f"without a file: {missing}{history}"
    )
    pending = rows(db, "SELECT rendition_id, lease_owner FROM uploads WHERE state = 'pending'")
    assert not pending, f"pending rows left: {pending}{history}"
    remote = {NAME.search(f["filename"]).group(1): f["id"] for f in files}
    active = dict(
        rows(
            db,
            "SELECT r.sha256, u.file_id FROM uploads u JOIN renditions r ON r.id = u.rendition_id "
            "WHERE u.state = 'active'",
        )
    )
    assert set(active.values()) <= set(remote.values()), (
        f"active uploads name files the remote lacks{history}"
    )
    assert active == remote, f"the catalogue's active file ids differ from the remote's{history}"


def kill_after(proc: Proc, delay: float) -> bool:
    """Let ``proc`` run ``delay`` seconds, then SIGKILL it; False if it had finished by then."""
    try:
        proc.popen.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        return True


def claimed_by(db: CatalogueDb, proc: Proc) -> int:
    """Pending rows whose lease ``proc`` holds (owners are ``host:pid:random``)."""
    return count(
        db,
        f"SELECT count(*) FROM uploads WHERE state = 'pending' "
        f"AND lease_owner LIKE '%:{proc.popen.pid}:%'",
    )


def wait_for_claims(db: CatalogueDb, proc: Proc, timeout: float = 30) -> bool:
    """Wait until ``proc`` has claimed uploads (committed pending rows): its upload phase began."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.popen.poll() is None:
        if claimed_by(db, proc):
            return True
        time.sleep(0.005)
    return False


def settle(latency_ms: float) -> None:
    """Let the emulator finish requests whose client was killed.

    A server finishes a request after its client died: an upload sent just before the kill is
    stored up to ``latency_ms`` later. The next run resolves the dead process's pending rows by
    listing the workspace; a copy that arrives after that listing is a late copy. assetmgr sweeps
    such copies after uploading, but only those that have arrived by the sweep, so a copy landing
    later still would stay. That window is the server's own latency, not something a client can
    close; waiting it out before the final run keeps this test about assetmgr.
    """
    time.sleep(latency_ms / 1000 + 0.5)


def final_run(db, env, logs, *args) -> Proc:
    """Run to completion; exit 0 and no traceback, or the test fails here with the log."""
    proc = Proc(db, env, logs, *args)
    code = proc.wait()
    if code != 0 or "Traceback" in proc.stderr:
        pytest.fail(f"assetmgr {' '.join(map(str, args))} exited {code}:\n{proc.stderr}")
    return proc


# -- kill -9 at random moments -----------------------------------------------------------


def spread(rng: random.Random, low: float, high: float, n: int) -> list[float]:
    """``n`` random moments, one in each of ``n`` equal slices of ``low..high``, in order: the
    first run, the only one that ingests every file, is killed early; later ones later."""
    step = (high - low) / n
    return [rng.uniform(low + i * step, low + (i + 1) * step) for i in range(n)]


def kill_repeatedly(emulator, db, env, logs, folder, delays, command=("add",)) -> list[str]:
    """Start ``assetmgr COMMAND FOLDER`` and SIGKILL it after each delay; a line per run."""
    history = []
    for delay in delays:
        before = upload_requests(emulator)
        proc = Proc(db, env, logs, *command, folder)
        killed = kill_after(proc, delay)
        history.append(
            f"kill after {delay:.2f}s: {'killed' if killed else f'exited {proc.popen.returncode}'}, "
            f"{upload_requests(emulator) - before} uploads served, "
            f"{count(db, 'SELECT count(*) FROM assets')} assets, {pending_count(db)} pending rows"
        )
    return history


@pytest.mark.slow
def test_kill_9_of_add_at_random_moments_then_a_rerun_uploads_each_rendition_once(
    tmp_path, anthropic_emulator_factory, isolated_home, db
):
    emulator = anthropic_emulator_factory(latency_ms=LATENCY_MS)
    folder = make_images(tmp_path / "in", 30, large_every=3)
    env, logs = cli_env(emulator, isolated_home), tmp_path / "logs"
    rng = random.Random(20240611)
    # From early in ingest (0.4 s to about 1.3 s; it commits at the end, so a run killed in it
    # leaves the next one to ingest again) through loading the SDK and claiming to the end of
    # the uploads (about 2 s to 3 s after the start of a run).
    delays = spread(rng, 0.2, 3.0, KILLS)
    history = kill_repeatedly(emulator, db, env, logs, folder, delays)
    settle(LATENCY_MS)
    final_run(db, env, logs, "add", folder)

    report = "\n" + "\n".join(history)
    assert len(vision_renditions(db)) == 30, report
    assert_one_remote_file_per_rendition(emulator, db, report)


@pytest.mark.slow
def test_kill_9_of_push_during_uploads_then_a_rerun_uploads_each_rendition_once(
    tmp_path, anthropic_emulator_factory, isolated_home, db
):
    emulator = anthropic_emulator_factory(latency_ms=LATENCY_MS)
    folder = make_images(tmp_path / "in", 30)
    env, logs = cli_env(emulator, isolated_home), tmp_path / "logs"
    final_run(db, env, logs, "add", "--no-upload", folder)
    assert upload_requests(emulator) == 0

    rng, history, interrupted = random.Random(7), [], 0
    for _ in range(KILLS):
        before = upload_requests(emulator)
        proc = Proc(db, env, logs, "push")
        started = wait_for_claims(db, proc)
        # Claimed rows are committed before any request; from then on the run is uploading.
        # 30 files, 8 at a time, 250 ms each: about 1 s of uploads.
        delay = rng.uniform(0.0, 0.9)
        killed = kill_after(proc, delay)
        left = claimed_by(db, proc)
        interrupted += killed and left > 0
        history.append(
            f"push: claims seen {started}, killed {delay:.2f}s later: {killed}, "
            f"{upload_requests(emulator) - before} uploads served, {left} of its claims left pending"
        )
        if not killed:
            break  # everything is uploaded: later pushes would have nothing left to interrupt
    report = "\n" + "\n".join(history)
    assert interrupted, f"no kill landed while uploads were in flight{report}"
    settle(LATENCY_MS)
    final_run(db, env, logs, "push")
    assert_one_remote_file_per_rendition(emulator, db, report)


# -- concurrent processes ----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("latency_ms", [0, 100], ids=["no-latency", "latency-100ms"])
def test_four_processes_adding_the_same_folder_upload_each_rendition_once(
    tmp_path, anthropic_emulator_factory, isolated_home, db, latency_ms
):
    emulator = anthropic_emulator_factory(latency_ms=latency_ms)
    folder = make_images(tmp_path / "in", 40)
    env, logs = cli_env(emulator, isolated_home), tmp_path / "logs"
    procs = [Proc(db, env, logs, "add", folder) for _ in range(4)]
    codes = [p.wait(timeout=120) for p in procs]
    errors = "\n---\n".join(p.stderr for p in procs)
    assert codes == [0, 0, 0, 0], errors
    assert "Traceback" not in errors, errors

    assert rows(db, "SELECT count(*) FROM assets") == [(40,)]
    assert len(vision_renditions(db)) == 40
    assert_one_remote_file_per_rendition(emulator, db, "\n" + errors)
    # The claim lets one process win each rendition: no upload was sent twice.
    assert upload_requests(emulator) == 40, errors


# -- kill -9 with lost responses ------------------------------------------------------------

# An upload whose first response was lost is stored twice (the SDK retries); its row becomes
# active from the retry's answer but keeps its lease until the extra copy is deleted, so a
# process killed in between leaves a row the next run recognises and sweeps.


@pytest.mark.slow
def test_kill_9_with_lost_responses_then_a_rerun_uploads_each_rendition_once(
    tmp_path, anthropic_emulator_factory, isolated_home, db
):
    # A dropped upload is stored but its answer is lost: the SDK retries and the workspace gets
    # a second copy, which assetmgr deletes when it reconciles, unless it is killed first.
    emulator = anthropic_emulator_factory(latency_ms=LATENCY_MS, drop_rate=0.3, seed=3)
    folder = make_images(tmp_path / "in", 30)
    env, logs = cli_env(emulator, isolated_home), tmp_path / "logs"
    rng = random.Random(99)
    delays = spread(rng, 0.2, 3.5, KILLS)  # retries after lost answers make runs longer
    history = kill_repeatedly(emulator, db, env, logs, folder, delays)
    settle(LATENCY_MS)
    final_run(db, env, logs, "add", folder)

    report = "\n" + "\n".join(history)
    dropped = sum(1 for r in emulator.requests if r["status"] == "dropped")
    assert dropped, f"no response was lost{report}"
    assert len(vision_renditions(db)) == 30, report
    assert_one_remote_file_per_rendition(emulator, db, report)


def test_kill_9_after_a_retried_upload_is_recorded_leaves_no_second_copy(
    tmp_path, anthropic_emulator_factory, isolated_home, db
):
    """Deterministic: the first upload's response is lost, the SDK's retry stores a second
    copy and its answer makes the row active; the process is killed before it reconciles."""
    emulator = anthropic_emulator_factory(latency_ms=100)
    folder = make_images(tmp_path / "in", 12)
    env, logs = cli_env(emulator, isolated_home), tmp_path / "logs"
    final_run(db, env, logs, "add", "--no-upload", folder)
    emulator.set_faults(drop_next=1)
    proc = Proc(db, env, logs, "push", "--jobs", "1")
    deadline = time.monotonic() + 30
    while count(db, "SELECT count(*) FROM uploads WHERE state = 'active'") == 0:
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no upload became active:\n{proc.stderr}")
        time.sleep(0.005)
    proc.kill()  # 11 uploads still to go: the run never reached reconcile
    served = [  # the uploads (a listing of the workspace for copies to adopt came first)
        (r["status"], r["retry_count"])
        for r in emulator.requests
        if r["path"] == "/v1/files" and r["method"] == "POST"
    ]
    if served[:2] != [
        ("dropped", "0"),
        (200, "1"),
    ]:  # one copy lost its answer, the retry stored another
        pytest.fail(f"unexpected requests: {served}")
    if count(db, "SELECT count(*) FROM uploads WHERE state = 'active'") != 1:
        pytest.fail("the kill came after a second upload was recorded")

    settle(100)
    final_run(db, env, logs, "push")
    final_run(db, env, logs, "push")  # a second re-run does not clean it up either
    assert_one_remote_file_per_rendition(emulator, db)
