"""The catalogue's tables, as typed SQLAlchemy 2 declarations and nothing else.

No I/O and no imports beyond SQLAlchemy: queries live in ``catalogue.py``.
There are no ORM relationships: every query is a Core ``select`` (in ``catalogue.py``
and ``journal.py``), and deleting an asset cascades in the schema (``ondelete``).
The words are those of DESIGN.md:

- ``Asset``: one distinct source image, keyed by the sha256 of its bytes on disk.
- ``Rendition``: exact bytes that are (or will be) uploaded; shared by every
  asset whose rendition under some policy is byte-identical.
- ``AssetRendition``: which rendition an asset has under which policy.
- ``Remote``: an API base URL plus a workspace; file ids live in exactly one.
- ``Upload``: (rendition, remote) -> file_id, with its state and lease.
- ``Source``: a path where an asset was seen; also the stat cache.
- ``Rejection``: a path whose file was rejected, with the reason; the stat cache of
  rejections, so that an unchanged rejected file is not read again.
- ``Tag``: a label on an asset.

Paths are stored as text; a name that is not valid UTF-8 is stored in its printable
form (``pathnames.shown``) with its exact bytes beside it in ``path_bytes``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import Enum

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Asset(Base):
    __tablename__ = "assets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    format: Mapped[str] = mapped_column(String(16))  # JPEG, PNG, GIF, WEBP
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    frames: Mapped[int] = mapped_column(Integer, default=1)
    orientation: Mapped[int | None] = mapped_column(Integer)  # EXIF 1..8; None: absent
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rendition(Base):
    __tablename__ = "renditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    tokens: Mapped[int] = mapped_column(Integer)  # estimate: width*height/750
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssetRendition(Base):
    __tablename__ = "asset_renditions"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    policy: Mapped[str] = mapped_column(String(32), primary_key=True)
    rendition_id: Mapped[int] = mapped_column(ForeignKey("renditions.id"), index=True)
    warnings: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of strings
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Remote(Base):
    __tablename__ = "remotes"
    __table_args__ = (UniqueConstraint("base_url", "workspace"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    base_url: Mapped[str] = mapped_column(String(500))
    workspace: Mapped[str] = mapped_column(String(200))
    workspace_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The API's clock minus this machine's, seen in the API's Date header at clock_checked_at.
    clock_offset_seconds: Mapped[float | None] = mapped_column(Float)
    clock_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UploadState(str, Enum):
    """Where an upload row stands. Live states hold the one claim per rendition and remote."""

    PENDING = "pending"  # claimed, request not answered yet (leased)
    ACTIVE = "active"  # the remote holds it: file_id is valid
    FAILED = "failed"  # the API refused it (error says why)
    MISSING = "missing"  # a lookup no longer found it
    EXPIRED = "expired"  # its expires_at passed, by the API's clock
    DELETED = "deleted"  # deleted on purpose


LIVE_STATES = (UploadState.PENDING.value, UploadState.ACTIVE.value)
LIVE_STATES_SQL = "state IN ('pending', 'active')"


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (
        UniqueConstraint("remote_id", "file_id"),
        Index("ix_uploads_rendition_remote", "rendition_id", "remote_id"),
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

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rendition_id: Mapped[int] = mapped_column(ForeignKey("renditions.id"))
    remote_id: Mapped[int] = mapped_column(ForeignKey("remotes.id"))
    file_id: Mapped[str | None] = mapped_column(String(200))  # None while pending
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # an UploadState value
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never
    # The lifetime asked for (None: never expires); a replacement asks for the same.
    expires_in_seconds: Mapped[int | None] = mapped_column(Integer)
    last_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    path_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)  # when not valid UTF-8
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int | None] = mapped_column(BigInteger)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Rejection(Base):
    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)
    path_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)  # when not valid UTF-8
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    inode: Mapped[int | None] = mapped_column(BigInteger)
    # The policy and limits the file was judged by: other rules judge it again.
    rules: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64))
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    __tablename__ = "tags"

    asset_id: Mapped[int] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
