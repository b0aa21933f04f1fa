"""Message Batches through the real SDK: the endpoints, processing on the emulator's clock,
expiry, archiving, workspaces, faults, item outcomes, and the state file."""

from __future__ import annotations

import json
from datetime import timedelta

import anthropic
import httpx2
import pytest
from anthropic.types.messages import (
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchIndividualResponse,
    MessageBatchRequestCounts,
)
from anthropic.types.shared import ErrorResponse

from assetmgr.emulator import Emulator

from .conftest import MODEL, file_block, image_bytes, sdk, user

HOUR, DAY = 3600, 86400


def params(*blocks, model: str = MODEL, **extra) -> dict:
    content = list(blocks) or [{"type": "text", "text": "Describe it."}]
    return {"model": model, "max_tokens": 200, "messages": user(*content), **extra}


def requests(n: int, **extra) -> list[dict]:
    return [{"custom_id": f"item-{k}", "params": params(**extra)} for k in range(n)]


def results(client, batch_id: str) -> dict[str, MessageBatchIndividualResponse]:
    return {r.custom_id: r for r in client.messages.batches.results(batch_id)}


def outcomes(client, batch_id: str) -> dict[str, str]:
    return {k: r.result.type for k, r in results(client, batch_id).items()}


def keys(model) -> set[str]:
    return set(model.model_fields)


# -- the endpoints -----------------------------------------------------------------------------


def test_create_answers_a_batch_in_progress_with_every_field(emu, client):
    raw = client.messages.batches.with_raw_response.create(requests=requests(3))
    body = raw.http_response.json()
    batch = raw.parse()
    assert set(body) == keys(MessageBatch)
    assert set(body["request_counts"]) == keys(MessageBatchRequestCounts)
    assert batch.id.startswith("msgbatch_011") and batch.type == "message_batch"
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 3 and batch.request_counts.succeeded == 0
    assert batch.results_url is None and batch.ended_at is None and batch.archived_at is None
    assert batch.cancel_initiated_at is None
    assert (batch.expires_at - batch.created_at).total_seconds() == DAY
    assert raw.http_response.headers["anthropic-workspace-id"] == emu.workspace_id()


def test_processing_ends_on_the_clock_and_results_parse(emu, client):
    batch = client.messages.batches.create(requests=requests(3))
    emu.advance(4)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    emu.advance(2)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts == MessageBatchRequestCounts(
        processing=0, succeeded=3, errored=0, canceled=0, expired=0
    )
    assert (ended.ended_at - ended.created_at).total_seconds() == 5
    assert ended.results_url == f"{emu.base_url}/v1/messages/batches/{batch.id}/results"
    lines = httpx2.get(ended.results_url, headers={"x-api-key": "k"}).text.splitlines()
    assert len(lines) == 3
    for line in lines:
        item = json.loads(line)
        assert set(item) == keys(MessageBatchIndividualResponse)
        assert set(item["result"]) == {"type", "message"}
        message = item["result"]["message"]
        assert set(message) == keys(anthropic.types.Message)
        assert set(message["usage"]) == keys(anthropic.types.Usage)
        assert message["usage"]["service_tier"] == "batch"
    got = results(client, batch.id)
    assert sorted(got) == ["item-0", "item-1", "item-2"]
    assert all(r.result.message.stop_reason == "end_turn" for r in got.values())


def test_results_before_the_end_are_refused(emu, client):
    batch = client.messages.batches.create(requests=requests(1))
    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        client.messages.batches.results(batch.id)
    with pytest.raises(anthropic.BadRequestError, match="still in progress"):
        client.get(f"/v1/messages/batches/{batch.id}/results", cast_to=object)


