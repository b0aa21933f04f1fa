"""Plain values that the library returns and the CLI renders: no storage, no I/O.

``to_json`` turns any of them into what ``--json`` prints.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from typing import Any

from .limits import HIGH, STANDARD, served_tokens
from .pathnames import is_plain, shown

# The fields of an ``ls`` line, by the names ``--format`` and ``--csv`` use.
ASSET_FIELDS = {
    "sha256": "the asset's sha256", "short": "its first 12 digits", "format": "JPEG, PNG, ...",
    "width": "pixels", "height": "pixels", "pixels": "width x height, as 1920x1080",
    "bytes": "the source's size", "size": "the same, as 1.2 MB", "tags": "comma-separated",
    "path": "the first source path", "added": "when catalogued, ISO 8601 UTC",
}  # fmt: skip
CSV_FIELDS = ("sha256", "format", "width", "height", "bytes", "tags", "path", "added")


ASSET_SORTS = ("added", "bytes", "pixels", "width", "height", "format", "sha256")


@dataclasses.dataclass(frozen=True)
class AssetQuery:
    """Which assets a listing takes (``ls``'s filters), in which order, and how many. Each
    filter left at None takes every asset; ``since`` and ``until`` bound when an asset was
    catalogued, ``formats`` its source format (JPEG, PNG, ...), ``policy`` the policies it has
    a rendition under, the bytes its source's size."""

    tag: str | None = None
    policy: str | None = None
    formats: tuple[str, ...] = ()
    min_bytes: int | None = None
    max_bytes: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "added"  # one of ASSET_SORTS
    reverse: bool = False
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.sort not in ASSET_SORTS:
            from .errors import UsageError

            raise UsageError(f"--sort {self.sort}: choose one of {', '.join(ASSET_SORTS)}")


@dataclasses.dataclass(slots=True)
class Outcome:
    """What ``add`` did with one input file."""

    path: str
    outcome: str  # new | duplicate | unchanged | rejected
    sha256: str | None = None
    reason: str | None = None
    duplicate_of: str | None = None  # path of the copy catalogued first
    width: int | None = None
    height: int | None = None
    format: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    # uploaded | present | adopted | busy | failed; None: not uploaded (see the README)
    upload: str | None = None
    file_id: str | None = None
    upload_error: str | None = None
    known: bool = False  # rejected before and unchanged since: not read again
    reuses: str | None = None  # sha256 of the best copy whose rendition it uses (--reuse-near)


@dataclasses.dataclass
class RenditionRecord:
    """The exact bytes uploaded for an asset under a policy, described. ``tokens`` is the
    catalogue's estimate (standard tier); ``tokens_standard`` and ``tokens_high`` follow from
    the size, by ``limits.served_tokens``, for each tier."""

    policy: str
    sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    tokens: int
    warnings: list[str] = dataclasses.field(default_factory=list)
    tokens_standard: int = dataclasses.field(init=False)
    tokens_high: int = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.tokens_standard = served_tokens(self.width, self.height, STANDARD)
        self.tokens_high = served_tokens(self.width, self.height, HIGH)


@dataclasses.dataclass
class ModelReading:
    """What one model would read of an asset: the rendition its tier picks (``policy`` None:
    none, ``note`` says why), its visual tokens after the server's resize, and the cost of one
    use at the model's list price (None: no price known)."""

    model: str
    tier: str
    policy: str | None
    width: int | None
    height: int | None
    tokens: int | None
    price_per_mtok: float | None
    cost: float | None
    note: str | None = None


@dataclasses.dataclass
class UploadRecord:
    rendition_sha256: str
    base_url: str
    workspace: str | None  # its id, as the API reports it; None: not seen since an upgrade
    labels: list[str]  # the names given to the workspace (--workspace)
    file_id: str | None
    filename: str
    state: str
    created_at: datetime
    expires_at: datetime | None
    last_verified_at: datetime | None
    error: str | None
    origin: str = "uploaded"  # uploaded | adopted (found in the workspace) | imported


@dataclasses.dataclass
class Placement:
    """One workspace that holds an asset: a live upload of one of its renditions."""

    asset_sha256: str
    policies: list[str]  # the asset's policies whose rendition this is
    rendition_sha256: str
    base_url: str
    workspace: str | None  # its id, as the API reports it
    labels: list[str]
    file_id: str
    created_at: datetime
    expires_at: datetime | None  # None: never
    origin: str
    last_verified_at: datetime | None


@dataclasses.dataclass
class SourceRecord:
    path: str
    size_bytes: int
    mtime_ns: int
    last_seen_at: datetime


@dataclasses.dataclass
class ReuseRecord:
    """An asset's rendition under ``policy`` is its best copy's (``add --reuse-near``); its own
    waits for ``dupes unlink``."""

    policy: str
    best_sha256: str | None  # None: the best copy was removed since (its rendition stays)
    distance: int  # bits between the two fingerprints
    own_rendition_sha256: str


@dataclasses.dataclass
class AssetRecord:
    """An asset with everything the catalogue knows about it."""

    sha256: str
    format: str
    media_type: str
    width: int
    height: int
    mode: str
    frames: int
    orientation: int | None
    size_bytes: int
    created_at: datetime
    renditions: list[RenditionRecord] = dataclasses.field(default_factory=list)
    uploads: list[UploadRecord] = dataclasses.field(default_factory=list)
    sources: list[SourceRecord] = dataclasses.field(default_factory=list)
    tags: list[str] = dataclasses.field(default_factory=list)
    reuses: list[ReuseRecord] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class PolicyStats:
    policy: str
    assets: int  # assets with a rendition under this policy
    renditions: int  # distinct renditions (shared ones count once)
    bytes: int
    tokens: int  # one use of every asset
    tokens_per_image: float
    cost_all_once: float  # dollars to send every asset once
    cost_per_1000_images: float  # dollars for 1,000 uses of an average image


@dataclasses.dataclass
class Stats:
    assets: int
    asset_bytes: int
    price_per_mtok: float
    policies: list[PolicyStats]
    model: str | None = None  # whose tier the token figures are at
    tier: str = "standard"


@dataclasses.dataclass
class AddSummary:
    """Counts of an ``add``'s outcomes; known rejections apart from this run's own."""

    new: int = 0
    duplicate: int = 0
    unchanged: int = 0
    rejected: int = 0
    known_rejected: int = 0  # rejected by an earlier run, unchanged since, not read again

    def count(self, outcome: Outcome) -> None:
        name = "known_rejected" if outcome.known else outcome.outcome
        setattr(self, name, getattr(self, name) + 1)

    def __str__(self) -> str:
        dup = "duplicate" if self.duplicate == 1 else "duplicates"
        text = (
            f"{self.new} new, {self.duplicate} {dup}, {self.unchanged} unchanged, "
            f"{self.rejected} rejected"
        )
        if self.known_rejected:
            text += (
                f"; {self.known_rejected} known rejections not read again "
                "(--list-rejected shows them)"
            )
        return text


@dataclasses.dataclass
class AddResult:
    """What ``Library.add`` did: one outcome per input file, in walk order, and the counts."""

    outcomes: list[Outcome]
    summary: AddSummary

    def __iter__(self):
        return iter(self.outcomes)


@dataclasses.dataclass(slots=True)
class UploadOutcome:
    """What happened to one rendition in one remote."""

    rendition_sha256: str
    outcome: str  # uploaded | adopted | present | busy | failed
    file_id: str | None = None
    reason: str | None = None
    size_bytes: int = 0
    path: str | None = None  # a source file of the rendition, to name it to people


UPLOAD_OUTCOMES = ("uploaded", "present", "adopted", "busy", "failed")  # of a rendition's push


@dataclasses.dataclass
class PushSummary:
    outcomes: list[UploadOutcome] = dataclasses.field(default_factory=list)
    deleted_duplicates: int = 0
    renditions: dict[str, str] = dataclasses.field(
        default_factory=dict
    )  # asset sha256 -> rendition sha256

    def by_asset(self) -> dict[str, UploadOutcome]:
        """asset sha256 -> the outcome of its rendition, for every asset the push covered."""
        by_rendition = {o.rendition_sha256: o for o in self.outcomes}
        return {a: by_rendition[r] for a, r in self.renditions.items() if r in by_rendition}

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.outcomes)

    @property
    def bytes_uploaded(self) -> int:
        return sum(o.size_bytes for o in self.outcomes if o.outcome == "uploaded")

    def record(self) -> dict[str, Any]:
        """What ``push --json`` prints: each outcome counted, the bytes sent, then every
        rendition's outcome and which rendition each asset covered uses."""
        counts = {k: self.count(k) for k in UPLOAD_OUTCOMES}
        return {**counts, "bytes_uploaded": self.bytes_uploaded,
                "deleted_duplicates": self.deleted_duplicates, "outcomes": self.outcomes,
                "renditions": self.renditions}  # fmt: skip

    def __str__(self) -> str:
        sent = self.bytes_uploaded
        parts = [
            f"{self.count('uploaded')} uploaded ({sent / 1e6:.1f} MB)",
            f"{self.count('present')} already there",
        ]
        parts += [f"{self.count(k)} {k}" for k in ("adopted", "busy", "failed") if self.count(k)]
        if self.deleted_duplicates:
            parts.append(f"{self.deleted_duplicates} duplicate copies deleted")
        return ", ".join(parts)


