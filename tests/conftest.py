"""Shared fixtures: an isolated ASSETMGR_HOME per test, the corpus, image makers, CLI runner."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from assetmgr.cli import cli

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ASSETMGR_CORPUS", REPO.parent / "shared" / "corpus"))


CREDENTIALS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_CONFIG_DIR",
    "ANTHROPIC_IDENTITY_TOKEN",
    "ANTHROPIC_IDENTITY_TOKEN_FILE",
    "ANTHROPIC_BASE_URL",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """Every test gets its own catalogue folder (outside tmp_path), no inherited catalogue
    URL or workspace, no credentials (nothing may reach a real API), and `add` that does not
    upload unless a test asks for it (see ``uploading``)."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("ASSETMGR_HOME", str(home))
    monkeypatch.setenv("ASSETMGR_NO_UPLOAD", "1")
    for name in ("ASSETMGR_DB", "ASSETMGR_WORKSPACE", "ASSETMGR_WORKSPACE_ID", *CREDENTIALS):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def uploading(monkeypatch, anthropic_emulator):
    """`add` uploads, to a fresh emulator (the SDK's usual variables point at it)."""
    monkeypatch.delenv("ASSETMGR_NO_UPLOAD")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_emulator.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ASSETMGR_MAX_RETRIES", "6")
    return anthropic_emulator


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "manifest.csv").is_file():
        pytest.fail(f"the image corpus is missing at {CORPUS}")
    return CORPUS


@pytest.fixture
def db_path(tmp_path_factory) -> Path:
    """A catalogue file outside ``tmp_path``, so tests can add all of ``tmp_path``."""
    return tmp_path_factory.mktemp("db") / "catalogue.db"


class Cli:
    """Runs ``assetmgr`` in-process against one catalogue; keeps stdout and stderr apart."""

    def __init__(self, db: Path):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        result = self.runner.invoke(cli, ["--db", str(self.db), *map(str, args)], input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def json_lines(self, *args: str) -> list[dict]:
        result = self(*args, "--json")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def run(db_path) -> Cli:
    return Cli(db_path)


def image_bytes(size=(64, 48), color=None, fmt="PNG", mode="RGB", seed=0, **save) -> bytes:
    """A small generated image; distinct seeds give distinct bytes."""
    rng = random.Random(seed)
    color = color if color is not None else tuple(rng.randrange(256) for _ in range(len(mode)))
    image = Image.new(mode, size, color if mode != "1" else 1)
    image.putpixel(
        (0, 0), tuple(rng.randrange(256) for _ in range(len(mode))) if mode != "1" else 0
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


def write_image(path: Path, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(**kwargs))
    return path
