"""Inline SVG charts drawn from report data: signals by fit against the guide's ranges, and the areas the
plan covers against the applicant's must-have / preferred / avoid areas.

Each chart is accessible on its own (role="img", <title> and <desc> referenced by aria-labelledby); the
HTML renderer also prints the same numbers as a visible table next to it. Output is deterministic: fixed
sizes, integer or one-decimal coordinates, no ids that depend on anything but the chart's name.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from .common import (
    PREFERENCE_LABEL,
    AreaRow,
    FitRow,
    area_label,
    count_label,
    decision_label,
    fit_rows,
    fmt_range,
    humanize,
    tier_names,
)

FIT_COLOR = {"reach": "#b35806", "target": "#2166ac", "safety": "#1b7837", "closed": "#6b6b6b"}
TIER_COLOR = {"gold": "#c99700", "silver": "#8a9099", "signal": "#2166ac"}
PREF_STYLE = {  # fill, stroke, stroke width, dash
    "must_have": ("#d7efd4", "#1b7837", 3, ""),
    "preferred": ("#dbe8f6", "#2166ac", 2, ""),
    "avoid": ("url(#sw-hatch)", "#b2182b", 2, "6 3"),
    None: ("#f6f6f6", "#b8b8b8", 1, ""),
}


def _n(x: float) -> str:
    """A coordinate: integer when whole, else one decimal (stable text)."""
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _t(text: Any) -> str:
    return escape(str(text), quote=True)


def _open(name: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" id="{name}" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-labelledby="{name}-title {name}-desc">',
        f'<title id="{name}-title">{_t(title)}</title>',
        f'<desc id="{name}-desc">{_t(desc)}</desc>',
    ]


def fit_chart(report: dict[str, Any]) -> str:
    """One row per signal tier and fit: a bar for the signals the plan gives, a band for the guide's range."""
    rows = fit_rows(report)
    if not rows:
        return ""
    label_w, bar_w, note_w = 150, 380, 190
    row_h, head_h, top = 26, 24, 34
    maxv = max([1] + [r.assigned for r in rows] + [r.hi or 0 for r in rows])
    unit = bar_w / maxv
    tiers = tier_names(report)
    height = top + len(tiers) * head_h + len(rows) * row_h + 44
    width = label_w + bar_w + note_w
    desc = "; ".join(
        ("signals" if r.tier == "signal" else f"{r.tier} signals") + f" to {r.fit} programs: {r.assigned}"
        + (f", guide's range {fmt_range(r.lo, r.hi)}" if r.lo is not None else "")
        for r in rows
    )
    out = _open("sw-fit-chart", width, height, "Signals by fit, against the guide's ranges", desc)
    out.append('<g font-family="inherit" font-size="13" fill="#222">')
    # legend
    out.append(
        f'<rect x="{label_w}" y="8" width="18" height="10" fill="#555"/>'
        f'<text x="{label_w + 24}" y="17">signals in your plan</text>'
        f'<rect x="{label_w + 170}" y="6" width="26" height="14" fill="#9a9a9a" fill-opacity="0.25" '
        f'stroke="#555" '
        f'stroke-dasharray="3 2"/><text x="{label_w + 202}" y="17">the guide\'s range</text>'
    )
    y = top
    x0 = label_w
    for tier in tiers:
        out.append(f'<text x="4" y="{_n(y + 16)}" font-weight="bold">{_t(humanize(tier))}</text>')
        y += head_h
        for r in (r for r in rows if r.tier == tier):
            out.append(_fit_row(r, x0, y, unit, row_h, label_w))
            y += row_h
    # axis
    step = 1 if maxv <= 12 else 2 if maxv <= 24 else 5
    out.append(f'<line x1="{x0}" y1="{_n(y + 4)}" x2="{_n(x0 + bar_w)}" y2="{_n(y + 4)}" stroke="#999"/>')
    for v in range(0, maxv + 1, step):
        x = x0 + v * unit
        out.append(
            f'<line x1="{_n(x)}" y1="{_n(y + 4)}" x2="{_n(x)}" y2="{_n(y + 9)}" stroke="#999"/>'
            f'<text x="{_n(x)}" y="{_n(y + 22)}" text-anchor="middle" font-size="11">{v}</text>'
        )
    out.append(
        f'<text x="{_n(x0 + bar_w / 2)}" y="{_n(y + 38)}" text-anchor="middle" font-size="11" '
        f'fill="#555">number of signals</text>'
    )
    out.append("</g></svg>")
    return "\n".join(out)


