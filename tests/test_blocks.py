"""Blocks and requests: exact JSON, labels, order, splitting, the fast path, and the API's answer."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import anthropic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetmgr import Library, UsageError
from assetmgr.blocks import ImageRef, fits, image_refs, request_body, requests, split
from assetmgr.errors import NotFound
from assetmgr.limits import TIERS
from assetmgr.modelspec import describe
from tests.conftest import write_image


@pytest.fixture
def uploaded(tmp_path, run, uploading, db_path):
    """Three catalogued images, uploaded to the emulator; their sha256s in file-name order."""
    for i in range(3):
        write_image(tmp_path / "in" / f"{i}.png", seed=i, size=(300 + i, 200))
    records = run.json_lines("add", tmp_path / "in")
    return [r["sha256"] for r in records], {r["sha256"]: r["file_id"] for r in records}


def test_block_output_is_exactly_the_documented_json(uploaded, run, tmp_path):
    shas, ids = uploaded
    path = tmp_path / "in" / "0.png"
    full = hashlib.sha256(path.read_bytes()).hexdigest()
    for reference in (full, full[:6], "sha256:" + full, str(path)):
        result = run("block", reference)
        assert result.exit_code == 0, result.stderr
        assert (
            result.stdout
            == json.dumps([{"type": "image", "source": {"type": "file", "file_id": ids[full]}}])
            + "\n"
        )


def test_labels_and_order_follow_the_references(uploaded, run):
    shas, ids = uploaded
    order = [shas[2], shas[0], shas[1]]
    blocks = json.loads(run("block", *order, "--label").stdout)
    assert blocks == [
        item
        for n, sha in enumerate(order, 1)
        for item in (
            {"type": "text", "text": f"Image {n}:"},
            {"type": "image", "source": {"type": "file", "file_id": ids[sha]}},
        )
    ]


def test_tag_and_stdin(uploaded, run):
    shas, ids = uploaded
    run("tag", "add", "pick", shas[1])
    assert json.loads(run("block", "--tag", "pick").stdout)[0]["source"]["file_id"] == ids[shas[1]]
    piped = run("block", "--stdin", input="\n".join(reversed(shas)) + "\n")
    assert [b["source"]["file_id"] for b in json.loads(piped.stdout)] == [
        ids[s] for s in reversed(shas)
    ]


def test_base64_and_url_sources(uploaded, run, tmp_path):
    shas, _ = uploaded
    [b64] = json.loads(run("block", shas[0], "--source", "base64").stdout)
    assert b64["source"]["media_type"] == "image/png"
    import base64

    assert base64.b64decode(b64["source"]["data"]) == (tmp_path / "in" / "0.png").read_bytes()
    [url] = json.loads(
        run(
            "block",
            shas[0],
            "--source",
            "url",
            "--url-template",
            "https://cdn.example/{sha256}.{ext}",
        ).stdout
    )
    assert url == {
        "type": "image",
        "source": {"type": "url", "url": f"https://cdn.example/{shas[0]}.png"},
    }
    assert run("block", shas[0], "--source", "url").exit_code == 2


HOSTILE_TEMPLATES = [
    "{0}",
    "{}",
    "https://cdn.example/{0}",
    "https://cdn.example/{sha256.__class__}",
    "https://cdn.example/{sha256.__class__.__init__.__globals__}",
    "https://cdn.example/{sha256[0]}",
    "https://cdn.example/{sha256!r}",
    "https://cdn.example/{sha256:>99999999}",
    "https://cdn.example/{sha256:{asset}}",
    "https://cdn.example/{name}",
    "https://cdn.example/{",
    "https://cdn.example/}",
    "https://cdn.example/{sha256}}",
    "ftp://cdn.example/{sha256}",
    "javascript:alert(1)//{sha256}",
    "/local/{sha256}.png",
    "https:///{sha256}",
    "https://cdn.example:port/{sha256}",
    "https://cdn.example/a b/{sha256}",
    "https://cdn.example/\n{sha256}",
    "https://cdn.example/same.png",
]


@pytest.mark.parametrize("template", HOSTILE_TEMPLATES)
def test_hostile_url_templates_are_one_line_usage_errors(run, template):
    """Refused before any work (nothing is catalogued here): one line on stderr, exit 2."""
    for command in (["block", "0" * 64], ["request", "--tag", "x", "--prompt", "p"]):
        result = run(*command, "--source", "url", "--url-template", template)
        assert result.exit_code == 2, result.stderr
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert result.stderr.startswith("Error: bad --url-template")
        assert len(result.stderr.splitlines()) == 1


def test_hostile_url_templates_are_refused_by_the_library(db_path):
    with Library.open(db_path) as lib:
        for template in HOSTILE_TEMPLATES:
            with pytest.raises(UsageError):
                lib.images([], source="url", url_template=template)


def test_good_url_templates(uploaded, run):
    shas, _ = uploaded
    template = "http://cdn.example:8080/{{x}}/{asset}/{sha256}.{ext}?v=1"
    [block] = json.loads(
        run("block", shas[0], "--source", "url", "--url-template", template).stdout
    )
    assert block["source"]["url"] == f"http://cdn.example:8080/{{x}}/{shas[0]}/{shas[0]}.png?v=1"


def test_missing_uploads_are_uploaded_first_or_listed(tmp_path, run, uploading, db_path):
    write_image(tmp_path / "a.png", seed=9)
    [record] = run.json_lines("add", tmp_path / "a.png", "--no-upload")
    refused = run("block", record["sha256"], "--no-upload")
    assert (
        refused.exit_code == 4
        and record["sha256"][:12] in refused.stderr
        and "assetmgr push" in refused.stderr
    )
    assert uploading.files() == []
    [block] = json.loads(run("block", record["sha256"]).stdout)
    assert block["source"]["file_id"] == uploading.files()[0]["id"]


def test_an_expired_upload_is_replaced_before_use(tmp_path, run, uploading, db_path):
    from datetime import datetime, timedelta, timezone

    write_image(tmp_path / "a.png", seed=5)
    real_now = datetime.now(timezone.utc)
    uploading.set_time(
        real_now - timedelta(hours=2)
    )  # the API's clock: this upload expired an hour ago
    [record] = run.json_lines("add", tmp_path / "a.png", "--expires-in", "1h")
    uploading.set_time(real_now)
    [block] = json.loads(run("block", record["sha256"]).stdout)
    assert block["source"]["file_id"] != record["file_id"]
    replacement = {f["id"]: f for f in uploading.files()}[block["source"]["file_id"]]
    lifetime = datetime.fromisoformat(replacement["expires_at"].replace("Z", "+00:00"))
    lifetime -= datetime.fromisoformat(replacement["created_at"].replace("Z", "+00:00"))
    assert lifetime == timedelta(hours=1)  # a replacement asks for the lifetime it replaces


def test_request_bodies_are_accepted_by_the_api(uploaded, run, uploading):
    shas, ids = uploaded
    lines = [
        json.loads(line)
        for line in run(
            "request", *shas, "--prompt", "What differs?", "--label"
        ).stdout.splitlines()
    ]
    [line] = lines
    assert line["assetmgr"]["assets"] == shas
    body = {k: v for k, v in line.items() if k != "assetmgr"}
    assert body["messages"][0]["content"][-1] == {"type": "text", "text": "What differs?"}
    client = anthropic.Anthropic(base_url=uploading.base_url, api_key="test-key")
    message = client.messages.create(**body)
    assert [line for line in message.content[0].text.splitlines() if line.startswith("Image")] == [
        f"Image {n}: {300 + n - 1}x200 image/png (file {ids[s]})" for n, s in enumerate(shas, 1)
    ]


def test_python_api_bodies_go_straight_to_the_sdk(uploaded, db_path, uploading):
    shas, _ = uploaded
    client = anthropic.Anthropic(base_url=uploading.base_url, api_key="test-key")
    with Library.open(db_path) as lib:
        bodies = list(
            lib.requests(
                lib.find(shas),
                prompt="Describe them.",
                model="claude-sonnet-5-5",
                system="Be brief.",
            )
        )
    assert [b.assets for b in bodies] == [shas] and "assetmgr" not in bodies[0]
    message = client.messages.create(**bodies[0])
    assert message.usage.input_tokens > 0


def test_ask_prints_the_answer_and_usage(uploaded, run):
    shas, _ = uploaded
    result = run("ask", shas[0], "--prompt", "Describe this image.")
    assert result.exit_code == 0 and result.stdout.startswith("Image 1: 300x200 image/png")
    assert "input tokens" in result.stderr
    whole = json.loads(run("ask", shas[0], "--prompt", "x", "--json").stdout)
    assert whole["type"] == "message" and whole["usage"]["input_tokens"] > 80


def test_ask_through_the_library(uploaded, db_path):
    shas, _ = uploaded
    with Library.open(db_path) as lib:
        [(body, answer)] = list(lib.ask(shas[:2], prompt="Describe.", model="claude-sonnet-5-5"))
    assert body.assets == shas[:2] and answer.text.startswith("Image 1: 300x200 image/png")
    assert answer.input_tokens > 0 and answer.response["type"] == "message"


def test_ask_without_a_key_is_one_line(uploaded, run, monkeypatch):
    shas, _ = uploaded
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = run("ask", shas[0], "--prompt", "x")
    assert result.exit_code == 7 and result.stderr.startswith("Error: no API key")
    assert len(result.stderr.splitlines()) == 1


def test_the_workspace_option_reaches_both_paths(uploaded, run):
    shas, _ = uploaded
    result = run("block", shas[0], "--workspace", "elsewhere", "--no-upload")
    assert result.exit_code == 4 and "no live upload in elsewhere at http" in result.stderr


def test_stdin_with_ten_thousand_lines(uploaded, run):
    shas, ids = uploaded
    lines = [shas[i % 3] for i in range(10_000)]
    result = run("block", "--stdin", input="\n".join(lines))
    blocks = json.loads(result.stdout)
    assert len(blocks) == 10_000 and blocks[4]["source"]["file_id"] == ids[shas[1]]
    bodies = run("request", "--stdin", "--prompt", "x", "--bare", input="\n".join(lines))
    assert [
        len(json.loads(b)["messages"][0]["content"]) - 1 for b in bodies.stdout.splitlines()
    ] == [600] * 16 + [400]  # the default model takes 600 images a request


def test_the_fast_path_and_the_library_agree(uploaded, db_path, run):
    shas, _ = uploaded
    with Library.open(db_path) as lib:
        slow = lib.blocks(shas, label=True)
    assert json.loads(run("block", *shas, "--label").stdout) == slow


def test_block_imports_neither_the_sdk_nor_sqlalchemy(uploaded, db_path):
    shas, _ = uploaded
    code = (
        "import sys; from assetmgr.cli import cli\n"
        f"try: cli(['--db', {str(db_path)!r}, 'block', {shas[0]!r}])\n"
        "except SystemExit: pass\n"
        "print(sorted(m for m in ('anthropic', 'sqlalchemy', 'PIL', 'alembic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.splitlines()[-1] == "[]", result.stderr
    code = code.replace(f"'block', {shas[0]!r}", f"'request', {shas[0][:8]!r}, '--prompt', 'p'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert '"assetmgr"' in result.stdout and result.stdout.splitlines()[-1] == "[]"


def test_unknown_references_are_errors(uploaded, run):
    assert run("block", "0" * 64).exit_code == 4
    assert run("block", "abcdef0123").exit_code == 4
    assert run("block").exit_code == 2


# -- splitting, property-based --------------------------------------------------------------------

image = st.builds(
    lambda n, w, h: ImageRef(f"{n:064x}", f"{n:064x}", "image/jpeg", w, h, 1000, f"file_{n}"),
    st.integers(0, 10**9),
    st.sampled_from([200, 1568, 2000, 2001, 4000, 8000]),
    st.sampled_from([150, 1000, 2000, 2500]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(image, min_size=1, max_size=450))
def test_every_image_lands_in_exactly_one_request_and_none_breaks_a_limit(images):
    chunks = split(images)
    assert [i for chunk in chunks for i in chunk] == images
    for chunk in chunks:
        assert 1 <= len(chunk) <= 100
        if len(chunk) > 20:
            assert all(max(i.width, i.height) <= 2000 for i in chunk)
    bodies = list(requests(images, prompt="p", model="claude-haiku-4-5"))
    assert sum(len(b.assets) for b in bodies) == len(images)
    assert all(fits(chunk) for chunk in chunks)


def test_splitting_says_which_limit_applied():
    small = [
        ImageRef(f"{n:064x}", f"{n:064x}", "image/png", 1000, 800, 10, f"f{n}") for n in range(250)
    ]
    assert [len(c) for c in split(small)] == [100, 100, 50]
    big = [
        ImageRef(f"{n:064x}", f"{n:064x}", "image/png", 2500, 800, 10, f"f{n}") for n in range(45)
    ]
    assert [len(c) for c in split(big)] == [20, 20, 5]
    from assetmgr.blocks import report

    text = str(report(list(requests(big, prompt="p", model="claude-haiku-4-5"))))
    assert (
        text
        == "45 images in 3 request(s) of 20, 20, 5; 45 images over 2000 px keep their requests to 20 images"
    )


def test_base64_requests_stay_under_32_mb():
    heavy = [
        ImageRef(f"{n:064x}", f"{n:064x}", "image/jpeg", 1000, 1000, 4_000_000, None, b"")
        for n in range(20)
    ]
    chunks = split(heavy, source="base64")
    assert all(fits(c, "base64") for c in chunks) and len(chunks) > 1


def test_request_body_shape():
    refs = [ImageRef("a" * 64, "b" * 64, "image/png", 10, 10, 5, "file_x")]
    body = request_body(
        refs, prompt="Describe.", model="claude-sonnet-5-5", max_tokens=50, system="s"
    )
    assert dict(body) == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 50,
        "system": "s",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "file", "file_id": "file_x"}},
                    {"type": "text", "text": "Describe."},
                ],
            }
        ],
    }


# -- requests follow the model ------------------------------------------------------------------


def small_refs(count: int, size=(200, 150), policy="vision") -> list[ImageRef]:
    return [
        ImageRef(f"{n:064x}", f"{n:064x}", "image/png", *size, 10, f"f{n}", policy=policy)
        for n in range(count)
    ]


def sizes_of(images, model, **options) -> list[int]:
    return [len(b.assets) for b in requests(images, prompt="p", model=model, **options)]


LARGE = describe("claude-opus-5-5", {"max_input_tokens": 1_000_000, "lifecycle": "active"})
SMALL = describe("claude-haiku-4-5", {"max_input_tokens": 200_000, "lifecycle": "active"})


@pytest.mark.parametrize(
    ("count", "model", "expected"),
    [
        (250, SMALL, [100, 100, 50]),
        (250, LARGE, [250]),
        (700, SMALL, [100] * 7),
        (700, LARGE, [600, 100]),
        (700, "claude-sonnet-5-5", [600, 100]),  # the table's context: large
        (700, "claude-opus-4-7", [100] * 7),  # high tier, 200k
    ],
)
def test_requests_split_by_the_models_images_per_request(count, model, expected):
    assert sizes_of(small_refs(count), model) == expected


def test_images_over_2000_px_keep_their_requests_to_20_on_any_model():
    hd = small_refs(45, size=(2576, 1449), policy="vision-hd")
    mixed = [*small_refs(30), *hd, *small_refs(30)]
    bodies = list(requests(mixed, prompt="p", model=LARGE))
    # 30 small, then 20 HD at a time; the last 5 HD share a request of 20 with 15 small
    assert [len(b.assets) for b in bodies] == [30, 20, 20, 20, 15]
    assert [b.large for b in bodies] == [0, 20, 20, 5, 0]
    for body in bodies:
        assert len(body.assets) <= 20 or body.large == 0


def test_per_request_caps_the_images_of_each_request():
    assert sizes_of(small_refs(25), LARGE, per_request=10) == [10, 10, 5]
    assert sizes_of(small_refs(25), SMALL, per_request=100) == [25]
    with pytest.raises(UsageError, match="--per-request 101: claude-haiku-4-5 takes 1 to 100"):
        sizes_of(small_refs(25), SMALL, per_request=101)


def test_a_known_context_is_a_token_budget():
    # 1920x1080 at the high tier: 69 x 39 = 2,691 visual tokens, and within 2000 px
    hd = small_refs(100, size=(1920, 1080), policy="vision-hd")
    tight = describe("claude-opus-5-5", {"max_input_tokens": 200_000, "lifecycle": "active"})
    budget = 200_000 - 1024 - 1  # less max_tokens and the prompt "p"
    assert sizes_of(hd, tight) == [budget // 2691, 100 - budget // 2691] == [73, 27]
    assert sizes_of(hd, "claude-opus-5-5") == [100]  # context unknown: no budget
    assert sizes_of(hd, SMALL) == [100]  # the standard tier reads them at 1,560 each


def test_each_body_carries_its_estimate():
    refs = [
        ImageRef("a" * 64, "b" * 64, "image/png", 1920, 1080, 5, "file_a", policy="vision-hd"),
        ImageRef("c" * 64, "d" * 64, "image/png", 640, 480, 5, "file_c", policy="vision"),
    ]
    [high] = requests(refs, prompt="Describe these.", model="claude-sonnet-5-5", label=True)
    # 2,691 + 23*18 = 414 image tokens; "Image 1:" and "Image 2:" are 2 each, the prompt 4
    assert high.tokens == 2691 + 414 + 2 + 2 + 4
    [standard] = requests(refs, prompt="Describe these.", model=SMALL, system="Be brief.")
    assert standard.tokens == 1560 + 414 + 4 + 3
    from assetmgr.blocks import summary

    assert summary(high, 0, 1) == (
        "request 1/1: 2 images, ~3,113 input tokens (est.; claude-sonnet-5-5, high tier)"
    )


# The picker: (tier, renditions held, --policy) -> the policy used, or the error.
PICKS = [
    ("high", "vision", None, "vision"),
    ("high", "vision vision-hd", None, "vision-hd"),
    ("high", "vision-hd original", None, "vision-hd"),
    ("high", "original", None, "original"),
    ("high", "vision vision-hd", "vision", "vision"),
    ("high", "vision", "vision-hd", NotFound),
    ("standard", "vision vision-hd", None, "vision"),
    ("standard", "vision-hd original", None, "original"),
    ("standard", "vision-hd", None, NotFound),
    ("standard", "vision vision-hd", "vision-hd", UsageError),
    ("standard", "original", "vision", NotFound),
    ("standard", "vision original", "original", "original"),
]


@pytest.mark.parametrize(("tier", "held", "policy", "expected"), PICKS)
def test_the_picker(tier, held, policy, expected):
    rows = [("a" * 64, p, f"{i:064x}", "image/png", 100, 100, 10, "f") for i, p in
            enumerate(held.split())]  # fmt: skip
    pick = lambda: image_refs(["a" * 64], rows, policy, TIERS[tier])[0].policy  # noqa: E731
    if isinstance(expected, str):
        assert pick() == expected
    else:
        with pytest.raises(expected):
            pick()


def test_an_asset_with_only_a_vision_hd_rendition_and_a_standard_model(uploaded, run, tmp_path):
    write_image(tmp_path / "hd" / "x.png", seed=9, size=(1920, 1080))
    [record] = run.json_lines("add", tmp_path / "hd", "--policy", "vision-hd")
    sha = record["sha256"]
    default = json.loads(run("block", sha).stdout)  # claude-sonnet-5-5 reads the high tier
    assert default[0]["source"]["file_id"].startswith("file_")
    result = run("block", sha, "--model", "claude-haiku-4-5")
    assert result.exit_code == 4 and result.stderr == (
        f"Error: asset {sha[:12]} has no rendition for the standard tier (it has vision-hd); "
        "run: assetmgr add PATH --policy vision\n"
    )
    result = run("block", sha, "--model", "claude-haiku-4-5", "--policy", "vision-hd")
    assert result.exit_code == 2 and "--policy vision-hd renditions are made for the high tier"
    assert len(result.stderr.splitlines()) == 1
    run("add", tmp_path / "hd")  # now it has a vision rendition too
    standard = json.loads(run("block", sha, "--model", "claude-haiku-4-5").stdout)
    assert standard != default and run("request", sha, "--prompt", "p").exit_code == 0


def test_request_summaries_and_per_request_through_the_cli(uploaded, run):
    shas, _ = uploaded
    result = run("request", *shas, "--prompt", "What differs?", "--per-request", "2")
    assert result.exit_code == 0, result.stderr
    # 300x200, 301x200, 302x200: 11 x 8 = 88 tokens each at either tier; the prompt 4
    assert result.stderr.splitlines() == [
        "request 1/2: 2 images, ~180 input tokens (est.; claude-sonnet-5-5, high tier)",
        "request 2/2: 1 image, ~92 input tokens (est.; claude-sonnet-5-5, high tier)",
        "3 images in 2 request(s) of 2, 1",
    ]
    result = run("request", *shas, "--prompt", "x", "--per-request", "601")
    assert result.exit_code == 2 and result.stderr == (
        "Error: --per-request 601: claude-sonnet-5-5 takes 1 to 600 images per request\n"
    )
    assert run("request", *shas, "--prompt", "x", "--per-request", "0").exit_code == 2


def test_ask_estimates_what_the_api_counts(uploaded, run):
    shas, _ = uploaded
    for model in ("claude-haiku-5-5", "claude-sonnet-4-6"):
        result = run("ask", *shas, "--prompt", "Describe.", "--model", model, "--label")
        assert result.exit_code == 0, result.stderr
        estimate, usage = result.stderr.splitlines()
        tier = "high" if model.endswith("5-5") else "standard"
        assert estimate == (
            f"request 1/1: 3 images, ~273 input tokens (est.; {model}, {tier} tier)"
        )
        assert usage.startswith("usage: 273 input tokens")


def test_each_rendition_is_uploaded_only_when_a_model_reads_it(tmp_path, run, emulated):
    """An asset with a vision and a vision-hd rendition: a standard-tier model's block uploads
    the vision one alone; a high-tier model's then uploads the vision-hd one, once."""
    write_image(tmp_path / "in" / "wide.png", seed=7, size=(1920, 1080))
    [first] = run.json_lines("add", tmp_path / "in")
    [again] = run.json_lines("add", tmp_path / "in", "--policy", "vision-hd")
    assert again["sha256"] == first["sha256"]
    [record] = run.json_lines("show", first["sha256"])
    sizes = {r["policy"]: (r["width"], r["height"]) for r in record["renditions"]}
    assert sizes == {"vision": (1456, 819), "vision-hd": (1920, 1080)}
    emulator = emulated()

    def block(model: str) -> str:
        result = run("block", first["sha256"], "--model", model)
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)[0]["source"]["file_id"]

    standard = block("claude-sonnet-4-6")
    assert emulator.request_counts().get("POST /v1/files") == 1
    high = block("claude-sonnet-5-5")
    assert high != standard and emulator.request_counts().get("POST /v1/files") == 2
    assert (block("claude-haiku-4-5"), block("claude-opus-5-5")) == (standard, high)
    assert emulator.request_counts().get("POST /v1/files") == 2


def test_a_context_the_answer_and_prompt_fill_is_a_usage_error():
    image = ImageRef("a" * 64, "b" * 64, "image/png", 300, 200, 1000, file_id="file_1")
    with pytest.raises(UsageError, match="leave no room for images"):
        list(requests([image], prompt="x", model="claude-sonnet-5-5", max_tokens=1_000_000))
    [body] = requests([image] * 2, prompt="x", model="claude-sonnet-5-5", max_tokens=999_000)
    assert len(body.assets) == 2
