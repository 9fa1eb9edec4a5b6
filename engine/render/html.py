"""HTML report: one self-contained, printable file (inline CSS and SVG, no scripts, no fetches).

The markup lives in Jinja2 templates (templates/report*.html.j2 on the shared base.html.j2, see
templating.py); this module only shapes the report dict into what they show, in order. Every explanatory
sentence comes from the report dict (which took it from a policy); the templates add headings, labels and
captions, and glosses come from the report's glossary (taken from the policies). All report data is
escaped (autoescape; the helpers that return links and sentences escape with html.escape). Output is
deterministic: no clock, no randomness, every list in a documented order.
A Content-Security-Policy meta tag forbids the page from loading anything, so a stray external
reference fails loudly in a browser instead of leaking a request.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from markupsafe import Markup

from . import svg, templating
from .common import (
    ABBR_RE,
    POSITION_LABEL,
    PREFERENCE_LABEL,
    PREFERENCE_ORDER,
    STEP_LABEL,
    SourceIndex,
    area_label,
    area_rows,
    chain,
    count_label,
    decision_label,
    facts_summary,
    findings_by_level,
    fit_rows,
    fmt,
    fmt_range,
    gloss,
    glossary_for,
    humanize,
    is_signaled,
    level_heading,
    one_line_reason,
    parse_source,
    place_parts,
    plural,
    program_index,
    score_parts,
    short_source,
    signaled_label,
    sorted_programs,
    source_index,
    tier_names,
    use_glossary,
    value_label,
    wanted_without_signal,
    would_change,
)

CSP = templating.CSP


def plural_points(total: str) -> str:
    return f"{total} point" + ("" if total in ("1", "-1") else "s")


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def sentence(text: Any) -> str:
    """An escaped sentence with known acronyms wrapped in <abbr title=...>."""

    def sub(m: re.Match[str]) -> str:
        text = gloss(m.group(1))
        return m.group(0) if text is None else f'<abbr title="{e(text)}">{m.group(1)}</abbr>{m.group(2)}'

    return ABBR_RE.sub(sub, e(text))


class _Doc:
    """Per-report state: anchors for programs and rules, the numbered source list."""

    def __init__(self, report: dict[str, Any], verbose: bool = False) -> None:
        self.report = report
        self.verbose = verbose
        self.programs = program_index(report)
        self.rules: dict[str, Any] = report.get("rules", {})
        self.sources: SourceIndex = source_index(report)
        self.anchor: dict[str, str] = {}
        used: set[str] = set()
        for pid in sorted(self.programs):
            base = "p-" + _slug(pid)
            a, n = base, 2
            while a in used:
                a, n = f"{base}-{n}", n + 1
            used.add(a)
            self.anchor[pid] = a

    def program_link(self, pid: str | None, *, name: bool = False) -> str:
        if not pid:
            return ""
        if pid not in self.anchor:
            return e(pid)
        label = e(pid)
        if name:
            label = f"{e(self.programs[pid]['name'])} ({e(pid)})"
        return f'<a href="#{self.anchor[pid]}">{label}</a>'

    def rule_link(self, rule: str | None) -> str:
        if not rule:
            return ""
        if rule in self.rules:
            return f'<a href="#rule-{_slug(rule)}"><code>{e(rule)}</code></a>'
        return f"<code>{e(rule)}</code>"

    def source(self, text: str | None) -> str:
        src = parse_source(text)
        if src is None:
            return '<span class="muted">no source</span>'
        n = self.sources.number(src)
        at = f"“{e(src.at)}”, " if src.at else ""
        return f'{at}{e(short_source(src))} <a href="#src-{n}">[S{n}]</a>'


def render(report: dict[str, Any], verbose: bool = False, template_dir: str | None = None) -> str:
    """The report as one HTML page from report.html.j2 (bundled, or overridden in `template_dir`)."""
    use_glossary(report)
    doc = _Doc(report, verbose)
    title = f"Signal plan: {humanize(report['specialty'])}, {humanize(report['cycle'])}"
    subtitles = [report["cycle_choice"]] if report.get("cycle_choice") else []
    context = {
        "title": title,
        "notices": [Markup(sentence(n["text"])) for n in report.get("notices", [])],
        "subtitles": [*subtitles, Markup(_subtitle(report))],
        "toc": _toc(report),
        "terms": glossary_for(report),
        "findings": [(level, level_heading(level, len(items)), items) for level, items in findings_by_level(report)],
        "wanted": wanted_without_signal(report),
        "programs": [_program_view(doc, p) for p in sorted_programs(report)],
        "summary": _summary(doc),
        "plan": _plan(doc),
        "picture": _picture(doc),
        "appendix": _appendix(doc),
        "verbose": verbose,
        "report": report,
        "h": _helpers(doc),
    }
    return templating.render_page("report.html.j2", context, template_dir)


def _helpers(doc: _Doc) -> dict[str, Any]:
    """What the report templates call: links, sources and sentences come back as escaped markup."""

    def markup(fn: Any) -> Any:
        return lambda *args: Markup(fn(*args))

    def outranked_detail(pid: str) -> str:
        other = doc.programs.get(pid)
        return "" if other is None else f" ({e(decision_label(other['decision']))}, {e(value_label(other))})"

    return {
        "sentence": markup(sentence),
        "program_link": markup(lambda pid, name=False: doc.program_link(pid, name=name)),
        "rule_link": markup(doc.rule_link),
        "source": markup(doc.source),
        "facts": facts_summary,
        "slug": _slug,
        "fmt": fmt,
        "decision_label": decision_label,
        "one_line_reason": one_line_reason,
        "outranked_detail": markup(outranked_detail),
    }


def _program_view(doc: _Doc, p: dict[str, Any]) -> dict[str, Any]:
    """One program's article: its HOW chain with the score parts gathered into one step."""
    steps: list[dict[str, Any]] = []
    chained = chain(doc.report, p)
    for i, (step, b) in enumerate(chained):
        if step == "score":
            if i and chained[i - 1][0] == "score":
                continue  # all score parts go in one step, opened at the first
            parts = [x for s_, x in chained if s_ == "score"]
            steps.append({"label": STEP_LABEL["score"], "points": plural_points(fmt(p.get("score"))),
                          "count": plural(len(parts), "part"), "parts": parts, "entry": None})
        else:
            steps.append({"label": STEP_LABEL.get(step, step), "parts": None, "entry": b})
    tiers = tier_names(doc.report)
    changes = would_change(p) if not tiers or p["decision"] != tiers[0] else []
    return {"program": p, "anchor": doc.anchor[p["id"]], "place": place_parts(p), "steps": steps,
            "changes": changes}


