"""Prompt caching figures in Messages usage: written, then read within the TTL on the emulator's
clock, per workspace and model, nothing below the model's minimum prefix, in batches too."""

from __future__ import annotations

import math

import anthropic
import pytest

from .conftest import file_block, image_bytes, sdk, user

NEW = "claude-sonnet-5-5"  # minimum cacheable prefix 512 tokens
OLD = "claude-haiku-4-5"  # 4096 tokens
RULES = "r" * 4000  # 1000 tokens
QUESTION = "What is shown?"  # 14 characters


def ask(client, *, model=NEW, ttl=None, question=QUESTION, **extra):
    control = {"type": "ephemeral", **({"ttl": ttl} if ttl else {})}
    system = [{"type": "text", "text": RULES, "cache_control": control}]
    return client.messages.create(
        model=model,
        max_tokens=100,
        system=system,
        messages=user({"type": "text", "text": question}),
        **extra,
    ).usage


def figures(usage) -> tuple[int, int, int, int, int]:
    created = usage.cache_creation
    return (
        usage.input_tokens,
        usage.cache_creation_input_tokens,
        usage.cache_read_input_tokens,
        created.ephemeral_5m_input_tokens,
        created.ephemeral_1h_input_tokens,
    )


TOTAL = math.ceil((len(RULES) + len(QUESTION)) / 4)  # 1004
REST = TOTAL - 1000


def test_the_first_request_writes_the_prefix_and_the_next_reads_it(client):
    assert figures(ask(client)) == (REST, 1000, 0, 1000, 0)
    assert figures(ask(client)) == (REST, 0, 1000, 0, 0)
    assert figures(ask(client, question="Another question?")) == (
        math.ceil((len(RULES) + 17) / 4) - 1000,
        0,
        1000,
        0,
        0,
    )


def test_the_5_minute_entry_lapses_on_the_clock_and_a_read_refreshes_it(emu, client):
    ask(client)
    emu.advance(240)
    assert figures(ask(client))[2] == 1000  # read at 4 min: lives until 9 min
    emu.advance(240)
    assert figures(ask(client))[2] == 1000
    emu.advance(301)
    assert figures(ask(client)) == (REST, 1000, 0, 1000, 0)


def test_a_1_hour_entry(emu, client):
    assert figures(ask(client, ttl="1h")) == (REST, 1000, 0, 0, 1000)
    emu.advance(50 * 60)
    assert figures(ask(client, ttl="1h"))[2] == 1000
    emu.advance(3601)
    assert figures(ask(client, ttl="1h")) == (REST, 1000, 0, 0, 1000)


def test_below_the_model_minimum_nothing_is_cached_and_nothing_fails(client):
    assert figures(ask(client, model=OLD)) == (TOTAL, 0, 0, 0, 0)
    assert figures(ask(client, model=OLD)) == (TOTAL, 0, 0, 0, 0)


def test_without_cache_control_nothing_is_cached(client):
    for _ in range(2):
        usage = client.messages.create(
            model=NEW, max_tokens=50, system=RULES, messages=user({"type": "text", "text": "hi"})
        ).usage
        assert figures(usage)[1:] == (0, 0, 0, 0)


def test_entries_belong_to_a_workspace_and_a_model(anthropic_emulator_factory):
    emu = anthropic_emulator_factory(workspaces={"key-a": "team-a", "key-b": "team-b"})
    ask(sdk(emu, "key-a"))
    assert figures(ask(sdk(emu, "key-b")))[1:3] == (1000, 0)
    assert figures(ask(sdk(emu, "key-a"), model="claude-opus-5-5"))[1:3] == (1000, 0)
    assert figures(ask(sdk(emu, "key-a")))[1:3] == (0, 1000)


def test_top_level_cache_control_caches_up_to_the_last_block_with_images(client):
    png = client.files.upload(file=("a.png", image_bytes(640, 480), "image/png"))
    messages = user(file_block(png.id), {"type": "text", "text": RULES})
    total = 23 * 18 + 1000  # 640x480: 23x18 patches
    first = client.messages.create(
        model=NEW, max_tokens=50, messages=messages, cache_control={"type": "ephemeral"}
    ).usage
    assert figures(first) == (0, total, 0, total, 0)
    again = client.messages.create(
        model=NEW, max_tokens=50, messages=messages, cache_control={"type": "ephemeral"}
    ).usage
    assert figures(again) == (0, 0, total, 0, 0)


def test_a_longer_prefix_reads_the_shorter_and_writes_the_rest(client):
    def request(extra_ttl):
        blocks = [
            {"type": "text", "text": "a" * 2400, "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "b" * 2400, "cache_control": {"type": "ephemeral"}},
        ]
        if extra_ttl is None:
            blocks[1].pop("cache_control")
        messages = user(*blocks, {"type": "text", "text": "end"})
        return client.messages.create(model=NEW, max_tokens=50, messages=messages).usage

    assert figures(request(None)) == (601, 600, 0, 600, 0)
    assert figures(request("5m")) == (1, 600, 600, 600, 0)
    assert figures(request("5m")) == (1, 0, 1200, 0, 0)


@pytest.mark.parametrize(
    "control, match",
    [
        ({"type": "persistent"}, "cache_control.type: Input should be 'ephemeral'"),
        ({"type": "ephemeral", "ttl": "2h"}, r"cache_control.ttl: Input should be '5m' or '1h'"),
    ],
)
def test_a_wrong_cache_control_is_400(client, control, match):
    with pytest.raises(anthropic.BadRequestError, match=match):
        client.messages.create(
            model=NEW,
            max_tokens=10,
            messages=user({"type": "text", "text": "x", "cache_control": control}),
        )


def test_at_most_4_breakpoints_and_1h_before_5m(client):
    five = {"type": "ephemeral"}
    blocks = [{"type": "text", "text": f"part {k}", "cache_control": five} for k in range(4)]
    client.messages.create(model=NEW, max_tokens=10, messages=user(*blocks))
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        client.messages.create(model=NEW, max_tokens=10, messages=user(*blocks), cache_control=five)
    hour = {"type": "ephemeral", "ttl": "1h"}
    late = [{**blocks[0]}, {"type": "text", "text": "later", "cache_control": hour}]
    with pytest.raises(anthropic.BadRequestError, match="1h cache breakpoint cannot follow"):
        client.messages.create(model=NEW, max_tokens=10, messages=user(*late))


def test_batch_items_write_and_read_the_cache(emu, client):
    emu.set_batch_timing(delay_seconds=0, item_seconds=1)
    system = [{"type": "text", "text": RULES, "cache_control": {"type": "ephemeral"}}]
    batch = client.messages.batches.create(
        requests=[
            {
                "custom_id": f"q{k}",
                "params": {
                    "model": NEW,
                    "max_tokens": 50,
                    "system": system,
                    "messages": user({"type": "text", "text": QUESTION}),
                },
            }
            for k in range(3)
        ]
    )
    emu.advance(5)
    got = {r.custom_id: r.result.message.usage for r in client.messages.batches.results(batch.id)}
    assert figures(got["q0"]) == (REST, 1000, 0, 1000, 0)
    assert figures(got["q1"]) == figures(got["q2"]) == (REST, 0, 1000, 0, 0)
    assert {u.service_tier for u in got.values()} == {"batch"}