def test_list_pages_newest_first_as_the_sdk_expects(emu, client):
    ids = [client.messages.batches.create(requests=requests(1)).id for _ in range(5)]
    raw = client.messages.batches.with_raw_response.list(limit=2)
    body = raw.http_response.json()
    assert set(body) == {"data", "has_more", "first_id", "last_id"}
    assert set(body["data"][0]) == keys(MessageBatch)
    page = raw.parse()
    assert [b.id for b in page.data] == [ids[4], ids[3]]
    assert page.has_more and page.first_id == ids[4] and page.last_id == ids[3]
    assert [b.id for b in client.messages.batches.list(limit=2)] == ids[::-1]  # auto-paging
    older = client.messages.batches.list(after_id=ids[3], limit=10)
    assert [b.id for b in older.data] == [ids[2], ids[1], ids[0]] and not older.has_more
    newer = client.messages.batches.list(before_id=ids[1], limit=2)
    assert [b.id for b in newer.data] == [ids[3], ids[2]] and newer.has_more
    with pytest.raises(anthropic.BadRequestError, match="limit"):
        client.messages.batches.list(limit=0)


def test_cancel_then_canceling_then_ended_with_the_rest_canceled(emu, client):
    emu.set_batch_timing(delay_seconds=0, item_seconds=10, cancel_seconds=5)
    batch = client.messages.batches.create(requests=requests(10))
    emu.advance(35)  # items 0..3 are processed at 0, 10, 20 and 30 s
    canceling = client.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None and canceling.request_counts.processing == 10
    assert client.messages.batches.cancel(batch.id).processing_status == "canceling"
    emu.advance(5)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert (ended.request_counts.succeeded, ended.request_counts.canceled) == (4, 6)
    got = outcomes(client, batch.id)
    assert {k for k, v in got.items() if v == "succeeded"} == {f"item-{k}" for k in range(4)}
    with pytest.raises(anthropic.BadRequestError, match="already ended"):
        client.messages.batches.cancel(batch.id)


def test_delete_only_once_ended(emu, client):
    batch = client.messages.batches.create(requests=requests(1))
    with pytest.raises(
        anthropic.BadRequestError, match="cannot be deleted while it is in progress"
    ):
        client.messages.batches.delete(batch.id)
    emu.finish_batches(batch.id)
    raw = client.messages.batches.with_raw_response.delete(batch.id)
    assert set(raw.http_response.json()) == keys(DeletedMessageBatch)
    assert raw.parse() == DeletedMessageBatch(id=batch.id, type="message_batch_deleted")
    for call in (client.messages.batches.retrieve, client.messages.batches.delete):
        with pytest.raises(anthropic.NotFoundError):
            call(batch.id)
    assert list(client.messages.batches.list()) == []
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve("msgbatch_011nothing")


# -- validation: the envelope fails the create, params fail the item ---------------------------


@pytest.mark.parametrize(
    "batch_requests, match",
    [
        ([], "1 to 100000 requests, got 0"),
        (["not an object"], r"requests\.0: Input should be a valid dictionary"),
        ([{"params": params()}], r"requests\.0\.custom_id: Field required"),
        ([{"custom_id": "has space", "params": params()}], "should match pattern"),
        ([{"custom_id": "x" * 65, "params": params()}], "should match pattern"),
        ([{"custom_id": "ok"}], r"requests\.0\.params: Field required"),
        ([{"custom_id": "ok", "params": "text"}], r"params: Input should be a valid dictionary"),
        (
            [{"custom_id": "same", "params": params()}, {"custom_id": "same", "params": params()}],
            r"requests\.1\.custom_id: `same` is used by more than one request",
        ),
    ],
)
def test_a_wrong_envelope_fails_the_whole_create(emu, client, batch_requests, match):
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.messages.batches.create(requests=batch_requests)
    assert emu.batch_list() == []


def test_a_body_without_requests_is_400(client):
    with pytest.raises(anthropic.BadRequestError, match="requests: Field required"):
        client.post("/v1/messages/batches", body={}, cast_to=object)


