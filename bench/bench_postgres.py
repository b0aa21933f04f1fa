"""``add`` into a PostgreSQL catalogue against the same ``add`` into SQLite.

Makes 1,000 distinct small PNGs (10 folders), then times, alternately, the whole process
``python -m assetmgr --db URL add FOLDER --no-upload`` into a new, empty SQLite catalogue and
into a new, empty PostgreSQL database on a server on loopback (TCP on 127.0.0.1), each with
an empty rendition store; both catalogues are made at the newest schema before the timing
(making a catalogue is not ``add``). The same runs in-process (``Library.open`` +
``lib.add``) show what the catalogue itself costs, without start-up.

The server is started here, the way the tests start theirs (``tests/pgserver.py``: initdb
into a temporary folder, as the ``postgres`` user when run as root), unless
``ASSETMGR_TEST_POSTGRES_URL`` names one; it keeps PostgreSQL's default durability (every
commit flushed), where SQLite runs in WAL mode with ``synchronous=NORMAL``. With no server
binaries (or no psycopg), it prints a note and no result.

Goal: the PostgreSQL ``add`` takes at most 1.5x the SQLite one, whole process.

    .venv/bin/python bench/bench_postgres.py [--files 1000] [--repeats 5]
"""

from __future__ import annotations

from functools import partial

import _common
from _common import bench_dirs, median, pair_ratios, timed, verdict

from assetmgr import Library
from tests import pgserver  # the tests' throwaway server (``_common`` puts the checkout first)

RUN_ALL_ARGS = ["--files", "1000", "--repeats", "5"]  # what bench/run_all passes
GOAL = 1.5
SIZE = (48, 32)
FOLDERS = 10


def new_sqlite(tmp: str, name: str) -> str:
    """A new home (empty rendition store) and an empty SQLite catalogue at the newest schema."""
    db = _common.fresh_home(tmp, name)
    Library.open(db).close()
    return db


def new_postgres(tmp: str, name: str, server: pgserver.Server, made: list[str]) -> str:
    """A new home and a new PostgreSQL database at the newest schema; its URL."""
    _common.fresh_home(tmp, name)
    url = server.create_database("assetmgr_bench")
    made.append(url)
    Library.open(url).close()
    return url


def library_add(db: str, folder: str, files: int) -> float:
    def add():
        with Library.open(db) as lib:
            return list(lib.add([folder]))

    seconds, outcomes = timed(add)
    assert len(outcomes) == files and {o.outcome for o in outcomes} == {"new"}
    return seconds


def measure(tmp: str, folder: str, files: int, repeats: int, server) -> float:
    made: list[str] = []
    whole = {"sqlite": [], "postgresql": []}
    inside = {"sqlite": [], "postgresql": []}
    try:
        for r in range(repeats):
            t_sqlite, t_postgres = _common.alternately(
                r,
                lambda r=r: _common.add_new(new_sqlite(tmp, f"sqlite-cli-{r}"), folder, files),
                lambda r=r: _common.add_new(
                    new_postgres(tmp, f"pg-cli-{r}", server, made), folder, files
                ),
            )
            whole["sqlite"].append(t_sqlite), whole["postgresql"].append(t_postgres)
            t_sqlite, t_postgres = _common.alternately(
                r,
                lambda r=r: library_add(new_sqlite(tmp, f"sqlite-lib-{r}"), folder, files),
                lambda r=r: library_add(new_postgres(tmp, f"pg-lib-{r}", server, made), folder, files),
            )  # fmt: skip
            inside["sqlite"].append(t_sqlite), inside["postgresql"].append(t_postgres)
    finally:
        for url in made:
            server.drop_database(url)
    ratio = pair_ratios(whole["postgresql"], whole["sqlite"])
    in_ratio = pair_ratios(inside["postgresql"], inside["sqlite"])
    print(
        f"files: {files} PNGs {SIZE[0]}x{SIZE[1]}, repeats: {repeats}, load average: {_common.load()}"
    )
    print("whole process, python -m assetmgr --db URL add FOLDER --no-upload (medians):")
    print(f"  SQLite:                      {median(whole['sqlite']) * 1000:7.0f} ms")
    print(
        f"  PostgreSQL (127.0.0.1 TCP):  {median(whole['postgresql']) * 1000:7.0f} ms  ({ratio:.2f}x, pairwise)"
    )
    print("in-process, Library.open + list(lib.add(...)) (medians):")
    print(f"  SQLite:                      {median(inside['sqlite']) * 1000:7.0f} ms")
    print(
        f"  PostgreSQL:                  {median(inside['postgresql']) * 1000:7.0f} ms  ({in_ratio:.2f}x, pairwise)"
    )
    print(
        f"{verdict(ratio <= GOAL)}: add into PostgreSQL takes {ratio:.2f}x the same add into "
        f"SQLite, whole process (goal <= {GOAL}x)"
    )  # fmt: skip
    return ratio


def main() -> None:
    args = _common.arguments(__doc__, files=1000, repeats=5)
    try:
        server = pgserver.server(durable=True)
    except pgserver.Unavailable as e:
        print(f"note: no PostgreSQL server, so no result: {e}")
        return
    try:
        with bench_dirs("assetmgr-bench-postgres-") as (tmp, folder, _db):
            _common.small_pngs(folder, args.files, SIZE, folders=FOLDERS)
            _common.add_new(
                new_sqlite(tmp, "warm-up"), folder, args.files
            )  # the page cache, the .pyc
            ratio = measure(tmp, folder, args.files, args.repeats, server)
            _common.result("postgres_add_cli", f"{ratio:.2f}x", f"<={GOAL}x", ratio <= GOAL)
            if args.profile:
                made: list[str] = []
                url = new_postgres(tmp, "profiled", server, made)
                _common.profile_to(args.profile, partial(library_add, url, folder, args.files))
                server.drop_database(url)
                print(f"profile written to {args.profile}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
