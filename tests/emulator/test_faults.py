"""Injected faults as the SDK meets them: retries on 429/529, lost responses, latency."""

from __future__ import annotations

import time

import anthropic
import httpx2
import pytest

from .conftest import MODEL, sdk, user


def attempts(emu, path="/v1/files"):
    return [r for r in emu.requests if r["path"] == path]


@pytest.mark.parametrize(
    "status, error",
    [
        (429, anthropic.RateLimitError),
        (529, anthropic.OverloadedError),
        (500, anthropic.InternalServerError),
    ],
)
def test_sdk_retries_injected_errors_then_raises(anthropic_emulator_factory, status, error):
    emu = anthropic_emulator_factory(error_rate=1.0, error_statuses=[status], retry_after_ms=10)
    with pytest.raises(error) as caught:
        sdk(emu, max_retries=2).files.list()
    assert caught.value.status_code == status
    assert [r["retry_count"] for r in attempts(emu)] == ["0", "1", "2"]
    assert all(r["status"] == status for r in attempts(emu))


@pytest.mark.parametrize("ms, seconds", [(1500, "2"), (10, "1"), (3000, "3"), (0, "1")])
def test_injected_429_carries_retry_after(anthropic_emulator_factory, ms, seconds):
    """retry-after-ms stays exact; retry-after is whole seconds, rounded up, at least 1."""
    emu = anthropic_emulator_factory(error_rate=1.0, error_statuses=[429], retry_after_ms=ms)
    response = httpx2.get(f"{emu.base_url}/v1/files", headers={"x-api-key": "k"})
    assert response.status_code == 429
    assert response.headers["retry-after-ms"] == f"{ms:g}"
    assert response.headers["retry-after"] == seconds
    assert response.json()["error"]["type"] == "rate_limit_error"


def test_sdk_succeeds_through_intermittent_errors(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(
        error_rate=0.5, error_statuses=[429, 529], retry_after_ms=5, seed=7
    )
    client = sdk(emu, max_retries=10)
    for n in range(10):
        client.files.upload(file=(f"{n}.png", png, "image/png"))
    assert len(emu.files()) == 10
    assert any(r["status"] in (429, 529) for r in emu.requests)


def test_seed_makes_faults_reproducible(anthropic_emulator_factory):
    runs = []
    for _ in range(2):
        emu = anthropic_emulator_factory(error_rate=0.5, retry_after_ms=1, seed=42)
        for _ in range(12):
            httpx2.get(f"{emu.base_url}/v1/files", headers={"x-api-key": "k"})
        runs.append([r["status"] for r in emu.requests])
    assert runs[0] == runs[1] and len(set(runs[0])) > 1


def test_dropped_upload_response_is_a_connection_error(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(drop_rate=1.0)
    with pytest.raises(anthropic.APIConnectionError):
        sdk(emu, max_retries=0).files.upload(file=("a.png", png, "image/png"))
    assert len(emu.files()) == 1  # stored all the same


def test_dropped_upload_response_creates_a_duplicate_on_retry(emu, png):
    emu.set_faults(drop_next=1)
    meta = sdk(emu, max_retries=1).files.upload(file=("a.png", png, "image/png"))
    stored = emu.files()
    assert len(stored) == 2 and meta.id == stored[0]["id"]
    assert [r["status"] for r in attempts(emu)] == ["dropped", 200]


def test_drop_rate_with_a_seed_is_what_the_sdk_sees(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(drop_rate=0.3, seed=1)
    client = sdk(emu, max_retries=5)
    for n in range(4):
        client.files.upload(file=(f"{n}.png", png, "image/png"))
    dropped = sum(r["status"] == "dropped" for r in attempts(emu))
    assert dropped > 0 and len(emu.files()) == 4 + dropped


def test_messages_are_subject_to_faults_too(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(error_rate=1.0, error_statuses=[529], retry_after_ms=1)
    with pytest.raises(anthropic.OverloadedError):
        sdk(emu).messages.create(
            model=MODEL, max_tokens=5, messages=user({"type": "text", "text": "hi"})
        )


def test_latency_is_added_to_every_request(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(latency_ms=150)
    client = sdk(emu)
    started = time.monotonic()
    client.files.list()
    assert time.monotonic() - started >= 0.15


def test_fault_settings_over_the_admin_surface(emu):
    url = f"{emu.base_url}/_emulator/faults"
    changed = httpx2.post(
        url,
        json={"error_rate": 1.0, "error_statuses": [500], "retry_after_ms": 1, "quota_bytes": 10},
    ).json()
    assert changed["error_rate"] == 1.0 and changed["quota_bytes"] == 10
    assert httpx2.get(f"{emu.base_url}/v1/files", headers={"x-api-key": "k"}).status_code == 500
    assert httpx2.get(url).json()["error_statuses"] == [500]  # admin is never faulted
    assert httpx2.post(url, json={"error_rate": 2}).status_code == 400
    assert httpx2.post(url, json={"bogus": 1}).status_code == 400
