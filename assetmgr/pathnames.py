"""File names as assetmgr stores and prints them, losslessly.

On POSIX a file name is bytes; Python hands names that are not valid UTF-8 over as
strings with "surrogate escapes", which cannot be printed, stored as text, or put in
JSON. assetmgr keeps the real name (``str``, as ``os`` functions take it) wherever it
opens files, and shows every name in one printable form:

- a name that is valid UTF-8 is shown as it is;
- any other name is shown with each byte that is not UTF-8 as ``\\xNN`` and each
  backslash doubled: exactly what bash reads inside ``$'...'``, so
  ``ls $'bad\\xffname.jpg'`` finds the file again.

The catalogue stores the shown form as text and, for names that needed escaping, the
exact bytes beside it (``path_bytes``), from which ``real`` gives the name back.

Text for people (a table, a line of talk) takes one more step, ``on_one_line``: a control
character (a newline, a tab, an escape) is written as bash writes it inside ``$'...'``
(``\\n``, ``\\t``, ``\\x1b``), so that one name is one line and cannot drive the terminal.
``--json`` and ``--csv`` carry the shown form, control characters and all.
"""

from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def is_plain(path: str) -> bool:
    """True when ``path`` is valid UTF-8 text (most names): shown and stored as it is."""
    if path.isascii():
        return True
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(path: str) -> str:
    """The printable, reversible form of ``path`` (see the module docstring)."""
    if is_plain(path):
        return path
    raw = os.fsencode(path).replace(b"\\", b"\\\\")
    return raw.decode("utf-8", "backslashreplace")


def on_one_line(path: str) -> str:
    """``shown(path)`` with its control characters escaped: a name in text for people."""
    text = shown(path)
    if text.isprintable():
        return text
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match) -> str:
    char = match[0]
    if char in _NAMED:
        return _NAMED[char]
    return f"\\x{ord(char):02x}" if char <= "\x7f" else f"\\u{ord(char):04x}"


def exact_bytes(path: str) -> bytes | None:
    """The bytes of a name that is not valid UTF-8 (to store beside its shown form), else None."""
    return None if is_plain(path) else os.fsencode(path)


def real(path: str, path_bytes: bytes | None) -> str:
    """The name ``os`` functions take, from what the catalogue stored."""
    return os.fsdecode(path_bytes) if path_bytes else path
