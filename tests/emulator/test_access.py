"""Keys, workspaces, quota, size limits and expiry: each error status and its SDK class."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import anthropic
import httpx2
import pytest
from anthropic.types import FileExpiredError, StorageQuotaExceededError

from .conftest import MODEL, file_block, sdk, user


def test_missing_key_is_401_with_the_real_body(emu):
    request = urllib.request.Request(f"{emu.base_url}/v1/files")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 401
    body = json.loads(caught.value.read())
    assert body["type"] == "error" and body["request_id"].startswith("req_")
    assert body["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert caught.value.headers["request-id"] == body["request_id"]


def test_missing_key_raises_authentication_error_in_the_sdk(emu):
    client = anthropic.Anthropic(
        base_url=emu.base_url,
        api_key=None,
        auth_token=None,
        default_headers={"Authorization": anthropic.Omit()},
        max_retries=0,
    )
    with pytest.raises(anthropic.AuthenticationError):
        client.files.list()


@pytest.mark.parametrize("header", ["x-api-key", "Authorization"])
def test_both_key_headers_are_accepted(emu, header):
    value = "Bearer test-key" if header == "Authorization" else "test-key"
    response = httpx2.get(f"{emu.base_url}/v1/files", headers={header: value})
    assert response.status_code == 200 and response.json() == {"data": [], "next_page": None}


def test_workspaces_are_isolated(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(workspaces={"key-a": "team-a", "key-b": "team-b"})
    a, b = sdk(emu, "key-a"), sdk(emu, "key-b")
    meta = a.files.upload(file=("a.png", png, "image/png"))
    assert [f.id for f in a.files.list()] == [meta.id]
    assert list(b.files.list()) == []
    for call in (b.files.retrieve_metadata, b.files.delete, b.files.download):
        with pytest.raises(anthropic.NotFoundError):
            call(meta.id)
    with pytest.raises(anthropic.NotFoundError):
        b.messages.create(model=MODEL, max_tokens=50, messages=user(file_block(meta.id)))
    assert [f["id"] for f in emu.files("team-a")] == [meta.id] and emu.files("team-b") == []


def test_unknown_keys_share_the_default_workspace(emu, png):
    meta = sdk(emu, "one").files.upload(file=("a.png", png, "image/png"))
    assert sdk(emu, "two").files.retrieve_metadata(meta.id).id == meta.id
    assert [f["id"] for f in emu.files("default")] == [meta.id]


def test_workspace_header_selects_the_workspace_of_an_unbound_key(emu, png):
    client = sdk(emu, "org-key")
    team = emu.workspace_id("team-x")
    meta = client.files.upload(file=("a.png", png, "image/png"), workspace_id=team)
    assert [f.id for f in client.files.list(workspace_id=team)] == [meta.id]
    assert list(client.files.list()) == []
    assert emu.files("team-x")[0]["id"] == meta.id


def test_workspace_header_must_match_a_bound_key(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(workspaces={"key-a": "team-a"})
    client = sdk(emu, "key-a")
    client.files.list(workspace_id=emu.workspace_id("team-a"))
    with pytest.raises(anthropic.PermissionDeniedError):
        client.files.list(workspace_id=emu.workspace_id("team-b"))


def test_quota_exceeded_is_storage_quota_exceeded(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(quota_bytes=len(png) * 2)
    client = sdk(emu)
    first = client.files.upload(file=("1.png", png, "image/png"))
    client.files.upload(file=("2.png", png, "image/png"))
    with pytest.raises(StorageQuotaExceededError) as caught:
        client.files.upload(file=("3.png", png, "image/png"))
    assert caught.value.status_code == 400 and caught.value.type == "invalid_request_error"
    client.files.delete(first.id)  # deleting releases the bytes
    client.files.upload(file=("3.png", png, "image/png"))


def test_expired_files_release_quota(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(quota_bytes=len(png))
    client = sdk(emu)
    client.files.upload(file=("1.png", png, "image/png"), expires_in_seconds=3600)
    emu.advance(3601)
    client.files.upload(file=("2.png", png, "image/png"))


def test_oversized_upload_is_413_with_the_edge_body(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(max_file_bytes=100)
    client = sdk(emu)
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        client.files.upload(file=("big.png", png, "image/png"))
    assert caught.value.status_code == 413
    assert caught.value.body == {
        "error": {"type": "request_too_large", "message": "Request exceeds the maximum size"}
    }
    assert emu.files() == []
    client.files.list()  # the connection is still usable afterwards


def test_oversized_message_is_413(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(max_message_bytes=1000)
    with pytest.raises(anthropic.ContentTooLargeError):
        sdk(emu).messages.create(
            model=MODEL, max_tokens=10, messages=user({"type": "text", "text": "x" * 2000})
        )


def test_expiry_by_the_clock(emu, png):
    client = sdk(emu)
    meta = client.files.upload(file=("a.png", png, "image/png"), expires_in_seconds=3600)
    client.messages.create(model=MODEL, max_tokens=50, messages=user(file_block(meta.id)))
    emu.advance(3600)
    seen = client.files.retrieve_metadata(meta.id)
    assert seen.expires_at <= emu.now()
    assert [f.id for f in client.files.list()] == [meta.id]  # still listed, with a past expires_at
    with pytest.raises(FileExpiredError) as caught:
        client.files.download(meta.id)
    assert caught.value.status_code == 404 and caught.value.error_code == "file_expired"
    with pytest.raises(FileExpiredError):
        client.messages.create(model=MODEL, max_tokens=50, messages=user(file_block(meta.id)))
    emu.advance(31 * 86400)  # after 30 days an expired file leaves the list
    assert list(client.files.list()) == []


def test_clock_over_the_admin_surface(emu, png):
    client = sdk(emu)
    meta = client.files.upload(file=("a.png", png, "image/png"), expires_in_seconds=7200)
    moved = httpx2.post(f"{emu.base_url}/_emulator/clock", json={"advance": 7200}).json()
    assert moved["now"] >= meta.expires_at.isoformat().replace("+00:00", "Z")
    with pytest.raises(FileExpiredError):
        client.files.download(meta.id)
    httpx2.post(f"{emu.base_url}/_emulator/clock", json={"set": "2020-01-01T00:00:00Z"})
    assert emu.now().year == 2020


def test_delete_an_expired_file_removes_it_at_once(emu, png):
    client = sdk(emu)
    meta = client.files.upload(file=("a.png", png, "image/png"), expires_in_seconds=3600)
    emu.advance(4000)
    client.files.delete(meta.id)
    assert list(client.files.list()) == []


def test_unknown_route_is_404_json(emu):
    response = httpx2.get(f"{emu.base_url}/v1/nothing", headers={"x-api-key": "k"})
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"


def test_sdk_headers_are_tolerated(emu, png):
    headers = {
        "x-api-key": "k",
        "x-stainless-timeout": "NOT_GIVEN",
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "some-other-beta-2099-01-01",
        "x-stainless-retry-count": "0",
    }
    response = httpx2.post(
        f"{emu.base_url}/v1/files", headers=headers, files={"file": ("a.png", png, "image/png")}
    )
    assert response.status_code == 200 and "expires_at" in response.json()


def test_an_injected_clock_drives_created_and_expires_at(anthropic_emulator_factory, png):
    from datetime import datetime, timedelta, timezone

    start = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    emu = anthropic_emulator_factory(clock=lambda: start)
    meta = sdk(emu).files.upload(file=("a.png", png, "image/png"), expires_in_seconds=3600)
    assert meta.created_at == start and meta.expires_at == start + timedelta(hours=1)
    raw = sdk(emu).files.with_raw_response.retrieve_metadata(meta.id).http_response.json()
    assert (raw["created_at"], raw["expires_at"]) == (
        "2030-01-02T03:04:05Z",
        "2030-01-02T04:04:05Z",
    )
