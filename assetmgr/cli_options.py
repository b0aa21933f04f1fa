"""Click option sets shared by several commands: where uploads go, how assets are named,
what the images are made of. How the images are then found is ``lookup``'s business."""

from __future__ import annotations

import click

# --workspace and --workspace-id, alike wherever a command names a workspace.
WORKSPACE = [
    click.option(
        "--workspace",
        envvar="ASSETMGR_WORKSPACE",
        metavar="NAME",
        help="The workspace, by the name given to it.  [env: ASSETMGR_WORKSPACE; "
        "default: the key's own]",
    ),
    click.option(
        "--workspace-id",
        envvar="ASSETMGR_WORKSPACE_ID",
        metavar="wrkspc_...",
        help="Sent as anthropic-workspace-id, for keys that act on several workspaces.",
    ),
]


def json_option(help_text: str = "Output JSON instead of text."):
    """--json, as ``json_`` (not to shadow the module)."""
    return click.option("json_", "--json", is_flag=True, help=help_text)


def remote_options(function):
    """--workspace, --workspace-id and --expires-in, shared by the commands that upload."""
    for option in reversed(
        [
            *WORKSPACE,
            click.option(
                "--expires-in",
                metavar="DURATION",
                help="Uploads expire after this long (1h..90d, e.g. 7d).",
            ),
        ]
    ):
        function = option(function)
    return function


def workspace_options(function):
    """--workspace and --workspace-id: the workspace a command checks or cleans."""
    for option in reversed(WORKSPACE):
        function = option(function)
    return function


def stdin_option(function):
    """--stdin: references one per line on stdin, after those given as arguments."""
    return click.option(
        "--stdin", "from_stdin", is_flag=True, help="Read references from stdin, one per line."
    )(function)


def checked_tags(ctx: click.Context, param: click.Parameter, names: tuple[str, ...]):
    """Callback of options that put tags on: refuse, before any work, names that read as a
    sha256 (the rule is ``references.tag_names``)."""
    from .references import tag_names

    return tuple(tag_names(names)) if names else names


def model_option(help_text: str):
    """--model: the model whose tier, limits and prices apply (``modelspec``)."""
    from .modelspec import DEFAULT_MODEL

    return click.option(
        "--model",
        default=DEFAULT_MODEL,
        envvar="ASSETMGR_MODEL",
        show_default=True,
        help=f"{help_text}  [env: ASSETMGR_MODEL]",
    )


def lookup_options(function):
    """How ``block``, ``request`` and ``ask`` name assets, for which model, and where the images
    come from."""
    for option in reversed(
        [
            click.argument("references", nargs=-1, metavar="[REF]..."),
            click.option("--tag", metavar="NAME", help="All assets carrying this tag."),
            stdin_option,
            click.option(
                "--label", is_flag=True, help="An 'Image N:' text block before each image."
            ),
            click.option(
                "--source",
                type=click.Choice(["file", "base64", "url"]),
                default="file",
                show_default=True,
                help="How images are referred to: by file id, inline, or by URL.",
            ),
            click.option(
                "--url-template",
                metavar="URL",
                help="With --source url: an http(s) URL with {sha256} (the rendition's), {asset} "
                "and {ext}, e.g. 'https://cdn.example/{sha256}.{ext}'.",
            ),
            model_option("The model: its tier picks each asset's rendition (see assetmgr models)."),
            policy_option(WHICH_RENDITION),
            click.option(
                "--no-upload",
                "upload",
                flag_value=False,
                default=True,
                help="Fail, listing them, when assets lack a live upload.",
            ),
            *WORKSPACE,
        ]
    ):
        function = option(function)
    return function


def request_options(function):
    """--prompt, --max-tokens, --system and --per-request: the rest of a Messages request."""
    for option in reversed(
        [
            click.option("--prompt", required=True, help="The question, after the images."),
            click.option(
                "--max-tokens", type=click.IntRange(min=1), default=1024, show_default=True
            ),
            click.option("--system", help="A system prompt."),
            click.option(
                "--per-request",
                type=click.IntRange(min=1),
                metavar="N",
                help="At most N images per request.  [default: the model's limit, 100 or 600]",
            ),
        ]
    ):
        function = option(function)
    return function


