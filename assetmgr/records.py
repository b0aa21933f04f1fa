"""Plain values that the library returns and the CLI renders: no storage, no I/O.

``to_json`` turns any of them into what ``--json`` prints.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any


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
    upload: str | None = None  # uploaded | present | adopted | busy | failed; None: not uploaded
    file_id: str | None = None
    upload_error: str | None = None


@dataclasses.dataclass
class RenditionRecord:
    """The exact bytes uploaded for an asset under a policy, described."""

    policy: str
    sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    tokens: int
    warnings: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class UploadRecord:
    rendition_sha256: str
    base_url: str
    workspace: str
    file_id: str | None
    filename: str
    state: str
    created_at: datetime
    expires_at: datetime | None
    last_verified_at: datetime | None
    error: str | None


@dataclasses.dataclass
class SourceRecord:
    path: str
    size_bytes: int
    mtime_ns: int
    last_seen_at: datetime


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


@dataclasses.dataclass
class AddSummary:
    new: int = 0
    duplicate: int = 0
    unchanged: int = 0
    rejected: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.outcome, getattr(self, outcome.outcome) + 1)

    def __str__(self) -> str:
        dup = "duplicate" if self.duplicate == 1 else "duplicates"
        return f"{self.new} new, {self.duplicate} {dup}, {self.unchanged} unchanged, {self.rejected} rejected"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def to_json(record: Any) -> str:
    data = dataclasses.asdict(record) if dataclasses.is_dataclass(record) else record
    return json.dumps(data, default=_default, ensure_ascii=False)
