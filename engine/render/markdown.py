"""Markdown report: summary table, per-program HOW and WHY-NOT, findings, and the policies used."""

from __future__ import annotations

from typing import Any

from .common import one_line_reason, sorted_programs


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _because(lines: list[str], items: list[dict[str, Any]]) -> None:
    for b in items:
        src = f" — source: {b['source']}" if b.get("source") else ""
        lines.append(f"- {b['text']} (`{b['rule']}`, {b['policy']}){src}")


def render(report: dict[str, Any]) -> str:
    a = report["applicant"]
    lines = [f"# Signal plan: {report['specialty']}, {report['cycle']}", ""]
    lines += [f"**Applicant tier: {a['tier']}**", ""]
    _because(lines, a["because"])
    lines += ["", "## Signals", "", "| tier | available | assigned | split |", "|---|---|---|---|"]
    for s in report["signals"]:
        split = ", ".join(f"{n} {fit}" for fit, n in s["by_fit"].items() if n)
        lines.append(f"| {s['tier']} | {s['available']} | {s['assigned']} | {_cell(split)} |")
    lines += ["", "## Plan", "", "| decision | program | fit | reason |", "|---|---|---|---|"]
    for p in sorted_programs(report):
        lines.append(f"| {p['decision']} | {_cell(p['name'])} ({p['id']}) | {p['fit']} | {_cell(one_line_reason(p))} |")
    if report["findings"]:
        lines += ["", "## Findings", ""]
        for f in report["findings"]:
            lines.append(f"- **{f['level']}** {f['text']}" + (f" *What to do:* {f['advice']}" if f["advice"] else "")
                         + f" (`{f['rule']}`)")
    lines += ["", "## Programs", ""]
    for p in sorted_programs(report):
        lines += [f"### {p['name']} ({p['id']}): {p['decision']}, {p['fit']}", "", "**How:**", ""]
        _because(lines, p["because"])
        if p["why_not"]:
            lines += ["", "**Why not:**", ""]
            for w in p["why_not"]:
                lines.append(f"- {w['tier']}: {w['text']}")
        if p["advice"]:
            lines += ["", "**Show interest another way:**", ""]
            for adv in p["advice"]:
                lines.append(f"- {adv['text']} {adv['advice']}")
        lines.append("")
    lines += ["## Policies used", "", "| policy | version | sha256 |", "|---|---|---|"]
    for pol in report["policies"]:
        lines.append(f"| {pol['id']} | {pol['version']} | `{pol['sha256'][:16]}` |")
    lines += ["", f"Inputs: profile `{report['inputs']['profile']['sha256'][:16]}`, programs "
              f"`{report['inputs']['programs']['sha256'][:16]}`.", ""]
    return "\n".join(lines)
