"""The upload journal's leases on their own, on a real catalogue (SQLite and PostgreSQL): one
claim per rendition and remote, stale leases told apart from live ones (a dead process on this
host, a lease run out by the API's clock; another host's lease by its expiry alone), renewal,
take-overs that only one process wins, and the lifetime a replacement asks for."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

from assetmgr import Catalogue
from assetmgr.journal import LEASE, Journal
from assetmgr.models import Upload
from assetmgr.remote import RemoteSpec
from tests.conftest import write_image

REMOTE = RemoteSpec("http://127.0.0.1:9", "default")
pytestmark = pytest.mark.backends()


@pytest.fixture
def catalogue(tmp_path, db):
    from assetmgr import Library

    for i in range(3):
        write_image(tmp_path / f"{i}.png", seed=i)
    with Library.open(db.url) as lib:
        lib.add([tmp_path])
    catalogue = Catalogue.open(db.url)
    yield catalogue
    catalogue.close()


def rendition_ids(catalogue) -> list[int]:
    from sqlalchemy import text

    with catalogue.reading() as conn:
        return [r for (r,) in conn.execute(text("SELECT id FROM renditions ORDER BY id"))]


def claim(journal: Journal, ids: list[int], lifetime: int | None = None):
    return journal.claim(
        ids, dict.fromkeys(ids, "f.png"), dict.fromkeys(ids, 10), dict.fromkeys(ids, lifetime)
    )


def set_owner(catalogue, upload_id: int, owner: str) -> None:
    with catalogue.writing() as conn:
        conn.execute(update(Upload).where(Upload.id == upload_id).values(lease_owner=owner))


def test_one_claim_per_rendition_and_remote(catalogue):
    ids = rendition_ids(catalogue)
    first, second = Journal(catalogue, REMOTE), Journal(catalogue, REMOTE)
    won = claim(first, ids[:2])
    assert [c.rendition_id for c in won] == ids[:2]
    assert [c.rendition_id for c in claim(second, ids)] == ids[2:]  # the rest only
    assert first.missing(ids) == [] and first.stale(second.leased_by_others()) == []


def test_a_dead_process_on_this_host_leaves_a_stale_lease(catalogue):
    ids = rendition_ids(catalogue)
    [row] = claim(Journal(catalogue, REMOTE), ids[:1])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    set_owner(catalogue, row.upload_id, f"{socket.gethostname()}:{gone}:deadbeef")
    reader = Journal(catalogue, REMOTE)
    assert [r.upload_id for r in reader.stale(reader.leased_by_others())] == [row.upload_id]
    set_owner(catalogue, row.upload_id, f"{socket.gethostname()}:{os.getpid()}:alive")
    assert reader.stale(reader.leased_by_others()) == []  # a live process keeps its lease


def test_another_hosts_lease_is_judged_by_the_apis_clock(catalogue):
    ids = rendition_ids(catalogue)
    writer = Journal(catalogue, REMOTE)  # its lease: 15 minutes from now, by the API's clock
    [row] = claim(writer, ids[:1])
    set_owner(catalogue, row.upload_id, "elsewhere:123:abcd")
    reader = Journal(catalogue, REMOTE)
    assert reader.stale(reader.leased_by_others()) == []
    reader.clock.offset = (LEASE + timedelta(minutes=1)).total_seconds()  # the API is later
    assert [r.upload_id for r in reader.stale(reader.leased_by_others())] == [row.upload_id]
    reader.clock.offset = -7200.0  # this machine runs two hours fast: still not stale
    assert reader.stale(reader.leased_by_others()) == []


def test_only_one_process_takes_a_stale_lease_over(catalogue):
    ids = rendition_ids(catalogue)
    [row] = claim(Journal(catalogue, REMOTE), ids[:1])
    set_owner(catalogue, row.upload_id, f"{socket.gethostname()}:999999999:gone")
    a, b = Journal(catalogue, REMOTE), Journal(catalogue, REMOTE)
    stale_a, stale_b = a.stale(a.leased_by_others()), b.stale(b.leased_by_others())
    assert len(a.take_over(stale_a)) == 1 and b.take_over(stale_b) == []


def test_a_released_lease_is_stale_at_once_and_a_swept_one_is_gone(catalogue):
    ids = rendition_ids(catalogue)
    owner = Journal(catalogue, REMOTE)
    [row] = claim(owner, ids[:1])
    other = Journal(catalogue, REMOTE)
    assert other.stale(other.leased_by_others()) == []
    owner.release([row.upload_id])
    assert [r.upload_id for r in other.stale(other.leased_by_others())] == [row.upload_id]
    owner.activate(row.upload_id, "file_1", owner.clock.now(), None, copies_possible=True)
    assert [r.upload_id for r in other.leased_by_others("active")] == [row.upload_id]
    owner.swept([row.upload_id])
    assert other.leased_by_others("active") == []


def test_a_replacement_asks_for_the_lifetime_it_replaces(catalogue):
    ids = rendition_ids(catalogue)
    journal = Journal(catalogue, REMOTE)
    [first, second] = claim(journal, ids[:2], lifetime=7200)
    journal.fail(second.upload_id, "refused")
    [again] = claim(journal, ids[1:2])  # asked for no lifetime this time
    assert journal.lifetimes(ids[:2]) == {ids[0]: 7200}
    assert again.rendition_id == ids[1]


# -- across hosts -------------------------------------------------------------------------


def gone_pid() -> str:
    """The pid of a process that has exited: no process here has it (for now)."""
    return subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def test_another_hosts_lease_is_kept_until_it_expires_though_its_pid_is_gone_here(catalogue):
    ids = rendition_ids(catalogue)
    writer = Journal(catalogue, REMOTE)
    [row] = claim(writer, ids[:1])
    set_owner(catalogue, row.upload_id, f"machine-a:{gone_pid()}:abcd1234")
    reader = Journal(catalogue, REMOTE)
    assert reader.stale(reader.leased_by_others()) == []  # no such pid here: means nothing
    assert reader.take_over(reader.stale(reader.leased_by_others())) == []
    reader.clock.offset = (LEASE + timedelta(seconds=1)).total_seconds()  # the lease ran out
    stale = reader.stale(reader.leased_by_others())
    assert [r.upload_id for r in reader.take_over(stale)] == [row.upload_id]
    assert reader.leased_by_others() == []  # the reader holds it now


def test_assetmgr_host_names_this_machine(catalogue, monkeypatch):
    from assetmgr.owners import new_owner

    monkeypatch.setenv("ASSETMGR_HOST", "machine-b")
    assert new_owner().startswith("machine-b:")
    ids = rendition_ids(catalogue)
    [mine, theirs] = claim(Journal(catalogue, REMOTE), ids[:2])
    pid = gone_pid()
    set_owner(catalogue, mine.upload_id, f"machine-b:{pid}:abcd1234")  # this machine: dead
    set_owner(catalogue, theirs.upload_id, f"machine-a:{pid}:abcd1234")  # another: expiry
    reader = Journal(catalogue, REMOTE)
    assert [r.upload_id for r in reader.stale(reader.leased_by_others())] == [mine.upload_id]


def test_renewing_keeps_a_lease_that_would_have_run_out(catalogue):
    ids = rendition_ids(catalogue)
    holder = Journal(catalogue, REMOTE)
    claim(holder, ids[:2])
    other = Journal(catalogue, REMOTE)
    later = (LEASE + timedelta(minutes=1)).total_seconds()  # both see the API's clock so
    holder.clock.offset = other.clock.offset = later
    assert len(other.stale(other.leased_by_others())) == 2
    assert holder.renew() == 2
    assert other.stale(other.leased_by_others()) == []


def test_a_bad_host_name_is_a_usage_error(tmp_path):
    from tests.conftest import assetmgr, error_line

    result = assetmgr("ls", db=tmp_path / "c.db", env={"ASSETMGR_HOST": "two:parts"})
    assert "ASSETMGR_HOST='two:parts'" in error_line(result, 2)
