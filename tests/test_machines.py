"""Several machines sharing one catalogue on PostgreSQL (and a rendition store), played by
processes that each have their own ``ASSETMGR_HOME`` and rendition store (``ASSETMGR_STORE``)
and their own host name (``ASSETMGR_HOST``), as if each ran on a machine of its own.

Every ``assetmgr`` is a real subprocess uploading through the SDK, over loopback, to one
workspace of an emulator served by a thread of the test process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest

from assetmgr.store import ABANDONED_AFTER, STAGING, RenditionStore
from tests.conftest import write_image

NAME = re.compile(r"\.sha256-([0-9a-f]{64})\.")
MACHINES = 4
PARTS = 5  # folders of images; machine i adds parts i and i+1: each part by two machines
PER_PART = 12


def make_parts(root: Path) -> list[Path]:
    """``PARTS`` folders of distinct PNGs, plus in each a copy of the first image of the next
    (same bytes under another name: one asset, one rendition, seen at two paths)."""
    parts = [root / f"part{p}" for p in range(PARTS)]
    for p, folder in enumerate(parts):
        for i in range(PER_PART):
            write_image(folder / f"img{i:02}.png", seed=100 * p + i, size=(320, 240))
    for p, folder in enumerate(parts):
        following = parts[(p + 1) % PARTS] / "img00.png"
        (folder / "copy.png").write_bytes(following.read_bytes())
    return parts


def remote_files(emulator) -> list:
    """The workspace's files, through the API's own listing (the SDK, paging 7 at a time)."""
    import anthropic

    client = anthropic.Anthropic(base_url=emulator.base_url, api_key="test-key", max_retries=0)
    return list(client.files.list(limit=7))


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_four_machines_adding_overlapping_folders_upload_each_rendition_once(
    tmp_path, db, anthropic_emulator_factory
):
    emulator = anthropic_emulator_factory(latency_ms=50)
    parts = make_parts(tmp_path / "images")
    procs, logs = [], []
    for m in range(MACHINES):
        home = tmp_path / f"machine{m}"
        env = {**os.environ, "ASSETMGR_HOME": str(home), "ASSETMGR_HOST": f"machine-{m}",
               "ASSETMGR_STORE": str(home / "renditions"),
               "ANTHROPIC_BASE_URL": emulator.base_url, "ANTHROPIC_API_KEY": "test-key",
               "ASSETMGR_MAX_RETRIES": "6"}  # fmt: skip
        env.pop("ASSETMGR_NO_UPLOAD", None)
        home.mkdir()
        logs.append(home / "stderr")
        with open(logs[-1], "wb") as err:
            command = [sys.executable, "-m", "assetmgr", "--db", str(db), "add",
                       parts[m], parts[m + 1], "--jobs", "1"]  # fmt: skip
            procs.append(subprocess.Popen(list(map(str, command)), env=env,
                                          stdout=subprocess.DEVNULL, stderr=err))  # fmt: skip
    codes = [p.wait(timeout=180) for p in procs]
    talk = "\n---\n".join(log.read_text() for log in logs)
    assert codes == [0] * MACHINES and "Traceback" not in talk, talk

    renditions = {sha for (sha,) in db.rows("SELECT sha256 FROM renditions")}
    assert len(renditions) == PARTS * PER_PART  # the copies are the same renditions
    files = remote_files(emulator)
    copies = Counter(NAME.search(f.filename).group(1) for f in files)
    assert copies == dict.fromkeys(renditions, 1), talk
    active = db.rows(
        "SELECT r.sha256, u.file_id FROM uploads u JOIN renditions r ON r.id = u.rendition_id "
        "WHERE u.state = 'active'"
    )
    assert sorted(sha for sha, _ in active) == sorted(renditions)  # one active row each
    assert {file_id for _, file_id in active} == {f.id for f in files}
    assert db.rows("SELECT count(*) FROM uploads WHERE state <> 'active'") == [(0,)]
    assert db.rows("SELECT count(*) FROM uploads WHERE lease_owner IS NOT NULL") == [(0,)]


# -- a rendition store shared between machines ---------------------------------------------


def staged(root: Path, owner: str, name: str = "a" * 64) -> Path:
    folder = root / STAGING / quote(owner, safe="")
    folder.mkdir(parents=True)
    (folder / name).write_bytes(b"staged")
    return folder


def test_the_sweep_leaves_another_machines_staging_folder_until_it_is_old(tmp_path, monkeypatch):
    """A store on a network folder: this machine cannot see another's processes, so their
    staging folders are judged by age; this machine's own by whether the process lives."""
    monkeypatch.setenv("ASSETMGR_HOST", "machine-a")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    root = tmp_path / "store"
    foreign = staged(root, f"machine-b:{gone}:abcd1234")  # its pid means nothing here
    old = staged(root, f"machine-c:{gone}:abcd1234")
    stale = time.time() - ABANDONED_AFTER - 60
    os.utime(old, (stale, stale))
    dead_here = staged(root, f"machine-a:{gone}:abcd1234")  # this machine's, and gone
    alive_here = staged(root, f"machine-a:{os.getpid()}:abcd1234")
    store = RenditionStore(root)
    assert store.sweep(lambda shas: set()) == (0, 2)
    assert foreign.is_dir() and alive_here.is_dir()
    assert not old.exists() and not dead_here.exists()
