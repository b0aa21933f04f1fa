"""What every command's ``--json`` prints: one JSON Schema (draft 2020-12) per command, keyed by
the command's path (``add``, ``tag add``, ``dupes --near``), with the commands that need no
``--json`` and why. ``docs/json.md`` is rendered from here (``python -m assetmgr.schemas``).

Every key a command prints is described and required (printed always, ``null`` where the type
says so); more keys may come in later versions, so objects stay open. Plain dicts, with the
outcomes ``records`` names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .records import UPLOAD_OUTCOMES

STR = {"type": "string"}
INT = {"type": "integer"}
NUM = {"type": "number"}
BOOL = {"type": "boolean"}
SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
TIME = {"type": "string", "format": "date-time"}  # RFC 3339, in UTC
ANY = {"type": ["string", "integer", "number", "boolean", "array", "object"]}


def null(schema: dict) -> dict:
    """``schema``, or null."""
    return {"anyOf": [schema, {"type": "null"}]}


def many(schema: dict) -> dict:
    return {"type": "array", "items": schema}


def one_of(*values: str) -> dict:
    return {"type": "string", "enum": list(values)}


def record(properties: dict[str, dict], optional: dict[str, dict] | None = None) -> dict:
    """An object with ``properties`` (all printed always) and ``optional`` ones (printed
    only sometimes)."""
    return {"type": "object", "required": list(properties),
            "properties": {**properties, **(optional or {})}}  # fmt: skip


# -- records several commands print ------------------------------------------------------------

UPLOAD_OUTCOME = one_of(*UPLOAD_OUTCOMES)
OUTCOME = record({
    "path": STR, "outcome": one_of("new", "duplicate", "unchanged", "rejected"),
    "sha256": null(SHA), "reason": null(STR), "duplicate_of": null(STR),
    "width": null(INT), "height": null(INT), "format": null(STR), "warnings": many(STR),
    "upload": null(UPLOAD_OUTCOME), "file_id": null(STR), "upload_error": null(STR),
    "known": BOOL, "reuses": null(SHA),
})  # fmt: skip
RENDITION = record({
    "policy": STR, "sha256": SHA, "media_type": STR, "width": INT, "height": INT,
    "size_bytes": INT, "tokens": INT, "warnings": many(STR), "tokens_standard": INT,
    "tokens_high": INT,
})  # fmt: skip
UPLOAD = record({
    "rendition_sha256": SHA, "base_url": STR, "workspace": null(STR), "labels": many(STR),
    "file_id": null(STR), "filename": STR,
    "state": one_of("pending", "active", "failed", "missing", "expired", "deleted", "superseded"),
    "created_at": TIME, "expires_at": null(TIME), "last_verified_at": null(TIME),
    "error": null(STR), "origin": one_of("uploaded", "adopted", "imported"),
})  # fmt: skip
SOURCE = record({"path": STR, "size_bytes": INT, "mtime_ns": INT, "last_seen_at": TIME})
REUSE = record({"policy": STR, "best_sha256": null(SHA), "distance": INT,
                "own_rendition_sha256": SHA})  # fmt: skip
ASSET_FIELDS = {
    "sha256": SHA, "format": STR, "media_type": STR, "width": INT, "height": INT, "mode": STR,
    "frames": INT, "orientation": null(INT), "size_bytes": INT, "created_at": TIME,
    "renditions": many(RENDITION), "uploads": many(UPLOAD), "sources": many(SOURCE),
    "tags": many(STR), "reuses": many(REUSE),
}  # fmt: skip
READING = record({
    "model": STR, "tier": STR, "policy": null(STR), "width": null(INT), "height": null(INT),
    "tokens": null(INT), "price_per_mtok": null(NUM), "cost": null(NUM), "note": null(STR),
})  # fmt: skip
LISTED = record({
    "kind": one_of("orphan", "foreign"), "action": one_of("adopt", "gc", "gc --all"),
    "reason": STR, "file_id": STR, "filename": STR, "size_bytes": INT, "created_at": TIME,
    "expires_at": null(TIME), "rendition_sha256": null(SHA),
})  # fmt: skip
FINDING = record({
    "kind": one_of("missing", "expired", "changed", "gone"), "rendition_sha256": null(SHA),
    "file_id": null(STR), "expires_at": null(TIME), "upload_id": null(INT),
    "asset_sha256": null(SHA), "path": null(STR),
})  # fmt: skip
VERIFY_SUMMARY = record({
    "kind": {"const": "summary"}, "workspace": null(STR), "base_url": STR, "labels": many(STR),
    "present": INT, "missing": INT, "expired": INT, "orphan": INT, "foreign": INT,
    "to_adopt": INT, "problems": INT, "lookups": INT,
})  # fmt: skip
SETTING = record({
    "key": STR, "value": null(ANY), "source": one_of("env", "file", "default"), "env": STR,
    "default": STR, "help": STR,
})  # fmt: skip
IMAGE_SOURCE = {"oneOf": [
    record({"type": {"const": "file"}, "file_id": STR}),
    record({"type": {"const": "base64"}, "media_type": STR, "data": STR}),
    record({"type": {"const": "url"}, "url": STR}),
]}  # fmt: skip
CONTENT_BLOCK = {"oneOf": [
    record({"type": {"const": "image"}, "source": IMAGE_SOURCE}),
    record({"type": {"const": "text"}, "text": STR}),
]}  # fmt: skip
REQUEST_KEYS = record({"request": INT, "assets": many(SHA), "renditions": many(SHA)})
ANSWER = record({
    "run": INT, "request": INT, "custom_id": STR, "assets": many(SHA), "renditions": many(SHA),
    "tags": many(many(STR)),
    "state": one_of("answered", "refused", "errored", "expired", "canceled", "submitted",
                    "pending"),
    "text": null(STR), "stop_reason": null(STR), "truncated": BOOL,
    "usage": record({name: null(INT) for name in ("input_tokens", "output_tokens",
                     "cache_read_input_tokens", "cache_creation_input_tokens")}),
    "cost": null(NUM), "error": null(STR), "copy_of": null(SHA), "distance": null(INT),
})  # fmt: skip


@dataclass(frozen=True)
class Output:
    """What one command prints on stdout: ``schema`` describes the whole document, or with
    ``lines`` (JSON Lines) each line."""

    description: str
    schema: dict[str, Any]
    lines: bool = False


OUTPUTS: dict[str, Output] = {
    "add": Output(
        "One object per input file, in walk order, once its outcome (and upload) is final.",
        OUTCOME, lines=True),
    "push": Output(
        "The push: each outcome counted, the bytes sent, every rendition's outcome, and the "
        "rendition each asset covered uses (asset sha256 -> rendition sha256).",
        record({
            **dict.fromkeys(UPLOAD_OUTCOMES, INT), "bytes_uploaded": INT,
            "deleted_duplicates": INT,
            "outcomes": many(record({
                "rendition_sha256": SHA, "outcome": UPLOAD_OUTCOME, "file_id": null(STR),
                "reason": null(STR), "size_bytes": INT, "path": null(STR)})),
            "renditions": {"type": "object", "additionalProperties": SHA},
        })),
    "ls": Output(
        "One object per asset: everything the catalogue knows of it, as `show` prints it "
        "(without `models`).", record(ASSET_FIELDS), lines=True),
    "show": Output(
        "The asset, with `models`: what each model would read of it and what one use costs.",
        record({**ASSET_FIELDS, "models": many(READING)})),
    "stats": Output(
        "Totals, and per policy the tokens at the model's tier and the cost at its price.",
        record({
            "assets": INT, "asset_bytes": INT, "price_per_mtok": NUM,
            "policies": many(record({
                "policy": STR, "assets": INT, "renditions": INT, "bytes": INT, "tokens": INT,
                "tokens_per_image": NUM, "cost_all_once": NUM, "cost_per_1000_images": NUM})),
            "model": null(STR), "tier": one_of("standard", "high"),
        })),
    "tag add": Output("The tag and the assets it was put on.",
                      record({"tag": STR, "tagged": many(SHA)})),
    "tag rm": Output("The tag and the assets it was taken off.",
                     record({"tag": STR, "untagged": many(SHA)})),
    "tag ls": Output("One object per tag: its name and how many assets carry it.",
                     record({"tag": STR, "assets": INT}), lines=True),
    "ask": Output(
        "One object per request: the Messages API's whole response (open: the API's own keys), "
        "with an `assetmgr` key naming the request's assets and renditions.",
        record({
            "id": STR, "type": {"const": "message"}, "role": {"const": "assistant"},
            "model": STR, "content": many({"type": "object", "required": ["type"]}),
            "stop_reason": null(STR), "usage": {"type": "object", "required": [
                "input_tokens", "output_tokens"]},
            "assetmgr": record({**REQUEST_KEYS["properties"], "stop_reason": null(STR),
                                "truncated": BOOL}),
        }), lines=True),
    "block": Output(
        "The content blocks of the assets named, in order: an image block each (by file id, "
        "inline or by URL), with --label an `Image N:` text block before each.",
        many(CONTENT_BLOCK)),
    "request": Output(
        "One Messages request body per line; the `assetmgr` key (left out with --bare) names "
        "the assets and renditions it covers.",
        record({
            "model": STR, "max_tokens": INT,
            "messages": many(record({"role": {"const": "user"}, "content": many(CONTENT_BLOCK)})),
        }, {"system": STR, "assetmgr": REQUEST_KEYS}), lines=True),
    "whereis": Output(
        "One object per workspace holding the asset: the live upload there.",
        record({
            "asset_sha256": SHA, "policies": many(STR), "rendition_sha256": SHA, "base_url": STR,
            "workspace": null(STR), "labels": many(STR), "file_id": STR, "created_at": TIME,
            "expires_at": null(TIME), "origin": one_of("uploaded", "adopted", "imported"),
            "last_verified_at": null(TIME),
        }), lines=True),
    "verify": Output(
        "One object per finding (an upload missing or expired, a source changed or gone), "
        "then one per file no upload names (orphan, foreign), then the summary; `kind` says "
        "which.", {"oneOf": [FINDING, LISTED, VERIFY_SUMMARY]}, lines=True),
    "gc": Output("One object per file it would delete (or deletes, with --yes).", LISTED,
                 lines=True),
    "rm": Output(
        "The plan: the assets, the renditions forgotten (or whose uploads go), those kept as "
        "shared, the uploads to delete here (file id, rendition) and those left in other "
        "workspaces (workspace, file id, rendition).",
        record({
            "remote": record({"base_url": STR, "workspace": STR, "workspace_id": null(STR)}),
            "assets": many(SHA), "forget": BOOL, "renditions": many(SHA), "shared": many(SHA),
            "delete": many({"type": "array", "prefixItems": [STR, SHA], "items": False,
                            "minItems": 2}),
            "left": many({"type": "array", "prefixItems": [STR, STR, SHA], "items": False,
                          "minItems": 3}),
            "remote_id": null(INT),
        })),
    "export": Output(
        "With -o only (the export itself is JSON Lines, see the README): the file written, "
        "its lines, and whether it has the source paths.",
        record({"output": STR, "lines": INT, "with_paths": BOOL})),
    "import": Output(
        "What the import added (new to this catalogue), the conflicts it settled, and the "
        "labels that name another workspace here.",
        record({
            "assets": INT, "renditions": INT, "uploads": INT, "tags": INT,
            "conflicts": many(record({"workspace": STR, "rendition_sha256": SHA, "kept": STR,
                                      "other": STR, "outcome": STR})),
            "labels_taken": many(STR),
        })),
    "run": Output("One object per request of the run (as `answers` prints them).", ANSWER,
                  lines=True),
    "run --dry-run": Output(
        "The plan: requests, images, tokens and estimated cost of what is still to send.",
        record({
            "key": STR, "model": STR, "requests": INT, "images": INT, "answered": INT,
            "to_send": INT, "input_tokens": INT, "cache_write_tokens": INT,
            "cache_read_tokens": INT, "batch": BOOL, "estimated_cost": null(NUM),
            "max_output_cost": null(NUM), "files_to_upload": INT, "near_duplicates": INT,
        })),
    "runs": Output(
        "One object per run: requests by state, tokens and cost, estimated and actual.",
        record({
            "id": INT, "model": STR, "prompt": STR, "batch": BOOL, "requests": INT,
            "images": INT, "states": {"type": "object", "additionalProperties": INT},
            "estimated_tokens": INT, "estimated_cost": null(NUM), "input_tokens": INT,
            "output_tokens": INT, "cost": null(NUM), "pending_batches": INT,
            "created_at": TIME, "updated_at": TIME, "copies": INT,
        }), lines=True),
    "answers": Output(
        "One object per request, in order; after each, one per asset answered by copy "
        "(`copy_of`, `distance`; no usage, no cost).", ANSWER, lines=True),
    "models": Output(
        "One object per model (or family, `-*`) assetmgr knows; `origin` says where each "
        "figure came from (table, api, assumed).",
        record({
            "id": STR, "family": BOOL, "known": BOOL, "tier": one_of("standard", "high"),
            "images_per_request": INT, "max_input_tokens": null(INT), "lifecycle": STR,
            "deprecated_at": null(STR), "retires_at": null(STR), "input_price": null(NUM),
            "output_price": null(NUM), "fixed_sampling": BOOL,
            "origin": {"type": "object", "additionalProperties": one_of("table", "api",
                                                                         "assumed")},
        }), lines=True),
    "dupes": Output("One object per asset seen at several paths.",
                    record({"asset": SHA, "paths": many(STR)}), lines=True),
    "dupes --near": Output(
        "One object per group of near-duplicates, best copy first.",
        record({
            "best": SHA,
            "members": many(record({"asset": SHA, "format": STR, "width": INT, "height": INT,
                                    "distance": INT, "reason": STR})),
        }), lines=True),
    "dupes mark": Output("The decision kept about the two assets.",
                         record({"asset": SHA, "other": SHA,
                                 "decision": one_of("same", "different")})),
    "dupes unlink": Output("One object per asset that uses its own rendition again.",
                           record({"asset": SHA}), lines=True),
    "config path": Output("Where the settings file is.", record({"path": STR})),
    "config list": Output(
        "One object per setting: its value (null: the default applies) and where it comes "
        "from.", SETTING, lines=True),
    "config get": Output("One setting, as a line of `config list --json` (exit 0 even when "
                         "its default applies).", SETTING),
    "config set": Output(
        "The value kept in the file; `env_value`: what the variable `env` sets, which wins "
        "over the file (null when unset).",
        record({"key": STR, "value": ANY, "path": STR, "env": STR, "env_value": null(ANY)})),
    "config unset": Output("The key removed, and the file.", record({"key": STR, "path": STR})),
    "doctor": Output("One object per check; `fix` says what to do when it is not ok.",
                     record({"name": STR, "ok": BOOL, "detail": STR, "fix": null(STR)}),
                     lines=True),
}  # fmt: skip

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
SCHEMAS: dict[str, dict[str, Any]] = {
    key: {"$schema": SCHEMA_URI, "title": f"assetmgr {key} --json", **output.schema}
    for key, output in OUTPUTS.items()
}

# What --json-progress writes on stderr (add, push, verify, run): one event a line.
_FIGURES = {"files_done": INT, "files_total": INT, "bytes_done": INT, "bytes_total": INT,
            "note": STR, "elapsed": NUM, "left": null(NUM)}  # fmt: skip
_EVENT = {"event": STR, "label": STR}
PROGRESS_EVENT: dict[str, Any] = {
    "$schema": SCHEMA_URI,
    "title": "assetmgr --json-progress event",
    "oneOf": [
        record({**_EVENT, "event": {"const": "start"}}),
        record({**_EVENT, "event": {"const": "progress"}, **_FIGURES}),
        record({**_EVENT, "event": {"const": "end"}, "ok": BOOL, **_FIGURES}),
        record({"event": {"const": "message"},
                "level": one_of("error", "warning", "info", "detail"), "text": STR}),
    ],
}  # fmt: skip

# Commands that print something, but no --json: why not.
EXEMPT: dict[str, str] = {
    "block": "prints JSON as its data already (a JSON array; its schema is above)",
    "request": "prints JSON as its data already (JSON Lines; its schema is above)",
    "cat": "prints an image's bytes",
    "serve": "speaks a protocol of JSON lines on stdin and stdout (see the README)",
    "completion": "prints a shell script",
    "emulator": "is a server: its first line is its base URL",
}


def markdown() -> str:
    """``docs/json.md``: per command, what it prints, its keys and their types, and its
    schema."""
    parts = [
        "# `--json`: what each command prints",
        "",
        "<!-- Generated from assetmgr/schemas.py by `python -m assetmgr.schemas > docs/json.md`;"
        " do not edit. -->",
        "",
        "Every command that reports something takes `--json`: data on stdout, one JSON document"
        " (or JSON Lines: one object a line, where the command lists), talk on stderr. Each"
        " command's JSON Schema (draft 2020-12) follows its table of keys. Objects are open (a"
        " later version may add keys); every key listed is always printed, `null` only where"
        " its type says so. A sha256 is 64 lowercase hex digits; times are RFC 3339 in UTC.",
        "",
    ]
    for key, output in OUTPUTS.items():
        command = f"assetmgr {key}" + ("" if key in EXEMPT else " --json")
        form = "JSON Lines, each line" if output.lines else "One JSON document"
        parts += [f"## `{command}`", "", output.description, ""]
        for title, schema in _alternatives(output.schema):
            parts += [f"{form}{title}:", "", *_key_table(schema), ""]
        parts += ["<details><summary>JSON Schema</summary>", "", "```json",
                  compact(SCHEMAS[key]), "```", "", "</details>", ""]  # fmt: skip
    parts += ["## `--json-progress` events (stderr)", "",
              "`add`, `push`, `verify` and `run` take `--json-progress`: stderr is then JSON Lines,"
              " each line one of these events (`start`, `progress`, `end` of each phase, and"
              " `message` for every line of talk).", "",
              "```json", compact(PROGRESS_EVENT), "```", ""]  # fmt: skip
    parts += ["## Commands without `--json`", ""]
    parts += [f"- `{key}` {reason}." for key, reason in EXEMPT.items()]
    return "\n".join(parts) + "\n"


def compact(value: Any, indent: int = 0, width: int = 96) -> str:
    """``value`` as indented JSON, each part that fits in ``width`` on one line."""
    flat = json.dumps(value)
    if len(flat) + indent <= width or not isinstance(value, (dict, list)) or not value:
        return flat
    inner = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {compact(v, indent + 2, width)}"
                 for k, v in value.items()]  # fmt: skip
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [inner + compact(v, indent + 2, width) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _alternatives(schema: dict) -> list[tuple[str, dict]]:
    """The kinds of document a schema allows (``verify``'s), each with its title."""
    if "oneOf" not in schema or "properties" not in schema["oneOf"][0]:
        return [("", schema)]
    return [(f", when `kind` is {type_name(s['properties']['kind'])}", s) for s in schema["oneOf"]]


def _key_table(schema: dict) -> list[str]:
    if schema.get("type") != "object":
        return [f"{type_name(schema)}."]
    rows = ["| key | type |", "|---|---|"]
    for name, kind in _keys(schema):
        rows.append(f"| `{name}` | {kind} |")
    return rows


def _keys(schema: dict, prefix: str = ""):
    """(dotted key, its type) of an object's keys, nested objects' too."""
    required = schema.get("required", [])
    for name, value in schema["properties"].items():
        optional = "" if name in required else " (not always printed)"
        inner, suffix = _unwrapped(value)
        nested = inner.get("type") == "object" and "properties" in inner
        kind = ("array of objects" if suffix else "object") if nested else type_name(value)
        nullable = " or null" if nested and "anyOf" in value else ""
        yield f"{prefix}{name}", kind + nullable + optional
        if nested:
            yield from _keys(inner, f"{prefix}{name}{suffix}.")


def _unwrapped(schema: dict) -> tuple[dict, str]:
    """The object inside a nullable value or an array, and the key's suffix (``[]``)."""
    if "anyOf" in schema:
        return _unwrapped(schema["anyOf"][0])
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        inner, suffix = _unwrapped(schema["items"])
        return inner, "[]" + suffix
    return schema, ""


def type_name(schema: dict) -> str:
    """A schema in a few words, for a table."""
    if "anyOf" in schema:
        return type_name(schema["anyOf"][0]) + " or null"
    if "oneOf" in schema:
        return " or ".join(type_name(s) for s in schema["oneOf"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    if "pattern" in schema:
        return "sha256"
    if schema.get("format") == "date-time":
        return "time"
    if isinstance(schema.get("type"), list):
        return "any JSON value"
    if "prefixItems" in schema:
        return "[" + ", ".join(type_name(s) for s in schema["prefixItems"]) + "]"
    if schema.get("type") == "array":
        return "array of " + type_name(schema["items"])
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return "object: string to " + type_name(schema["additionalProperties"])
    if schema.get("type") == "object" and "properties" in schema:
        keys = [f"`{json.dumps(v['const'])}`" if "const" in v else k
                for k, v in schema["properties"].items()]  # fmt: skip
        return "{" + ", ".join(keys) + "}"
    return schema.get("type", "object")


if __name__ == "__main__":
    print(markdown(), end="")
