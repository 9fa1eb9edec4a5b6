"""HTML report: one self-contained, printable file (inline CSS and SVG, no scripts, no fetches).

Layout only: every explanatory sentence comes from the report dict (which took it from a policy); this
module adds headings, labels, table captions and the report's glossary. All report data is escaped
with html.escape. Output is deterministic: no clock, no randomness, every list in a documented order.
A Content-Security-Policy meta tag forbids the page from loading anything, so a stray external
reference fails loudly in a browser instead of leaking a request.
"""

from __future__ import annotations

import re
from html import escape
from typing import Any

from . import svg
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

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5b5b60; --line: #d9d9de; --soft: #f5f6f8;
  --gold: #f1d36a; --silver: #d9dde3; --signal: #cfe0f4; --none: #ececec; --excluded: #f5d5d5;
  --exempt: #e6dcf3; --reach: #b35806; --target: #2166ac; --safety: #1b7837; --closed: #6b6b6b; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1060px; padding: 24px 28px 60px; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.8em; margin: 0 0 4px; }
h2 { font-size: 1.35em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.1em; margin: 22px 0 8px; }
h4 { font-size: .95em; margin: 14px 0 6px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
p { margin: 6px 0; }
a { color: #1a56a8; }
code { font: .86em/1.3 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
  padding: 0 3px; border-radius: 3px; overflow-wrap: anywhere; }
abbr[title] { text-decoration: underline dotted; cursor: help; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; }
nav.toc ol { margin: 4px 0; padding-left: 20px; columns: 2; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 10px; padding: 10px 14px; min-width: 140px;
  background: #fff; }
.card .label { font-size: .8em; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.card .big { font-size: 1.6em; font-weight: 700; }
meter { width: 100%; height: 10px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: .92em; }
table.narrow { width: auto; min-width: 50%; }
caption { break-after: avoid; caption-side: top; text-align: left; font-weight: 600; padding: 4px 0;
  color: var(--muted); }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.hash { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .8em; overflow-wrap: anywhere; }
.badge { display: inline-block; border-radius: 999px; padding: 0 9px; font-size: .82em; font-weight: 600;
  border: 1px solid rgba(0,0,0,.15); white-space: nowrap; }
.d-gold { background: var(--gold); }
.d-silver { background: var(--silver); }
.d-signal { background: var(--signal); }
.d-none { background: var(--none); }
.d-excluded { background: var(--excluded); }
.d-exempt { background: var(--exempt); }
.f-reach { color: var(--reach); border-color: var(--reach); }
.f-target { color: var(--target); border-color: var(--target); }
.f-safety { color: var(--safety); border-color: var(--safety); }
.f-closed { color: var(--closed); border-color: var(--closed); }
.prov { font-size: .8em; color: var(--muted); margin-top: 2px; }
.notice { background: #fdecea; border: 2px solid #b2182b; border-radius: 8px; padding: 8px 14px; }
details.how { font-size: .8em; color: var(--muted); margin-top: 2px; }
details.how > summary { cursor: pointer; }
details.how .prov, details.how .facts { font-size: 1em; }
@media print { details.how { display: none; } }
.facts { font-size: .78em; color: var(--muted); }
ul.because, ol.chain { padding-left: 22px; margin: 6px 0; }
ol.chain > li, ul.because > li { margin: 6px 0; }
.step { display: inline-block; min-width: 86px; font-size: .75em; font-weight: 700;
  text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.program { border: 1px solid var(--line); border-left: 6px solid #b8b8b8; border-radius: 8px;
  padding: 6px 16px 10px; margin: 14px 0; background: #fff; }
.program.d-gold { border-left-color: #c99700; }
.program.d-silver { border-left-color: #8a9099; }
.program.d-signal { border-left-color: #2166ac; }
.program.d-excluded { border-left-color: #c0392b; }
.program.d-exempt { border-left-color: #7b5ea7; }
.program h3 { margin-top: 10px; }
.meta { color: var(--muted); font-size: .9em; }
.finding { margin: 8px 0; padding: 6px 12px; border-radius: 6px; background: var(--soft);
  border-left: 5px solid #999; }
.finding.critical { border-left-color: #b2182b; }
.finding.warning { border-left-color: #e08214; }
.finding.info { border-left-color: #2166ac; }
.todo strong, .change strong { color: var(--ink); }
figure { margin: 12px 0 20px; }
figcaption { font-size: .9em; color: var(--muted); margin: 4px 0; }
svg.chart { max-width: 100%; height: auto; display: block; }
dl.glossary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: .9em; }
dl.glossary dt { font-weight: 600; }
dl.glossary dd { margin: 0; }
ol.sources li { margin: 4px 0; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
@page { margin: 14mm 12mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav.toc { display: none; }
  a { color: inherit; text-decoration: none; }
  h2, h3, h4 { break-after: avoid; }
  .program, .finding, figure, tr { break-inside: avoid; }
  #programs, #appendix { break-before: page; }
  table { font-size: 8.5pt; }
}
"""


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


def render(report: dict[str, Any], verbose: bool = False) -> str:
    use_glossary(report)
    doc = _Doc(report, verbose)
    title = f"Signal plan: {humanize(report['specialty'])}, {humanize(report['cycle'])}"
    notices = "".join(f'<p class="notice" role="alert"><strong>Warning:</strong> {sentence(n["text"])}</p>'
                      for n in report.get("notices", []))
    choice = f'<p class="subtitle">{e(report["cycle_choice"])}</p>' if report.get("cycle_choice") else ""
    body = [
        notices,
        f"<header><h1>{e(title)}</h1>{choice}",
        f'<p class="subtitle">{_subtitle(report)}</p></header>',
        _toc(report),
        _summary(doc),
        _glossary(doc),
        _picture(doc),
        _findings(doc),
        _show_interest(doc),
        _programs(doc),
        _appendix(doc),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{e(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="generator" content="signalwise">',
            f"<title>{e(title)}</title>",
            f"<style>{CSS}</style>",
            "</head>",
            "<body>",
            *[b for b in body if b],
            "</body>",
            "</html>",
            "",
        ]
    )


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


def _toc(report: dict[str, Any]) -> str:
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
    lis = "".join(f'<li><a href="#{a}">{e(t)}</a></li>' for a, t in items)
    return f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{lis}</ol></nav>'


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


def _findings(doc: _Doc) -> str:
    out = ['<section id="findings">', "<h2>What to watch</h2>"]
    groups = findings_by_level(doc.report)
    if not groups:
        out.append('<p class="muted">No findings.</p>')
    for level, items in groups:
        out.append(f"<h3>{e(level_heading(level, len(items)))} ({len(items)})</h3>")
        for f in items:
            about = f" · about {doc.program_link(f['program'], name=True)}" if f.get("program") else ""
            todo = (
                f'<p class="todo"><strong>What to do:</strong> {sentence(f["advice"])}</p>'
                if f.get("advice")
                else ""
            )
            out.append(
                f'<div class="finding {e(_slug(level))}"><p>{sentence(f["text"])}</p>{todo}'
                f"{doc.prov(f, extra=about)}</div>"
            )
    out.append("</section>")
    return "\n".join(out)


def _show_interest(doc: _Doc) -> str:
    wanted = wanted_without_signal(doc.report)
    if not wanted:
        return ""
    out = [
        '<section id="show-interest">',
        "<h2>How else to show interest</h2>",
        '<p class="muted">Programs you want that get no signal, and what the guide suggests instead.</p>',
    ]
    for p in wanted:
        out.append(
            f"<h3>{doc.program_link(p['id'], name=True)} {_badge_decision(p['decision'])} "
            f"{_badge_fit(p['fit'])}</h3>"
        )
        out.append(f"<p><strong>No signal because:</strong> {sentence(one_line_reason(p))}</p>")
        for adv in p["advice"]:
            out.append(f"<p>{sentence(adv['text'])}</p>")
            if adv.get("advice"):
                out.append(f'<p class="todo"><strong>What to do:</strong> {sentence(adv["advice"])}</p>')
            out.append(doc.prov(adv))
    out.append("</section>")
    return "\n".join(out)


def _programs(doc: _Doc) -> str:
    r = doc.report
    out = [
        '<section id="programs">',
        "<h2>Every program: how and why not</h2>",
        '<p class="muted">Each step names the rule that fired, the policy it lives in (id@version) and its '
        "source. “Values seen” are the facts the rule's conditions matched.</p>",
    ]
    for p in sorted_programs(r):
        out.append(_program(doc, p))
    out.append("</section>")
    return "\n".join(out)


def _program(doc: _Doc, p: dict[str, Any]) -> str:
    place = " · ".join(e(x) for x in place_parts(p))
    score = f" · score {e(fmt(p['score']))}" if p.get("score") is not None else ""
    out = [
        f'<article class="program d-{_slug(p["decision"])}" id="{doc.anchor[p["id"]]}">',
        f'<h3>{e(p["name"])} <span class="muted">({e(p["id"])})</span></h3>',
        f'<p class="meta">{_badge_decision(p["decision"])} {_badge_fit(p["fit"])} {place}{score}</p>',
    ]
    if p.get("home"):
        out.append(f'<p class="home"><strong>Home program:</strong> {sentence(p["home"]["text"])}</p>')
    out += ["<h4>How</h4>", '<ol class="chain">']
    steps = chain(doc.report, p)
    for i, (step, b) in enumerate(steps):
        if step == "score":
            if i and steps[i - 1][0] == "score":
                continue  # all score parts go in one step, opened at the first
            parts = [x for s_, x in steps if s_ == "score"]
            out.append(
                f'<li><span class="step">{e(STEP_LABEL["score"])}</span> '
                f'{e(plural_points(fmt(p.get("score"))))}, from {e(plural(len(parts), "part"))}'
                '<ul class="because">'
                + "".join(f"<li>{sentence(x['text'])}{doc.prov(x, facts=True)}</li>" for x in parts)
                + "</ul></li>"
            )
            continue
        out.append(
            f'<li><span class="step">{e(STEP_LABEL.get(step, step))}</span> {sentence(b["text"])}'
            f"{doc.prov(b, facts=True)}</li>"
        )
    out.append("</ol>")
    if p.get("why_not"):
        out += ["<h4>Why not</h4>", '<ul class="because">']
        for w in p["why_not"]:
            by = ""
            if w.get("outranked_by"):
                other = doc.programs.get(w["outranked_by"])
                extra = ""
                if other is not None:
                    extra = f" ({e(decision_label(other['decision']))}, {e(value_label(other))})"
                link = doc.program_link(w["outranked_by"], name=True)
                by = f'<div class="prov">outranked by {link}{extra}</div>'
            rule = (f'<details class="how"{" open" if doc.verbose else ""}><summary>How this was decided'
                    f'</summary><div class="prov">rule {doc.rule_link(w["rule"])}</div></details>'
                    if w.get("rule") else "")
            out.append(
                f"<li><strong>{e(decision_label(w['tier']))}:</strong> {sentence(w['text'])}{by}{rule}</li>"
            )
        out.append("</ul>")
    tiers = tier_names(doc.report)
    changes = would_change(p) if not tiers or p["decision"] != tiers[0] else []
    if changes:
        out += ["<h4>What would change it</h4>", '<ul class="because change">']
        out += [f"<li>{sentence(c)}</li>" for c in changes]
        out.append("</ul>")
    if p.get("considered"):
        out += ["<h4>Also true, but not what decided</h4>", '<ul class="because">']
        out += [f"<li>{sentence(b['text'])}{doc.prov(b)}</li>" for b in p["considered"]]
        out.append("</ul>")
    if p.get("advice"):
        out += ["<h4>Show interest another way</h4>", '<ul class="because">']
        for adv in p["advice"]:
            todo = f" <strong>What to do:</strong> {sentence(adv['advice'])}" if adv.get("advice") else ""
            out.append(f"<li>{sentence(adv['text'])}{todo}{doc.prov(adv)}</li>")
        out.append("</ul>")
    out.append("</article>")
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


def _glossary(doc: _Doc) -> str:
    out = ['<section id="terms">', "<h2>Words used in this report</h2>", '<dl class="glossary">']
    for term, text in glossary_for(doc.report):
        out.append(f"<dt>{e(term)}</dt><dd>{e(text)}</dd>")
    out += ["</dl>", "</section>"]
    return "\n".join(out)


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