def test_a_batch_over_its_size_limit_is_413(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(max_batch_bytes=4096)
    big = [{"custom_id": "big", "params": params({"type": "text", "text": "x" * 5000})}]
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk(emu).messages.batches.create(requests=big)
    assert caught.value.status_code == 413


def test_wrong_params_end_their_item_errored_with_the_messages_error(emu, client, png):
    gone = client.files.upload(file=("gone.png", png, "image/png"))
    client.files.delete(gone.id)
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "good", "params": params()},
            {"custom_id": "no-max-tokens", "params": {"model": MODEL, "messages": user()}},
            {"custom_id": "deleted-file", "params": params(file_block(gone.id))},
            {"custom_id": "retired", "params": params(model="claude-sonnet-4-5")},
            {"custom_id": "sampling", "params": params(top_k=5)},
        ]
    )
    emu.finish_batches()
    got = results(client, batch.id)
    assert got["good"].result.type == "succeeded"
    errors = {k: r.result.error for k, r in got.items() if r.result.type == "errored"}
    assert set(errors) == {"no-max-tokens", "deleted-file", "retired", "sampling"}
    assert all(isinstance(e, ErrorResponse) and e.type == "error" for e in errors.values())
    assert errors["no-max-tokens"].error.type == "invalid_request_error"
    assert errors["no-max-tokens"].error.message == "max_tokens: Field required"
    assert errors["deleted-file"].error.type == "not_found_error"
    assert errors["retired"].error.message == "model: claude-sonnet-4-5"
    assert "top_k" in errors["sampling"].error.message
    counts = client.messages.batches.retrieve(batch.id).request_counts
    assert (counts.succeeded, counts.errored) == (1, 4)


def test_files_are_checked_when_the_item_is_processed(emu, client, png):
    """A file live at creation but deleted, or expired, before processing errors its item; a
    file that expires after its item was processed does not matter."""
    emu.set_batch_timing(delay_seconds=2 * HOUR, item_seconds=0)
    expiring = client.files.upload(file=("e.png", png, "image/png"), expires_in_seconds=HOUR)
    deleted = client.files.upload(file=("d.png", png, "image/png"))
    late = client.files.upload(file=("l.png", png, "image/png"), expires_in_seconds=3 * HOUR)
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "expired", "params": params(file_block(expiring.id))},
            {"custom_id": "deleted", "params": params(file_block(deleted.id))},
            {"custom_id": "late", "params": params(file_block(late.id))},
        ]
    )
    client.files.delete(deleted.id)
    emu.advance(10 * HOUR)  # far past processing (2 h) and the late file's expiry (3 h)
    got = results(client, batch.id)
    assert got["expired"].result.error.error.type == "not_found_error"
    assert got["expired"].result.error.model_dump()["error"]["details"] == {
        "error_code": "file_expired"
    }
    assert got["deleted"].result.error.error.message == f"File `{deleted.id}` not found."
    assert got["late"].result.type == "succeeded"


# -- expiry and archiving -----------------------------------------------------------------------


def test_items_not_processed_within_24_hours_expire(emu, client):
    emu.set_batch_timing(delay_seconds=0, item_seconds=HOUR)
    batch = client.messages.batches.create(requests=requests(30))
    emu.advance(23 * HOUR)
    assert client.messages.batches.retrieve(batch.id).processing_status == "in_progress"
    emu.advance(HOUR)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.ended_at == ended.expires_at
    assert (ended.request_counts.succeeded, ended.request_counts.expired) == (25, 5)
    got = outcomes(client, batch.id)
    assert {k for k, v in got.items() if v == "expired"} == {f"item-{k}" for k in range(25, 30)}


def test_a_batch_slower_than_a_day_expires_whole(emu, client):
    emu.set_batch_timing(delay_seconds=2 * DAY)
    batch = client.messages.batches.create(requests=requests(3))
    emu.advance(DAY)
    ended = client.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended" and ended.request_counts.expired == 3


