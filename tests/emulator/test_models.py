"""The Models API and the per-model request rules, through the real SDK on loopback: list and
retrieve with every field the SDK's types define, pagination as the SDK pages, retired models,
images per request by context size, sampling parameters, and each model's image tier."""

from __future__ import annotations

import warnings

import anthropic
import httpx2
import pytest
from anthropic import types as t
from anthropic.pagination import SyncPage

from .conftest import base64_block, image_bytes, user

ACTIVE_AND_DEPRECATED = [
    "claude-opus-5-5",
    "claude-sonnet-5-5",
    "claude-haiku-5-5",
    "claude-fable-5-2",
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-sonnet-4-6",
    "claude-opus-4-6",
    "claude-opus-4-5",
    "claude-haiku-4-5",
]
RETIRED = "claude-sonnet-4-5"
HI = [{"role": "user", "content": "hi"}]
LARGE_CONTEXT = ["claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-fable-5-2"]
LARGE_CONTEXT += ["claude-opus-4-8"]
HIGH_TIER = LARGE_CONTEXT + ["claude-opus-4-7"]
# Every nested object of ModelInfo, by its path, and the SDK type whose fields it must have.
SHAPES = {
    (): t.ModelInfo,
    ("capabilities",): t.ModelCapabilities,
    ("capabilities", "context_management"): t.ContextManagementCapability,
    ("capabilities", "effort"): t.EffortCapability,
    ("capabilities", "server_tools"): t.ServerToolsCapability,
    ("capabilities", "thinking"): t.ThinkingCapability,
    ("capabilities", "thinking", "types"): t.ThinkingTypes,
}
SUPPORT_KEYS = {"batch", "citations", "code_execution", "image_input", "pdf_input"}
SUPPORT_KEYS |= {"structured_outputs"}


def _raw(emu, method: str, path: str, **kwargs) -> httpx2.Response:
    headers = {"x-api-key": "test-key", **kwargs.pop("headers", {})}
    return httpx2.request(method, emu.base_url + path, headers=headers, **kwargs)


def _check_shape(info: dict) -> None:
    for path, model in SHAPES.items():
        node = info
        for part in path:
            node = node[part]
        assert set(node) == set(model.model_fields), (path, model.__name__)
    capabilities = info["capabilities"]
    for name in SUPPORT_KEYS:
        assert set(capabilities[name]) == set(t.CapabilitySupport.model_fields)
    for group in ("context_management", "effort", "server_tools", "thinking"):
        for key, value in capabilities[group].items():
            if isinstance(value, dict) and key != "types":
                assert set(value) == set(t.CapabilitySupport.model_fields), (group, key)
    for value in capabilities["thinking"]["types"].values():
        assert set(value) == set(t.CapabilitySupport.model_fields)


def test_the_list_is_newest_first_without_retired_models(emu, client):
    page = client.models.list()
    assert [m.id for m in page.data] == ACTIVE_AND_DEPRECATED
    assert (page.has_more, page.first_id, page.last_id) == (
        False,
        ACTIVE_AND_DEPRECATED[0],
        ACTIVE_AND_DEPRECATED[-1],
    )
    assert all(isinstance(m, t.ModelInfo) for m in page.data)
    created = [m.created_at for m in page.data]
    assert created == sorted(created, reverse=True)
    body = _raw(emu, "GET", "/v1/models").json()
    assert set(body) == set(SyncPage[t.ModelInfo].model_fields)
    for info in body["data"]:
        _check_shape(info)
        t.ModelInfo.model_validate(info)


def test_retrieve_answers_every_field_for_every_model(emu, client):
    for model_id in ACTIVE_AND_DEPRECATED + [RETIRED]:
        raw = client.models.with_raw_response.retrieve(model_id)
        info = raw.http_response.json()
        _check_shape(info)
        model = raw.parse()
        assert isinstance(model, t.ModelInfo) and model.id == model_id
        assert model.type == "model" and model.capabilities.image_input.supported
        assert model._workspace_id == emu.workspace_id("default")
        large = model.max_input_tokens > 200_000
        assert large == (model_id in LARGE_CONTEXT), model_id


