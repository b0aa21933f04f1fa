"""``assetmgr add`` over a few hundred hostile files (``mutants.py``), through the real CLI.

The contract: every input file gets exactly one outcome, whatever it holds or is named, and
the run never dies with a traceback. A file that cannot be read, decoded or rendered is
``rejected`` with a reason; the run goes on (exit 0, or 3 when something was rejected).
Corrupt data is never accepted: every file that comes out ``new``, ``duplicate`` or
``unchanged`` is one Pillow decodes completely, every frame.

The files are damaged copies of the corpus's accepted images, and copies (most of them
undamaged) under odd names: not UTF-8, newlines, spaces, leading dashes, 255 bytes, sha256
look-alikes, in subfolders with such names too.
They are the same on every run: ``ASSETMGR_FUZZ_SEED`` and ``ASSETMGR_FUZZ_COUNT`` choose
another set (default seed 0, 400 files).

How a path appears in a ``--json`` line: stdout is JSON text, so it must be UTF-8, and each
line's ``path`` is the absolute path of one input file. A path that is not valid UTF-8 must
still name its file losslessly. Either of two spellings is accepted: (1) the JSON string
decodes to the path as ``os.fsdecode`` gives it (each undecodable byte a lone surrogate
U+DC80..U+DCFF, written ``\\udcff`` in JSON); or (2) the string holds backslash escapes
that bash's ``$'...'`` quoting reads back into the path's bytes (``bad\\xffname.jpg``,
``\\\\`` for a backslash, ``\\n``, ``\\t``, octal, ``\\uXXXX``), optionally wrapped in
``$'...'``. A line names a file when either reading gives the file's raw path bytes.
Raw bytes that are not UTF-8 on stdout are never accepted: that is not JSON.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import CREDENTIALS
from mutants import CORPUS, Mutant, plan, write_mutants
from PIL import Image

SEED = int(os.environ.get("ASSETMGR_FUZZ_SEED", "0"))
COUNT = int(os.environ.get("ASSETMGR_FUZZ_COUNT", "400"))
TIMEOUT = 300  # seconds for one `add`; a hostile file must not hang the run either
OUTCOMES = {"new", "duplicate", "unchanged", "rejected"}
ACCEPTED = {"new", "duplicate", "unchanged"}
SHOWN = 25  # offending files listed in a failure message
ASSETMGR_FRAME = re.compile(r'File ".*/(assetmgr/[^"]*\.py)", line (\d+)')


@dataclass(repr=False)
class Folder:
    root: Path
    files: dict[bytes, Mutant]  # absolute raw path -> what was written there

    def describe(self, raw: bytes) -> str:
        mutant = self.files.get(raw)
        name = raw[len(os.fsencode(self.root)) + 1 :]
        if mutant is None:
            return repr(name)
        source = mutant.source.relative_to(CORPUS).as_posix()
        return f"{name!r} ({mutant.kind} of {source})"

    def __repr__(self) -> str:
        return f"Folder({str(self.root)!r}, {len(self.files)} files)"


@dataclass(repr=False)
class Run:
    """One `add`: its exit code, stderr, and its stdout read line by line."""

    returncode: int
    stderr: str
    lines: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # lines that are not what --json promises

    def __repr__(self) -> str:
        return f"Run(exit {self.returncode}, {len(self.lines)} lines)"

    def crash(self) -> str:
        """Where a traceback on stderr says the run died: the exception, and the innermost
        assetmgr frame of the first traceback printed (the root cause: a worker's, when a
        worker raised); else the end of stderr."""
        lines = self.stderr.strip().splitlines()
        if "Traceback" not in self.stderr:
            return "\n".join(lines[-5:])
        cause = re.split(r"\n\S[^\n]*(?:direct cause|During handling)", self.stderr)[0]
        cause_lines = cause.splitlines()
        frames = [i for i, line in enumerate(cause_lines) if ASSETMGR_FRAME.search(line)]
        if not frames:
            return "\n".join(lines[-5:])
        where = ":".join(ASSETMGR_FRAME.search(cause_lines[frames[-1]]).groups())
        code = cause_lines[frames[-1] + 1].strip() if frames[-1] + 1 < len(cause_lines) else ""
        return f"{lines[-1]}\n  raised at {where}: {code}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Folder:
    if not (CORPUS / "manifest.csv").is_file():
        pytest.fail(f"the image corpus is missing at {CORPUS}")
    root = tmp_path_factory.mktemp("fuzz") / "in"
    written = write_mutants(root, COUNT, SEED)
    mutants = plan(COUNT, SEED)
    return Folder(root, {os.fsencode(p): m for p, m in zip(written, mutants)})


@pytest.fixture(scope="module")
def runs(folder, tmp_path_factory) -> tuple[Run, Run]:
    """`add FOLDER --json --no-upload` twice on one fresh catalogue."""
    home = tmp_path_factory.mktemp("fuzz-home")
    db = tmp_path_factory.mktemp("fuzz-db") / "catalogue.db"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CREDENTIALS and k not in ("ASSETMGR_DB", "ASSETMGR_WORKSPACE")
    }
    env.update(ASSETMGR_HOME=str(home), ASSETMGR_NO_UPLOAD="1")
    command = [sys.executable, "-m", "assetmgr", "--db", str(db), "add", str(folder.root)]
    return tuple(add(command + ["--json", "--no-upload"], env) for _ in range(2))


def add(command: list[str], env: dict[str, str]) -> Run:
    try:
        done = subprocess.run(command, env=env, capture_output=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        tail = (e.stderr or b"")[-2000:].decode("utf-8", "replace")
        pytest.fail(f"`add` still running after {TIMEOUT} s; stderr ends:\n{tail}")
    run = Run(done.returncode, done.stderr.decode("utf-8", "replace"))
    for number, raw in enumerate(done.stdout.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            run.problems.append(f"line {number} is not UTF-8, so not JSON: {raw[:200]!r}")
            text = raw.decode("utf-8", "surrogateescape")  # still matched, to say which file
        try:
            line = json.loads(text)
        except json.JSONDecodeError as e:
            run.problems.append(f"line {number} is not JSON ({e}): {raw[:200]!r}")
            continue
        if not isinstance(line, dict) or not isinstance(line.get("path"), str):
            run.problems.append(f"line {number} is not an object with a path: {raw[:200]!r}")
            continue
        if line.get("outcome") not in OUTCOMES:
            run.problems.append(f"line {number} has outcome {line.get('outcome')!r}")
        run.lines.append(line)
    return run


# --- naming a file in JSON --------------------------------------------------------------

BASH_ESCAPES = {
    "a": 7,
    "b": 8,
    "e": 27,
    "E": 27,
    "f": 12,
    "n": 10,
    "r": 13,
    "t": 9,
    "v": 11,
    "\\": 92,
    "'": 39,
    '"': 34,
    "?": 63,
}
NUMERIC = {"x": (16, 2), "u": (16, 4), "U": (16, 8)}


def bash_unquote(text: str) -> bytes | None:
    """The bytes that bash's ``$'...'`` quoting makes of ``text`` (None if it cannot)."""
    if len(text) >= 3 and text.startswith("$'") and text.endswith("'"):
        text = text[2:-1]
    out, i = bytearray(), 0
    try:
        while i < len(text):
            c = text[i]
            if c != "\\" or i + 1 == len(text):
                out += c.encode("utf-8", "surrogateescape")
                i += 1
                continue
            e = text[i + 1]
            if e in BASH_ESCAPES:
                out.append(BASH_ESCAPES[e])
                i += 2
            elif e in NUMERIC and (digits := _digits(text, i + 2, *NUMERIC[e])):
                value = int(digits, 16)
                out += bytes([value]) if e == "x" else chr(value).encode("utf-8")
                i += 2 + len(digits)
            elif e in "01234567":
                digits = _digits(text, i + 1, 8, 3)
                out.append(int(digits, 8) & 0xFF)
                i += 1 + len(digits)
            elif e == "c" and i + 2 < len(text):
                out.append(ord(text[i + 2]) & 0x1F)
                i += 3
            else:  # not an escape: bash keeps the backslash
                out += b"\\"
                i += 1
    except (UnicodeEncodeError, ValueError):
        return None
    return bytes(out)


