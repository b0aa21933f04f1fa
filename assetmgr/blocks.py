"""Pure builders: catalogue facts in, Messages API content blocks and request bodies out.

No I/O and no SDK here (the lookup path imports this module); what to send is
decided from plain ``ImageRef`` values, so it can be printed, tested and sent
by anyone. ``image_refs`` makes them from catalogue rows, for the library and the
fast path alike, choosing each asset's rendition once.

Splitting follows the API's per-request limits and the model's (``modelspec``): at most
the model's images per request (100 on a 200k-context model, 600 on a larger one, or fewer
when asked), and when a request carries more than 20 images every one of them must be within
2000x2000 px; with base64 sources the body must also stay under 32 MB, and when the model's
context is known its estimated input tokens within it. Images keep their order; a new
request starts when the next image would break a limit. Token estimates: each image's
visual tokens at the size the server reads for the model's tier (``limits.served_tokens``),
and ceil(characters / 4) for text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import UsageError
from .limits import MANY_IMAGES, MAX_SIDE_MANY, STANDARD, Tier, served_tokens
from .modelspec import IMAGES_SMALL_CONTEXT, ModelSpec, as_spec
from .policies import PREFERENCE, check, choose

MAX_REQUEST_BYTES = 32 * 1024 * 1024
REQUEST_OVERHEAD = 64 * 1024  # room for the prompt, system prompt and JSON around the images
SOURCES = ("file", "base64", "url")
URL_FIELDS = ("sha256", "asset", "ext")  # rendition sha256, asset sha256, file extension


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image as a request needs it: the asset, its rendition, and where it lives.
    (Slotted: a request over a whole catalogue holds one per asset.)"""

    asset_sha256: str
    rendition_sha256: str
    media_type: str
    width: int
    height: int
    size_bytes: int
    file_id: str | None = None
    data: bytes | None = None  # the rendition's bytes, for base64 sources
    url: str | None = None
    policy: str | None = None  # the policy the rendition was made under


def image_refs(
    shas: Sequence[str],
    rows: Iterable[Sequence[Any]],
    policy: str | None = None,
    tier: Tier = STANDARD,
) -> list[ImageRef]:
    """One ``ImageRef`` per asset of ``shas``, in order, from catalogue rows of (asset sha256,
    policy, rendition sha256, media type, width, height, bytes, live file id or None): the
    rendition ``policies.choose`` picks for a model of ``tier``. ``NotFound`` for an asset with
    no such rendition."""
    check(policy, tier)
    usable = PREFERENCE[tier.name]
    # An asset's one rendition as itself, several as a dict by policy: most assets have one,
    # and a dict each would cost more than the ImageRef. One string per policy and media
    # type, not one per row: the refs outlive the rows.
    by_asset: dict[str, ImageRef | dict[str, ImageRef]] = {}
    words: dict[str, str] = {}
    for asset, under, rendition, media_type, width, height, size, file_id in rows:
        under, media_type = words.setdefault(under, under), words.setdefault(media_type, media_type)
        ref = ImageRef(asset, rendition, media_type, width, height, size, file_id, policy=under)
        found = by_asset.setdefault(asset, ref)
        if isinstance(found, dict):
            found[under] = ref
        elif found is not ref:
            by_asset[asset] = {found.policy: found, under: ref}
    return [_pick(sha, policy, by_asset.get(sha), tier, usable) for sha in shas]


def _pick(
    sha: str,
    policy: str | None,
    found: ImageRef | dict[str, ImageRef] | None,
    tier: Tier,
    usable: Sequence[str],
) -> ImageRef:
    """``policies.choose`` over an asset's renditions, as ``image_refs`` keeps them."""
    if isinstance(found, ImageRef):
        if found.policy == policy or (policy is None and found.policy in usable):
            return found  # what choose gives when the only rendition is the one to use
        found = {found.policy: found}
    return choose(sha, policy, found or {}, tier)