def _fit_row(r: FitRow, x0: float, y: float, unit: float, row_h: int, label_w: int) -> str:
    color = FIT_COLOR.get(r.fit, "#555")
    parts = [f'<text x="{_n(label_w - 10)}" y="{_n(y + 17)}" text-anchor="end">{_t(r.fit)}</text>']
    if r.assigned:  # the bar first, then the guide's band drawn over it, translucent, so both show
        parts.append(
            f'<rect x="{_n(x0)}" y="{_n(y + 7)}" width="{_n(r.assigned * unit)}" height="12" fill="{color}"/>'
        )
    if r.lo is not None and r.hi is not None:
        if r.hi > r.lo:
            parts.append(
                f'<rect x="{_n(x0 + r.lo * unit)}" y="{_n(y + 2)}" width="{_n((r.hi - r.lo) * unit)}" '
                f'height="{row_h - 4}" fill="#9a9a9a" fill-opacity="0.25" stroke="#555" '
                f'stroke-dasharray="3 2"/>'
            )
        else:
            x = x0 + r.lo * unit
            parts.append(
                f'<rect x="{_n(x - 2)}" y="{_n(y + 2)}" width="4" height="{row_h - 4}" fill="#555"/>'
            )
    note = f"{r.assigned}" + (f" (guide {fmt_range(r.lo, r.hi)})" if r.lo is not None else "")
    mark = {"in": "✓", "below": "▼ below", "above": "▲ above", "none": ""}[r.position]
    parts.append(
        f'<text x="{_n(x0 + 380 + 12)}" y="{_n(y + 17)}">{_t(note)} '
        f'<tspan fill="{"#1b7837" if r.position == "in" else "#b2182b"}">{_t(mark)}</tspan></text>'
    )
    return "".join(parts)


# Census divisions laid out like a map: (column, row, columns wide, rows tall).
TILES: dict[str, tuple[int, int, int, int]] = {
    "pacific": (0, 0, 1, 3),
    "mountain": (1, 0, 1, 3),
    "west-north-central": (2, 0, 1, 2),
    "west-south-central": (2, 2, 1, 1),
    "east-north-central": (3, 0, 1, 2),
    "east-south-central": (3, 2, 1, 1),
    "new-england": (4, 0, 1, 1),
    "middle-atlantic": (4, 1, 1, 1),
    "south-atlantic": (4, 2, 1, 1),
}