def _digits(text: str, start: int, base: int, most: int) -> str:
    allowed = "0-7" if base == 8 else "0-9A-Fa-f"
    return re.match(f"[{allowed}]{{0,{most}}}", text[start:]).group()


def spellings(path: str) -> set[bytes]:
    """The raw paths a JSON ``path`` may stand for (see the module's docstring)."""
    found = set()
    try:
        found.add(os.fsencode(path))
    except UnicodeEncodeError:
        pass
    unquoted = bash_unquote(path)
    if unquoted is not None:
        found.add(unquoted)
    return found


def test_bash_unquote_reads_what_bash_writes():
    assert bash_unquote("bad\\xffname.jpg") == b"bad\xffname.jpg"
    assert bash_unquote("$'new\\nline\\tand\\\\back\\'s'") == b"new\nline\tand\\back's"
    assert bash_unquote("caf\\303\\251 \\u00e9 \\x4") == "café é \x04".encode()
    assert bash_unquote("back\\slash") == b"back\\slash"
    assert spellings("bad\udcffname.jpg") == {b"bad\xffname.jpg"}


# --- the checks ---------------------------------------------------------------------------


def exits_cleanly(run: Run) -> list[str]:
    wrong = []
    if run.returncode not in (0, 3):
        wrong.append(f"exit code {run.returncode}, not 0 or 3")
    if "Traceback" in run.stderr:
        wrong.append("a traceback on stderr")
    return wrong


