"""Text for people (not renditions): the plain, non ``--json`` output of the CLI. Pure functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from .limits import human_bytes
from .modelspec import FAMILIES, ModelSpec
from .pathnames import on_one_line, shown
from .records import (
    ASSET_FIELDS,
    CSV_FIELDS,
    AssetRecord,
    ModelReading,
    Outcome,
    Placement,
    ReuseRecord,
    Stats,
    UploadRecord,
    iso,
)

if TYPE_CHECKING:
    from .catalogue import AssetRow
    from .collect import GcPlan
    from .removal import RmPlan
    from .verify import VerifyPlan


def outcome_line(o: Outcome) -> str:
    if o.outcome == "rejected":
        return f"rejected  {on_one_line(o.path)}: {o.reason}"
    if o.outcome == "duplicate":
        return (
            f"duplicate {on_one_line(o.path)} (same bytes as {on_one_line(o.duplicate_of or '')})"
        )
    return f"{o.outcome:<9} {on_one_line(o.path)}"


ASSET_HEADER = ("SHA256", "FORMAT", "PIXELS", "BYTES", "TAGS", "PATH")


def asset_table(rows: Callable[[], Iterable[AssetRow]]) -> Iterator[str]:
    """The lines of ``assetmgr ls``'s table (nothing when there are no rows), in two passes
    over ``rows()``: the first finds the width of every column, the second writes the
    lines, so neither holds more than one row. A row that changed between the passes (a
    tag put on meanwhile) may stand out of line; nothing is cut."""
    widths = [len(name) for name in ASSET_HEADER]
    empty = True
    for cells in map(asset_cells, rows()):
        widths = [max(w, len(cell)) for w, cell in zip(widths, cells)]
        empty = False
    if empty:
        return
    yield table_line(ASSET_HEADER, widths)
    for cells in map(asset_cells, rows()):
        yield table_line(cells, widths)


def asset_cells(r: AssetRow) -> tuple[str, ...]:
    path = on_one_line(r.path) if r.path is not None else ""
    pixels, size = f"{r.width}x{r.height}", human_bytes(r.size_bytes)
    return (r.sha256[:12], r.format, pixels, size, ",".join(r.tags), path)


def asset_fields(r: AssetRow) -> dict[str, object]:
    """An ``ls`` row's fields, by the names ``--format`` and ``--csv`` use."""
    added = iso(r.added) if r.added is not None else ""
    return {
        "sha256": r.sha256, "short": r.sha256[:12], "format": r.format, "width": r.width,
        "height": r.height, "pixels": f"{r.width}x{r.height}", "bytes": r.size_bytes,
        "size": human_bytes(r.size_bytes), "tags": ",".join(r.tags),
        "path": shown(r.path) if r.path is not None else "", "added": added,
    }  # fmt: skip


def check_asset_format(template: str) -> None:
    """A ``UsageError`` unless ``template`` formats an ``ls`` row (checked on a made-up one)."""
    from .catalogue import AssetRow
    from .errors import UsageError

    sample = AssetRow("0" * 64, "PNG", 1, 1, 1, ("t",), "/p", datetime.now().astimezone())
    try:
        template.format_map(asset_fields(sample))
    except KeyError as e:
        raise UsageError(f"--format: no field {e}; fields: {', '.join(ASSET_FIELDS)}") from None
    except (ValueError, IndexError, AttributeError, TypeError) as e:
        raise UsageError(f"--format {template!r}: {e}") from None


