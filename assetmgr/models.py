"""The catalogue's tables, as SQLAlchemy Core ``Table``s and nothing else.

No I/O and no imports beyond SQLAlchemy Core: queries live in ``catalogue.py`` and
``journal.py``, all of them Core statements, and deleting an asset cascades in the schema
(``ondelete``). The ORM is not used, so it is not imported: that is a sixth of what every
command that opens the catalogue pays at start-up.

Each table is named twice: ``assets`` is the ``Table``, and ``Asset`` its columns by
attribute (``Asset.sha256``), usable wherever SQLAlchemy takes a table (``select(...)
.join(Asset, ...)``, ``update(Upload)``), with the table itself at ``Asset.__table__``.
The words are those of DESIGN.md:

- ``Asset``: one distinct source image, keyed by the sha256 of its bytes on disk.
- ``Rendition``: exact bytes that are (or will be) uploaded; shared by every
  asset whose rendition under some policy is byte-identical.
- ``AssetRendition``: which rendition an asset has under which policy.
- ``Remote``: an API base URL plus a workspace, the one the API reports
  (``anthropic-workspace-id``); file ids live in exactly one. ``workspace_id`` is None
  only on a remote a catalogue made before workspaces were learnt, until a request
  shows which workspace its label reaches.
- ``WorkspaceLabel``: a name the user gave a workspace (``--workspace``), per base URL;
  several labels may reach one remote, and share its uploads.
- ``Upload``: (rendition, remote) -> file_id, with its state and lease, and how it came
  to be (``origin``: uploaded, adopted, imported).
- ``Source``: a path where an asset was seen; also the stat cache.
- ``Rejection``: a path whose file was rejected, with the reason; the stat cache of
  rejections, so that an unchanged rejected file is not read again.
- ``Tag``: a label on an asset.

Paths are stored as text; a name that is not valid UTF-8 is stored in its printable
form (``pathnames.shown``) with its exact bytes beside it in ``path_bytes`` (``bytea`` on
PostgreSQL). Paths compare as their UTF-8 bytes on every backend (``PATH``): the stat cache
reads a folder's paths as one range (``path >= 'dir/' AND path < 'dir0'``), which a
PostgreSQL database sorting by a locale (``en_US.UTF-8`` orders ``/`` after letters, or
ignores it) would answer wrongly.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone; without this a value written aware comes back naive.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)  # PostgreSQL: in the session's time zone


# Text that sorts by code point (UTF-8 byte order): SQLite's default, "C" on PostgreSQL.
PATH = Text().with_variant(Text(collation="C"), "postgresql")


metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Columns:
    """A table's columns by attribute, ``Asset.sha256``; SQLAlchemy takes it as the table."""

    def __init__(self, table: Table) -> None:
        self.__table__ = table

    def __getattr__(self, name: str) -> Column:
        try:
            return self.__table__.c[name]
        except KeyError:
            raise AttributeError(f"{self.__table__.name} has no column {name!r}") from None

    def __clause_element__(self) -> Table:
        return self.__table__


