"""Hostile inputs to ``add``: every file gets one outcome and the run goes on.

Names that are not UTF-8, FIFOs and sockets (met in a walk, named, or swapped in after the
walk), files over every limit (size, pixels per frame, pixels per file, time), known
rejections, a full or read-only rendition store. Each runs the real command in a
subprocess against real files and mounts, and reads the real catalogue back.
"""

from __future__ import annotations

import io
import json
import os
import random
import socket
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from PIL import Image

from assetmgr import Library
from assetmgr.errors import ExitCode
from assetmgr.pathnames import shown
from tests.conftest import assetmgr, error_line, image_bytes, write_image


def json_lines(result) -> list[dict]:
    assert "Traceback" not in result.stderr, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def by_name(records: list[dict]) -> dict[str, dict]:
    return {os.path.basename(r["path"]): r for r in records}


# -- names -----------------------------------------------------------------------------------


@pytest.mark.backends()
def test_names_that_are_not_utf8_are_kept_and_shown_losslessly(tmp_path, db):
    folder = tmp_path / "in"
    folder.mkdir()
    raw = os.fsencode(folder) + b"/bad\xffname\\.png"
    with open(raw, "wb") as f:
        f.write(image_bytes(seed=1))
    with open(os.fsencode(folder) + b"/junk\xe9.png", "wb") as f:
        f.write(b"not an image")
    result = assetmgr("add", folder, "--json", db=db, capture_output=True)
    assert result.returncode == ExitCode.REJECTED, result.stderr
    records = json_lines(result)  # stdout is UTF-8 (text mode would have failed otherwise)
    good = f"{folder}/bad\\xffname\\\\.png"
    assert {r["path"]: r["outcome"] for r in records} == {
        good: "new",
        f"{folder}/junk\\xe9.png": "rejected",
    }
    # the shown form is what bash reads inside $'...': the file is found again by it
    listed = subprocess.run(["bash", "-c", f"cat $'{good}'"], capture_output=True)
    assert listed.stdout == image_bytes(seed=1)
    assert db.rows("SELECT path, path_bytes FROM sources") == [(good, raw)]  # bytea, text
    again = json_lines(assetmgr("add", folder, "--json", db=db, capture_output=True))
    assert [r["outcome"] for r in again if r["path"] == good] == ["unchanged"]
    [record] = json_lines(assetmgr("show", records[0]["sha256"], "--json", db=db))
    assert [s["path"] for s in record["sources"]] == [good]
    with Library.open(db.url) as lib:  # the library hands back the name os functions take
        [source] = lib.show(records[0]["sha256"]).sources
        assert os.fsencode(source.path) == raw and shown(source.path) == good
    # text output too: the same printable form, never a traceback
    assert good in assetmgr("ls", db=db).stdout
    assert f"source    {good}" in assetmgr("show", records[0]["sha256"], db=db).stdout
    text = assetmgr("add", folder, "--list-rejected", db=db)
    assert f"rejected  {folder}/junk\\xe9.png: " in text.stderr and "Traceback" not in text.stderr


def test_control_characters_in_names_stay_on_one_line_in_text_and_exact_in_json(tmp_path, db):
    """A newline, a tab or a terminal escape in a name: text for people writes them as bash
    does inside $'...' (one name, one line, no colours driven); --json keeps the name exact;
    exact duplicates are shown in the same forms as ls and show show them."""
    folder = tmp_path / "in"
    folder.mkdir()
    names = {
        "new\nline.png": "new\\nline.png",
        "tab\tand\x1b[31mred.png": "tab\\tand\\x1b[31mred.png",
    }
    for name in names:
        (folder / name).write_bytes(image_bytes(seed=3))
    with open(os.fsencode(folder) + b"/bad\xff\ncopy.png", "wb") as f:
        f.write(image_bytes(seed=3))
    odd = f"{folder}/bad\\xff\\ncopy.png"  # not UTF-8: shown escaped, control or not
    added = assetmgr("add", folder, "-v", "--no-upload", db=db)
    assert added.returncode == 0, added.stderr
    talk = added.stderr.splitlines()
    assert len(talk) == 4  # one new, two duplicates of it, the summary
    for one_line in names.values():
        assert any(f"{folder}/{one_line}" in line for line in talk), talk
    assert any(odd in line for line in talk), talk
    assert "\x1b" not in added.stderr
    listed = assetmgr("ls", db=db).stdout.splitlines()
    assert len(listed) == 2 and listed[1].endswith(odd), listed  # the first path, sorted
    [record] = json_lines(assetmgr("ls", "--json", db=db, capture_output=True))
    assert {os.path.basename(s["path"]) for s in record["sources"]} == {
        *names, "bad\\xff\ncopy.png"
    }  # fmt: skip
    exact = assetmgr("dupes", db=db).stdout.splitlines()
    assert len(exact) == 4 and f"  {odd}" in exact, exact
    [group] = json_lines(assetmgr("dupes", "--json", db=db, capture_output=True))
    assert sorted(group["paths"]) == sorted(s["path"] for s in record["sources"])
    shown_text = assetmgr("show", record["sha256"], db=db).stdout
    assert f"source    {folder}/new\\nline.png" in shown_text