def iso(moment: datetime) -> str:
    """A moment as JSON and CSV show it: ISO 8601 in UTC, ``Z`` for its zone."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(record: Any, **extra: Any) -> str:
    """One line of JSON; file names that are not valid UTF-8 in their printable form.
    ``extra``: more keys, after the record's own."""
    if type(record) is Outcome:  # one a file, by the hundred thousand: no deep copy
        return _ENCODER.encode(_outcome_dict(record))
    if extra:
        return _ENCODER.encode({**_printable(record), **_printable(extra)})
    return _ENCODER.encode(_printable(record))


def _outcome_dict(o: Outcome) -> dict[str, Any]:
    data = {name: getattr(o, name) for name in OUTCOME_FIELDS}
    for name in ("path", "duplicate_of"):
        value = data[name]
        if value is not None and not value.isascii():
            data[name] = shown(value)
    return data


OUTCOME_FIELDS = [f.name for f in dataclasses.fields(Outcome)]
_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False)


def _printable(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts (like ``dataclasses.asdict``, but
    without its deep copies: nothing here is mutable but containers), text in its printable
    form."""
    if isinstance(value, str):
        return value if is_plain(value) else shown(value)
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    if isinstance(value, dict):
        return {k: _printable(v) for k, v in value.items()}
    names = _field_names(type(value))
    if names is not None:
        return {name: _printable(getattr(value, name)) for name in names}
    return value


def _field_names(cls: type, cache: dict[type, tuple[str, ...] | None] = {}) -> tuple | None:  # noqa: B006
    """The field names of a dataclass, None for any other type; looked up once per type."""
    if cls not in cache:
        is_record = dataclasses.is_dataclass(cls)
        cache[cls] = tuple(f.name for f in dataclasses.fields(cls)) if is_record else None
    return cache[cls]
