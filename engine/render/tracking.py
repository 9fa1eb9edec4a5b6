"""Render a tracking result (signalwise track) as text, Markdown, JSON or an HTML page (track.html.j2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from signalwise.engine.policy.templates import fmt_value

from .common import LEVEL_SINGULAR, humanize
from .markdown import cell as md_cell
from .markdown import md as md_text
from .svg import pace_chart


def _pct(x: float | None) -> str:
    return "unknown" if x is None else f"{round(x * 100)}%"


STATUS_WORDS = {"on-pace": "on pace", "behind-early": "behind the usual pace, but it is early",
                "under-interviewed": "behind: fewer invitations than you need by now",
                "unknown": "not judged (signalwise knows no interview target for you: pass --target N)"}
TIER_WORDS = {"none": "no signal", "unknown": "not in a plan"}
FIT_WORDS = {"unknown": "fit not known (pass --report)"}


def _target(pace: dict[str, Any]) -> str:
    lo, hi = pace["target_min"], pace["target_max"]
    if lo is None:
        return "none known (pass --target N)"
    return str(lo) if hi in (None, lo) else f"{lo} to {hi}"


def _season(pace: dict[str, Any]) -> str:
    days, phase = pace["days_since_review"], pace.get("phase")
    if days is None:
        return "dates not known (pass --review-from YYYY-MM-DD)"
    if phase == "before-review":
        return f"not started: programs start reviewing applications on {pace['review_from']} (in {-days} days)"
    if phase == "after-season":
        return (f"over: programs started reviewing {days} days ago and have usually sent all their invitations "
                "by now")
    share = f"; about {_pct(pace['expected_share'])} of invitations are usually sent by now" \
        if pace["expected_share"] is not None else ""
    return f"in progress: day {days} since programs started reviewing on {pace['review_from']}{share}"


def _lines(result: dict[str, Any], md: bool, verbose: bool = False) -> list[str]:
    # In Markdown every name and sentence is escaped like the evaluate report does (no stray links, HTML
    # or emphasis from a program name or a policy's text); `c` escapes a table cell.
    e: Callable[[Any], str] = md_text if md else str
    c: Callable[[Any], str] = md_cell if md else str
    s, pace = result["season"], result["pace"]
    h = "## " if md else ""
    known = [humanize(str(x)) for x in (result.get("specialty"), result.get("cycle")) if x and x != "unknown"]
    title = f"Interview season as of {result['as_of']}" + (f": {e(', '.join(known))}" if known else "")
    if result.get("cycle_choice"):
        title += f" ({e(result['cycle_choice'])})"
    out = [("# " if md else "") + title, ""]
    source = f" (source: {e(pace['target_source'])})" if pace["target_source"] and verbose else ""
    out += [f"{h}Pace" + ("" if md else ":"), "",
            f"- Season: {_season(pace)}",
            f"- Your pace: {STATUS_WORDS.get(pace['status'], pace['status'].replace('-', ' '))}",
            f"- Invitations so far: {s['invites']} (rejections {s['rejections']}, waitlists {s['waitlists']}, "
            f"no answer yet {s['silent']})",
            f"- Interview target: {_target(pace)}{source}"]
    if pace["expected_by_now"] is not None and pace.get("phase") == "in-season":
        out.append(f"- Expected by now: about {fmt_value(pace['expected_by_now'])}")
    if verbose and pace["review_from_source"]:
        out.append(f"- Season calendar: {pace['review_from_source']}")
    out.append("")
    out += [f"{h}Invitation rates" + ("" if md else ":"), ""]
    if md:
        out += ["| signal tier | programs | invited | rate |", "|---|---|---|---|"]
    for tier, row in result["by_signal_tier"].items():
        rate = _pct(row["invited"] / row["programs"] if row["programs"] else None)
        tier = TIER_WORDS.get(tier, tier)
        out.append(f"| {c(tier)} | {row['programs']} | {row['invited']} | {rate} |" if md
                   else f"  {tier}: {row['invited']} of {row['programs']} invited ({rate})")
    out.append("")
    if md:
        out += ["| fit | programs | invited |", "|---|---|---|"]
    for fit, row in result["by_fit"].items():
        fit = FIT_WORDS.get(fit, fit)
        out.append(f"| {c(fit)} | {row['programs']} | {row['invited']} |" if md
                   else f"  {fit}: {row['invited']} of {row['programs']} invited")
    if result["silent_signaled"]:
        out += ["", f"Signaled programs still silent: {', '.join(e(x) for x in result['silent_signaled'])}"]
    if result["timeline"] and md:
        out += ["", f"{h}Invitations over time", "", "```"]
        top = max([r["invites"] for r in result["timeline"]] + [r["expected"] or 0 for r in result["timeline"]] + [1])
        for r in result["timeline"]:
            bar = "#" * r["invites"]
            exp = "" if r["expected"] is None else f"  expected {r['expected']}"
            marker = " " * max(0, round(r["expected"] or 0) - r["invites"])
            out.append(f"{r['date']} {bar}{marker}{'|' if r['expected'] is not None else ''} {r['invites']}{exp}")
        out += ["```", f"(# = one invitation; | = the expected pace; scale up to {top})"]
    out += ["", f"{h}What the guide says to do now" + ("" if md else ":"), ""]
    for f in result["findings"]:
        rule = f" (`{f['rule']}`)" if verbose and md else f" [{f['rule']}]" if verbose else ""
        out.append(f"- **{e(f['level'])}** {e(f['text'])} *What to do:* {e(f['advice'])}{rule}" if md
                   else f"- {f['level'].upper()}: {f['text']}\n    What to do: {f['advice']}{rule}")
    if result["advice"]:
        out += ["", f"{h}Program by program" + ("" if md else ":"), ""]
        groups: dict[str, list[dict[str, Any]]] = {}
        for a in result["advice"]:
            groups.setdefault(a["rule"], []).append(a)
        for rule, items in groups.items():
            shown = (f" (`{rule}`)" if md else f" [{rule}]") if verbose else ""
            out.append(f"**{e(items[0]['advice'])}**{shown}" if md else f"{items[0]['advice']}{shown}")
            for a in items:
                out.append(f"- {e(a['program'])}: {e(a['text'])}")
            out.append("")
    if verbose:
        out += ["", "Policies: " + ", ".join(e(f"{p['id']}@{p['version']}") for p in result["policies"])]
    out.append("")
    return out


def _html(result: dict[str, Any], verbose: bool = False, template_dir: str | None = None) -> str:
    """The track page from track.html.j2: the same sentences as the text output, as HTML sections, in the
    evaluate report's layout; the pace chart inline (SVG) with its data as a table."""
    from markupsafe import Markup

    from .templating import render_page

    s, pace = result["season"], result["pace"]
    known = [humanize(str(x)) for x in (result.get("specialty"), result.get("cycle")) if x and x != "unknown"]
    title = f"Interview season as of {result['as_of']}" + (f": {', '.join(known)}" if known else "")
    expected = (f"about {fmt_value(pace['expected_by_now'])}"
                if pace["expected_by_now"] is not None and pace.get("phase") == "in-season" else None)
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in result["advice"]:
        groups.setdefault(a["rule"], []).append(a)
    context = {
        "title": title,
        "subtitles": [result["cycle_choice"]] if result.get("cycle_choice") else [],
        "verbose": verbose,
        "pace": [
            ("Season", _season(pace)),
            ("Your pace", STATUS_WORDS.get(pace["status"], pace["status"].replace("-", " "))),
            ("Invitations so far", f"{s['invites']} (rejections {s['rejections']}, waitlists {s['waitlists']}, "
                                   f"no answer yet {s['silent']})"),
            ("Interview target", _target(pace)),
            *([("Expected by now", expected)] if expected else []),
        ],
        "status": pace["status"],
        "target_source": pace["target_source"],
        "calendar_source": pace["review_from_source"],
        "by_tier": [(TIER_WORDS.get(t, t), row["programs"], row["invited"],
                     _pct(row["invited"] / row["programs"] if row["programs"] else None))
                    for t, row in result["by_signal_tier"].items()],
        "by_fit": [(FIT_WORDS.get(f, f), row["programs"], row["invited"]) for f, row in result["by_fit"].items()],
        "silent_signaled": result["silent_signaled"],
        "chart": Markup(pace_chart(result["timeline"])) if result["timeline"] else None,
        "timeline": [{**r, "expected": None if r["expected"] is None else fmt_value(r["expected"])}
                     for r in result["timeline"]],
        "findings": [{**f, "label": LEVEL_SINGULAR.get(f["level"], f["level"])} for f in result["findings"]],
        "groups": [(items[0]["advice"], rule, items) for rule, items in groups.items()],
        "policies": [f"{p['id']}@{p['version']}" for p in result["policies"]],
    }
    return render_page("track.html.j2", context, template_dir)


def render_tracking(result: dict[str, Any], fmt: str, verbose: bool = False, template_dir: str | None = None) -> str:
    if fmt == "json":
        return json.dumps(result, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "html":
        return _html(result, verbose, template_dir)
    return "\n".join(_lines(result, fmt == "md", verbose))