def _tile(report: dict[str, Any], row: AreaRow, x: float, y: float, w: float, h: float) -> list[str]:
    fill, stroke, sw, dash = PREF_STYLE[row.preference]
    partial = bool(row.preference) and all(":" in d for d in row.preference_detail)
    dash = dash or ("4 3" if partial else "")
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    out = [
        f'<g class="tile"><rect x="{_n(x + 1)}" y="{_n(y + 1)}" width="{_n(w - 2)}" '
        f'height="{_n(h - 2)}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{dash_attr}/>',
        f'<text x="{_n(x + 8)}" y="{_n(y + 18)}" font-weight="bold">{_t(area_label(row.division))}</text>',
        f'<text x="{_n(x + 8)}" y="{_n(y + 31)}" font-size="{10 if len(row.states) <= 7 else 9}" '
        f'fill="#555">{_t(" ".join(row.states))}</text>',
    ]
    if row.preference_detail:
        out.append(
            f'<text x="{_n(x + 8)}" y="{_n(y + 44)}" font-size="11" font-style="italic">'
            f"{_t('; '.join(row.preference_detail))}</text>"
        )
    counts = count_label(report, row.signaled) or "no signals"
    out.append(
        f'<text x="{_n(x + 8)}" y="{_n(y + 58)}" font-size="11">{_t(counts)} · {row.listed} listed</text>'
    )
    # one dot per signal, coloured by tier, 13 to a row; what does not fit is counted
    per_row = 13
    room = max(1, int((h - 70) // 10) + 1) * per_row
    shown = row.signaled if len(row.signaled) <= room else row.signaled[: room - 1]
    for i, (_pid, decision) in enumerate(shown):
        cx = x + 12 + (i % per_row) * 10
        cy = y + 70 + (i // per_row) * 10
        out.append(
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="4" fill="{TIER_COLOR.get(decision, "#555")}" '
            f'stroke="#333" stroke-width="0.5"/>'
        )
    if len(shown) < len(row.signaled):
        i = len(shown)
        out.append(
            f'<text x="{_n(x + 8 + (i % per_row) * 10)}" y="{_n(y + 74 + (i // per_row) * 10)}" '
            f'font-size="10">+{len(row.signaled) - len(shown)}</text>'
        )
    out.append("</g>")
    return out


def region_chart(report: dict[str, Any], rows: list[AreaRow], outside: list[dict[str, Any]]) -> str:
    """A tile map of the nine Census divisions: shaded by your preference, with one dot per signal."""
    tile_w, tile_h, gap, top = 150, 96, 6, 4
    width = 5 * (tile_w + gap)
    height = top + 3 * (tile_h + gap) + 52
    desc_parts = []
    for row in rows:
        counts = count_label(report, row.signaled) or "no signals"
        wanted = "; ".join(row.preference_detail) or "no preference"
        desc_parts.append(
            f"{area_label(row.division)} ({row.region}): {wanted}; {counts}; {row.listed} on your list"
        )
    if outside:
        desc_parts.append(f"{len(outside)} program(s) outside the Census divisions")
    out = _open(
        "sw-region-chart",
        width,
        height,
        "Where your signals go, against the areas you want",
        ". ".join(desc_parts),
    )
    out.append(
        '<defs><pattern id="sw-hatch" width="8" height="8" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#fbe4e4"/>'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#e7a3a3" stroke-width="3"/></pattern></defs>'
    )
    out.append('<g font-family="inherit" font-size="12" fill="#222">')
    by_div = {r.division: r for r in rows}
    for division, (col, rw, cw, rh) in TILES.items():
        area = by_div.get(division)
        if area is not None:
            out += _tile(
                report,
                area,
                col * (tile_w + gap),
                top + rw * (tile_h + gap),
                cw * tile_w + (cw - 1) * gap,
                rh * tile_h + (rh - 1) * gap,
            )
    # legend
    ly = top + 3 * (tile_h + gap) + 8
    lx = 0
    prefs: tuple[str | None, ...] = ("must_have", "preferred", "avoid", None)
    for pref in prefs:
        fill, stroke, sw, dash = PREF_STYLE[pref]
        label = PREFERENCE_LABEL.get(pref or "", "no preference")
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<rect x="{lx}" y="{ly}" width="22" height="14" rx="3" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="{sw}"{dash_attr}/><text x="{lx + 28}" y="{ly + 11}">{_t(label)}</text>'
        )
        lx += 140
    ly2 = ly + 24
    lx = 0
    for tier in tier_names(report):
        out.append(
            f'<circle cx="{lx + 6}" cy="{ly2 + 5}" r="4" fill="{TIER_COLOR.get(tier, "#555")}" '
            f'stroke="#333" stroke-width="0.5"/><text x="{lx + 16}" y="{ly2 + 9}">'
            f"{_t(decision_label(tier))}</text>"
        )
        lx += 120
    out.append(
        f'<text x="{lx + 10}" y="{ly2 + 9}" fill="#555">dashed outline: only some states of the area '
        f"are marked</text>"
    )
    out.append("</g></svg>")
    return "\n".join(out)


def pace_chart(timeline: list[dict[str, Any]]) -> str:
    """Invitations over the season (a step line) against the expected pace (a dashed line), weekly."""
    width, height, left, bottom, top = 640, 260, 44, 36, 16
    top_value = math.ceil(max([r["invites"] for r in timeline] + [r["expected"] or 0 for r in timeline] + [1]))
    span = max(len(timeline) - 1, 1)

    def x(i: int) -> float:
        return left + (width - left - 12) * i / span

    def y(v: float) -> float:
        return height - bottom - (height - bottom - top) * v / top_value

    desc = "; ".join(f"{r['date']}: {r['invites']} invitation{'' if r['invites'] == 1 else 's'}"
                     + (f", about {_n(r['expected'])} expected" if r["expected"] is not None else "")
                     for r in timeline)
    out = _open("pace-chart", width, height, "Invitations over time against the expected pace", desc)
    out.append(f'<line x1="{left}" y1="{_n(y(0))}" x2="{width - 12}" y2="{_n(y(0))}" stroke="#555"/>')
    for v in sorted({0, top_value // 2, top_value}):
        out.append(f'<text x="{left - 6}" y="{_n(y(v) + 4)}" text-anchor="end" font-size="11">{v}</text>')
    actual = " ".join(f"{_n(x(i))},{_n(y(r['invites']))}" for i, r in enumerate(timeline))
    out.append(f'<polyline points="{actual}" fill="none" stroke="#1f5fa8" stroke-width="2.5"/>')
    expected = [(i, r["expected"]) for i, r in enumerate(timeline) if r["expected"] is not None]
    if expected:
        pts = " ".join(f"{_n(x(i))},{_n(y(v))}" for i, v in expected)
        out.append(f'<polyline points="{pts}" fill="none" stroke="#b5651d" stroke-width="2" '
                   'stroke-dasharray="6 4"/>')
    for i, anchor in ((0, "start"), (len(timeline) - 1, "end")):
        out.append(f'<text x="{_n(x(i))}" y="{height - 14}" text-anchor="{anchor}" font-size="11">'
                   f'{_t(timeline[i]["date"])}</text>')
    out.append("</svg>")
    return "\n".join(out)