def test_results_stay_for_29_days_after_creation(emu, client):
    batch = client.messages.batches.create(requests=requests(2))
    emu.advance(29 * DAY - 60)
    assert client.messages.batches.retrieve(batch.id).archived_at is None
    assert len(results(client, batch.id)) == 2
    emu.advance(60)
    archived = client.messages.batches.retrieve(batch.id)
    assert archived.archived_at == archived.created_at + timedelta(days=29)
    assert archived.results_url is not None and archived.request_counts.succeeded == 2
    with pytest.raises(anthropic.NotFoundError, match="no longer available"):
        list(client.messages.batches.results(batch.id))


# -- workspaces, faults, state -------------------------------------------------------------------


def test_batches_are_scoped_to_the_key_s_workspace(anthropic_emulator_factory, png):
    emu = anthropic_emulator_factory(workspaces={"key-a": "team-a", "key-b": "team-b"})
    a, b = sdk(emu, "key-a"), sdk(emu, "key-b")
    own = a.files.upload(file=("a.png", png, "image/png"))
    batch = a.messages.batches.create(requests=[{"custom_id": "x", "params": params()}])
    foreign = b.messages.batches.create(
        requests=[{"custom_id": "y", "params": params(file_block(own.id))}]
    )
    assert [x.id for x in a.messages.batches.list()] == [batch.id]
    assert [x.id for x in b.messages.batches.list()] == [foreign.id]
    for call in (b.messages.batches.retrieve, b.messages.batches.cancel):
        with pytest.raises(anthropic.NotFoundError):
            call(batch.id)
    emu.finish_batches()
    assert results(b, foreign.id)["y"].result.error.error.type == "not_found_error"
    assert [x["id"] for x in emu.batch_list("team-a")] == [batch.id]


def test_injected_errors_apply_to_batch_endpoints(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(error_rate=1.0, error_statuses=[529], retry_after_ms=1)
    with pytest.raises(anthropic.OverloadedError):
        sdk(emu, max_retries=2).messages.batches.create(requests=requests(1))
    with pytest.raises(anthropic.OverloadedError):
        sdk(emu).messages.batches.list()
    assert emu.batch_list() == []
    assert emu.request_counts() == {"GET /v1/messages/batches": 1, "POST /v1/messages/batches": 3}


def test_a_lost_create_response_and_a_retry_make_two_batches(emu):
    """The API has no idempotency key for batches: a retried create is a new batch."""
    emu.set_faults(drop_next=1)
    batch = sdk(emu, max_retries=1).messages.batches.create(requests=requests(1))
    made = emu.batch_list()
    assert len(made) == 2 and made[1]["id"] == batch.id
    assert [r["status"] for r in emu.requests] == ["dropped", 200]


def test_the_sdk_retries_through_intermittent_errors(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(error_rate=0.5, retry_after_ms=1, seed=3)
    client = sdk(emu, max_retries=10)
    batch = client.messages.batches.create(requests=requests(2))
    emu.finish_batches()
    assert outcomes(client, batch.id) == {"item-0": "succeeded", "item-1": "succeeded"}
    assert any(r["status"] != 200 for r in emu.requests)


def test_batches_survive_the_state_file(tmp_path):
    state = tmp_path / "state.json"
    with Emulator(state=state) as emu:
        client = sdk(emu)
        done = client.messages.batches.create(requests=requests(2))
        emu.finish_batches(done.id)
        pending = client.messages.batches.create(requests=requests(1))
    with Emulator(state=state) as emu:
        client = sdk(emu)
        assert [b.id for b in client.messages.batches.list()] == [pending.id, done.id]
        assert client.messages.batches.retrieve(pending.id).processing_status == "in_progress"
        assert outcomes(client, done.id) == {"item-0": "succeeded", "item-1": "succeeded"}
        emu.advance(10)
        assert client.messages.batches.retrieve(pending.id).request_counts.succeeded == 1


# -- item outcomes: refusals and errored items ----------------------------------------------------


def test_item_faults_make_items_errored_or_refused(emu, client):
    emu.set_faults(item_error_next=2, item_error_status=529, item_refusal_next=1)
    batch = client.messages.batches.create(requests=requests(5))
    emu.finish_batches()
    got = results(client, batch.id)
    errored = [got[f"item-{k}"].result for k in (0, 1)]
    assert all(r.type == "errored" and r.error.error.type == "overloaded_error" for r in errored)
    refused = got["item-2"].result
    assert refused.type == "succeeded" and refused.message.stop_reason == "refusal"
    assert refused.message.stop_details.type == "refusal" and refused.message.content == []
    assert {got[f"item-{k}"].result.message.stop_reason for k in (3, 4)} == {"end_turn"}
    again = client.messages.batches.create(requests=requests(5))  # the retry succeeds
    emu.finish_batches()
    assert set(outcomes(client, again.id).values()) == {"succeeded"}


def test_the_refusal_trigger_refuses_in_messages_and_batches(emu, client):
    prompt = {"type": "text", "text": "Please [assetmgr-emulator:refuse] this."}
    message = client.messages.create(**params(prompt))
    assert message.stop_reason == "refusal" and message.content == []
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "refused", "params": params(prompt)},
            {"custom_id": "fine", "params": params()},
        ]
    )
    emu.finish_batches()
    got = results(client, batch.id)
    assert got["refused"].result.message.stop_reason == "refusal"
    assert got["fine"].result.message.stop_reason == "end_turn"


