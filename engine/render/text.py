"""A readable terminal summary of a report."""

from __future__ import annotations

import textwrap
from typing import Any

from .common import one_line_reason, sorted_programs

WIDTH = 100


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent)


def render(report: dict[str, Any]) -> str:
    out: list[str] = []
    a = report["applicant"]
    out.append(f"signalwise plan: {report['specialty']}, {report['cycle']}")
    out.append("")
    out.append(f"Applicant tier: {a['tier'].upper()}")
    for b in a["because"]:
        out.append(_wrap(f"- {b['text']} [{b['rule']}]"))
    out.append("")
    out.append("Signals:")
    for s in report["signals"]:
        split = ", ".join(f"{n} {fit}" for fit, n in s["by_fit"].items() if n)
        out.append(f"  {s['tier']}: {s['assigned']} of {s['available']} used" + (f" ({split})" if split else ""))
    out.append("")
    out.append("Plan:")
    current = None
    for p in sorted_programs(report):
        if p["decision"] != current:
            current = p["decision"]
            out.append(f"  [{current}]")
        out.append(f"    {p['id']:<10} {p['fit']:<7} {p['name']}")
        reason = one_line_reason(p)
        if reason:
            out.append(_wrap(reason, " " * 23))
    if report["findings"]:
        out.append("")
        out.append("Findings:")
        for f in report["findings"]:
            out.append(_wrap(f"{f['level'].upper()}: {f['text']}", "  "))
            if f["advice"]:
                out.append(_wrap(f"-> {f['advice']}", "    "))
    out.append("")
    out.append("Policies: " + ", ".join(f"{p['id']}@{p['version']}" for p in report["policies"]))
    out.append("Run with --format md or json for every rule, fact and source behind each decision.")
    return "\n".join(out) + "\n"