def test_lifecycles(client):
    retired = client.models.retrieve(RETIRED)
    assert retired.lifecycle == "retired" and retired.retires_at.isoformat() == (
        "2026-11-30T00:00:00+00:00"
    )
    deprecated = client.models.retrieve("claude-opus-4-5")
    assert deprecated.lifecycle == "deprecated"
    assert deprecated.retires_at.date().isoformat() == "2027-01-22"
    assert deprecated.deprecated_at is not None
    active = client.models.retrieve("claude-sonnet-5-5")
    assert (active.lifecycle, active.deprecated_at, active.retires_at) == ("active", None, None)
    assert [m.id for m in client.models.list(lifecycle=["retired"])] == [RETIRED]
    everything = [m.id for m in client.models.list(lifecycle=["active", "deprecated", "retired"])]
    assert everything == ACTIVE_AND_DEPRECATED + [RETIRED]
    assert [m.id for m in client.models.list(lifecycle=["deprecated"])] == ["claude-opus-4-5"]
    with pytest.raises(anthropic.BadRequestError, match="lifecycle"):
        client.models.list(lifecycle=["gone"])  # type: ignore[list-item]


def test_pages_follow_after_id_and_before_id_as_the_sdk_pages(emu, client):
    first = client.models.list(limit=3)
    assert [m.id for m in first.data] == ACTIVE_AND_DEPRECATED[:3] and first.has_more
    second = first.get_next_page()
    assert [m.id for m in second.data] == ACTIVE_AND_DEPRECATED[3:6]
    emu.reset()
    assert [m.id for m in client.models.list(limit=3)] == ACTIVE_AND_DEPRECATED  # auto-paging
    assert emu.request_counts() == {"GET /v1/models?limit": 1, "GET /v1/models?after_id&limit": 3}
    after = client.models.list(after_id="claude-opus-4-8", limit=2)
    assert [m.id for m in after.data] == ["claude-opus-4-7", "claude-sonnet-4-6"]
    assert after.has_more
    last = client.models.list(after_id="claude-opus-4-5")
    assert [m.id for m in last.data] == ["claude-haiku-4-5"] and not last.has_more
    before = client.models.list(before_id="claude-opus-4-8", limit=2)
    assert [m.id for m in before.data] == ["claude-haiku-5-5", "claude-fable-5-2"]
    assert before.has_more
    # The SDK keeps paging towards newer models with before_id=first_id.
    newer = [m.id for m in client.models.list(before_id="claude-opus-4-8", limit=2)]
    assert newer == ["claude-haiku-5-5", "claude-fable-5-2", "claude-opus-5-5", "claude-sonnet-5-5"]


def test_bad_list_parameters_are_400(client):
    for params in ({"limit": 0}, {"limit": 1001}, {"after_id": "claude-nothing"}):
        with pytest.raises(anthropic.BadRequestError):
            client.models.list(**params)
    with pytest.raises(anthropic.BadRequestError, match="together"):
        client.models.list(after_id="claude-opus-4-8", before_id="claude-opus-4-6")


