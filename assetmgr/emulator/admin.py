"""The admin surface under ``/_emulator/``, a prefix the real API does not use.

It needs no key and is never subject to injected faults. Tests and users read the state,
move the clock, change fault settings, reset, save, create downloadable files (as the
code execution tool would), list Message Batches, end them now and set when they are processed
through it. Each function returns ``(status, JSON body)``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from .errors import ApiError, bad_request
from .images import sniff
from .store import DEFAULT_WORKSPACE, rfc3339

if TYPE_CHECKING:
    from .runner import Emulator


def handle(emu: Emulator, method: str, path: str, query: dict, raw: bytes) -> tuple[int, dict]:
    route = (method, path.rstrip("/").removeprefix("/_emulator"))
    handler = ROUTES.get(route)
    if handler is None:
        raise ApiError(404, f"No admin route {method} {path}.")
    try:
        return 200, handler(emu, query, raw)
    except (ValueError, TypeError, OverflowError, AttributeError) as exc:
        raise bad_request(f"Invalid admin request for {method} {path}: {exc}") from None


def state(emu: Emulator, query: dict, raw: bytes) -> dict:
    return emu.snapshot()


def clock(emu: Emulator, query: dict, raw: bytes) -> dict:
    """``{"advance": seconds}`` or ``{"set": "2030-01-01T00:00:00Z"}``; empty body reads it."""
    body = _json(raw)
    if "advance" in body:
        emu.advance(float(body["advance"]))
    elif "set" in body:
        emu.set_time(_time(body["set"]))
    return {"now": rfc3339(emu.now())}


def faults(emu: Emulator, query: dict, raw: bytes) -> dict:
    try:
        return emu.set_faults(**_json(raw))
    except (ValueError, TypeError) as exc:
        raise bad_request(str(exc)) from None


def reset(emu: Emulator, query: dict, raw: bytes) -> dict:
    emu.reset()
    return {"reset": True}


def save(emu: Emulator, query: dict, raw: bytes) -> dict:
    if not emu.state_path:
        raise bad_request("The emulator was started without a state file.")
    emu.save()
    return {"saved": str(emu.state_path)}


def create_file(emu: Emulator, query: dict, raw: bytes) -> dict:
    """A downloadable file, as skills or the code execution tool would create."""
    workspace = query.get("workspace", [DEFAULT_WORKSPACE])[-1]
    mime = query.get("mime_type", [sniff(raw) or "application/octet-stream"])[-1]
    filename = query.get("filename", ["output.bin"])[-1]
    record = emu.store.add(workspace, filename, mime, raw, downloadable=True)
    return record.metadata()


def requests(emu: Emulator, query: dict, raw: bytes) -> dict:
    """``{total, counts}``: API requests served since the start (or the last reset), counted
    by kind (``Emulator.request_counts``)."""
    return {"total": len(emu.requests), "counts": emu.request_counts()}


def faults_get(emu: Emulator, query: dict, raw: bytes) -> dict:
    return {**emu.faults.settings(), "quota_bytes": emu.store.quota_bytes}


def batches_list(emu: Emulator, query: dict, raw: bytes) -> dict:
    """``{data}``: every batch (``?workspace=`` one workspace's), with its workspace and
    custom_ids."""
    return {"data": emu.batch_list(query.get("workspace", [None])[-1])}


def batches_finish(emu: Emulator, query: dict, raw: bytes) -> dict:
    """``{"id": "msgbatch_..."}`` ends that batch now; an empty body ends every open one."""
    batch_id = _json(raw).get("id")
    return {"finished": emu.finish_batches(batch_id)}


def batch_timing(emu: Emulator, query: dict, raw: bytes) -> dict:
    """Any of ``delay_seconds``, ``item_seconds``, ``cancel_seconds``; empty body reads them."""
    try:
        return emu.set_batch_timing(**_json(raw))
    except (ValueError, TypeError) as exc:
        raise bad_request(str(exc)) from None


def _json(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError):
        raise bad_request("The admin request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The admin request body must be a JSON object.")
    return body


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request(f"Not an RFC 3339 time: {text!r}") from None


ROUTES = {
    ("GET", "/state"): state,
    ("GET", "/clock"): clock,
    ("GET", "/requests"): requests,
    ("POST", "/clock"): clock,
    ("GET", "/faults"): faults_get,
    ("POST", "/faults"): faults,
    ("POST", "/reset"): reset,
    ("POST", "/save"): save,
    ("POST", "/files"): create_file,
    ("GET", "/batches"): batches_list,
    ("POST", "/batches/finish"): batches_finish,
    ("GET", "/batch_timing"): batch_timing,
    ("POST", "/batch_timing"): batch_timing,
}
