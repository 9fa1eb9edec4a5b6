"""Markdown report: the same content as the HTML report, as plain Markdown (tables instead of charts).

Layout only: every explanatory sentence comes from the report dict (which took it from a policy); this
module adds headings, labels and table captions; glosses come from the report's glossary. Deterministic output.
"""

from __future__ import annotations

import re
from typing import Any

from .common import (
    LEVEL_LABEL,
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
    findings_by_level,
    fit_rows,
    fmt,
    fmt_range,
    glossary_for,
    humanize,
    is_signaled,
    level_counts,
    one_line_reason,
    parse_source,
    place_parts,
    plural,
    program_index,
    score_parts,
    short_source,
    signal_summary,
    signaled_label,
    sorted_programs,
    source_index,
    tier_names,
    value_label,
    wanted_without_signal,
    would_change,
)

_MD_SPECIAL = re.compile(r"([\\*<>\[\]])")


def md(text: Any) -> str:
    """Text safe inside Markdown: no stray emphasis, links or HTML; one line."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str("" if text is None else text).split()))


def cell(text: Any) -> str:
    return md(text).replace("|", "\\|")


def code(text: Any) -> str:
    t = " ".join(str("" if text is None else text).split()).replace("`", "'")
    return f"`{t}`" if t else ""


class _Doc:
    def __init__(self, report: dict[str, Any], verbose: bool = False) -> None:
        self.report = report
        self.verbose = verbose
        self.programs = program_index(report)
        self.sources: SourceIndex = source_index(report)

    def source(self, text: str | None) -> str:
        src = parse_source(text)
        if src is None:
            return "no source"
        at = f"“{md(src.at)}”, " if src.at else ""
        return f"{at}{md(short_source(src))} \\[S{self.sources.number(src)}\\]"

    def prov(self, entry: dict[str, Any]) -> str:
        bits = []
        if entry.get("rule"):
            bits.append(f"rule {code(entry['rule'])}")
        if entry.get("policy"):
            bits.append(code(entry["policy"]))
        bits.append("source: " + self.source(entry.get("source")))
        return " · ".join(bits)

    def tail(self, entry: dict[str, Any], indent: str) -> str:
        """With --verbose, a second line under a reason: the rule, its policy and its source."""
        return f"\\\n{indent}{self.prov(entry)}" if self.verbose else ""

    def program_ref(self, pid: str | None) -> str:
        if not pid:
            return ""
        p = self.programs.get(pid)
        return f"{md(p['name'])} ({md(pid)})" if p else md(pid)


def _table(caption: str | None, head: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    out = [f"**{caption}**", ""] if caption else []
    out.append("| " + " | ".join(head) + " |")
    out.append(
        "|"
        + "|".join("---:" if i < len(align) and align[i] == "r" else "---" for i in range(len(head)))
        + "|"
    )
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out.append("")
    return out


def render(report: dict[str, Any], verbose: bool = False) -> str:
    doc = _Doc(report, verbose)
    title = f"Signal plan: {humanize(report['specialty'])}, {humanize(report['cycle'])}"
    lines = [f"> **Warning:** {md(n['text'])}" for n in report.get("notices", [])]
    lines += [""] if lines else []
    choice = f" ({report['cycle_choice']})" if report.get("cycle_choice") else ""
    lines += [f"# {md(title + choice)}", "", _subtitle(report), ""]
    lines += _summary(doc)
    lines += _plan(doc)
    lines += _glossary(doc)
    lines += _picture(doc)
    lines += _expected(doc)
    lines += _findings(doc)
    lines += _show_interest(doc)
    lines += _programs(doc)
    lines += _appendix(doc)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _subtitle(report: dict[str, Any]) -> str:
    inputs = report.get("inputs", {})
    bits = []
    if inputs.get("profile", {}).get("file"):
        bits.append(f"Profile {code(inputs['profile']['file'])}")
    progs = inputs.get("programs", {})
    if progs.get("file"):
        count = f" ({progs['count']} programs)" if progs.get("count") is not None else ""
        bits.append(f"shortlist {code(progs['file'])}{count}")
    if inputs.get("signals_from"):
        bits.append(f"signal counts from {code(inputs['signals_from'])}")
    bits.append(f"report format {md(report.get('report_version'))}")
    return " · ".join(bits)


def _summary(doc: _Doc) -> list[str]:
    r = doc.report
    a = r["applicant"]
    used = "; ".join(md(signal_summary(s)) for s in r.get("signals", []))
    counts = level_counts(r)
    out = [
        "## Summary",
        "",
        f"- **Applicant tier:** {md(a['tier'])}",
        f"- **Signals used:** {used or 'none'}",
        f"- **Programs on your list:** {len(r.get('programs', []))}",
    ]
    if counts:
        out.append(f"- **Findings:** {counts}")
    article = "an" if a["tier"][:1] in "aeiou" else "a"
    out += ["", f"### Why you are {article} {md(a['tier'])} applicant", ""]
    out += [f"- {md(b['text'])}{doc.tail(b, '  ')}" for b in a.get("because", [])]
    if a.get("indicators"):
        out += ["", "#### What your profile shows", ""]
        out += [f"- {md(b['text'])}{doc.tail(b, '  ')}" for b in a["indicators"]]
    out.append("")
    geo = a.get("geography") or {}
    goals = a.get("goals") or {}
    rows = [[f"{PREFERENCE_LABEL[p]} areas", cell(", ".join(geo[p]))] for p in PREFERENCE_ORDER if geo.get(p)]
    rows += [[cell(humanize(k)), cell(fmt(v))] for k, v in sorted(goals.items()) if v not in (None, [], "")]
    if rows:
        out += _table("Your geography and goals, as your profile states them", ["", ""], rows)
    return out


def _plan_row(doc: _Doc, p: dict[str, Any]) -> list[str]:
    parts = score_parts(doc.report, p)
    reason = cell(one_line_reason(p))
    if parts:
        reason += (
            " *(score: "
            + ", ".join(f"{cell(label)} {'+' if pts >= 0 else ''}{fmt(pts)}" for label, pts in parts)
            + ")*"
        )
    return [
        cell(decision_label(p["decision"])),
        f"{cell(p['name'])} ({cell(p['id'])})",
        cell(p["fit"]),
        "" if p.get("score") is None else fmt(p["score"]),
        reason,
    ]


def _plan(doc: _Doc) -> list[str]:
    r = doc.report
    progs = sorted_programs(r)
    signaled = [p for p in progs if is_signaled(r, p)]
    others = [p for p in progs if not is_signaled(r, p)]
    head = ["Signal", "Program", "Fit", "Score", "The deciding reason"]
    out = ["## Plan", ""]
    out += _table(
        f"Programs that get a signal ({len(signaled)}), strongest tier first",
        head,
        [_plan_row(doc, p) for p in signaled],
        "...r",
    )
    if others:
        out += _table(
            f"Programs without a signal ({len(others)})", head, [_plan_row(doc, p) for p in others], "...r"
        )
    return out


def _glossary(doc: _Doc) -> list[str]:
    out = ["## Words used in this report", ""]
    out += [f"- **{md(term)}**: {md(gloss)}" for term, gloss in glossary_for(doc.report)]
    out.append("")
    return out


def _picture(doc: _Doc) -> list[str]:
    r = doc.report
    out = ["## The plan at a glance", ""]
    rows = fit_rows(r)
    if rows:
        table = [
            [
                cell(row.tier),
                cell(row.fit),
                str(row.assigned) + (" " + "■" * row.assigned if row.assigned else ""),
                fmt_range(row.lo, row.hi) if row.lo is not None else "—",
                POSITION_LABEL[row.position],
            ]
            for row in rows
        ]
        out += _table(
            "Signals by fit, against the guide's ranges",
            ["Tier", "Fit", "Signals", "Guide's range", "Position"],
            table,
            "..rr",
        )
        for s in r.get("signals", []):
            for b in s.get("because", []):
                out.append(f"- **{md(humanize(s['tier']))}:** {md(b['text'])}{doc.tail(b, '  ')}")
        out.append("")
    areas, outside = area_rows(r)
    table = []
    for row in areas:
        if not (row.listed or row.preference_detail):
            continue
        counts = count_label(r, row.signaled)
        sig = ", ".join(cell(signaled_label(r, pid, d)) for pid, d in row.signaled)
        table.append(
            [
                f"{cell(area_label(row.division))} ({' '.join(row.states)})",
                cell(row.region),
                cell("; ".join(row.preference_detail)) or "—",
                (f"{counts}: {sig}" if sig else "—"),
                str(row.listed),
            ]
        )
    if outside:
        sig = ", ".join(cell(signaled_label(r, p["id"], p["decision"])) for p in outside if is_signaled(r, p))
        table.append(["Outside the Census divisions", "—", "—", sig or "—", str(len(outside))])
    out += _table(
        "Where your signals go, against the areas you want (US Census divisions)",
        ["Area", "Region", "Your preference", "Signaled programs", "On your list"],
        table,
        "....r",
    )
    return out


def _expected(doc: _Doc) -> list[str]:
    o = doc.report.get("outcome")
    if not o:
        return []
    out = ["## Expected interviews", "",
           f"**{o['expected_interviews']:.1f}** expected interviews for this plan (from "
           f"{o['low']:.1f} with every rate at the low end of its range to {o['high']:.1f} at "
           "the high end).", ""]
    model = o.get("model")
    if model:
        out += [f"Rates from {code(model['id'])}: {md(model['population'])}.", ""]
        out += [f"- Source: {md(src)}" for src in model["sources"]] + [""]
    out += [f"- {md(note)}" for note in o.get("notes", [])]
    return out + [""] if o.get("notes") else out


def _findings(doc: _Doc) -> list[str]:
    out = ["## What to watch", ""]
    groups = findings_by_level(doc.report)
    if not groups:
        out += ["No findings.", ""]
    for level, items in groups:
        out += [f"### {md(LEVEL_LABEL.get(level, level))} ({len(items)})", ""]
        for i, f in enumerate(items, start=1):
            about = f" · about {doc.program_ref(f['program'])}" if f.get("program") else ""
            lines = [md(f["text"])]
            if f.get("advice"):
                lines.append(f"**What to do:** {md(f['advice'])}")
            if doc.verbose:
                lines.append(f"{doc.prov(f)}{about}")
            elif about:
                lines.append(_upper_first(about.removeprefix(" · ")))
            out.append(f"{i}. " + "\\\n   ".join(lines))
        out.append("")
    return out


def _show_interest(doc: _Doc) -> list[str]:
    wanted = wanted_without_signal(doc.report)
    if not wanted:
        return []
    out = [
        "## How else to show interest",
        "",
        "Programs you want that get no signal, and what the guide suggests instead.",
        "",
    ]
    for p in wanted:
        out += [
            f"### {md(p['name'])} ({md(p['id'])}): {md(decision_label(p['decision']))}, {md(p['fit'])}",
            "",
            f"- **No signal because:** {md(one_line_reason(p))}",
        ]
        for adv in p["advice"]:
            out.append(_advice_line(doc, adv))
        out.append("")
    return out


def _advice_line(doc: _Doc, adv: dict[str, Any]) -> str:
    """One way to show interest without a signal, with what to do and where the advice comes from."""
    what = f" **What to do:** {md(adv['advice'])}" if adv.get("advice") else ""
    return f"- {md(adv['text'])}{what}{doc.tail(adv, '  ')}"


def _programs(doc: _Doc) -> list[str]:
    out = [
        "## Programs",
        "",
        "Every program, how it was decided and why not."
        + (" Each step names the rule that fired, the policy it lives in (id@version) and its source."
           if doc.verbose else " Add --verbose to see the rule, policy and source behind each step."),
        "",
    ]
    for p in sorted_programs(doc.report):
        out += _program(doc, p)
    return out


def _program(doc: _Doc, p: dict[str, Any]) -> list[str]:
    place = " · ".join(md(x) for x in place_parts(p))
    score = f" · score {fmt(p['score'])}" if p.get("score") is not None else ""
    out = [
        f"### {md(p['name'])} ({md(p['id'])}): {md(decision_label(p['decision']))}, {md(p['fit'])}",
        "",
        f"{place}{score}",
        "",
        *([f"**Home program:** {md(p['home']['text'])}", ""] if p.get("home") else []),
        "**How**",
        "",
    ]
    steps = chain(doc.report, p)
    n = 0
    for i, (step, b) in enumerate(steps):
        if step == "score":
            if i and steps[i - 1][0] == "score":
                continue
            parts = [x for s_, x in steps if s_ == "score"]
            n += 1
            total = fmt(p.get("score"))
            out.append(
                f"{n}. **{STEP_LABEL['score']}:** {total} point{'' if total in ('1', '-1') else 's'}, "
                f"from {plural(len(parts), 'part')}"
            )
            out += [f"   - {md(x['text'])}{doc.tail(x, '     ')}" for x in parts]
            continue
        n += 1
        out.append(f"{n}. **{STEP_LABEL.get(step, step)}:** {md(b['text'])}{doc.tail(b, '   ')}")
    out.append("")
    if p.get("why_not"):
        out += ["**Why not**", ""]
        for w in p["why_not"]:
            extra = []
            if w.get("outranked_by"):
                other = doc.programs.get(w["outranked_by"])
                detail = f" ({md(decision_label(other['decision']))}, {md(value_label(other))})" if other else ""
                extra.append(f"outranked by {doc.program_ref(w['outranked_by'])}{detail}")
            if w.get("rule") and doc.verbose:
                extra.append(f"rule {code(w['rule'])}")
            tail = ("\\\n  " + " · ".join(extra)) if extra else ""
            out.append(f"- **{md(decision_label(w['tier']))}:** {md(w['text'])}{tail}")
        out.append("")
    tiers = tier_names(doc.report)
    changes = would_change(p) if not tiers or p["decision"] != tiers[0] else []
    if changes:
        out += ["**What would change it**", ""] + [f"- {md(c)}" for c in changes] + [""]
    if p.get("considered"):
        out += ["**Also true, but not what decided**", ""]
        out += [f"- {md(b['text'])}{doc.tail(b, '  ')}" for b in p["considered"]]
        out.append("")
    if p.get("advice"):
        out += ["**Show interest another way**", ""]
        for adv in p["advice"]:
            out.append(_advice_line(doc, adv))
        out.append("")
    return out


def _appendix(doc: _Doc) -> list[str]:
    r = doc.report
    out = ["## How this was decided: reproduce and check", ""]
    inputs = r.get("inputs", {})
    rows = [
        [key, code((inputs.get(key) or {}).get("file", "")), code((inputs.get(key) or {}).get("sha256", ""))]
        for key in ("profile", "programs")
    ]
    out += _table(
        "Inputs (the same files and policies give a byte-identical report)", ["Input", "File", "sha256"], rows
    )
    if inputs.get("signals_from"):
        out += [f"Signal counts from {code(inputs['signals_from'])}.", ""]
    policy_sources: dict[str, list[int]] = {}
    for n, _cit, cited_by in doc.sources.entries():
        for pol in cited_by:
            policy_sources.setdefault(pol, []).append(n)
    out += ["## Policies used", ""]
    rows = [
        [
            code(pol["id"]),
            md(pol["version"]),
            code(pol.get("file", "")),
            code(pol["sha256"]),
            ", ".join(f"S{n}" for n in policy_sources.get(f"{pol['id']}@{pol['version']}", [])) or "—",
        ]
        for pol in r.get("policies", [])
    ]
    out += _table(None, ["Policy", "Version", "File", "sha256", "Sources"], rows)
    ctx = r.get("context") or {}
    if ctx:
        rows = []
        for name, item in ctx.items():
            note = f" *Note:* {cell(item['note'])}" if item.get("note") else ""
            rows.append(
                [
                    code(name),
                    cell(fmt(item.get("value"))),
                    cell(item.get("unit") or ""),
                    code(item.get("policy") or "—"),
                    doc.source(item.get("source")).replace("|", "\\|") + note,
                ]
            )
        out += ["## Numbers used", ""]
        out += _table(
            "Every number this evaluation used, and where it comes from",
            ["Name", "Value", "Unit", "Policy", "Source"],
            rows,
            ".r",
        )
    rules = r.get("rules") or {}
    if rules:
        rows = []
        for rid, item in rules.items():
            where = f"{item['file']}:{item['line']}" if item.get("file") else "(built-in default)"
            rows.append(
                [
                    code(rid),
                    cell(item.get("title")),
                    code(item.get("policy")),
                    code(where),
                    str(item.get("fired", "")),
                    cell(", ".join(item.get("programs", []))) or "—",
                ]
            )
        out += ["## Rules that fired", ""]
        out += _table(None, ["Rule", "Title", "Policy", "Where", "Fired", "Programs"], rows, "....r")
    out += ["## Sources", ""]
    for n, (title, url, tag), cited_by in doc.sources.entries():
        link = f" <{url}>" if url else ""
        tag_s = f" \\[{md(tag)}\\]" if tag else ""
        out.append(
            f"- **S{n}.** {md(title)}{link}{tag_s}. Cited by: {', '.join(code(c) for c in cited_by) or '—'}."
        )
    out.append("")
    return out


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]