def asset_csv(rows: Iterable[AssetRow]) -> Iterator[str]:
    """``ls --csv``: a header (always), then a line per row (tags comma-joined in their cell)."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="")
    writer.writerow(CSV_FIELDS)
    yield _taken(buffer)
    for row in rows:
        fields = asset_fields(row)
        writer.writerow([fields[name] for name in CSV_FIELDS])
        yield _taken(buffer)


def _taken(buffer) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def table_line(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()


def asset_text(r: AssetRecord) -> str:
    lines = [
        f"asset     sha256:{r.sha256}",
        f"image     {r.format} {r.width}x{r.height} {r.mode}, {human_bytes(r.size_bytes)}"
        + (f", {r.frames} frames" if r.frames > 1 else "")
        + (f", EXIF orientation {r.orientation}" if r.orientation else ""),
        f"added     {r.created_at:%Y-%m-%d %H:%M:%S} UTC",
        f"tags      {', '.join(r.tags) or '-'}",
    ]
    for x in r.renditions:
        warn = f" ({'; '.join(x.warnings)})" if x.warnings else ""
        lines.append(
            f"rendition {x.policy}: {x.media_type} {x.width}x{x.height}, "
            f"{human_bytes(x.size_bytes)}, ~{x.tokens_standard:,} tokens (standard) / "
            f"{x.tokens_high:,} (high), sha256:{x.sha256[:12]}{warn}"
        )
    lines += [f"reuses    {reuse_text(x)}" for x in r.reuses]
    for u in r.uploads:
        lines.append(f"upload    {upload_text(u)}")
    for s in r.sources:
        lines.append(f"source    {on_one_line(s.path)}")
    return "\n".join(lines)


def reuse_text(x: ReuseRecord) -> str:
    """``show``: a rendition that is the best copy's (``add --reuse-near``), and the way back."""
    best = (
        f"best copy sha256:{x.best_sha256[:12]}'s"
        if x.best_sha256
        else "a best copy's (removed since; its rendition stays)"
    )
    return (
        f"{x.policy}: {best} rendition, at distance {x.distance}; its own "
        f"(sha256:{x.own_rendition_sha256[:12]}) is kept: `assetmgr dupes unlink` restores it"
    )


def reading_lines(readings: Sequence[ModelReading]) -> Iterator[str]:
    """``show``: what each model would read of the asset, and what one use costs."""
    for m in readings:
        head = f"model     {m.model} ({m.tier}): "
        if m.policy is None:
            yield head + f"nothing to read: {m.note}"
            continue
        cost = f"${m.cost:.4f} per use" if m.cost is not None else "no list price known"
        yield head + f"{m.policy} {m.width}x{m.height}, ~{m.tokens:,} tokens, {cost}"


def money(price: float | None) -> str:
    return "-" if price is None else f"${price:g}"


def model_record(spec: ModelSpec) -> dict:
    """One model as ``assetmgr models --json`` prints it."""
    return {
        "id": spec.id,
        "family": spec.id in FAMILIES,
        "known": spec.known,
        "tier": spec.tier.name,
        "images_per_request": spec.images_per_request,
        "max_input_tokens": spec.max_input_tokens,
        "lifecycle": spec.lifecycle,
        "deprecated_at": spec.deprecated_at and spec.deprecated_at.isoformat(),
        "retires_at": spec.retires_at and spec.retires_at.isoformat(),
        "input_price": spec.input_price,
        "output_price": spec.output_price,
        "fixed_sampling": spec.fixed_sampling,
        "origin": dict(spec.origin),
    }


MODEL_HEADINGS = ("MODEL", "TIER", "IMAGES", "CONTEXT", "LIFECYCLE", "$/MTOK IN/OUT", "FROM API")


def model_lines(specs: Sequence[ModelSpec]) -> Iterator[str]:
    """``assetmgr models``: a table, one model (or family, ``-*``) a line; FROM API names the
    figures ``models --refresh`` stored, the rest are assetmgr's table's (or assumed: ``?``)."""
    rows = [MODEL_HEADINGS, *(_model_cells(s) for s in specs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(MODEL_HEADINGS))]
    for row in rows:
        yield table_line(row, widths)


def _model_cells(s: ModelSpec) -> tuple[str, ...]:
    assumed = {name for name, origin in s.origin.items() if origin == "assumed"}
    context = "?" if s.max_input_tokens is None else f"{s.max_input_tokens:,}"
    lifecycle = s.lifecycle
    if s.retires_at:
        lifecycle += (
            f" {s.retires_at}" if s.lifecycle == "retired" else f" (retires {s.retires_at})"
        )
    from_api = [name for name, origin in s.origin.items() if origin == "api"]
    return (
        s.id + ("-*" if s.id in FAMILIES else ""),
        s.tier.name + ("?" if "tier" in assumed else ""),
        f"{s.images_per_request}" + ("?" if "images_per_request" in assumed else ""),
        context,
        lifecycle,
        f"{money(s.input_price)} / {money(s.output_price)}",
        ", ".join(from_api) or "-",
    )