def limit_options(function):
    """What one input file may cost: --max-file-size, --max-pixels, --max-total-pixels and
    --time-limit (defaults in ``limits.Limits``)."""
    from .limits import DEFAULT_LIMITS as D

    for option in reversed(
        [
            click.option("--max-file-size", type=SIZE, metavar="SIZE", default=None,
                         help=f"Refuse files larger than this (e.g. 2G).  [default: {D.max_file_bytes // 2**20}M]"),
            click.option("--max-pixels", type=COUNT, metavar="N", default=None,
                         help="The decompression-bomb limit: refuse frames of more pixels; the only bound on "
                              "a source's size under the vision policies (raise it, e.g. 120M, for "
                              f"bigger scans; ~4 bytes a pixel per worker).  [default: {D.max_pixels:,}]"),
            click.option("--max-total-pixels", type=COUNT, metavar="N", default=None,
                         help=f"Refuse files whose frames add up to more pixels.  [default: {D.max_total_pixels:,}]"),
            click.option("--time-limit", type=click.FloatRange(min=0.1), metavar="SECONDS", default=None,
                         help=f"Give up on a file that takes longer to check.  [default: {D.time_limit:g}]"),
        ]
    ):  # fmt: skip
        function = option(function)
    return function


def take_limits(options: dict) -> dict:
    """``options`` with the limit options replaced by one ``limits`` value."""
    from dataclasses import replace

    from .limits import DEFAULT_LIMITS

    given = {
        "max_file_bytes": options.pop("max_file_size"),
        "max_pixels": options.pop("max_pixels"),
        "max_total_pixels": options.pop("max_total_pixels"),
        "time_limit": options.pop("time_limit"),
    }
    chosen = {k: v for k, v in given.items() if v is not None}
    return {**options, "limits": replace(DEFAULT_LIMITS, **chosen)}


def near_distance_option(flag: str, when: str):
    """``flag`` (``--distance``, ``--near-distance``): how near a near-duplicate is, as
    ``near_distance``."""
    from .limits import MOST_NEAR_DISTANCE, NEAR_DISTANCE

    return click.option(
        flag, "near_distance", type=click.IntRange(0, MOST_NEAR_DISTANCE), metavar="BITS",
        help=f"{when}: bits of 64 two perceptual hashes may differ by.  [default: {NEAR_DISTANCE}]",
    )  # fmt: skip


def reuse_options(function):
    """--reuse-near and --near-distance, shared by ``add`` and ``push``."""
    for option in reversed(
        [
            click.option("--reuse-near", is_flag=True,
                         help="A near-duplicate of another asset uses the best copy's rendition "
                              "and upload instead of its own (`dupes unlink` undoes it)."),
            near_distance_option("--near-distance", "With --reuse-near"),
        ]
    ):  # fmt: skip
        function = option(function)
    return function


def take_reuse(options: dict) -> dict | None:
    """The reuse options taken out of ``options``: None without --reuse-near, else the
    keywords of ``Library.reuse_near`` (``distance``)."""
    from .errors import UsageError

    reuse, distance = options.pop("reuse_near"), options.pop("near_distance")
    if distance is not None and not reuse:
        raise UsageError("--near-distance goes with --reuse-near")
    return {"distance": distance} if reuse else None


class _Quantity(click.ParamType):
    """A whole number with an optional suffix: K, M, G (powers of ``base``)."""

    def __init__(self, name: str, base: int):
        self.name, self.base = name, base

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        text = str(value).strip().upper().removesuffix("B")
        scale = {"K": self.base, "M": self.base**2, "G": self.base**3}.get(text[-1:], 1)
        number = text[:-1] if scale > 1 else text
        try:
            result = int(float(number) * scale)
        except ValueError:
            self.fail(f"{value!r} is not a number (with an optional K, M or G)", param, ctx)
        if result < 1:
            self.fail(f"{value!r} must be at least 1", param, ctx)
        return result


class _Moment(click.ParamType):
    """A moment: an ISO 8601 date or date and time (local time unless it says its zone), or
    a span ago: 90m, 12h, 7d, 2w."""

    name = "when"
    SPANS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

    def convert(self, value, param, ctx):
        from datetime import datetime, timedelta, timezone

        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        unit = self.SPANS.get(text[-1:].lower())
        if unit and text[:-1].isdigit():
            return datetime.now(timezone.utc) - timedelta(seconds=int(text[:-1]) * unit)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r}: give a date (2026-11-01), a date and time, or a span ago "
                      "(90m, 12h, 7d, 2w)", param, ctx)  # fmt: skip
        return moment if moment.tzinfo else moment.astimezone()


WHEN = _Moment()
SIZE = _Quantity("size", 1024)
COUNT = _Quantity("count", 1000)


WHICH_RENDITION = (
    "Which rendition.  [default: the model's tier's: vision-hd, vision or original for "
    "high-tier models; vision or original for standard-tier ones]"
)


def policy_option(help_text: str, *, default: str | None = None):
    """--policy: one of ``policies.POLICIES``."""
    from .policies import POLICIES

    return click.option(
        "--policy",
        type=click.Choice(list(POLICIES)),
        default=default,
        show_default=default is not None,
        help=help_text,
    )