def test_settings_and_doctor_name_folders_that_are_not_utf8_printably(tmp_path):
    """The app folder, the store and the settings file at names that are not UTF-8: every
    --json line is UTF-8 text (no lone surrogate), with the shown form of each name, and the
    talk on stderr too."""
    base = os.fsdecode(os.fsencode(tmp_path) + b"/odd\xff")
    env = {"ASSETMGR_HOME": base + "home", "ASSETMGR_STORE": base + "store",
           "ASSETMGR_CONFIG": base + "conf.toml"}  # fmt: skip
    good = shown(base)
    runs = [assetmgr("doctor", "--offline", "--json", env=env),
            assetmgr("config", "list", "--json", env=env),
            assetmgr("config", "set", "model", "claude-haiku-4-5", "--json", env=env),
            assetmgr("config", "path", "--json", env=env)]  # fmt: skip
    for result in runs:
        documents = [json.loads(line) for line in result.stdout.splitlines()]
        text = json.dumps(documents, ensure_ascii=False)
        text.encode("utf-8")  # strict: a lone surrogate would raise
        named = [json.dumps(good + end)[1:-1] for end in ("conf.toml", "home", "store")]
        assert any(name in text for name in named), result
    assert f"({good}conf.toml)" in runs[2].stderr  # the talk: the same shown form


# -- what is not a regular file ----------------------------------------------------------------


def test_fifos_and_sockets_met_in_a_walk_are_reported(tmp_path, db_path):
    folder = tmp_path / "in"
    write_image(folder / "a.png", seed=1)
    os.mkfifo(folder / "pipe.png")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock.png"))
    try:
        result = assetmgr("add", folder, folder / "pipe.png", "--json", db=db_path)
    finally:
        server.close()
    records = by_name(json_lines(result))
    assert records["a.png"]["outcome"] == "new"
    assert records["pipe.png"]["reason"] == "not a regular file (a FIFO)"
    assert records["sock.png"]["reason"] == "not a regular file (a socket)"
    assert result.returncode == ExitCode.REJECTED


def test_a_fifo_swapped_in_after_the_walk_never_blocks(tmp_path, db_path):
    folder = tmp_path / "in"
    for i in range(3):
        write_image(folder / f"{i}.png", seed=i)
    with Library.open(db_path) as lib:
        run = lib.ingest([folder], jobs=2)  # walked now; read when iterated
        (folder / "1.png").unlink()
        os.mkfifo(folder / "1.png")  # nobody will ever write to it
        done: list = []
        worker = threading.Thread(target=lambda: done.extend(run), daemon=True)
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive(), "add blocked on a FIFO"
    outcomes = {os.path.basename(o.path): o for o in done}
    assert outcomes["1.png"].reason == "not a regular file (a FIFO)"
    assert {outcomes[n].outcome for n in ("0.png", "2.png")} == {"new"}


# -- limits ----------------------------------------------------------------------------------


def test_a_huge_file_is_refused_before_a_byte_is_read(tmp_path, db_path):
    huge = tmp_path / "in" / "huge.jpg"
    huge.parent.mkdir()
    with open(huge, "wb") as f:
        f.write(b"\xff\xd8\xff")
        f.truncate(20 * 1024**3)  # 20 GB, sparse
    [record] = json_lines(assetmgr("add", huge, "--json", db=db_path))
    assert record["reason"] == (
        "file is 20.0 GB, over the limit of 512.0 MB per file (raise it with --max-file-size)"
    )