def check_source(source: str, url_template: str | None) -> str | None:
    """Refuse, before any work, an unknown ``source`` or a URL template that is missing (for
    url sources) or unsafe (whenever given); returns the template."""
    if source not in SOURCES:
        raise UsageError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
    if url_template is None:
        if source == "url":
            raise UsageError(
                "--source url needs --url-template, e.g. 'https://cdn.example/{sha256}.{ext}'"
            )
        return None
    problem = _template_problem(url_template)
    if problem:
        raise UsageError(f"bad --url-template {url_template!r}: {problem}")
    return url_template


def _template_problem(template: str) -> str | None:
    """Why ``template`` cannot be used, or None. Only plain ``{sha256}``, ``{asset}`` and
    ``{ext}``: other fields would let ``str.format`` reach attributes, items and conversions."""
    from string import Formatter
    from urllib.parse import urlsplit

    if any(c.isspace() or not c.isprintable() for c in template):
        return "a URL has no spaces or control characters"
    try:
        fields = [(f, s, c) for _, f, s, c in Formatter().parse(template) if f is not None]
    except ValueError:
        return "a single { or } (write {{ or }} for a literal brace)"
    for name, spec, conversion in fields:
        if name not in URL_FIELDS or spec or conversion:
            shown = name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            return f"{{{shown}}} is not allowed; use only {{sha256}}, {{asset}} and {{ext}}, plain"
    if not {name for name, _, _ in fields} & {"sha256", "asset"}:
        return "every image would get the same URL; put {sha256} (or {asset}) in it"
    url = urlsplit(template.format(sha256="0" * 64, asset="0" * 64, ext="png"))
    if url.scheme not in ("http", "https") or not url.hostname:
        return "it must be an http or https URL with a host"
    try:
        port_ok = url.port != 0
    except ValueError:
        port_ok = False
    return None if port_ok else "the port must be a number from 1 to 65535"


def with_url(image: ImageRef, template: str) -> ImageRef:
    """``image`` with its URL, from a template ``check_source`` accepted."""
    ext = image.media_type.split("/")[1].replace("jpeg", "jpg")
    url = template.format(sha256=image.rendition_sha256, asset=image.asset_sha256, ext=ext)
    return replace(image, url=url)


class MessageRequest(dict):
    """A Messages API request body (send it as ``client.messages.create(**body)``),
    with ``.assets`` and ``.renditions``: the hashes it covers, which are not sent; ``.tokens``,
    its estimated input tokens; ``.spec``, the model's ``ModelSpec`` when known."""

    def __init__(
        self,
        body: dict[str, Any],
        assets: list[str],
        renditions: list[str],
        large: int = 0,
        tokens: int = 0,
        spec: ModelSpec | None = None,
    ):
        super().__init__(body)
        self.assets = assets
        self.renditions = renditions
        self.large = large  # images over 2000 px on a side
        self.tokens = tokens
        self.spec = spec

    def to_line(self, index: int) -> dict[str, Any]:
        """The JSON line ``assetmgr request`` prints: the body plus an ``assetmgr`` key to strip."""
        return {
            **self,
            "assetmgr": {"request": index, "assets": self.assets, "renditions": self.renditions},
        }