def test_unknown_model_is_404(client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.models.retrieve("claude-nothing-9")
    assert caught.value.body["error"] == {
        "type": "not_found_error",
        "message": "model: claude-nothing-9",
    }


def test_the_endpoints_go_through_auth_and_the_usual_wire(emu):
    assert _raw(emu, "GET", "/v1/models", headers={"x-api-key": ""}).status_code == 401
    head = _raw(emu, "HEAD", "/v1/models/claude-opus-5-5")
    assert head.status_code == 200 and head.content == b"" and head.headers["request-id"]
    refused = _raw(emu, "POST", "/v1/models")
    assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"
    assert refused.json()["error"]["type"] == "invalid_request_error"


# -- the rules Messages applies per model -----------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> dict:
    return base64_block(image_bytes(4, 4))


def test_600_images_on_a_large_context_model_and_no_more(client, tiny):
    message = client.messages.create(
        model="claude-sonnet-5-5", max_tokens=5, messages=user(*[tiny] * 600)
    )
    assert message.usage.input_tokens == 600
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model="claude-opus-4-8", max_tokens=5, messages=user(*[tiny] * 601))
    assert caught.value.body["error"]["message"] == (
        "Too much media: 0 document pages + 601 images > 600"
    )


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-opus-4-7", "my-own-model"])
def test_101_images_fail_on_a_200k_or_unknown_model(client, tiny, model):
    client.messages.count_tokens(model=model, messages=user(*[tiny] * 100))
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=model, max_tokens=5, messages=user(*[tiny] * 101))
    assert caught.value.body["error"]["message"] == (
        "Too much media: 0 document pages + 101 images > 100"
    )


def test_a_retired_model_fails_as_the_api_does(client):
    for call in (
        lambda: client.messages.create(model=RETIRED, max_tokens=5, messages=HI),
        lambda: client.messages.count_tokens(model=RETIRED, messages=HI),
    ):
        with pytest.raises(anthropic.NotFoundError) as caught:
            call()
        assert caught.value.body["error"] == {
            "type": "not_found_error",
            "message": f"model: {RETIRED}",
        }
    with pytest.warns(DeprecationWarning, match="January 22nd, 2027"):  # the SDK's own list
        deprecated = client.messages.create(model="claude-opus-4-5", max_tokens=5, messages=HI)
    assert deprecated.model == "claude-opus-4-5"


@pytest.mark.parametrize(
    "sampling", [{"temperature": 0.2}, {"temperature": 0}, {"top_p": 0.9}, {"top_k": 40}]
)
@pytest.mark.parametrize("model", ["claude-sonnet-5-5", "claude-haiku-5-5", "claude-opus-4-7"])
def test_sampling_parameters_are_refused_from_opus_4_7_on(client, model, sampling):
    (name,) = sampling
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(model=model, max_tokens=5, messages=HI, extra_body=sampling)
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    message = caught.value.body["error"]["message"]
    assert message.startswith(f"{name}: `{name}` is deprecated for this model") and model in message


@pytest.mark.parametrize("model", ["claude-sonnet-4-6", "claude-haiku-4-5", "my-own-model"])
def test_older_models_take_sampling_parameters(client, model):
    sampling = {"temperature": 0.2, "top_p": 0.9, "top_k": 40}
    client.messages.create(model=model, max_tokens=5, messages=HI, extra_body=sampling)


def test_the_default_temperature_is_not_a_change(client):
    for extra in ({"temperature": 1}, {"temperature": None}, {}):
        client.messages.create(
            model="claude-sonnet-5-5", max_tokens=5, messages=HI, extra_body=extra
        )


@pytest.mark.parametrize("model_id", ACTIVE_AND_DEPRECATED)
def test_each_model_reads_images_at_its_tier(client, model_id):
    """1920x1080 costs 2691 tokens as is on a high-tier model and 1560 (read at 1456x819) on a
    standard one (vision-2026.md); the tier follows the model, the Models API agrees on it."""
    block = base64_block(image_bytes(1920, 1080))
    with warnings.catch_warnings():  # the SDK warns on a deprecated model (claude-opus-4-5)
        warnings.simplefilter("ignore", DeprecationWarning)
        message = client.messages.create(model=model_id, max_tokens=5, messages=user(block))
    assert message.usage.input_tokens == (2691 if model_id in HIGH_TIER else 1560)
    counted = client.messages.count_tokens(model=model_id, messages=user(block))
    assert counted.input_tokens == message.usage.input_tokens
