"""Text for people (not renditions): the plain, non ``--json`` output of the CLI. Pure functions."""

from __future__ import annotations

from .limits import human_bytes
from .pathnames import shown
from .records import AssetRecord, Outcome, Stats


def outcome_line(o: Outcome) -> str:
    if o.outcome == "rejected":
        return f"rejected  {shown(o.path)}: {o.reason}"
    if o.outcome == "duplicate":
        return f"duplicate {shown(o.path)} (same bytes as {shown(o.duplicate_of or '')})"
    return f"{o.outcome:<9} {shown(o.path)}"


def asset_table(records: list[AssetRecord]) -> str:
    header = ("SHA256", "FORMAT", "PIXELS", "BYTES", "TAGS", "PATH")
    rows = [
        (
            r.sha256[:12],
            r.format,
            f"{r.width}x{r.height}",
            human_bytes(r.size_bytes),
            ",".join(r.tags),
            shown(r.sources[0].path) if r.sources else "",
        )
        for r in records
    ]
    return table([header, *rows])


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


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
            f"{human_bytes(x.size_bytes)}, ~{x.tokens} tokens, sha256:{x.sha256[:12]}{warn}"
        )
    for u in r.uploads:
        lines.append(f"upload    {u.state} {u.file_id or '-'} in {u.workspace} at {u.base_url}")
    for s in r.sources:
        lines.append(f"source    {shown(s.path)}")
    return "\n".join(lines)


def stats_text(s: Stats) -> str:
    lines = [f"{s.assets} assets, {human_bytes(s.asset_bytes)} of source images"]
    for p in s.policies:
        lines.append(
            f"{p.policy}: {p.assets} assets in {p.renditions} renditions, {human_bytes(p.bytes)}, "
            f"{p.tokens:,} tokens (~{p.tokens_per_image:,.0f} per image); "
            f"${p.cost_all_once:,.2f} to send each once, ${p.cost_per_1000_images:,.2f} per 1,000 images "
            f"at ${s.price_per_mtok:g}/Mtok"
        )
    return "\n".join(lines)