def test_300_items_with_file_images(emu, client):
    ids = []
    for k in range(300):
        data = image_bytes(32 + k % 50, 24 + k // 50)
        ids.append(client.files.upload(file=(f"{k}.png", data, "image/png")).id)
    batch = client.messages.batches.create(
        requests=[
            {
                "custom_id": f"img-{k}",
                "params": params(file_block(fid), {"type": "text", "text": "?"}),
            }
            for k, fid in enumerate(ids)
        ]
    )
    finished = httpx2.post(f"{emu.base_url}/_emulator/batches/finish", json={"id": batch.id})
    assert finished.json() == {"finished": [batch.id]}
    got = list(client.messages.batches.results(batch.id))
    assert len(got) == 300 and [r.custom_id for r in got] != [f"img-{k}" for k in range(300)]
    for r in got:
        k = int(r.custom_id.removeprefix("img-"))
        assert f"(file {ids[k]})" in r.result.message.content[0].text
    assert client.messages.batches.retrieve(batch.id).request_counts.succeeded == 300


def test_admin_batch_controls(emu):
    url = f"{emu.base_url}/_emulator"
    assert httpx2.post(f"{url}/batch_timing", json={"delay_seconds": 60}).json() == {
        "delay_seconds": 60.0,
        "item_seconds": 0.0,
        "cancel_seconds": 5.0,
    }
    assert httpx2.post(f"{url}/batch_timing", json={"delay_seconds": -1}).status_code == 400
    assert httpx2.post(f"{url}/batch_timing", json={"bogus": 1}).status_code == 400
    batch = sdk(emu).messages.batches.create(requests=requests(1))
    listed = httpx2.get(f"{url}/batches").json()["data"]
    assert [(b["id"], b["processing_status"], b["custom_ids"]) for b in listed] == [
        (batch.id, "in_progress", ["item-0"])
    ]
    assert httpx2.post(f"{url}/batches/finish", json={}).json() == {"finished": [batch.id]}
    assert httpx2.post(f"{url}/batches/finish", json={"id": "msgbatch_x"}).status_code == 404
    assert httpx2.get(f"{url}/state").json()["batches"][0]["processing_status"] == "ended"
    httpx2.post(f"{url}/reset")
    assert emu.batch_list() == []