def _subtitle(report: dict[str, Any]) -> str:
    inputs = report.get("inputs", {})
    prof = inputs.get("profile", {}).get("file")
    progs = inputs.get("programs", {})
    bits = []
    if prof:
        bits.append(f"Profile <code>{e(prof)}</code>")
    if progs.get("file"):
        count = f" ({e(progs['count'])} programs)" if progs.get("count") is not None else ""
        bits.append(f"shortlist <code>{e(progs['file'])}</code>{count}")
    if inputs.get("signals_from"):
        bits.append(f"signal counts from <code>{e(inputs['signals_from'])}</code>")
    bits.append(f"report format {e(report.get('report_version'))}")
    return " · ".join(bits)


def _toc(report: dict[str, Any]) -> list[tuple[str, str]]:
    items = [
        ("summary", "Summary"),
        ("plan", "Your signal plan"),
        ("terms", "Words used in this report"),
        ("picture", "The plan at a glance"),
        ("findings", "What to watch"),
        ("show-interest", "How else to show interest"),
        ("programs", "Every program: how and why not"),
        ("appendix", "How this was decided: reproduce and check"),
    ]
    if not wanted_without_signal(report):
        items = [i for i in items if i[0] != "show-interest"]
    return items


def _summary(doc: _Doc) -> dict[str, Any]:
    """The summary cards, why this applicant tier, and the profile's geography and goals."""
    r = doc.report
    a = r["applicant"]
    cards: list[dict[str, Any]] = [{"label": "Applicant tier", "big": a["tier"]}]
    for s in r.get("signals", []):
        label = "signals used" if s["tier"] == "signal" else f"{s['tier']} signals used"
        cards.append({"label": label, "big": f"{s['assigned']} of {s['available']}",
                      "max": max(s["available"], 1), "value": s["assigned"]})
    cards.append({"label": "Programs on your list", "big": len(r.get("programs", []))})
    cards += [{"label": level_heading(level, len(items)), "big": len(items)}
              for level, items in findings_by_level(r)]
    geo = a.get("geography") or {}
    goals = a.get("goals") or {}
    facts = [(f"{PREFERENCE_LABEL[pref]} areas", ", ".join(geo[pref])) for pref in PREFERENCE_ORDER if geo.get(pref)]
    facts += [(humanize(key), fmt(value)) for key, value in sorted(goals.items()) if value not in (None, [], "")]
    return {"cards": cards, "tier": a["tier"], "article": "an" if a["tier"][:1] in "aeiou" else "a",
            "because": a.get("because", []), "indicators": a.get("indicators") or [], "facts": facts}


