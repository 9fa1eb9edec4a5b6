"""A readable terminal summary of a report."""

from __future__ import annotations

import textwrap
from typing import Any

from .common import fmt, is_signaled, one_line_reason, score_parts, sorted_programs

WIDTH = 100


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def render(report: dict[str, Any]) -> str:
    out: list[str] = []
    a = report["applicant"]
    choice = f" ({report['cycle_choice']})" if report.get("cycle_choice") else ""
    out.append(f"signalwise plan: {report['specialty']}, {report['cycle']}{choice}")
    out.append("")
    out.append(f"Applicant tier: {a['tier'].upper()}")
    for b in a["because"]:
        out.append(_wrap(f"- {b['text']} [{b['rule']}]"))
    out.append("")
    out.append("Signals:")
    for s in report["signals"]:
        split = ", ".join(f"{n} {fit}" for fit, n in s["by_fit"].items() if n)
        used = f"  {s['tier']}: {s['assigned']} of {s['available']} used"
        out.append(used + (f" ({split})" if split else ""))
    out.append("")
    out.append("Plan:")
    current = None
    for p in sorted_programs(report):
        if p["decision"] != current:
            current = p["decision"]
            out.append(f"  [{current}]")
        out.append(f"    {p['id']:<10} {p['fit']:<7} {p['name']}")
        if p.get("home"):
            out.append(_wrap("home program: " + p["home"]["text"], " " * 23))
        reason = one_line_reason(p)
        if reason:
            out.append(_wrap(reason, " " * 23))
        parts = score_parts(report, p) if is_signaled(report, p) else []
        if parts:
            out.append(_wrap("score: " + ", ".join(f"{label} {'+' if pts >= 0 else ''}{fmt(pts)}"
                                                   for label, pts in parts), " " * 23))
    out += _expected(report.get("outcome"))
    if report["findings"]:
        out.append("")
        out.append("Findings:")
        for f in report["findings"]:
            out.append(_wrap(f"{f['level'].upper()}: {f['text']}", "  "))
            if f["advice"]:
                out.append(_wrap(f"-> {f['advice']}", "    "))
    out.append("")
    out.append("Policies: " + ", ".join(f"{p['id']}@{p['version']}" for p in report["policies"]))
    out.append("More: --format html or md (every rule, fact and source behind each decision); --format json")
    out.append("-o report.json, then `signalwise explain report.json --program ID [--why-not TIER]`.")
    return "\n".join(out) + "\n"


def _expected(o: dict[str, Any] | None) -> list[str]:
    """Expected interviews of the plan, with the interview model's population and sources (when rates exist)."""
    if not o:
        return []
    out = ["", f"Expected interviews: {o['expected_interviews']:.1f} (from {o['low']:.1f} with every rate at the "
               f"low end of its range to {o['high']:.1f} at the high end)"]
    model = o.get("model")
    if model:
        out.append(_wrap(f"Rates from {model['id']}: {model['population']}"))
        out += [_wrap(f"source: {src}", "      ") for src in model["sources"]]
    out += [_wrap(f"- {note}") for note in o.get("notes", [])]
    return out