def test_pixels_per_frame_and_per_file_are_limited(tmp_path, db_path):
    folder = tmp_path / "in"
    write_image(folder / "big.png", size=(3000, 2000), seed=1)
    frames = [Image.new("L", (500, 500), i * 30) for i in range(8)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    (folder / "anim.gif").write_bytes(buffer.getvalue())
    (folder / "canvas.gif").write_bytes(huge_canvas_gif(7999, 7999, frames=400))
    result = assetmgr(
        "add", folder, "--json", "--max-pixels", "5M", "--max-total-pixels", "1.5M", db=db_path
    )
    records = by_name(json_lines(result))
    assert records["big.png"]["reason"] == (
        "decompression bomb: 6.0 MP in one frame, over the limit of 5.0 MP "
        "(raise it with --max-pixels)"
    )
    assert records["anim.gif"]["reason"] == (
        "decompression bomb: 8 frames of 500x500 are 2.0 MP to decode, over the limit of "
        "1.5 MP per file (raise it with --max-total-pixels)"
    )
    assert records["canvas.gif"]["reason"].startswith("decompression bomb: 64.0 MP in one frame")
    relaxed = assetmgr("add", folder / "anim.gif", "--json", "--max-total-pixels", "3M", db=db_path)
    assert [r["outcome"] for r in json_lines(relaxed)] == ["new"]  # other rules: judged again


def test_a_huge_canvas_with_many_frames_is_refused_at_once(tmp_path, db_path):
    """The 69 KB GIF that ran for minutes: a 7999x7999 canvas, hundreds of tiny frames."""
    path = tmp_path / "canvas.gif"
    path.write_bytes(huge_canvas_gif(7999, 7999, frames=400))
    [record] = json_lines(assetmgr("add", path, "--json", db=db_path))
    assert record["reason"].startswith("decompression bomb: 400 frames of 7999x7999")


def huge_canvas_gif(width: int, height: int, frames: int) -> bytes:
    """A GIF whose logical screen is ``width`` x ``height``, with ``frames`` 1x1 images."""
    head = b"GIF89a" + width.to_bytes(2, "little") + height.to_bytes(2, "little")
    head += b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"  # 2-colour global table
    frame = b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # graphic control extension
    frame += b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"  # a 1x1 image at 0,0
    frame += b"\x02\x02\x44\x01\x00"  # LZW: clear, 0, end
    return head + frame * frames + b"\x3b"


@pytest.fixture(scope="module")
def slow_gif(tmp_path_factory) -> Path:
    """120 frames of 2000x2000: about two seconds of decoding here."""
    frames = [Image.new("P", (2000, 2000), i % 4) for i in range(120)]
    for i, f in enumerate(frames):
        f.putpixel((i, i), (i + 1) % 4)
    path = tmp_path_factory.mktemp("slow") / "slow.gif"
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], disposal=1)
    return path


def test_a_file_over_its_time_limit_is_rejected_and_the_run_goes_on(tmp_path, db_path, slow_gif):
    write_image(tmp_path / "in" / "a.png", seed=1)
    (tmp_path / "in" / "slow.gif").write_bytes(slow_gif.read_bytes())
    result = assetmgr(
        "add", tmp_path / "in", "--json", "--time-limit", "0.2", "--max-total-pixels", "1G",
        db=db_path,
    )  # fmt: skip
    records = by_name(json_lines(result))
    assert records["a.png"]["outcome"] == "new"
    assert records["slow.gif"]["reason"] == (
        "took longer than 0.2 s to check (raise the limit with --time-limit)"
    )


# -- known rejections --------------------------------------------------------------------------