def upload_text(u: UploadRecord) -> str:
    """``active file_011... in wrkspc_... (default, eu-team) at URL, adopted, expires ...``"""
    names = f" ({', '.join(u.labels)})" if u.labels else ""
    text = f"{u.state} {u.file_id or '-'} in {u.workspace or 'a workspace not yet seen'}{names}"
    text += f" at {u.base_url}"
    if u.origin != "uploaded":
        text += f", {u.origin}"
    if u.expires_at is not None:
        text += f", expires {u.expires_at:%Y-%m-%d %H:%M:%S} UTC"
    return text


def stats_text(s: Stats) -> str:
    reader = f"as {s.model} reads them ({s.tier} tier)" if s.model else f"at the {s.tier} tier"
    lines = [f"{s.assets} assets, {human_bytes(s.asset_bytes)} of source images; tokens {reader}"]
    for p in s.policies:
        lines.append(
            f"{p.policy}: {p.assets} assets in {p.renditions} renditions, {human_bytes(p.bytes)}, "
            f"{p.tokens:,} tokens (~{p.tokens_per_image:,.0f} per image); "
            f"${p.cost_all_once:,.2f} to send each once, ${p.cost_per_1000_images:,.2f} per 1,000 images "
            f"at ${s.price_per_mtok:g}/Mtok"
        )
    return "\n".join(lines)


def when(moment: datetime | None, never: str = "never") -> str:
    return never if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def placement_lines(placements: Sequence[Placement]) -> Iterator[str]:
    """``whereis``: one line per workspace holding the asset."""
    for p in placements:
        names = f" ({', '.join(p.labels)})" if p.labels else ""
        yield (
            f"{p.workspace or 'a workspace not yet seen'}{names} at {p.base_url}: {p.file_id}, "
            f"{'/'.join(p.policies)} rendition sha256:{p.rendition_sha256[:12]}, created "
            f"{when(p.created_at)}, expires {when(p.expires_at)}"
            + ("" if p.origin == "uploaded" else f", {p.origin}")
        )


def verify_lines(plan: VerifyPlan) -> Iterator[str]:
    """``verify``'s plan for people: a summary of the workspace, then one line per finding."""
    names = f" ({', '.join(plan.labels)})" if plan.labels else ""
    yield f"workspace {plan.workspace or 'not reported'}{names} at {plan.base_url}"
    counts = [f"{plan.present} present"]
    counts += [f"{len(plan.of(k))} {k}" for k in ("missing", "expired", "orphan", "foreign")]
    if plan.pending:
        counts.append(f"{plan.pending} being uploaded")
    if plan.sources_checked is not None:
        counts.append(f"{plan.sources_checked} sources checked, {len(plan.of('changed'))} "
                      f"changed, {len(plan.of('gone'))} gone")  # fmt: skip
    yield ", ".join(counts)
    for f in plan.findings:
        if f.kind in ("changed", "gone"):
            yield f"{f.kind:<8} source {on_one_line(f.path or '')} (asset sha256:{f.asset_sha256[:12]})"
        else:
            yield (f"{f.kind:<8} {f.file_id} rendition sha256:{(f.rendition_sha256 or '')[:12]}"
                   + (f", expired {when(f.expires_at)}" if f.kind == "expired" else ""))  # fmt: skip
    for x in plan.listed:
        yield f"{x.kind:<8} {x.file_id} {x.filename}: {x.reason} ({x.action})"


def gc_lines(plan: GcPlan) -> Iterator[str]:
    """``gc``'s plan: one line per file it deletes."""
    for x in plan.delete:
        yield f"delete  {x.file_id}  {human_bytes(x.size_bytes):>9}  {x.filename}  ({x.reason})"


def rm_lines(plan: RmPlan) -> Iterator[str]:
    """``rm``'s plan: what is deleted from the workspace, and what is forgotten."""
    for file_id, rendition in plan.delete:
        yield f"delete  {file_id}  (rendition sha256:{rendition[:12]})"
    if plan.forget:
        for sha in plan.assets:
            yield f"forget  asset sha256:{sha}"
        for sha in plan.renditions:
            yield f"forget  rendition sha256:{sha}"
    for sha in plan.shared:
        yield f"keep    rendition sha256:{sha}: another asset has it"
    for workspace, file_id, rendition in plan.left:
        yield f"leave   {file_id} in {workspace} (rendition sha256:{rendition[:12]}): gc there deletes it"
