"""An interrupted ``add`` keeps what finished, and its workers never outlive it.

Ctrl-C (SIGINT to the process group, as a terminal sends it) and ``kill -9`` of the parent
alone, at a moment when the catalogue already holds some of the run's work; then a re-run
completes it, sweeping what the dead run left in the rendition store. On a SQLite and a
PostgreSQL catalogue.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from assetmgr.errors import ExitCode
from assetmgr.store import STAGING
from tests.backends import CatalogueDb

FILES = 60
pytestmark = pytest.mark.backends()


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    """PNGs of noise that the vision policy downscales: a few seconds of work on 2 cores."""
    folder = tmp_path_factory.mktemp("noisy")
    rng = random.Random(8)
    for i in range(FILES):
        noise = Image.frombytes("RGB", (1400, 1000), rng.randbytes(1400 * 1000 * 3))
        noise.save(folder / f"img{i:03}.png", compress_level=1)
    return folder


def start_add(db: CatalogueDb, home: Path, folder: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "ASSETMGR_HOME": str(home), "ASSETMGR_NO_UPLOAD": "1",
           "ASSETMGR_STORE": str(home / "renditions")}  # fmt: skip
    with open(out, "wb") as stdout:
        return subprocess.Popen(
            [sys.executable, "-m", "assetmgr", "--db", str(db), "add", str(folder), "--json"],
            env=env,
            stdout=stdout,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )


def catalogued(db: CatalogueDb) -> set[str]:
    if not db.count("SELECT count(*) FROM assets"):  # none yet, or no catalogue yet
        return set()
    return {sha for (sha,) in db.rows("SELECT sha256 FROM assets")}


def wait_until_some_are_recorded(db: CatalogueDb, proc: subprocess.Popen, out: Path) -> None:
    """Until the catalogue holds some of the run's work and a line of it was printed (each
    line is flushed as it is printed)."""
    deadline = time.monotonic() + 60
    while not (catalogued(db) and out.stat().st_size):
        assert proc.poll() is None, "add ended before anything was recorded"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def store_files(home: Path) -> dict[str, Path]:
    root = home / "renditions"
    return {p.name: p for p in root.glob("??/*")} if root.is_dir() else {}


def vision_renditions(db: CatalogueDb) -> dict[str, str]:
    """asset sha256 -> its vision rendition's sha256."""
    return dict(
        db.rows(
            "SELECT a.sha256, r.sha256 FROM assets a JOIN asset_renditions ar "
            "ON ar.asset_id = a.id JOIN renditions r ON r.id = ar.rendition_id"
        )
    )


def test_ctrl_c_keeps_what_finished(noisy, tmp_path, db):
    home, out = tmp_path / "home", tmp_path / "out.jsonl"
    proc = start_add(db, home, noisy, out)
    wait_until_some_are_recorded(db, proc, out)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, stderr
    assert b"Traceback" not in stderr and stderr.decode().splitlines()[-1] == "Interrupted."
    printed = {json.loads(line)["sha256"] for line in out.read_text().splitlines()}
    kept = catalogued(db)
    assert printed and printed <= kept and len(kept) < FILES  # every line printed is recorded
    renditions = vision_renditions(db)
    assert set(renditions.values()) <= set(store_files(home))  # and its rendition is stored
    assert not list((home / "renditions" / STAGING).iterdir())  # nothing left half-done
    rerun(db, home, noisy, kept)


def test_kill_9_keeps_what_was_recorded_and_its_workers_die_with_it(noisy, tmp_path, db):
    home, out = tmp_path / "home", tmp_path / "out.jsonl"
    proc = start_add(db, home, noisy, out)
    wait_until_some_are_recorded(db, proc, out)
    workers = children(proc.pid)
    assert workers, "no worker processes seen"
    os.kill(proc.pid, signal.SIGKILL)  # the parent alone, not its process group
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if alive(w)], "workers outlived their parent"
    kept = catalogued(db)
    assert kept and len(kept) < FILES
    dead_staging = home / "renditions" / STAGING
    leftovers = [f for d in dead_staging.iterdir() for f in d.iterdir()]
    rerun(db, home, noisy, kept)
    assert not any(quote(f":{proc.pid}:", safe="") in d.name for d in dead_staging.iterdir())
    if leftovers:  # staged renditions of the dead run were swept: reused, or deleted
        assert not any(f.exists() for f in leftovers)


def rerun(db: CatalogueDb, home: Path, folder: Path, kept: set[str]) -> None:
    """A second run completes the work: what the first kept is unchanged, the rest new, and
    the store holds exactly the renditions the catalogue knows."""
    env = {**os.environ, "ASSETMGR_HOME": str(home), "ASSETMGR_NO_UPLOAD": "1",
           "ASSETMGR_STORE": str(home / "renditions")}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "assetmgr", "--db", str(db), "add", str(folder), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == FILES
    outcomes = {r["sha256"]: r["outcome"] for r in records}
    assert {outcomes[sha] for sha in kept} == {"unchanged"}
    assert sum(o == "new" for o in outcomes.values()) == FILES - len(kept)
    assert set(store_files(home)) == set(vision_renditions(db).values())
