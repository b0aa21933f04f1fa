"""Fixtures for the emulator's conformance suite: images made with Pillow, SDK clients."""

from __future__ import annotations

import base64
import io

import anthropic
import pytest
from PIL import Image

MODEL = "claude-sonnet-5"


def image_bytes(width: int = 64, height: int = 48, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(buffer, fmt)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sdk(emulator, api_key: str = "test-key", **kwargs) -> anthropic.Anthropic:
    """The real SDK pointed at the emulator; no retries unless asked."""
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=emulator.base_url, api_key=api_key, **kwargs)


def user(*blocks) -> list[dict]:
    return [{"role": "user", "content": list(blocks)}]


def file_block(file_id: str) -> dict:
    return {"type": "image", "source": {"type": "file", "file_id": file_id}}


def base64_block(data: bytes, media_type: str = "image/png") -> dict:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media_type, "data": b64(data)},
    }


@pytest.fixture
def emu(anthropic_emulator):
    return anthropic_emulator


@pytest.fixture
def client(emu) -> anthropic.Anthropic:
    return sdk(emu)


@pytest.fixture
def png() -> bytes:
    return image_bytes(64, 48)