def image_block(image: ImageRef, source: str = "file") -> dict[str, Any]:
    if source == "file":
        if not image.file_id:
            raise ValueError(f"{image.asset_sha256[:12]} has no upload to refer to")
        return {"type": "image", "source": {"type": "file", "file_id": image.file_id}}
    if source == "base64":
        data = base64.b64encode(image.data or b"").decode("ascii")
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": image.media_type, "data": data},
        }
    if source == "url":
        return {"type": "image", "source": {"type": "url", "url": image.url}}
    raise ValueError(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")


def content_blocks(
    images: Sequence[ImageRef], *, source: str = "file", label: bool = False, first_label: int = 1
) -> list[dict[str, Any]]:
    """Image blocks in order; with ``label``, an ``Image N:`` text block before each."""
    return list(each_content_block(images, source=source, label=label, first_label=first_label))


def each_content_block(
    images: Iterable[ImageRef], *, source: str = "file", label: bool = False, first_label: int = 1
) -> Iterator[dict[str, Any]]:
    """``content_blocks`` one at a time, for output that need not hold them all."""
    for number, image in enumerate(images, start=first_label):
        if label:
            yield {"type": "text", "text": f"Image {number}:"}
        yield image_block(image, source)


def request_body(
    images: Sequence[ImageRef],
    *,
    prompt: str,
    model: str | ModelSpec,
    max_tokens: int,
    system: str | None = None,
    source: str = "file",
    label: bool = False,
) -> MessageRequest:
    """One Messages request: images first, then the prompt."""
    spec = as_spec(model)
    content = content_blocks(images, source=source, label=label)
    content.append({"type": "text", "text": prompt})
    body: dict[str, Any] = {
        "model": spec.id,
        "max_tokens": max_tokens,
        "messages": [{"role": "user", "content": content}],
    }
    if system:
        body["system"] = system
    texts = [b["text"] for b in content if b["type"] == "text"] + ([system] if system else [])
    tokens = sum(map(text_tokens, texts)) + sum(image_tokens(i, spec.tier) for i in images)
    large = sum(max(i.width, i.height) > MAX_SIDE_MANY for i in images)
    return MessageRequest(
        body,
        [i.asset_sha256 for i in images],
        [i.rendition_sha256 for i in images],
        large,
        tokens,
        spec,
    )


def text_tokens(text: str | None) -> int:
    """The estimate of a text block's tokens: ceil(characters / 4)."""
    return -(-len(text) // 4) if text else 0


def image_tokens(image: ImageRef, tier: Tier = STANDARD) -> int:
    """The visual tokens of an image, at the size the server reads it for ``tier``."""
    return served_tokens(image.width, image.height, tier)


LABEL_TOKENS = 3  # "Image 100:" at most, per image, when labelled


def split(
    images: Iterable[ImageRef],
    *,
    source: str = "file",
    max_images: int = IMAGES_SMALL_CONTEXT,
    token_budget: int | None = None,
    tier: Tier = STANDARD,
    label: bool = False,
) -> list[list[ImageRef]]:
    """Consecutive chunks of ``images``, each within every per-request limit: ``max_images``
    (default: what a 200k-context model takes), and with ``token_budget`` the images' tokens
    at ``tier`` (an image over the budget alone still gets a request).

    One pass: each image is weighed once (``weigh``) and judged against running counts
    of the current chunk (images, images over 2000 px, payload bytes, tokens), never by
    looking at the chunk again, so the work grows with the number of images alone."""
    chunks: list[list[ImageRef]] = []
    current: list[ImageRef] = []
    count = large = tokens = 0
    payload = REQUEST_OVERHEAD
    limits = dict(max_images=max_images, source=source, token_budget=token_budget)
    for image in images:
        big, size = weigh(image)
        cost = image_tokens(image, tier) + LABEL_TOKENS * label if token_budget is not None else 0
        if current and not within(count + 1, large + big, payload + size, tokens + cost, **limits):
            chunks.append(current)
            current, count, large, payload, tokens = [], 0, 0, REQUEST_OVERHEAD, 0
        current.append(image)
        count, large, payload, tokens = count + 1, large + big, payload + size, tokens + cost
    if current:
        chunks.append(current)
    return chunks


def weigh(image: ImageRef) -> tuple[bool, int]:
    """What one image adds to a request: whether it is over 2000 px on a side, and its bytes
    in a base64 body (with room for the JSON around it)."""
    return max(image.width, image.height) > MAX_SIDE_MANY, 4 * ((image.size_bytes + 2) // 3) + 100


def within(
    count: int,
    large: int,
    payload: int,
    tokens: int = 0,
    *,
    max_images: int = IMAGES_SMALL_CONTEXT,
    source: str = "file",
    token_budget: int | None = None,
) -> bool:
    """Whether a request of ``count`` images, ``large`` of them over 2000 px, ``payload``
    bytes of base64 body and ``tokens`` estimated image tokens keeps every limit."""
    if count > max_images or (count > MANY_IMAGES and large):
        return False
    if token_budget is not None and tokens > token_budget:
        return False
    return source != "base64" or payload <= MAX_REQUEST_BYTES


def fits(
    images: Sequence[ImageRef], source: str = "file", max_images: int = IMAGES_SMALL_CONTEXT
) -> bool:
    """Whether one request may carry all of ``images``."""
    weights = [weigh(i) for i in images]
    payload = REQUEST_OVERHEAD + sum(size for _, size in weights)
    big = sum(big for big, _ in weights)
    return within(len(weights), big, payload, max_images=max_images, source=source)


def payload_bytes(images: Iterable[ImageRef]) -> int:
    return REQUEST_OVERHEAD + sum(weigh(i)[1] for i in images)


def images_per_request(spec: ModelSpec, per_request: int | None = None) -> int:
    """The most images one request to ``spec``'s model may carry: its limit, or fewer when
    ``per_request`` says so (more is a ``UsageError``)."""
    if per_request is None:
        return spec.images_per_request
    if not 1 <= per_request <= spec.images_per_request:
        raise UsageError(
            f"--per-request {per_request}: {spec.id} takes 1 to {spec.images_per_request} "
            "images per request"
        )
    return per_request


def token_budget(spec: ModelSpec, prompt: str, system: str | None, max_tokens: int) -> int | None:
    """The input tokens the images of one request may use, when the model's context is known:
    its context less the answer's room and the prompt's text."""
    if spec.max_input_tokens is None:
        return None
    budget = spec.max_input_tokens - max_tokens - text_tokens(prompt) - text_tokens(system)
    if budget <= 0:
        raise UsageError(
            f"--max-tokens {max_tokens:,} and the prompt leave no room for images in "
            f"{spec.id}'s context of {spec.max_input_tokens:,} tokens; ask for fewer"
        )
    return budget


def requests(
    images: Sequence[ImageRef],
    *,
    prompt: str,
    model: str | ModelSpec,
    max_tokens: int = 1024,
    system: str | None = None,
    source: str = "file",
    label: bool = False,
    per_request: int | None = None,
) -> Iterator[MessageRequest]:
    """Request bodies covering ``images`` in order, split to respect the limits of the API and
    of the model (a model id, or its ``ModelSpec``): its images per request (``per_request``:
    fewer) and, when its context is known, its context."""
    spec = as_spec(model)
    chunks = split(
        images,
        source=source,
        max_images=images_per_request(spec, per_request),
        token_budget=token_budget(spec, prompt, system, max_tokens),
        tier=spec.tier,
        label=label,
    )
    for chunk in chunks:
        yield request_body(
            chunk,
            prompt=prompt,
            model=spec,
            max_tokens=max_tokens,
            system=system,
            source=source,
            label=label,
        )


@dataclass
class SplitReport:
    """What ``split`` decided, for people: sizes of the requests and why."""

    sizes: list[int] = field(default_factory=list)
    large: int = 0  # images over 2000 px on a side, which cap their requests at 20 images

    def __str__(self) -> str:
        text = f"{sum(self.sizes)} images in {len(self.sizes)} request(s) of {', '.join(map(str, self.sizes))}"
        if self.large:
            text += f"; {self.large} images over {MAX_SIDE_MANY} px keep their requests to {MANY_IMAGES} images"
        return text


def report(bodies: Sequence[MessageRequest]) -> SplitReport:
    return SplitReport([len(b.assets) for b in bodies], sum(b.large for b in bodies))


def summary(body: MessageRequest, index: int, total: int) -> str:
    """``request 2/3: 20 images, ~94,880 input tokens (est.; claude-sonnet-5-5, high tier)``"""
    model = f"; {body.spec.label}" if body.spec else ""
    count = len(body.assets)
    return (
        f"request {index + 1}/{total}: {count} image{'s' * (count != 1)}, "
        f"~{body.tokens:,} input tokens (est.{model})"
    )
