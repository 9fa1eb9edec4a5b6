"""A readable terminal summary of a report, for the applicant.

Reasons come first and in plain words; rule ids and policy versions appear only with `--verbose`. Lines
wrap at spaces only, never inside an identifier or a hyphenated word.
"""

from __future__ import annotations

import textwrap
from typing import Any

from .common import (
    LEVEL_ORDER,
    chain,
    decision_heading,
    fmt,
    humanize,
    is_signaled,
    level_heading,
    one_line_reason,
    plural,
    score_parts,
    signal_summary,
    sorted_programs,
    step_of,
    wanted_without_signal,
)

WIDTH = 100


def _wrap(text: str, indent: str = "    ", rest: str | None = None) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent if rest is None else rest,
                         break_long_words=False, break_on_hyphens=False)


def _how(entry: dict[str, Any], indent: str) -> list[str]:
    """The `--verbose` line under a reason: which rule of which policy decided it."""
    bits = [f"rule {entry['rule']}"] if entry.get("rule") else []
    if entry.get("policy"):
        bits.append(f"policy {entry['policy']}")
    return [_wrap("(" + ", ".join(bits) + ")", indent)] if bits else []


def _closed_reasons(report: dict[str, Any], p: dict[str, Any]) -> list[dict[str, Any]]:
    """Why a program cannot take a signal: the fit rules that closed it, then the deciding status rule."""
    rules = report.get("rules", {})
    out = []
    if p["fit"] == "closed":
        out += [b for b in p.get("because", []) if step_of(b, rules) == "fit" and not str(b["rule"]).endswith(
            ".default")]
    reason = one_line_reason(p)
    decisive = next((b for b in p.get("because", []) if b["text"] == reason), None)
    if decisive is not None and decisive not in out:
        out.append(decisive)
    return out


def render(report: dict[str, Any], verbose: bool = False) -> str:
    out: list[str] = []
    a = report["applicant"]
    for w in report.get("notices", []):
        out.append(_wrap(f"WARNING: {w['text']}", "", "  "))
    if out:
        out.append("")
    choice = f" ({report['cycle_choice']})" if report.get("cycle_choice") else ""
    out.append(f"Your signal plan: {humanize(report['specialty'])}, {humanize(report['cycle'])}{choice}")
    out.append("")
    article = "an" if a["tier"][:1] in "aeiou" else "a"
    out.append(f"You are {article} {a['tier']} applicant:")
    for b in a["because"]:
        out.append(_wrap(f"- {b['text']}", "  ", "    "))
        if verbose:
            out += _how(b, "    ")
    out.append("")
    out.append("Signals:")
    for s in report["signals"]:
        out.append(_wrap(signal_summary(s), "  ", "    "))
    current = None
    for p in sorted_programs(report):
        group = decision_heading(report, p["decision"])
        if group != current:
            current = group
            out += ["", f"{group}:"]
        out.append(_wrap(f"{p['name']} ({p['id']}, {p['fit']})", "  ", "    "))
        if p.get("home"):
            out.append(_wrap("Home program: " + p["home"]["text"], "      "))
        if p["decision"] in ("excluded", "exempt"):
            for b in _closed_reasons(report, p):
                out.append(_wrap(b["text"], "      "))
                if verbose:
                    out += _how(b, "        ")
        else:
            reason = one_line_reason(p)
            if reason:
                out.append(_wrap(reason, "      "))
            if verbose:
                out += [line for step, b in chain(report, p) if step == "allocation" for line in _how(b, "        ")]
        parts = score_parts(report, p) if is_signaled(report, p) or verbose else []
        if parts:
            total = fmt(p.get("score"))
            points = "point" if total in ("1", "-1") else "points"
            out.append(_wrap(f"Score {total} {points}: " + ", ".join(
                f"{label} {'+' if pts >= 0 else ''}{fmt(pts)}" for label, pts in parts), "      "))
        if p.get("unknown"):
            out.append(_wrap("Not known: " + ", ".join(u["field"] for u in p["unknown"])
                             + " (see the findings below)", "      "))
    out += _expected(report.get("outcome"))
    wanted = wanted_without_signal(report)
    if wanted:
        out += ["", "How else to show interest (programs you want that get no signal):"]
        for p in wanted:
            out.append(_wrap(f"{p['name']} ({p['id']})", "  ", "    "))
            for adv in p["advice"]:
                out.append(_wrap(adv["text"], "      "))
                if adv.get("advice"):
                    out.append(_wrap(f"What to do: {adv['advice']}", "      ", "        "))
                if verbose:
                    out += _how(adv, "        ")
    findings = sorted(report["findings"], key=lambda f: LEVEL_ORDER.get(f["level"], 9))
    if findings:
        counts: dict[str, int] = {}
        for f in findings:
            counts[f["level"]] = counts.get(f["level"], 0) + 1
        summary = ", ".join(plural(n, level_heading(level, 1).lower(), level_heading(level, n).lower())
                            for level, n in counts.items())
        out += ["", f"What to watch ({summary}):"]
        for f in findings:
            out.append(_wrap(f"{level_heading(f['level'], 1)}: {f['text']}", "  ", "    "))
            if f["advice"]:
                out.append(_wrap(f"What to do: {f['advice']}", "    ", "      "))
            if verbose:
                out += _how(f, "      ")
    out.append("")
    if verbose:
        out.append(_wrap("Policies: " + ", ".join(f"{p['id']}@{p['version']}" for p in report["policies"]), ""))
    out.append(_wrap("More detail: add --verbose for the rule behind each reason; --format html -o plan.html "
                     "for a printable report with every rule, fact and source; --format json -o plan.json, "
                     "then `signalwise explain plan.json --program ID` for one program.", ""))
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
