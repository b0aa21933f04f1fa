"""The :class:`Emulator`: settings, state and the server's lifecycle, for code and tests.

Start it in a daemon thread (``start``/``stop``, or ``with Emulator() as emu:``), or in the
foreground (``serve_forever``). Tests inspect and steer it in Python (``files``, ``advance``,
``set_faults``, ``requests``) or over HTTP through the admin surface (:mod:`.admin`).
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from .batches import MAX_BATCH_BYTES, Batches, Timing
from .caching import PromptCache
from .faults import Faults
from .store import DEFAULT_WORKSPACE, Clock, Store, rfc3339, workspace_id

MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_MESSAGE_BYTES = 32 * 1024 * 1024
_FILE_PATH = re.compile(r"^/v1/files/[^/]+")
_BATCH_PATH = re.compile(r"^/v1/messages/batches/[^/]+")
# How often the serving loop checks for stop(): short, because every test stops an emulator.
POLL_SECONDS = 0.02


class Emulator:
    """A local Files API and Messages (images) API; ``base_url`` is where it listens."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        workspaces: dict[str, str] | None = None,
        latency_ms: float = 0,
        error_rate: float = 0.0,
        drop_rate: float = 0.0,
        quota_bytes: int | None = None,
        state: str | Path | None = None,
        seed: int | None = None,
        clock: Clock | Callable[[], datetime] | None = None,
        error_statuses=(429, 500, 529),
        retry_after_ms: float = 1000,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        batch_delay_seconds: float = 5.0,
        batch_item_seconds: float = 0.0,
        batch_cancel_seconds: float = 5.0,
        verbose: bool = False,
    ):
        self.host, self.port = host, port
        self.workspaces = dict(workspaces or {})
        self.clock = clock if isinstance(clock, Clock) else Clock(clock)
        self.store = Store(self.clock, quota_bytes)
        self.faults = Faults(
            latency_ms=latency_ms,
            error_rate=error_rate,
            drop_rate=drop_rate,
            error_statuses=error_statuses,
            retry_after_ms=retry_after_ms,
            seed=seed,
        )
        self.state_path = Path(state) if state else None
        self.max_file_bytes, self.max_message_bytes = max_file_bytes, max_message_bytes
        self.max_batch_bytes = max_batch_bytes
        self.prompt_cache = PromptCache()
        self.batch_timing = Timing()
        self.batch_timing.update(
            delay_seconds=batch_delay_seconds,
            item_seconds=batch_item_seconds,
            cancel_seconds=batch_cancel_seconds,
        )
        self.batches = Batches(self.store, self.prompt_cache, self.faults, self.batch_timing)
        self.verbose = verbose
        self._requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = None
        self._thread: threading.Thread | None = None
        if self.state_path:
            sections = self.store.load(self.state_path) or {}
            self.batches.load_json(sections.get("batches"))
            self.prompt_cache.load_json(sections.get("prompt_cache"))

    # -- lifecycle ----------------------------------------------------------------------

    def bind(self) -> None:
        """Open the listening socket (port 0 picks a free port); start and serve call it."""
        if self._server is None:
            from .server import EmulatorServer  # keeps `import assetmgr.emulator` light

            self._server = EmulatorServer((self.host, self.port), self)
            self.port = self._server.server_address[1]

    def start(self) -> Emulator:
        """Serve in a daemon thread; returns at once."""
        self.bind()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name="assetmgr-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until KeyboardInterrupt or ``stop`` from another thread."""
        self.bind()
        try:
            self._server.serve_forever(poll_interval=POLL_SECONDS)
        except KeyboardInterrupt:
            pass
        finally:
            self._close()

    def stop(self) -> None:
        """Stop serving, close every connection, and save the state file if there is one."""
        if self._server is None:
            return
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        if self._server is None:
            return
        self._server.server_close()
        self._server.close_connections()
        self._server = None
        if self.state_path:
            self.save()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- time, faults, state ---------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def advance(self, seconds: float) -> datetime:
        """Move the emulator's clock forward (files expire by it)."""
        return self.clock.advance(seconds)

    def set_time(self, moment: datetime) -> datetime:
        return self.clock.set(moment)

    def set_faults(self, **settings) -> dict:
        """Change latency_ms, error_rate, drop_rate, error_statuses, retry_after_ms or
        quota_bytes (None: no quota) live."""
        quota = settings.pop("quota_bytes", self.store.quota_bytes)
        if quota is not None and (
            not isinstance(quota, int) or isinstance(quota, bool) or quota < 0
        ):
            raise ValueError("quota_bytes must be a whole number of bytes, or null for none")
        updated = self.faults.update(**settings)
        self.store.quota_bytes = quota
        return {**updated, "quota_bytes": quota}

    def save(self) -> None:
        if self.state_path:
            sections = {
                "batches": self.batches.to_json(),
                "prompt_cache": self.prompt_cache.to_json(),
            }
            self.store.save(self.state_path, sections)

    def set_batch_timing(self, **settings) -> dict:
        """Change ``delay_seconds``, ``item_seconds`` or ``cancel_seconds`` for batches created
        from now on (see :mod:`.batches`)."""
        return self.batch_timing.update(**settings)

    def finish_batches(self, batch_id: str | None = None) -> list[str]:
        """End one open batch, or every one, now; returns the ids of the batches ended."""
        return self.batches.finish(batch_id)

    def batch_list(self, workspace: str | None = None) -> list[dict]:
        """Every batch (of one workspace, by name or id, if given), oldest first, as
        MessageBatch dicts plus ``workspace``, ``deleted`` and the ``custom_ids``."""
        self.batches.settle()
        aliases = (
            {workspace, workspace_id(workspace), self.workspace_named(workspace)}
            if workspace
            else set()
        )
        return [
            {
                **b.body(self.now(), self.base_url),
                "workspace": b.workspace,
                "deleted": b.deleted,
                "custom_ids": [i.custom_id for i in b.items],
            }
            for b in self.batches.all()
            if workspace is None or b.workspace in aliases
        ]

    def reset(self) -> None:
        """Forget every file, batch, cache entry and the request log (settings and clock
        stay)."""
        self.store.clear()
        self.batches.clear()
        self.prompt_cache.clear()
        with self._lock:
            self._requests.clear()

    # -- inspection ---------------------------------------------------------------------------

    def workspace_id(self, name: str = DEFAULT_WORKSPACE) -> str:
        return workspace_id(name)

    def workspace_id_of(self, workspace: str) -> str:
        """The ``wrkspc_`` id a workspace answers to (``anthropic-workspace-id``): derived from
        its name, or the id itself for a workspace first named by an unknown id."""
        return workspace if workspace.startswith("wrkspc_") else workspace_id(workspace)

    def workspace_named(self, requested: str) -> str:
        """The workspace an ``anthropic-workspace-id`` value selects: by id, else by name."""
        names = {DEFAULT_WORKSPACE, *self.workspaces.values(), *self.store.workspaces()}
        by_id = {workspace_id(name): name for name in names}
        return by_id.get(requested, requested)

    def files(
        self, workspace: str = DEFAULT_WORKSPACE, *, include_deleted: bool = False
    ) -> list[dict]:
        """The workspace's files, newest first, as FileMetadata dicts (plus ``deleted``).

        ``workspace`` is a name or a ``wrkspc_`` id; a workspace first named by an unknown
        ``anthropic-workspace-id`` is stored under that id, and its name's id finds it too.
        """
        aliases = {workspace, workspace_id(workspace), self.workspace_named(workspace)}
        records = [
            r
            for r in self.store.all_records()
            if r.workspace in aliases and (include_deleted or not r.deleted)
        ]
        return [{**r.metadata(), "deleted": r.deleted} for r in reversed(records)]

    def file_bytes(self, file_id: str) -> bytes:
        return next(r.data for r in self.store.all_records() if r.id == file_id)

    def record_request(self, method: str, path: str, status, headers, query=()) -> None:
        entry = {
            "method": method,
            "path": path,
            "query": list(query),
            "status": status,
            "retry_count": headers.get("x-stainless-retry-count"),
        }
        with self._lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[dict]:
        """Every request served: method, path, the names of its query parameters, status (or
        "dropped") and the SDK retry count."""
        with self._lock:
            return list(self._requests)

    def request_counts(self) -> dict[str, int]:
        """How many API requests of each kind were served, by ``METHOD PATH`` and the names of
        the query parameters, sorted: ``GET /v1/files?ids[]`` (a look-up by ids), ``GET
        /v1/files?limit`` and ``GET /v1/files?limit&page`` (listing pages), ``POST /v1/files``.
        File ids in paths count as ``{id}``: ``DELETE /v1/files/{id}``."""
        counts: dict[str, int] = {}
        for r in self.requests:
            path = _FILE_PATH.sub("/v1/files/{id}", r["path"])
            path = _BATCH_PATH.sub("/v1/messages/batches/{id}", path)
            key = f"{r['method']} {path}" + ("?" + "&".join(r["query"]) if r["query"] else "")
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def snapshot(self) -> dict:
        """What ``GET /_emulator/state`` returns."""
        names = sorted({DEFAULT_WORKSPACE, *self.workspaces.values(), *self.store.workspaces()})
        return {
            "now": rfc3339(self.now()),
            "base_url": self.base_url,
            "workspaces": {
                n: {
                    "id": workspace_id(n),
                    "used_bytes": self.store.used_bytes(n),
                    "files": self.files(n, include_deleted=True),
                }
                for n in names
            },
            "faults": {**self.faults.settings(), "quota_bytes": self.store.quota_bytes},
            "batch_timing": self.batch_timing.settings(),
            "batches": self.batch_list(),
            "requests": len(self.requests),
        }


@contextlib.contextmanager
def running(**kwargs) -> Iterator[Emulator]:
    """Start an Emulator on a free port in a thread; yield it (``.base_url``); stop it after."""
    kwargs.setdefault("port", 0)
    emulator = Emulator(**kwargs)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
