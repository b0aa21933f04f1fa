"""``assetmgr serve --stdio``: one long-running process answering lookups, one JSON line each.

Another program (in any language) that needs many lookups starts one server and writes one
request per line on its stdin; each answer is one line on stdout, flushed, in the order of
the requests. This module holds the protocol's one definition (``OPS`` and ``PARAMS``); the
README's "serve --stdio" section shows it in use.

A request is a JSON object::

    {"id": 7, "op": "block", "refs": ["3f7a9c0d12"], "label": true}

``id`` is any JSON value, echoed in the answer (null when absent); ``op`` is one of ``OPS``;
the other keys are that op's parameters, named like the command's options (``refs`` is the
list of references, ``ref`` the one reference of ``show`` and ``whereis``). The answer is
``{"id": 7, "ok": true, "result": ...}``, ``result`` being what the command prints with
``--json`` (``block``: its array; ``request``: a list of its lines; ``resolve``: the sha256s
named; ``whereis``: a list of its objects; ``show``: its object), plus ``"warnings": [...]``
when there are any; or ``{"id": 7, "ok": false, "error": {"type": "NotFound", "exit": 4,
"message": "..."}}``, ``type`` being the error class (``errors``) and ``exit`` the code the
command would have exited with. A line that is not JSON, not an object, or names an unknown
op or bad parameters gets an error too (``UsageError``, exit 2). Blank lines are skipped;
end of input ends the server with exit 0.

Speed: lookups go the way the commands go (``lookup``), through one read-only ``sqlite3``
connection kept open (``lookup.Reader``), with the remote and model specs built once. What
the fast path cannot answer (an upload due, a PostgreSQL catalogue, ``show``, ``whereis``)
goes through one ``Library``, opened on first need and kept. Starting the server imports
neither the anthropic SDK nor Alembic; the library imports them only when it needs them.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from . import lookup
from .blocks import SOURCES, each_content_block, images_per_request, requests
from .config import database_url
from .errors import AssetmgrError, ExitCode, UsageError, local_error
from .modelspec import DEFAULT_MODEL, ModelSpec, ModelWarning
from .remote import RemoteSpec

if TYPE_CHECKING:
    from .library import Library


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


# Every parameter: what it must be, and what it means (the command's option).
PARAMS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "refs": (_texts, "a list of references (strings)"),
    "ref": (_text, "a reference (a string)"),
    "tag": (_text, "a tag name"),
    "model": (_text, "a model id"),
    "policy": (_text, "a rendition policy"),
    "label": (_flag, "true or false"),
    "source": (lambda v: v in SOURCES, f"one of {', '.join(SOURCES)}"),
    "url_template": (_text, "a URL template"),
    "upload": (_flag, "true or false"),
    "workspace": (_text, "a workspace name"),
    "workspace_id": (_text, "a workspace id"),
    "prompt": (_text, "a string"),
    "max_tokens": (_count, "a whole number of at least 1"),
    "system": (_text, "a string"),
    "per_request": (_count, "a whole number of at least 1"),
    "bare": (_flag, "true or false"),
}
LOOKUP = ("refs", "tag", "model", "policy", "label", "source", "url_template", "upload",
          "workspace", "workspace_id")  # fmt: skip
# Every op: its parameters, and those it requires.
OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "block": (LOOKUP, ()),
    "request": ((*LOOKUP, "prompt", "max_tokens", "system", "per_request", "bare"), ("prompt",)),
    "resolve": (("refs", "tag"), ()),
    "whereis": (("ref",), ("ref",)),
    "show": (("ref", "model"), ("ref",)),
}


def serve(db: str | None, lines: Iterable[bytes] | IO[bytes], out: IO[str]) -> None:
    """Answer each request of ``lines`` (bytes, one request a line; or a stream of them) on
    ``out``, one line each, until ``lines`` ends; the catalogue is ``db`` (as ``--db`` names
    it). Answers are flushed once per ``arrivals`` group: at once for a client that waits
    for each answer, in one write for one that sends many requests ahead."""
    with Server(db) as server:
        for group in arrivals(lines):
            answers = [json.dumps(server.answer(line)) for line in group if line.strip()]
            if answers:
                out.write("\n".join(answers) + "\n")
                out.flush()


def arrivals(lines: Iterable[bytes] | IO[bytes], size: int = 1 << 16) -> Iterator[list[bytes]]:
    """The lines of ``lines`` in the groups they arrive in: from a stream with a file
    descriptor (a pipe), every complete line of each read; from anything else, one by one."""
    try:
        fd = lines.fileno()  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        yield from ([line] for line in lines)
        return
    held = b""
    while chunk := os.read(fd, size):
        *complete, held = (held + chunk).split(b"\n")
        if complete:
            yield complete
    if held:
        yield [held]


class Server:
    """What is kept between requests: the read-only connection, the library (once opened),
    the remotes and model specs already built."""

    def __init__(self, db: str | None):
        self.db = db
        self.reader = lookup.Reader(database_url(db))
        self._library: Library | None = None
        self._remotes: dict[tuple, RemoteSpec] = {}
        self._specs: dict[str, tuple[ModelSpec, list[str]]] = {}

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc) -> None:
        self.reader.close()
        if self._library is not None:
            self._library.close()

    def answer(self, line: bytes) -> dict[str, Any]:
        """The answer to one request line: its result, or the error it met."""
        request_id = None
        try:
            request = read_request(line)
            request_id = request.get("id")
            op, params = checked(request)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ModelWarning)
                result, said = getattr(self, f"op_{op}")(params)
            answer = {"id": request_id, "ok": True, "result": result}
            said = [*said, *(str(w.message) for w in caught if w.category is ModelWarning)]
            if said:
                answer["warnings"] = list(dict.fromkeys(said))
            return answer
        except AssetmgrError as e:
            return failure(request_id, type(e).__name__, e.exit_code, str(e))
        except OSError as e:
            error = local_error(e)
            return failure(request_id, type(error).__name__, error.exit_code, str(error))
        except Exception as e:  # a bug: say so, and go on with the next request
            return failure(request_id, type(e).__name__, ExitCode.ERROR, f"internal error: {e}")

    # -- the ops: each returns (result, warnings) ----------------------------------------------

    def op_block(self, params: dict) -> tuple[Any, list[str]]:
        images, said = self._images(params)
        source = params.get("source", "file")
        label = params.get("label", False)
        return list(each_content_block(images, source=source, label=label)), said

    def op_request(self, params: dict) -> tuple[Any, list[str]]:
        images, said = self._images(params)
        spec, _ = self.spec(params.get("model", DEFAULT_MODEL))
        bodies = requests(
            images,
            prompt=params["prompt"],
            model=spec,
            max_tokens=params.get("max_tokens", 1024),
            system=params.get("system"),
            source=params.get("source", "file"),
            label=params.get("label", False),
            per_request=params.get("per_request"),
        )
        bare = params.get("bare", False)
        return [dict(b) if bare else b.to_line(i) for i, b in enumerate(bodies)], said

    def op_resolve(self, params: dict) -> tuple[Any, list[str]]:
        refs, tag = params.get("refs", []), params.get("tag")
        lookup.require_named(refs, tag)
        shas = lookup.find(self.reader, refs, tag)
        return (shas if shas is not None else self.library().find(refs, tag=tag)), []

    def op_whereis(self, params: dict) -> tuple[Any, list[str]]:
        from .records import to_json

        return [json.loads(to_json(p)) for p in self.library().whereis(params["ref"])], []

    def op_show(self, params: dict) -> tuple[Any, list[str]]:
        from .records import to_json

        library = self.library()
        record = library.show(params["ref"])
        readings = library.readings(record, params.get("model"))
        return json.loads(to_json(record, models=readings)), []

    # -- what is kept ---------------------------------------------------------------------------

    def _images(self, params: dict):
        spec, said = self.spec(params.get("model", DEFAULT_MODEL))
        images_per_request(spec, params.get("per_request"))
        images = lookup.images(
            self.db,
            params.get("refs", []),
            tag=params.get("tag"),
            model=spec,
            policy=params.get("policy"),
            source=params.get("source", "file"),
            upload=params.get("upload", True),
            url_template=params.get("url_template"),
            remote=self.remote(params.get("workspace"), params.get("workspace_id")),
            library=self.library,
            reader=self.reader,
        )
        return images, said

    def spec(self, model: str) -> tuple[ModelSpec, list[str]]:
        """The ``ModelSpec`` of ``model`` and the warnings it gave, built once."""
        if model not in self._specs:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ModelWarning)
                spec = lookup.model_spec(self.db, model, library=self.library, reader=self.reader)
            said = [str(w.message) for w in caught if w.category is ModelWarning]
            self._specs[model] = (spec, said)
        return self._specs[model]

    def remote(self, workspace: str | None, workspace_id: str | None) -> RemoteSpec:
        """The remote these name (with the environment), built once."""
        key = (workspace, workspace_id)
        if key not in self._remotes:
            self._remotes[key] = RemoteSpec.from_env(workspace, workspace_id)
        return self._remotes[key]

    def library(self) -> Library:
        """The catalogue through the library, opened on first need and kept."""
        if self._library is None:
            from .library import Library

            self._library = Library.open(self.db)
        return self._library


def read_request(line: bytes) -> dict:
    """The request object of one line; a ``UsageError`` when it is none."""
    try:
        request = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise UsageError("a request is one line of UTF-8 JSON: this line is not UTF-8") from None
    except ValueError as e:
        raise UsageError(f"a request is one line of JSON: {e}") from None
    if not isinstance(request, dict):
        raise UsageError(
            f"a request is a JSON object, not {type(request).__name__}: "
            '{"id": 1, "op": "block", "refs": ["3f7a9c"]}'
        )
    return request


def checked(request: dict) -> tuple[str, dict]:
    """The op of ``request`` and its parameters, each checked against ``OPS`` and ``PARAMS``."""
    op = request.get("op")
    if op not in OPS:
        raise UsageError(f"unknown op {op!r}: choose from {', '.join(OPS)}")
    allowed, required = OPS[op]
    params = {k: v for k, v in request.items() if k not in ("id", "op")}
    for name, value in params.items():
        if name not in allowed:
            raise UsageError(f"{op} takes no {name!r}; it takes {', '.join(allowed)}")
        valid, meaning = PARAMS[name]
        if not valid(value):
            raise UsageError(f"{name} must be {meaning}, not {json.dumps(value)}")
    missing = [name for name in required if name not in params]
    if missing:
        raise UsageError(f"{op} needs {', '.join(missing)}")
    return op, params


def failure(request_id: Any, kind: str, code: int, message: str) -> dict[str, Any]:
    """An error answer: the error class, the exit code the command gives, one line."""
    message = " ".join(message.split())
    return {"id": request_id, "ok": False, "error": {"type": kind, "exit": int(code),
                                                     "message": message}}  # fmt: skip
