"""The settings file: what a user would otherwise repeat on every command, in TOML.

``SETTINGS`` is the one table of what can be set: each setting's key in the file, its
environment variable, the kind of value it takes and the command options it stands for.
Where a value comes from, first that is set wins: the command-line flag, the environment
variable, the file, the default. Flags and the environment are the CLI's (``cli_config``
turns the file into Click's ``default_map``, which Click reads after both); ``config.py``
asks ``value`` for the settings that are no flag (``catalogue``, ``store``, ``max_retries``).

The file is ``config.toml`` in the app folder (``$ASSETMGR_HOME``), or ``ASSETMGR_CONFIG``.
It is flat: ``key = value`` lines, comments kept when ``config set`` changes a value. A key
that is not a setting is an error that names the nearest one, and so is a value of the
wrong kind, whatever the command: a mistyped setting must not be silently ignored.

No Click here, and nothing heavy: the lookup path reads this module.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .modelspec import DEFAULT_MODEL
from .policies import DEFAULT_POLICY

CONFIG_ENV = "ASSETMGR_CONFIG"
CONFIG_FILE = "config.toml"


@dataclass(frozen=True)
class Setting:
    key: str
    env: str
    kind: str  # text | count (a whole number >= 1) | dollars | list | policy | duration
    options: tuple[tuple[str, str], ...]  # (command, option's parameter name); "*": every one
    default: str  # as ``config list`` shows it
    help: str


def _every(name: str) -> tuple[tuple[str, str], ...]:
    return (("*", name),)


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("catalogue", "ASSETMGR_DB", "text", (), "$ASSETMGR_HOME/catalogue.db",
                "The catalogue: a file path or SQLAlchemy URL (--db)."),
        Setting("store", "ASSETMGR_STORE", "text", (), "~/.cache/assetmgr/renditions",
                "The rendition store's folder (a team may share it)."),
        Setting("workspace", "ASSETMGR_WORKSPACE", "text", _every("workspace"), "the key's own",
                "The workspace, by the name given to it (--workspace)."),
        Setting("workspace_id", "ASSETMGR_WORKSPACE_ID", "text", _every("workspace_id"), "none",
                "Sent as anthropic-workspace-id (--workspace-id)."),
        Setting("model", "ASSETMGR_MODEL", "text", _every("model"), DEFAULT_MODEL,
                "The model whose tier, limits and prices apply (--model)."),
        Setting("policy", "ASSETMGR_POLICY", "policy", (("add", "policy"), ("push", "policy")),
                DEFAULT_POLICY, "The rendition policy of add and push (--policy)."),
        Setting("jobs", "ASSETMGR_JOBS", "count", (("add", "jobs"),), "number of cores",
                "Worker processes of add (--jobs)."),
        Setting("upload_jobs", "ASSETMGR_UPLOAD_JOBS", "count",
                (("add", "upload_jobs"), ("push", "jobs")), "8",
                "Parallel uploads (add --upload-jobs, push --jobs)."),
        Setting("run_jobs", "ASSETMGR_RUN_JOBS", "count", (("run", "jobs"),), "16",
                "Requests in flight at once (run --jobs)."),
        Setting("exclude", "ASSETMGR_EXCLUDE", "list", (("add", "exclude"),), "none",
                "Globs add skips (--exclude); in the environment, separated by "
                f"{os.pathsep!r}."),
        Setting("price", "ASSETMGR_PRICE", "dollars", (("stats", "price"),), "the model's",
                "Dollars per million input tokens (stats --price)."),
        Setting("expires_in", "ASSETMGR_EXPIRES_IN", "duration", _every("expires_in"), "never",
                "Uploads expire after this long, 1h..90d (--expires-in)."),
        Setting("max_retries", "ASSETMGR_MAX_RETRIES", "count0", (), "4",
                "Retries of a request that failed for a passing reason, 0..20."),
    )
}  # fmt: skip


def path() -> Path:
    """Where the settings file is (it need not exist)."""
    configured = os.environ.get(CONFIG_ENV)
    if configured:
        return Path(configured).expanduser()
    from .config import user_dir

    return user_dir() / CONFIG_FILE


def read_file(where: Path | None = None) -> dict[str, Any]:
    """The settings in the file, checked; {} when there is no file."""
    where = where or path()
    try:
        text = where.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read the settings file {where}: {e}") from None
    import tomllib

    try:
        found = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{where} is not valid TOML ({e}); fix it or remove it") from None
    for key, value in found.items():
        if isinstance(value, dict):
            raise UsageError(f"{where}: [{key}] is a table; settings are top-level "
                             "'key = value' lines: edit the file")  # fmt: skip
        if key not in SETTINGS:
            try:
                setting(key)
            except UsageError as e:
                raise UsageError(f"{where}: {e} (assetmgr config unset {key})") from None
    return {key: check(key, value, f"{where}: {key}") for key, value in found.items()}


def setting(key: str) -> Setting:
    """The setting ``key``; unknown: a ``UsageError`` naming the nearest one."""
    if key in SETTINGS:
        return SETTINGS[key]
    near = difflib.get_close_matches(key, list(SETTINGS), n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else f"; settings: {', '.join(SETTINGS)}"
    raise UsageError(f"unknown setting {key!r}{hint}")


def check(key: str, value: Any, where: str) -> Any:
    """``value`` as setting ``key`` takes it; the wrong kind: a ``UsageError`` saying which."""
    kind = setting(key).kind
    if kind == "list":
        if isinstance(value, str):
            value = [value]
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise UsageError(f'{where}: give a list of strings, e.g. ["*.tmp", ".git"]')
        return value
    if kind in ("count", "count0"):
        low = 0 if kind == "count0" else 1
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UsageError(f"{where}: give a whole number of at least {low}")
        return value
    if kind == "dollars":
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if isinstance(value, bool) or not number >= 0:
            raise UsageError(f"{where}: give a number of dollars, e.g. 3 or 0.8")
        return number
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: give a non-empty string")
    if kind == "policy":
        from .policies import POLICIES

        if value not in POLICIES:
            raise UsageError(f"{where}: choose one of {', '.join(POLICIES)}")
    if kind == "duration":
        from .limits import expiry_seconds

        try:
            expiry_seconds(value)
        except UsageError as e:
            raise UsageError(f"{where}: {str(e).partition(': ')[2]}") from None
    return value


def from_env(key: str) -> Any:
    """Setting ``key`` from its environment variable, checked; None when it is not set."""
    s = SETTINGS[key]
    text = os.environ.get(s.env, "")
    if not text.strip():
        return None
    value: Any = [v for v in text.split(os.pathsep) if v] if s.kind == "list" else text
    return check(key, value, s.env)


@dataclass
class Effective:
    """A setting as ``config list`` shows it: its value and where that came from."""

    key: str
    value: Any  # None: the default applies
    source: str  # env | file | default
    env: str
    default: str
    help: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def effective() -> list[Effective]:
    """Every setting, with its value and where it comes from (flags aside: each command's)."""
    in_file = read_file()
    out = []
    for key, s in SETTINGS.items():
        env_value = from_env(key)
        if env_value is not None:
            found, source = env_value, "env"
        elif key in in_file:
            found, source = in_file[key], "file"
        else:
            found, source = None, "default"
        out.append(Effective(key, found, source, s.env, s.default, s.help))
    return out


def effective_of(key: str) -> Effective:
    """One setting as ``effective`` gives it (an unknown key is a ``UsageError``)."""
    setting(key)
    return next(item for item in effective() if item.key == key)


def option_values() -> dict[tuple[str, str], Any]:
    """(command, parameter name) -> the value the file gives it, for the options no
    environment variable set (Click reads an option's own ``envvar`` before these; the
    settings whose variable Click does not know are taken from the environment here)."""
    in_file = read_file()
    out: dict[tuple[str, str], Any] = {}
    for key, s in SETTINGS.items():
        found = from_env(key)
        if found is None:
            found = in_file.get(key)
        if found is None:
            continue
        for target in s.options:
            out[target] = found
    return out


# -- changing the file ---------------------------------------------------------------------------


def set_value(key: str, values: Sequence[str]) -> Any:
    """Set ``key`` in the file to ``values`` (several for a list); the value kept. Other
    lines, comments included, stay as they are."""
    s = setting(key)
    if s.kind != "list" and len(values) != 1:
        raise UsageError(f"{key} takes one value")
    given: Any = list(values) if s.kind == "list" else values[0]
    kept = check(key, given, key)
    _write(key, _toml(kept))
    return kept


def unset(key: str) -> bool:
    """Remove ``key`` from the file (any key: a mistyped one too); whether it was there."""
    return _write(key, None)


def _toml(value: Any) -> str:
    import json

    if isinstance(value, list):
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    return repr(value)


def _write(key: str, rendered: str | None) -> bool:
    """Replace (or, with None, remove) ``key``'s line in the file, or add it at the end;
    written to a new file then renamed over the old one. Whether the key was there."""
    where = path()
    try:
        lines = where.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    start, end = _span(lines, key)
    new = [] if rendered is None else [f"{key} = {rendered}"]
    if start is None:
        lines = lines + new
    else:
        lines = lines[:start] + new + lines[end:]
    where.parent.mkdir(parents=True, exist_ok=True)
    temporary = where.with_name(f".{where.name}.{os.getpid()}.tmp")
    temporary.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    os.replace(temporary, where)
    return start is not None


def _span(lines: list[str], key: str) -> tuple[int | None, int]:
    """The lines (start, end) ``key = ...`` takes, a multi-line list included."""
    import re

    pattern = re.compile(rf"\s*(?:{re.escape(key)}|\"{re.escape(key)}\")\s*=")
    for start, line in enumerate(lines):
        if line.lstrip().startswith("["):
            break  # a table: the settings are the lines before any
        if pattern.match(line):
            end = start + 1
            rest = line.split("=", 1)[1].strip()
            if rest.startswith("[") and "]" not in rest:
                while end < len(lines) and "]" not in lines[end - 1]:
                    end += 1
            return start, end
    return None, 0