def one_line_per_file(run: Run, folder: Folder) -> list[str]:
    seen = dict.fromkeys(folder.files, 0)
    wrong = run.problems[:SHOWN]
    if len(run.problems) > SHOWN:
        wrong.append(f"... {len(run.problems)} lines like that in all")
    strays = []
    for line in run.lines:
        named = spellings(line["path"]) & seen.keys()
        if len(named) != 1:
            strays.append(f"line names {len(named)} input files: {line['path']!r}")
        for raw in named:
            seen[raw] += 1
    wrong += strays[:SHOWN]
    if len(strays) > SHOWN:
        wrong.append(f"... {len(strays)} lines like that in all")
    missing = [raw for raw, n in seen.items() if n == 0]
    repeated = [raw for raw, n in seen.items() if n > 1]
    if missing:
        wrong.append(f"{len(missing)} of {len(seen)} files have no line, e.g.:")
        wrong += [f"  {folder.describe(raw)}" for raw in missing[:SHOWN]]
    if repeated:
        wrong.append(f"{len(repeated)} files have more than one line:")
        wrong += [f"  {folder.describe(raw)} x{seen[raw]}" for raw in repeated[:SHOWN]]
    return wrong


def report(run: Run, wrong: list[str]) -> str:
    return "\n".join([*wrong, "the run ended with:", run.crash()])


def test_first_add_finishes(runs):
    first, _ = runs
    wrong = exits_cleanly(first)
    assert not wrong, report(first, wrong)


def test_first_add_gives_every_file_one_line(runs, folder):
    first, _ = runs
    wrong = one_line_per_file(first, folder)
    assert not wrong, report(first, wrong)


def test_second_add_finishes(runs):
    _, second = runs
    wrong = exits_cleanly(second)
    assert not wrong, report(second, wrong)


def test_second_add_gives_every_file_one_line(runs, folder):
    _, second = runs
    wrong = one_line_per_file(second, folder)
    assert not wrong, report(second, wrong)


def test_rejected_files_have_reasons(runs):
    unexplained = [
        f"run {n}: {line['path']!r}"
        for n, run in enumerate(runs, 1)
        for line in run.lines
        if line.get("outcome") == "rejected"
        and not (isinstance(line.get("reason"), str) and line["reason"].strip())
    ]
    assert not unexplained, "rejected without a reason:\n" + "\n".join(unexplained[:SHOWN])


def fully_decodes(path: Path) -> str | None:
    """None when Pillow decodes every frame of ``path``; else what went wrong."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                for frame in range(getattr(image, "n_frames", 1)):
                    image.seek(frame)
                    image.load()
    except Exception as e:  # anything Pillow raises means: not a whole image
        return f"{type(e).__name__}: {e}"
    return None


def test_accepted_files_decode_completely(folder, db_path):
    """Each file is added on its own through the library (one file's crash cannot hide
    another's outcome); every file accepted must decode, every frame."""
    from assetmgr import Library

    accepted_corrupt, crashed = [], 0
    library = Library.open(db_path)
    try:
        for raw in folder.files:
            path = Path(os.fsdecode(raw))
            try:
                outcomes = list(library.add([path], jobs=1))
            except Exception:  # the CLI tests above report these; a fresh handle goes on
                crashed += 1
                library.close()
                library = Library.open(db_path)
                continue
            for outcome in outcomes:
                if outcome.outcome in ACCEPTED and (error := fully_decodes(path)):
                    accepted_corrupt.append(
                        f"  {folder.describe(raw)}: {outcome.outcome} as {outcome.format}, "
                        f"but {error}"
                    )
    finally:
        library.close()
    assert not accepted_corrupt, (
        f"{len(accepted_corrupt)} corrupt files accepted "
        f"({crashed} of {len(folder.files)} could not be judged: the add raised):\n"
        + "\n".join(accepted_corrupt[:SHOWN])
    )
