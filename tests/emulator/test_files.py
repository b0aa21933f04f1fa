"""The five Files API endpoints through the real SDK: shapes, paging, ids, delete, download."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anthropic
import pytest
from anthropic.types import FileNotDownloadableError

from .conftest import image_bytes, sdk


def test_upload_tuple_returns_every_ga_field(client, png):
    meta = client.files.upload(file=("cat.png", png, "image/png"))
    assert meta.id.startswith("file_011") and len(meta.id) == len("file_011CNha8iCJcU1wXNR6q4V8w")
    assert (meta.type, meta.filename, meta.mime_type) == ("file", "cat.png", "image/png")
    assert meta.size_bytes == len(png)
    assert meta.downloadable is False and meta.expires_at is None
    assert abs(meta.created_at - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_upload_raw_json_has_rfc3339_and_null_expiry(client, png):
    raw = client.files.with_raw_response.upload(file=("cat.png", png, "image/png"))
    body = raw.http_response.json()
    assert set(body) == {
        "id",
        "type",
        "filename",
        "mime_type",
        "size_bytes",
        "created_at",
        "downloadable",
        "expires_at",
    }
    assert body["created_at"].endswith("Z") and body["expires_at"] is None
    assert raw.http_response.headers["request-id"].startswith("req_")


def test_upload_path_and_open_file_keep_the_basename(client, tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(image_bytes(30, 20, "JPEG"))
    assert client.files.upload(file=path).filename == "photo.jpg"
    with open(path, "rb") as handle:
        meta = client.files.upload(file=handle)
    assert (meta.filename, meta.mime_type) == ("photo.jpg", "image/jpeg")


def test_raw_bytes_are_named_unnamed_with_the_sniffed_extension(client, png):
    meta = client.files.upload(file=png)
    assert (meta.filename, meta.mime_type) == ("unnamed.png", "image/png")
    assert client.files.upload(file=b"plain bytes").filename == "unnamed"


def test_type_is_sniffed_from_content_not_the_declared_type(client):
    meta = client.files.upload(file=("x.png", image_bytes(8, 8, "GIF"), "image/png"))
    assert meta.mime_type == "image/gif"
    text = client.files.upload(file=("notes.txt", b"hello", "text/plain"))
    assert text.mime_type == "text/plain"


def test_only_the_final_path_component_is_kept(client, png):
    assert client.files.upload(file=("dir/sub/cat.png", png, "image/png")).filename == "cat.png"


@pytest.mark.parametrize(
    "name", ["bad:name.png", "a<b.png", "q?.png", "line\nbreak.png", "x" * 256]
)
def test_invalid_filenames_are_400(client, png, name):
    with pytest.raises(anthropic.BadRequestError):
        client.files.upload(file=(name, png, "image/png"))


def test_expires_in_seconds_sets_expires_at(client, png):
    meta = client.files.upload(file=("a.png", png, "image/png"), expires_in_seconds=3600)
    assert meta.expires_at - meta.created_at == timedelta(seconds=3600)


@pytest.mark.parametrize("seconds", [3599, 7_776_001, 0])
def test_expires_in_seconds_out_of_range_is_400(client, png, seconds):
    with pytest.raises(anthropic.BadRequestError):
        client.files.upload(file=("a.png", png, "image/png"), expires_in_seconds=seconds)


def test_retrieve_and_delete(client, png):
    meta = client.files.upload(file=("a.png", png, "image/png"))
    assert client.files.retrieve_metadata(meta.id) == meta
    deleted = client.files.delete(meta.id)
    assert (deleted.id, deleted.type) == (meta.id, "file_deleted")
    with pytest.raises(anthropic.NotFoundError):
        client.files.retrieve_metadata(meta.id)
    with pytest.raises(anthropic.NotFoundError):
        client.files.delete(meta.id)


def test_unknown_file_is_404_with_the_real_body(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.files.retrieve_metadata("file_011nothere")
    assert caught.value.body == {
        "type": "error",
        "request_id": caught.value.request_id,
        "error": {"type": "not_found_error", "message": "File `file_011nothere` not found."},
    }
    assert caught.value.request_id.startswith("req_")


def test_list_is_newest_first_and_auto_paginates(client, emu, png):
    ids = [client.files.upload(file=(f"{n}.png", png, "image/png")).id for n in range(7)]
    first = client.files.list(limit=3)
    assert [f.id for f in first.data] == ids[::-1][:3]
    assert first.next_page.startswith("page_")
    assert [f.id for f in client.files.list(limit=3)] == ids[::-1]
    pages = [p for p in client.files.list(limit=3).iter_pages()]
    assert [len(p.data) for p in pages] == [3, 3, 1] and pages[-1].next_page is None
    list_requests = [r for r in emu.requests if r["path"] == "/v1/files" and r["method"] == "GET"]
    assert len(list_requests) == 1 + 3 + 3


def test_list_default_limit_is_20(client, png):
    for n in range(21):
        client.files.upload(file=(f"{n}.png", png, "image/png"))
    page = client.files.list()
    assert len(page.data) == 20 and page.next_page


@pytest.mark.parametrize("limit", [0, 1001])
def test_list_limit_out_of_range_is_400(client, limit):
    with pytest.raises(anthropic.BadRequestError):
        client.files.list(limit=limit)


def test_list_bad_cursor_is_400(client):
    with pytest.raises(anthropic.BadRequestError):
        client.files.list(page="page_!!!")


def test_ids_filter_silently_omits_unknown_deleted_and_foreign(emu, png):
    mine, other = sdk(emu, "key-a"), sdk(emu, "key-b")
    emu.workspaces.update({"key-a": "team-a", "key-b": "team-b"})
    kept = mine.files.upload(file=("a.png", png, "image/png"))
    gone = mine.files.upload(file=("b.png", png, "image/png"))
    mine.files.delete(gone.id)
    foreign = other.files.upload(file=("c.png", png, "image/png"))
    page = mine.files.list(ids=[kept.id, gone.id, foreign.id, "file_011unknown", kept.id])
    assert [f.id for f in page.data] == [kept.id]
    assert page.next_page is None


def test_ids_filter_over_100_is_400_and_100_after_dedup_is_fine(client):
    client.files.list(ids=[f"file_{n}" for n in range(100)] * 2)
    with pytest.raises(anthropic.BadRequestError):
        client.files.list(ids=[f"file_{n}" for n in range(101)])


def test_ids_filter_with_limit_or_page_is_400(client):
    with pytest.raises(anthropic.BadRequestError):
        client.files.list(ids=["file_1"], limit=5)
    with pytest.raises(anthropic.BadRequestError):
        client.files.list(ids=["file_1"], page="page_x")


def test_ids_filter_accepts_the_plain_form_too(emu, client, png):
    meta = client.files.upload(file=("a.png", png, "image/png"))
    page = client.get("/v1/files", cast_to=object, options={"params": {"ids": meta.id}})
    assert [f["id"] for f in page["data"]] == [meta.id]


def test_download_of_an_upload_is_file_not_downloadable(client, png):
    meta = client.files.upload(file=("a.png", png, "image/png"))
    with pytest.raises(FileNotDownloadableError) as caught:
        client.files.download(meta.id)
    assert caught.value.status_code == 400 and caught.value.error_code == "file_not_downloadable"


def test_download_of_a_tool_created_file_returns_its_bytes(emu, client):
    import httpx2

    made = httpx2.post(
        f"{emu.base_url}/_emulator/files?filename=out.csv&mime_type=text/csv", content=b"a,b\n1,2\n"
    ).json()
    assert made["downloadable"] is True
    response = client.files.download(made["id"])
    assert response.read() == b"a,b\n1,2\n"
    assert response.http_response.headers["content-type"] == "text/csv"


def test_beta_namespace_without_betas_is_the_ga_shape(client, png):
    client.beta.files.upload(file=("a.png", png, "image/png"))
    page = client.beta.files.list()
    assert page.data[0].filename == "a.png"


def test_beta_header_switches_to_the_beta_list_shape(client, png):
    ids = [client.files.upload(file=(f"{n}.png", png, "image/png")).id for n in range(5)]
    betas = ["files-api-2025-04-14"]
    raw = client.beta.files.with_raw_response.list(limit=2, betas=betas).http_response.json()
    assert set(raw) == {"data", "has_more", "first_id", "last_id"}
    assert raw["has_more"] is True and (raw["first_id"], raw["last_id"]) == (ids[4], ids[3])
    assert "expires_at" not in raw["data"][0]
    older = client.get(
        "/v1/files",
        cast_to=object,
        options={
            "params": {"limit": 2, "after_id": ids[3]},
            "headers": {"anthropic-beta": betas[0]},
        },
    )
    assert [f["id"] for f in older["data"]] == [ids[2], ids[1]]
    newer = client.get(
        "/v1/files",
        cast_to=object,
        options={
            "params": {"limit": 2, "before_id": ids[1]},
            "headers": {"anthropic-beta": betas[0]},
        },
    )
    assert [f["id"] for f in newer["data"]] == [ids[3], ids[2]] and newer["has_more"] is True
    # SDK 2.13.0 pages only by next_page, so a beta-shaped list ends after page one.
    assert len(list(client.beta.files.list(limit=2, betas=betas))) == 2


def test_before_id_without_the_beta_header_is_400(client, png):
    meta = client.files.upload(file=("a.png", png, "image/png"))
    with pytest.raises(anthropic.BadRequestError):
        client.get("/v1/files", cast_to=object, options={"params": {"after_id": meta.id}})


def _multipart(data: bytes, content_type: str | None) -> tuple[bytes, str]:
    boundary = "e85c34ff01ba0083341da9e6d66d1ad8"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    body = head.encode() + b"\r\n" + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("beta", [False, True])
def test_part_content_type_is_optional_in_ga_and_required_with_beta(emu, png, beta):
    import httpx2

    headers = {"x-api-key": "k"}
    if beta:
        headers["anthropic-beta"] = "files-api-2025-04-14"
    results = {}
    for declared in (None, "image/png"):
        body, content_type = _multipart(png, declared)
        results[declared] = httpx2.post(
            f"{emu.base_url}/v1/files",
            content=body,
            headers={**headers, "Content-Type": content_type},
        )
    assert results["image/png"].status_code == 200
    assert ("expires_at" in results["image/png"].json()) is not beta
    assert results[None].status_code == (400 if beta else 200)
    if not beta:
        assert results[None].json()["mime_type"] == "image/png"


def test_unknown_query_parameters_are_ignored(client, png):
    client.files.upload(file=("a.png", png, "image/png"))
    page = client.get("/v1/files", cast_to=object, options={"params": {"beta": "true"}})
    assert len(page["data"]) == 1


def test_agents_beta_header_adds_beta_fields_to_the_ga_shape(client, png):
    ids = [client.files.upload(file=(f"{n}.png", png, "image/png")).id for n in range(3)]
    options = {"params": {"limit": 2}, "headers": {"anthropic-beta": "managed-agents-2026-04-01"}}
    page = client.get("/v1/files", cast_to=object, options=options)
    assert page["next_page"].startswith("page_") and page["has_more"] is True
    assert (page["first_id"], page["last_id"]) == (ids[2], ids[1])
    assert "expires_at" in page["data"][0]
    options["params"]["after_id"] = ids[1]
    assert [f["id"] for f in client.get("/v1/files", cast_to=object, options=options)["data"]] == [
        ids[0]
    ]


def test_scope_id_matches_no_uploaded_file(client, png):
    client.files.upload(file=("a.png", png, "image/png"))
    assert list(client.beta.files.list(scope_id="sesn_011abc")) == []