def test_known_rejections_are_not_read_again_and_do_not_fail_a_rerun(tmp_path, db_path):
    folder = tmp_path / "in"
    write_image(folder / "a.png", seed=1)
    junk = folder / "junk.png"
    junk.write_bytes(b"J" * len(image_bytes(seed=2)))
    first = assetmgr("add", folder, db=db_path)
    assert first.returncode == ExitCode.REJECTED and "rejected  " in first.stderr
    again = assetmgr("add", folder, db=db_path)
    assert again.returncode == 0, again.stderr
    assert again.stderr.splitlines() == [
        "0 new, 0 duplicates, 1 unchanged, 0 rejected; 1 known rejections not read again "
        "(--list-rejected shows them)"
    ]
    # Same size, mtime and inode, new bytes: the stat cache says "known", without reading.
    stat = junk.stat()
    with open(junk, "r+b") as f:
        f.write(image_bytes(seed=2))
    os.utime(junk, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    [_, record] = json_lines(assetmgr("add", folder, "--json", db=db_path))
    assert (record["outcome"], record["known"]) == ("rejected", True)
    listed = assetmgr("add", folder, "--list-rejected", db=db_path)
    assert listed.returncode == ExitCode.REJECTED and "junk.png" in listed.stderr
    os.utime(junk)  # touched: read again, and now it is an image
    [_, record] = json_lines(assetmgr("add", folder, "--json", db=db_path))
    assert (record["outcome"], record["known"]) == ("new", False)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM rejections").fetchone() == (0,)


def test_a_file_that_turns_bad_loses_its_source(tmp_path, db_path):
    path = write_image(tmp_path / "in" / "a.png", seed=1)
    [first] = json_lines(assetmgr("add", path, "--json", db=db_path))
    path.write_bytes(b"no longer an image")
    [second] = json_lines(assetmgr("add", path, "--json", db=db_path))
    assert second["outcome"] == "rejected"
    [record] = json_lines(assetmgr("show", first["sha256"], "--json", db=db_path))
    assert record["sources"] == []  # the asset stays; the path no longer holds it


# -- the rendition store -------------------------------------------------------------------------


def renditions_needed(folder: Path, n: int) -> Path:
    """``n`` PNGs of noise, 1400x1000, that the vision policy downscales: each a new
    rendition of some 750 KB."""
    folder.mkdir(parents=True)
    rng = random.Random(5)
    for i in range(n):
        noise = Image.frombytes("RGB", (1400, 1000), rng.randbytes(1400 * 1000 * 3))
        noise.save(folder / f"img{i:03}.png", compress_level=1)
    return folder


def test_a_full_rendition_store_stops_the_run_and_keeps_what_finished(tmpfs, tmp_path, db_path):
    mount = tmpfs("2600k")  # room for three renditions of some 750 KB
    folder = renditions_needed(tmp_path / "in", 10)
    env = {"ASSETMGR_STORE": str(mount.path / "renditions")}
    result = assetmgr("add", folder, "--json", db=db_path, env=env)
    line = error_line_of(result, ExitCode.LOCAL)
    assert line.startswith(f"Error: cannot write the rendition store at {mount.path}/renditions")
    kept = json_lines(result)
    assert 0 < len(kept) < 10 and {r["outcome"] for r in kept} == {"new"}
    with Library.open(db_path) as lib:  # what was recorded is whole: its renditions are stored
        assert sorted(lib.find()) == sorted(r["sha256"] for r in kept)
        for sha in lib.find():
            rendition, data = lib.rendition(sha)
            assert len(data) == rendition.size_bytes
    mount.unmount()
    env = {"ASSETMGR_STORE": str(tmp_path / "renditions")}
    again = assetmgr("add", folder, "--json", db=db_path, env=env)
    assert again.returncode == 0, again.stderr
    outcomes = [r["outcome"] for r in json_lines(again)]
    assert outcomes.count("unchanged") == len(kept) and outcomes.count("new") == 10 - len(kept)


def test_a_read_only_rendition_store_stops_before_any_work(tmpfs, tmp_path, db_path):
    mount = tmpfs()
    mount.read_only()
    folder = renditions_needed(tmp_path / "in", 2)
    env = {"ASSETMGR_STORE": str(mount.path / "renditions")}
    result = assetmgr("add", folder, db=db_path, env=env)
    line = error_line(result, ExitCode.LOCAL)
    assert line == (
        f"Error: cannot write the rendition store at {mount.path}/renditions "
        "(Read-only file system); free some space, or set ASSETMGR_STORE to a writable folder"
    )


def error_line_of(result, code: int) -> str:
    """The last stderr line of a run that stopped with ``code`` (after printing its work)."""
    assert "Traceback" not in result.stderr and result.returncode == code, result.stderr
    return result.stderr.splitlines()[-1]