def _plan(doc: _Doc) -> list[tuple[str, list[dict[str, Any]]]]:
    """(caption, rows) of the plan's tables: the signaled programs (always), then the others (if any)."""
    r = doc.report

    def row(p: dict[str, Any]) -> dict[str, Any]:
        parts = [(label, f"{'+' if pts >= 0 else ''}{fmt(pts)}") for label, pts in score_parts(r, p)]
        return {"program": p, "score": "" if p.get("score") is None else fmt(p["score"]), "parts": parts}

    progs = sorted_programs(r)
    signaled = [row(p) for p in progs if is_signaled(r, p)]
    others = [row(p) for p in progs if not is_signaled(r, p)]
    tables = [(f"Programs that get a signal ({len(signaled)}), strongest tier first", signaled)]
    if others:
        tables.append((f"Programs without a signal ({len(others)})", others))
    return tables


def _picture(doc: _Doc) -> dict[str, Any]:
    """Both charts (inline SVG) and their data as tables."""
    r = doc.report
    rows = [{"tier": fr.tier, "fit": fr.fit, "assigned": fr.assigned, "position": POSITION_LABEL[fr.position],
             "range": fmt_range(fr.lo, fr.hi) if fr.lo is not None else "—"} for fr in fit_rows(r)]
    areas, outside = area_rows(r)

    def signaled(pid: str, decision: str) -> str:
        return doc.program_link(pid) + e(signaled_label(r, pid, decision)[len(pid):])

    area_view = [{"area": area_label(row.division), "states": " ".join(row.states), "region": row.region,
                  "preference": "; ".join(row.preference_detail), "counts": count_label(r, row.signaled),
                  "signaled": Markup(", ".join(signaled(pid, d) for pid, d in row.signaled)), "listed": row.listed}
                 for row in areas if row.listed or row.preference_detail]
    outside_view = None
    if outside:
        outside_view = {"listed": len(outside), "signaled": Markup(", ".join(
            signaled(p["id"], p["decision"]) for p in outside if is_signaled(r, p)))}
    return {"fit_rows": rows, "fit_chart": Markup(svg.fit_chart(r)) if rows else "",
            "split_rules": [(humanize(s["tier"]), b) for s in r.get("signals", []) for b in s.get("because", [])],
            "region_chart": Markup(svg.region_chart(r, areas, outside)), "areas": area_view, "outside": outside_view}


def _appendix(doc: _Doc) -> dict[str, Any]:
    """Inputs, policies, numbers, rules and sources: what it takes to reproduce and check the report."""
    r = doc.report
    inputs = r.get("inputs", {})
    policy_sources: dict[str, list[int]] = {}
    for n, _cit, cited_by in doc.sources.entries():
        for pol in cited_by:
            policy_sources.setdefault(pol, []).append(n)
    return {
        "inputs": [(key, inputs.get(key) or {}) for key in ("profile", "programs")],
        "signals_from": inputs.get("signals_from"),
        "policies": [(pol, policy_sources.get(f"{pol['id']}@{pol['version']}", [])) for pol in r.get("policies", [])],
        "context": list((r.get("context") or {}).items()),
        "rules": list((r.get("rules") or {}).items()),
        "sources": list(doc.sources.entries()),
    }
