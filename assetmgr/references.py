"""Naming an asset: one rule, used alike by the catalogue, the library and the fast path.

A reference is read as the first of these that fits:

1. ``sha256:<hex>`` is hex digits, even when a file of that name exists;
2. the path of an existing file: its bytes are hashed (streaming) and the hash looked up,
   so an existing path wins over a bare hex string (and over a file id);
3. a file id of the Files API (``file_`` then letters, digits, ``_`` or ``-``): the asset
   whose rendition that upload holds, whatever the upload's state and workspace. When
   several assets use that rendition, the one that does not borrow it from its best copy
   (``near_links``) is meant; if that leaves more than one, the reference is ambiguous;
4. a full sha256: 64 hex digits, in either case;
5. a prefix of at least 6 hex digits, which must match exactly one asset.

Fewer hex digits is a ``UsageError``; anything else is ``NotFound``: neither a sha256 (or
a prefix), a file id, nor an existing file.

Tag names stand where references stand (``tag add NAME REF...``, ``--tag NAME``), so a
new tag may not look like one: 6 or more hex digits, with or without ``sha256:``, or a
file id.

Pure: ``parse`` reads the text and, for a path, the file; never the catalogue. Callers
match the digits (or find the file id's holders) their own way (SQLAlchemy in
``Catalogue.resolve``, ``sqlite3`` in ``lookup``) and let ``Reference.pick`` decide among
the matches (``Reference.owner`` among a file id's holders).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import AmbiguousReference, LocalError, NotFound, UsageError
from .hashing import PREFIX, sha256_file

MIN_PREFIX = 6
FULL = 64
MAX_TAG = 200
HEX = re.compile(r"[0-9a-f]*")  # none at all is merely too short
HASH_LIKE = re.compile(rf"(?:{PREFIX})?[0-9a-f]{{{MIN_PREFIX},}}", re.IGNORECASE)
FILE_ID = re.compile(r"file_[A-Za-z0-9_-]+")  # "format and length of IDs may change"
MAX_FILE_ID = 200  # uploads.file_id's width


@dataclass(frozen=True)
class Reference:
    """A reference read by ``parse``: the hex digits a catalogued sha256 must start with, or
    the file id of an upload."""

    text: str  # as given
    digits: str  # 6 to 64 lower-case hex digits ("" for a file id)
    path: str | None = None  # the file that was hashed, when the reference named one
    file_id: str | None = None  # the Files API id, when the reference is one

    @property
    def full(self) -> bool:
        return len(self.digits) == FULL

    @property
    def key(self) -> str:
        """What this reference looks up: its file id, or its digits."""
        return self.file_id or self.digits

    def pick(self, matches: Sequence[str]) -> str:
        """The one sha256 among ``matches`` (catalogued sha256s starting with ``digits``)."""
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise AmbiguousReference(self.text, list(matches))
        raise self.unknown()

    def owner(self, holders: Iterable[tuple[str, bool]]) -> str:
        """The one asset a file id names, among ``holders``: (sha256, borrows) of each asset
        whose rendition the upload holds, ``borrows`` when the asset uses its best copy's
        rendition (a ``near_links`` row) rather than its own. Those that do not borrow win."""
        holders = list(holders)
        own = sorted({sha for sha, borrows in holders if not borrows})
        shas = own or sorted({sha for sha, _ in holders})
        if len(shas) == 1:
            return shas[0]
        if shas:
            raise AmbiguousReference(self.text, shas, "name the asset by its sha256")
        raise self.unknown()

    def unknown(self) -> NotFound:
        """The error for a reference that matched nothing."""
        if self.file_id is not None:
            return NotFound(
                f"no upload in this catalogue has the file id {self.file_id}; "
                "assetmgr whereis REF lists the file ids of an asset"
            )
        if self.path is not None:
            return NotFound(
                f"{self.path} (sha256 {self.digits[:12]}) is not catalogued; "
                f"run: assetmgr add {self.path}"
            )
        if self.full:
            return NotFound(f"no asset has the sha256 {self.digits}")
        return NotFound(f"no asset has a sha256 starting with {self.digits}")


def parse(reference: str) -> Reference:
    """Read ``reference`` by the rule above; a path is hashed here."""
    text = reference.strip()
    if text[: len(PREFIX)].lower() == PREFIX:
        return _hex(reference, text[len(PREFIX) :])
    if os.path.isfile(text):
        try:
            return Reference(reference, sha256_file(text), text)
        except OSError as e:
            raise LocalError(f"cannot read {text}: {e.strerror or e}") from e
    if FILE_ID.fullmatch(text) and len(text) <= MAX_FILE_ID:
        return Reference(reference, "", file_id=text)
    return _hex(reference, text)


def _hex(reference: str, digits: str) -> Reference:
    digits = digits.lower()
    if not HEX.fullmatch(digits) or len(digits) > FULL:
        raise NotFound(
            f"{reference!r} is neither a sha256 (or a prefix of one) nor an existing file "
            "nor a file id (file_...)"
        )
    if len(digits) < MIN_PREFIX:
        raise UsageError(
            f"{reference!r} is too short: give at least {MIN_PREFIX} hex digits of the sha256"
        )
    return Reference(reference, digits)


def not_catalogued(references: Sequence[Reference]) -> NotFound:
    """The error for full sha256s (or hashed files) that name no catalogued asset."""
    if len(references) == 1:
        return references[0].unknown()
    shown = ", ".join(r.text.strip()[:16] for r in references[:5])
    more = " ..." if len(references) > 5 else ""
    return NotFound(f"{len(references)} references name no catalogued asset: {shown}{more}")


def tag_names(names: Iterable[str], *, new: bool = True) -> list[str]:
    """``names`` stripped and checked: 1 to 200 characters, not blank, and (``new``: for
    tags being put on) not like a sha256 or a prefix of one."""
    cleaned = [n.strip() for n in names]
    if not cleaned or any(not n or len(n) > MAX_TAG for n in cleaned):
        raise UsageError(f"a tag is 1 to {MAX_TAG} characters and not blank")
    for name in cleaned if new else ():
        if HASH_LIKE.fullmatch(name):
            raise UsageError(
                f"{name!r} cannot be a tag: it reads as a sha256 (6 or more hex digits); "
                "use a name with a character other than 0-9 and a-f"
            )
        if FILE_ID.fullmatch(name):
            raise UsageError(f"{name!r} cannot be a tag: it reads as a file id (file_...)")
    return cleaned
