"""HTML report: one self-contained, printable file (inline CSS and SVG, no scripts, no fetches).

Layout only: every explanatory sentence comes from the report dict (which took it from a policy); this
module adds headings, labels, table captions and glosses (common.GLOSSARY). All report data is escaped
with html.escape. Output is deterministic: no clock, no randomness, every list in a documented order.
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
    GLOSSARY,
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
    glossary_for,
    humanize,
    is_signaled,
    level_heading,
    one_line_reason,
    parse_source,
    place_parts,
    plural,
    program_index,
    report_texts,
    score_parts,
    short_source,
    signaled_label,
    sorted_programs,
    source_index,
    tier_names,
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
        gloss = GLOSSARY.get(m.group(1), "")
        return f'<abbr title="{e(gloss)}">{m.group(1)}</abbr>{m.group(2)}'

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

    def prov(self, entry: dict[str, Any], *, facts: bool = False, extra: str = "") -> str:
        """Where a reason comes from (rule, policy, source, the values its conditions read), folded away in a
        "How this was decided" part; open with --verbose. `extra` (e.g. the program a finding is about) stays
        visible."""
        bits = []
        if entry.get("rule"):
            bits.append("rule " + self.rule_link(entry["rule"]))
        if entry.get("policy"):
            bits.append(f"<code>{e(entry['policy'])}</code>")
        bits.append("source: " + self.source(entry.get("source")))
        inner = f'<div class="prov">{" · ".join(bits)}</div>'
        seen = facts_summary(entry) if facts else []
        if seen:
            inner += (
                '<div class="facts">What the rule read: '
                + "; ".join(f"{e(k.replace('_', ' '))}: {e(v)}" for k, v in seen) + "</div>"
            )
        shown = f'<div class="prov">{_upper_first(extra.removeprefix(" · "))}</div>' if extra else ""
        opened = " open" if self.verbose else ""
        return f'{shown}<details class="how"{opened}><summary>How this was decided</summary>{inner}</details>'


def _badge_decision(decision: str) -> str:
    return f'<span class="badge d-{_slug(decision)}">{e(decision_label(decision))}</span>'


def _badge_fit(fit: str) -> str:
    return f'<span class="badge f-{_slug(fit)}">{e(fit)}</span>'


def render(report: dict[str, Any], verbose: bool = False, template_dir: str | None = None) -> str:
    """The report as one HTML page from report.html.j2 (bundled, or overridden in `template_dir`)."""
    doc = _Doc(report, verbose)
    title = f"Signal plan: {humanize(report['specialty'])}, {humanize(report['cycle'])}"
    subtitles = [report["cycle_choice"]] if report.get("cycle_choice") else []
    sections = {"summary": _summary(doc), "picture": _picture(doc), "appendix": _appendix(doc)}
    context = {
        "title": title,
        "notices": [Markup(sentence(n["text"])) for n in report.get("notices", [])],
        "subtitles": [*subtitles, Markup(_subtitle(report))],
        "toc": _toc(report),
        "terms": glossary_for(report_texts(report)),
        "findings": [(level, level_heading(level, len(items)), items) for level, items in findings_by_level(report)],
        "wanted": wanted_without_signal(report),
        "programs": [_program_view(doc, p) for p in sorted_programs(report)],
        "sections": {k: Markup(v) for k, v in sections.items()},
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


def _summary(doc: _Doc) -> str:
    r = doc.report
    a = r["applicant"]
    cards = [
        f'<div class="card"><div class="label">Applicant tier</div>'
        f'<div class="big">{e(a["tier"])}</div></div>'
    ]
    for s in r.get("signals", []):
        label = "signals used" if s["tier"] == "signal" else f"{s['tier']} signals used"
        cards.append(
            f'<div class="card"><div class="label">{e(label)}</div>'
            f'<div class="big">{e(s["assigned"])} of {e(s["available"])}</div>'
            f'<meter min="0" max="{e(max(s["available"], 1))}" value="{e(s["assigned"])}">'
            f"{e(s['assigned'])} of {e(s['available'])}</meter></div>"
        )
    cards.append(
        f'<div class="card"><div class="label">Programs on your list</div>'
        f'<div class="big">{len(r.get("programs", []))}</div></div>'
    )
    for level, items in findings_by_level(r):
        cards.append(
            f'<div class="card"><div class="label">{e(level_heading(level, len(items)))}</div>'
            f'<div class="big">{len(items)}</div></div>'
        )
    out = [
        '<section id="summary">',
        "<h2>Summary</h2>",
        f'<div class="cards">{"".join(cards)}</div>',
        f"<h3>Why you are {'an' if a['tier'][:1] in 'aeiou' else 'a'} {e(a['tier'])} applicant</h3>",
        '<ul class="because">',
    ]
    out += [f"<li>{sentence(b['text'])}{doc.prov(b, facts=True)}</li>" for b in a.get("because", [])]
    out.append("</ul>")
    if a.get("indicators"):
        out += ["<h4>What your profile shows</h4>", '<ul class="because">']
        out += [f"<li>{sentence(b['text'])}{doc.prov(b)}</li>" for b in a["indicators"]]
        out.append("</ul>")
    geo = a.get("geography") or {}
    goals = a.get("goals") or {}
    facts = []
    for pref in PREFERENCE_ORDER:
        if geo.get(pref):
            facts.append(
                f"<tr><th>{e(PREFERENCE_LABEL[pref])} areas</th><td>{e(', '.join(geo[pref]))}</td></tr>"
            )
    for key, value in sorted(goals.items()):
        if value not in (None, [], ""):
            facts.append(f"<tr><th>{e(humanize(key))}</th><td>{e(fmt(value))}</td></tr>")
    if facts:
        out += [
            '<table class="narrow"><caption>Your geography and goals, as your profile states them</caption>',
            *facts,
            "</table>",
        ]
    out.append("</section>")
    out.append(_plan(doc))
    return "\n".join(out)


def _plan_row(doc: _Doc, p: dict[str, Any]) -> str:
    score = "" if p.get("score") is None else fmt(p["score"])
    parts = score_parts(doc.report, p)
    parts_html = ""
    if parts:
        parts_html = (
            '<div class="prov">score: '
            + ", ".join(f"{e(label)} {'+' if pts >= 0 else ''}{e(fmt(pts))}" for label, pts in parts)
            + "</div>"
        )
    return (
        f"<tr><td>{_badge_decision(p['decision'])}</td><td>{doc.program_link(p['id'], name=True)}"
        f'<div class="meta">{e(p.get("state") or "")}</div></td><td>{_badge_fit(p["fit"])}</td>'
        f'<td class="num">{e(score)}</td><td>{sentence(one_line_reason(p))}{parts_html}</td></tr>'
    )


def _plan(doc: _Doc) -> str:
    r = doc.report
    progs = sorted_programs(r)
    signaled = [p for p in progs if is_signaled(r, p)]
    others = [p for p in progs if not is_signaled(r, p)]
    head = (
        '<thead><tr><th>Signal</th><th>Program</th><th>Fit</th><th class="num">Score</th>'
        "<th>The deciding reason</th></tr></thead>"
    )
    out = [
        '<section id="plan">',
        "<h2>Your signal plan</h2>",
        f"<table><caption>Programs that get a signal ({len(signaled)}), strongest tier first</caption>"
        f"{head}<tbody>",
        *[_plan_row(doc, p) for p in signaled],
        "</tbody></table>",
    ]
    if others:
        out += [
            f"<table><caption>Programs without a signal ({len(others)})</caption>{head}<tbody>",
            *[_plan_row(doc, p) for p in others],
            "</tbody></table>",
        ]
    out.append("</section>")
    return "\n".join(out)


def _picture(doc: _Doc) -> str:
    r = doc.report
    rows = fit_rows(r)
    out = ['<section id="picture">', "<h2>The plan at a glance</h2>"]
    if rows:
        out += [
            '<figure id="fit-figure">',
            svg.fit_chart(r),
            "<figcaption>Signals by fit for each tier. Bars are the signals in your plan; the dashed band is "
            "the range the guide's split gives for that fit (see each tier's rule below).</figcaption>",
            "<table><caption>Signals by fit, against the guide's ranges (the chart's data)</caption>",
            '<thead><tr><th>Tier</th><th>Fit</th><th class="num">Signals</th><th class="num">'
            "Guide's range</th><th>Position</th></tr></thead><tbody>",
        ]
        for fr in rows:
            rng = fmt_range(fr.lo, fr.hi) if fr.lo is not None else "—"
            out.append(
                f'<tr><td>{e(fr.tier)}</td><td>{_badge_fit(fr.fit)}</td><td class="num">{fr.assigned}'
                f'</td><td class="num">{e(rng)}</td><td>{e(POSITION_LABEL[fr.position])}</td></tr>'
            )
        out.append("</tbody></table>")
        split_rules = [(s["tier"], b) for s in r.get("signals", []) for b in s.get("because", [])]
        if split_rules:
            out.append('<ul class="because">')
            out += [
                f"<li><strong>{e(humanize(t))}:</strong> {sentence(b['text'])}{doc.prov(b)}</li>"
                for t, b in split_rules
            ]
            out.append("</ul>")
        out.append("</figure>")
    areas, outside = area_rows(r)
    out += [
        '<figure id="region-figure">',
        svg.region_chart(r, areas, outside),
        "<figcaption>The nine US Census divisions, drawn roughly where they are on a map. Shading shows the "
        "areas your profile marks must-have, preferred or avoid; each dot is one signal in your plan."
        "</figcaption>",
        "<table><caption>Where your signals go (the chart's data)</caption>",
        "<thead><tr><th>Area</th><th>Region</th><th>Your preference</th><th>Signaled programs</th>"
        '<th class="num">On your list</th></tr></thead><tbody>',
    ]
    for row in areas:
        if not (row.listed or row.preference_detail):
            continue
        sig = (
            ", ".join(
                doc.program_link(pid) + e(signaled_label(r, pid, d)[len(pid) :]) for pid, d in row.signaled
            )
            or "—"
        )
        counts = e(count_label(r, row.signaled))
        out.append(
            f'<tr><td>{e(area_label(row.division))} <span class="muted">({e(" ".join(row.states))})</span>'
            f"</td><td>{e(row.region)}</td><td>{e('; '.join(row.preference_detail) or '—')}</td>"
            f'<td>{(counts + ": ") if counts else ""}{sig}</td><td class="num">{row.listed}</td></tr>'
        )
    if outside:
        sig = ", ".join(
            doc.program_link(p["id"]) + e(signaled_label(r, p["id"], p["decision"])[len(p["id"]) :])
            for p in outside
            if is_signaled(r, p)
        )
        out.append(
            f"<tr><td>Outside the Census divisions</td><td>—</td><td>—</td><td>{sig or '—'}</td>"
            f'<td class="num">{len(outside)}</td></tr>'
        )
    out += ["</tbody></table>", "</figure>", "</section>"]
    return "\n".join(out)


def _appendix(doc: _Doc) -> str:
    r = doc.report
    out = ['<section id="appendix">', "<h2>How this was decided: reproduce and check</h2>"]
    inputs = r.get("inputs", {})
    out += [
        "<table><caption>Inputs (same files and policies give a byte-identical report)</caption>",
        "<thead><tr><th>Input</th><th>File</th><th>sha256</th></tr></thead><tbody>",
    ]
    for key in ("profile", "programs"):
        item = inputs.get(key) or {}
        out.append(
            f"<tr><td>{e(key)}</td><td><code>{e(item.get('file', ''))}</code></td>"
            f'<td class="hash">{e(item.get("sha256", ""))}</td></tr>'
        )
    out.append("</tbody></table>")
    if inputs.get("signals_from"):
        out.append(f"<p>Signal counts from <code>{e(inputs['signals_from'])}</code>.</p>")
    policy_sources: dict[str, list[int]] = {}
    for n, _cit, cited_by in doc.sources.entries():
        for pol in cited_by:
            policy_sources.setdefault(pol, []).append(n)
    out += [
        "<table><caption>Policies used</caption>",
        "<thead><tr><th>Policy</th><th>Version</th><th>File</th><th>sha256</th><th>Sources</th></tr>"
        "</thead><tbody>",
    ]
    for pol in r.get("policies", []):
        ref = f"{pol['id']}@{pol['version']}"
        srcs = ", ".join(f'<a href="#src-{n}">S{n}</a>' for n in policy_sources.get(ref, []))
        out.append(
            f"<tr><td><code>{e(pol['id'])}</code></td><td>{e(pol['version'])}</td>"
            f'<td><code>{e(pol.get("file", ""))}</code></td><td class="hash">{e(pol["sha256"])}</td>'
            f"<td>{srcs or '—'}</td></tr>"
        )
    out.append("</tbody></table>")
    ctx = r.get("context") or {}
    if ctx:
        out += [
            "<table><caption>Numbers this evaluation used, and where each comes from</caption>",
            '<thead><tr><th>Name</th><th class="num">Value</th><th>Unit</th><th>Policy</th><th>Source</th>'
            "</tr></thead><tbody>",
        ]
        for name, item in ctx.items():
            note = f'<div class="prov">{sentence(item["note"])}</div>' if item.get("note") else ""
            out.append(
                f'<tr><td><code>{e(name)}</code></td><td class="num">{e(fmt(item.get("value")))}</td>'
                f"<td>{sentence(item.get('unit') or '')}</td>"
                f"<td><code>{e(item.get('policy') or '—')}</code></td>"
                f"<td>{doc.source(item.get('source'))}{note}</td></tr>"
            )
        out.append("</tbody></table>")
    rules = r.get("rules") or {}
    if rules:
        out += [
            "<table><caption>Rules that fired</caption>",
            '<thead><tr><th>Rule</th><th>Title</th><th>Policy</th><th>Where</th><th class="num">Fired</th>'
            "<th>Programs</th></tr></thead><tbody>",
        ]
        for rid, item in rules.items():
            where = f"{item['file']}:{item['line']}" if item.get("file") else "(built-in default)"
            progs = ", ".join(doc.program_link(pid) for pid in item.get("programs", []))
            out.append(
                f'<tr id="rule-{_slug(rid)}"><td><code>{e(rid)}</code></td><td>{sentence(item.get("title"))}'
                f'<div class="prov">{sentence(item.get("rationale") or "")}</div></td>'
                f"<td><code>{e(item.get('policy'))}</code></td><td><code>{e(where)}</code></td>"
                f'<td class="num">{e(item.get("fired"))}</td><td>{progs or "—"}</td></tr>'
            )
        out.append("</tbody></table>")
    out += ["<h3>Sources</h3>", '<ol class="sources">']
    for n, (title, url, tag), cited_by in doc.sources.entries():
        link = f' <a href="{e(url)}">{e(url)}</a>' if url else ""
        tag_s = f" [{e(tag)}]" if tag else ""
        out.append(
            f'<li id="src-{n}">{e(title)}{link}{tag_s}<div class="prov">cited by '
            f"{e(', '.join(cited_by)) or '—'}</div></li>"
        )
    out.append("</ol>")
    out.append("</section>")
    return "\n".join(out)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