assets = Table(
    "assets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), unique=True, nullable=False),
    Column("format", String(16), nullable=False),  # JPEG, PNG, GIF, WEBP
    Column("media_type", String(32), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("frames", Integer, default=1, nullable=False),
    Column("orientation", Integer, nullable=True),  # EXIF 1..8; None: absent
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
Asset = Columns(assets)

renditions = Table(
    "renditions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), unique=True, nullable=False),
    Column("media_type", String(32), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("tokens", Integer, nullable=False),  # visual tokens at the standard tier (limits)
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
Rendition = Columns(renditions)

asset_renditions = Table(
    "asset_renditions",
    metadata,
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("policy", String(32), primary_key=True),
    Column("rendition_id", ForeignKey("renditions.id"), index=True, nullable=False),
    Column("warnings", Text, default="[]", nullable=False),  # JSON list of strings
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
AssetRendition = Columns(asset_renditions)

remotes = Table(
    "remotes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("base_url", String(500), nullable=False),  # normalised (remote.normalise_url)
    # As the API reports it; None: not learnt yet (a remote of an older catalogue).
    Column("workspace_id", String(200), nullable=True),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    # The API's clock minus this machine's, seen in the API's Date header at clock_checked_at.
    Column("clock_offset_seconds", Float, nullable=True),
    Column("clock_checked_at", UTCDateTime, nullable=True),
    UniqueConstraint("base_url", "workspace_id"),
)
Remote = Columns(remotes)

workspace_labels = Table(
    "workspace_labels",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("base_url", String(500), nullable=False),
    Column("name", String(200), nullable=False),
    Column("remote_id", ForeignKey("remotes.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    UniqueConstraint("base_url", "name"),
)
WorkspaceLabel = Columns(workspace_labels)


class UploadState(str, Enum):
    """Where an upload row stands. Live states hold the one claim per rendition and remote."""

    PENDING = "pending"  # claimed, request not answered yet (leased)
    ACTIVE = "active"  # the remote holds it: file_id is valid
    FAILED = "failed"  # the API refused it (error says why)
    MISSING = "missing"  # a lookup no longer found it
    EXPIRED = "expired"  # its expires_at passed, by the API's clock
    DELETED = "deleted"  # deleted on purpose
    # another live upload of the rendition holds its place in the workspace (two labels
    # found to reach one workspace, an import): the file may still be there, gc deletes it
    SUPERSEDED = "superseded"


class UploadOrigin(str, Enum):
    """How an upload row came to be."""

    UPLOADED = "uploaded"  # this catalogue sent the bytes
    ADOPTED = "adopted"  # found in the workspace under the rendition's name (and size)
    IMPORTED = "imported"  # read from another catalogue's export


LIVE_STATES = (UploadState.PENDING.value, UploadState.ACTIVE.value)
LIVE_STATES_SQL = "state IN ('pending', 'active')"


uploads = Table(
    "uploads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("rendition_id", ForeignKey("renditions.id"), nullable=False),
    Column("remote_id", ForeignKey("remotes.id"), nullable=False),
    Column("file_id", String(200), nullable=True),  # None while pending
    Column("filename", String(255), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("state", String(16), default="pending", nullable=False),  # an UploadState value
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),  # None: never
    # The lifetime asked for (None: never expires); a replacement asks for the same.
    Column("expires_in_seconds", Integer, nullable=True),
    Column("last_verified_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(100), nullable=True),
    Column("lease_expires_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=True),
    # uploaded (sent by this catalogue), adopted (found in the workspace), imported
    Column("origin", String(16), default="uploaded", server_default="uploaded", nullable=False),
    UniqueConstraint("remote_id", "file_id"),
    Index("ix_uploads_rendition_remote", "rendition_id", "remote_id"),
    # A file id names its asset wherever a reference is taken (``show file_...``).
    Index("ix_uploads_file_id", "file_id"),
    # At most one live upload per rendition and remote: the claim two processes race for.
    Index(
        "uq_uploads_live",
        "rendition_id",
        "remote_id",
        unique=True,
        sqlite_where=text(LIVE_STATES_SQL),
        postgresql_where=text(LIVE_STATES_SQL),
    ),
)
Upload = Columns(uploads)

sources = Table(
    "sources",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("path", PATH, unique=True, nullable=False),
    Column("path_bytes", LargeBinary, nullable=True),  # when not valid UTF-8
    Column("size_bytes", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=True),
    Column("first_seen_at", UTCDateTime, default=utcnow, nullable=False),
    Column("last_seen_at", UTCDateTime, default=utcnow, nullable=False),
)
Source = Columns(sources)

rejections = Table(
    "rejections",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("path", PATH, unique=True, nullable=False),
    Column("path_bytes", LargeBinary, nullable=True),  # when not valid UTF-8
    Column("size_bytes", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=True),
    # The policy and limits the file was judged by: other rules judge it again.
    Column("rules", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("rejected_at", UTCDateTime, default=utcnow, nullable=False),
)
Rejection = Columns(rejections)

tags = Table(
    "tags",
    metadata,
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(200), primary_key=True, index=True),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
Tag = Columns(tags)

# What each asset looks like (``phash``): a perceptual hash under a named algorithm and
# version, a 4x4 RGB thumbnail and the grey spread, for ``assetmgr dupes --near``.
perceptual_hashes = Table(
    "perceptual_hashes",
    metadata,
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("algorithm", String(32), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("hash", String(16), nullable=False),  # 64 bits, hexadecimal
    Column("thumb", String(96), nullable=False),  # 4x4 RGB, hexadecimal
    Column("spread", Float, nullable=False),
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
PerceptualHash = Columns(perceptual_hashes)

# What a user decided of two assets (``assetmgr dupes mark``): the same picture, or not, whatever
# their fingerprints say. One row per pair, the smaller asset id first.
near_decisions = Table(
    "near_decisions",
    metadata,
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("other_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("decision", String(16), nullable=False),  # same | different
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
NearDecision = Columns(near_decisions)

# An asset that uses its best copy's rendition under a policy instead of its own (``add
# --reuse-near``): its ``asset_renditions`` row names the best copy's rendition, and its own
# rendition and warnings wait here for ``dupes unlink``. ``best_id`` None: the best copy was
# removed since (the rendition it shared stays, as any shared rendition does).
near_links = Table(
    "near_links",
    metadata,
    Column("asset_id", ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("policy", String(32), primary_key=True),
    Column("best_id", ForeignKey("assets.id", ondelete="SET NULL"), index=True, nullable=True),
    Column("own_rendition_id", ForeignKey("renditions.id"), index=True, nullable=False),
    Column("own_warnings", Text, nullable=False),  # JSON list of strings
    Column("distance", Integer, nullable=False),  # bits between the two fingerprints
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
)
NearLink = Columns(near_links)

# What GET /v1/models reported of each model, as ``assetmgr models --refresh`` stored it; the
# table of models in ``modelspec`` takes context, lifecycle and capabilities from here.
model_info = Table(
    "model_info",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("display_name", String(200), nullable=True),
    Column("line", String(32), nullable=True),  # haiku, sonnet, opus, ...; None: no line
    Column("max_input_tokens", Integer, nullable=True),
    Column("max_tokens", Integer, nullable=True),
    Column("lifecycle", String(16), nullable=False),  # active | deprecated | retired
    Column("created_at", UTCDateTime, nullable=True),  # the model's release, as reported
    Column("deprecated_at", UTCDateTime, nullable=True),
    Column("retires_at", UTCDateTime, nullable=True),
    Column("capabilities", Text, nullable=True),  # JSON object, as the API reports it
    Column("fetched_at", UTCDateTime, default=utcnow, nullable=False),
)
ModelInfo = Columns(model_info)

# -- runs: a prompt asked of a set of assets, its requests and their answers -------------------
#
# ``runs``: one row per content key (prompt, system, model, options, the ordered renditions), so
# the same run asked again is the same row. ``run_requests``: one per request of a run, keyed by
# its own content (the run's options and its renditions) so that an answer is found again by
# any run that asks the same thing; the answer, its usage and cost sit on the row.
# ``message_batches``: the journal of Message Batches, a row committed before the batch is
# submitted (``submitting``), given the API's batch id once it answers, and closed
# (``collected``) when every result of it is recorded.
runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(64), unique=True, nullable=False),
    Column("model", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("system", Text, nullable=True),
    Column("options", Text, nullable=False),  # JSON: max_tokens, per_request, label, cache
    Column("remote_id", ForeignKey("remotes.id", ondelete="SET NULL"), nullable=True),
    Column("requests", Integer, nullable=False),
    Column("images", Integer, nullable=False),
    Column("estimated_tokens", BigInteger, nullable=False),
    Column("estimated_cost", Float, nullable=True),  # dollars, input only; None: no price
    Column("batch", Integer, nullable=False),  # 1: sent as Message Batches
    Column("created_at", UTCDateTime, default=utcnow, nullable=False),
    Column("updated_at", UTCDateTime, default=utcnow, nullable=False),
)
Run = Columns(runs)

message_batches = Table(
    "message_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), index=True, nullable=False),
    Column("remote_id", ForeignKey("remotes.id", ondelete="CASCADE"), nullable=False),
    Column("batch_id", String(200), unique=True, nullable=True),  # None: not known yet
    Column("state", String(16), nullable=False),  # submitting | submitted | collected | lost
    Column("requests", Integer, nullable=False),
    Column("journalled_at", UTCDateTime, nullable=False),  # by the API's clock
    Column("expires_at", UTCDateTime, nullable=True),  # as the API reports it
)
MessageBatch = Columns(message_batches)

run_requests = Table(
    "run_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),  # the request's place in the run
    Column("key", String(64), index=True, nullable=False),
    Column("assets", Text, nullable=False),  # JSON list of asset sha256s, in order
    Column("renditions", Text, nullable=False),  # JSON list of rendition sha256s, in order
    Column("file_ids", Text, nullable=True),  # JSON list: the files it was last sent with
    Column("estimated_tokens", Integer, nullable=False),
    # pending | submitted | answered | refused | errored | expired | canceled
    Column("state", String(16), nullable=False),
    Column("batch_id", ForeignKey("message_batches.id", ondelete="SET NULL"), nullable=True),
    Column("text", Text, nullable=True),
    Column("response", Text, nullable=True),  # the whole Message, as JSON
    Column("stop_reason", String(32), nullable=True),
    Column("input_tokens", Integer, nullable=True),
    Column("output_tokens", Integer, nullable=True),
    Column("cache_read_tokens", Integer, nullable=True),
    Column("cache_write_tokens", Integer, nullable=True),
    Column("cost", Float, nullable=True),  # dollars
    Column("error", Text, nullable=True),
    Column("attempts", Integer, default=0, nullable=False),
    Column("answered_at", UTCDateTime, nullable=True),
    UniqueConstraint("run_id", "seq"),
)
RunRequest = Columns(run_requests)

# An asset a run did not ask about, because it asked about the asset's best copy (``run
# --skip-near``): the asset gets that answer, marked as a copy. Sha256s, as ``run_requests``
# keeps them: the answer outlives the assets.
run_copies = Table(
    "run_copies",
    metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("asset", String(64), primary_key=True),
    Column("copy_of", String(64), nullable=False),
    Column("distance", Integer, nullable=False),
)
RunCopy = Columns(run_copies)
