"""`signalwise explain`: read a JSON report back and answer one question in the terminal.

- `program_view`: HOW one program was decided (the rule chain), its WHY-NOT per tier, what would change it;
- `why_not_view`: why a program did not get one tier: the failing condition or the outranking program,
  with both programs' scores side by side, and what would change the outcome;
- `rule_view`: a rule's title, `because` template, rationale, advice, source, policy, file:line, and
  where it fired in this report.

Like the other renderers this only formats the report dict; sentences come from the report (policies).
"""

from __future__ import annotations

import difflib
import textwrap
from typing import Any

from signalwise.engine.errors import input_error

from .common import (
    STEP_LABEL,
    chain,
    decision_label,
    facts_summary,
    firing_entries,
    fmt,
    place_parts,
    points_of,
    program_index,
    score_part_label,
    tier_names,
    value_label,
    would_change,
)

WIDTH = 100

# Labels for why-not reasons (the sentence itself comes from the report).
REASON_LABEL = {
    "outranked": "programs of its fit with at least its value hold this tier",
    "range-full": "this tier's range for this fit is full",
    "other-fits": "this tier's signals went to other fits the split needs first",
    "blocked": "a rule keeps this tier from this program",
    "excluded": "not eligible for any signal",
    "reserve": "set aside for a soft reason: it takes only a spare signal",
    "exempt": "needs no signal",
    "institution": "its institution already holds a signal",
    "must-have": "your must-have areas come first",
    "stronger-tier": "it already gets a stronger tier",
}


# ---------------------------------------------------------------------------------------------- loading


def load_report(path: str) -> dict[str, Any]:
    """Read and check a JSON report written by `signalwise evaluate --format json`; InputError otherwise."""
    from signalwise.engine.load.report import load_report as load

    return load(path)


def _shown(query: str) -> str:
    """A user's query as a message repeats it: at most 60 characters."""
    return query if len(query) <= 60 else query[:59] + "…"


def _did_you_mean(query: str, options: list[str], extra: list[str] | None = None) -> str | None:
    if len(query) > 100:  # no id or rule is this long; comparing would only cost time
        return None
    close = difflib.get_close_matches(query, options, n=3, cutoff=0.5)
    close += [o for o in (extra or []) if o not in close][: max(0, 3 - len(close))]
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def find_program(report: dict[str, Any], path: str, query: str) -> dict[str, Any]:
    programs = program_index(report)
    if query in programs:
        return programs[query]
    folded = [pid for pid in programs if pid.lower() == query.lower()]
    if len(folded) == 1:
        return programs[folded[0]]
    by_name = [pid for pid, p in sorted(programs.items()) if query.lower() in str(p["name"]).lower()]
    hint = _did_you_mean(query, sorted(programs), by_name) or (
        f"the report has {len(programs)} program(s), e.g. " + ", ".join(sorted(programs)[:5])
    )
    raise input_error(path, f"no program '{_shown(query)}' in this report", field="--program", hint=hint)


def check_tier(report: dict[str, Any], path: str, tier: str) -> str:
    tiers = tier_names(report)
    if tier in tiers:
        return tier
    lowered = [t for t in tiers if t.lower() == tier.lower().removesuffix(" signal")]
    if lowered:
        return lowered[0]
    hint = _did_you_mean(tier, tiers) or (
        "this plan's signal tiers: " + ", ".join(tiers) if tiers else "this plan has no signal tiers"
    )
    raise input_error(path, f"no signal tier '{_shown(tier)}' in this report", field="--why-not", hint=hint)


# ---------------------------------------------------------------------------------------------- views


def _wrap(text: str, indent: str, rest: str | None = None) -> list[str]:
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=rest if rest is not None else indent,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [indent.rstrip()]


def _prov(entry: dict[str, Any], indent: str) -> list[str]:
    bits = []
    if entry.get("rule"):
        bits.append(f"rule {entry['rule']}")
    if entry.get("policy"):
        bits.append(str(entry["policy"]))
    out = _wrap(" · ".join(bits), indent) if bits else []
    out += _wrap(f"source: {entry.get('source') or 'none'}", indent)
    seen = facts_summary(entry)
    if seen:
        out += _wrap("values seen: " + "; ".join(f"{k} = {v}" for k, v in seen), indent)
    return out


def _header(p: dict[str, Any]) -> list[str]:
    place = " · ".join(place_parts(p))
    score = f" · score: {fmt(p['score'])}" if p.get("score") is not None else ""
    return [
        f"{p['id']} · {p['name']}",
        place,
        f"Decision: {decision_label(p['decision'])} · fit: {p['fit']}{score}",
    ]


def _outranked_by(report: dict[str, Any], pid: str | None) -> str:
    other = program_index(report).get(pid or "")
    if other is None:
        return str(pid)
    return f"{other['id']} {other['name']} ({decision_label(other['decision'])}, {other['fit']}, {value_label(other)})"


def program_view(report: dict[str, Any], p: dict[str, Any]) -> str:
    out = _header(p) + ["", "HOW (the rules that led here, in order)"]
    for n, (step, b) in enumerate(chain(report, p), start=1):
        out += _wrap(f"{STEP_LABEL.get(step, step)}: {b['text']}", f"{n:>3}. ", "       ")
        out += _prov(b, "       ")
    if p.get("why_not"):
        out += ["", "WHY NOT"]
        for w in p["why_not"]:
            out += _wrap(f"{decision_label(w['tier'])}: {w['text']}", "  ", "       ")
            if w.get("outranked_by"):
                out += _wrap("outranked by " + _outranked_by(report, w["outranked_by"]), "       ")
            if w.get("rule"):
                out += _wrap(f"rule {w['rule']}", "       ")
    changes = would_change(p)
    if changes:
        out += ["", "WHAT WOULD CHANGE IT"]
        for c in changes:
            out += _wrap(f"- {c}", "  ", "    ")
    if p.get("considered"):
        out += ["", "ALSO TRUE, BUT NOT WHAT DECIDED"]
        for b in p["considered"]:
            out += _wrap(f"- {b['text']}", "  ", "    ")
            out += _prov(b, "    ")
    if p.get("advice"):
        out += ["", "SHOW INTEREST ANOTHER WAY"]
        for adv in p["advice"]:
            out += _wrap(f"- {adv['text']}", "  ", "    ")
            if adv.get("advice"):
                out += _wrap(f"What to do: {adv['advice']}", "    ")
            out += _prov(adv, "    ")
    tiers = [w["tier"] for w in p.get("why_not", [])]
    if tiers:
        out += ["", f"Ask about one tier: signalwise explain REPORT --program {p['id']} --why-not {tiers[0]}"]
    return "\n".join(out) + "\n"


def _score_table(report: dict[str, Any], a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    def parts(p: dict[str, Any]) -> dict[str, float]:
        return {
            score_part_label(str(x["rule"])): pts
            for step, x in chain(report, p)
            if step == "score" and (pts := points_of(x)) is not None
        }

    pa, pb = parts(a), parts(b)
    labels = sorted(set(pa) | set(pb))
    w = max([len(label) for label in labels] + [5])
    col = max(len(a["id"]), len(b["id"]), 6)

    def num(v: float | None) -> str:
        return "—" if v is None else (f"+{fmt(v)}" if v > 0 else fmt(v))

    out = [f"    {'':<{w}}  {a['id']:>{col}}  {b['id']:>{col}}"]
    out += [f"    {label:<{w}}  {num(pa.get(label)):>{col}}  {num(pb.get(label)):>{col}}" for label in labels]
    out.append(f"    {'total':<{w}}  {fmt(a.get('score')):>{col}}  {fmt(b.get('score')):>{col}}")
    return out


def _a(label: str) -> str:
    return f"an {label}" if label[:1] in "aeiou" else f"a {label}"


def why_not_view(report: dict[str, Any], p: dict[str, Any], tier: str) -> str:
    out = [f"Why not {_a(decision_label(tier))} for {p['id']} ({p['name']})?", ""]
    if p["decision"] == tier:
        out += _wrap(f"Decision: {decision_label(p['decision'])} (this program gets this tier).", "  ")
        alloc = [b for step, b in chain(report, p) if step == "allocation"]
        for b in alloc:
            out += _wrap(b["text"], "  ")
            out += _prov(b, "    ")
        return "\n".join(out) + "\n"
    w = next((x for x in p.get("why_not", []) if x.get("tier") == tier), None)
    if w is None:
        out += _wrap(
            f"Decision: {decision_label(p['decision'])}; the report records no why-not for {tier}.", "  "
        )
        return "\n".join(out) + "\n"
    out += _wrap(str(w["text"]), "  ")
    out.append("")
    reason = str(w.get("reason"))
    out += _wrap(
        f"Reason: {REASON_LABEL.get(reason, reason)}" + (f" (rule {w['rule']})" if w.get("rule") else ""),
        "  ",
        "    ",
    )
    rules = report.get("rules", {})
    if w.get("outranked_by"):
        out += _wrap("Outranked by: " + _outranked_by(report, w["outranked_by"]), "  ", "    ")
        other = program_index(report).get(w["outranked_by"])
        metric = (p.get("allocation") or {}).get("metric", "score")
        if other is not None and metric == "score":
            out += ["  Scores side by side (points):"] + _score_table(report, p, other)
            if p.get("score") is not None and other.get("score") is not None:
                gap = float(other["score"]) - float(p["score"])
                tie = " (a tie: your interest rating decides, then program id)" if gap == 0 else ""
                out.append(f"  Score gap: {fmt(gap)} point(s){tie}")
    if reason in ("excluded", "exempt", "reserve"):
        failing = [
            b
            for step, b in chain(report, p)
            if step == "status" and not str(b.get("rule", "")).endswith(".default")
        ]
        fits = [b for step, b in chain(report, p) if step == "fit"]
        if failing:
            out += ["", "  The condition that applies:"]
            for b in failing:
                out += _wrap(f"- {b['text']}", "    ", "      ")
                out += _prov(b, "      ")
        if p["fit"] == "closed" and fits:
            out += ["", "  Why it is closed to you:"]
            for b in fits:
                out += _wrap(f"- {b['text']}", "    ", "      ")
                out += _prov(b, "      ")
    if reason == "blocked" and w.get("rule") in rules:
        r = rules[w["rule"]]
        out += _wrap(f"Rule: {r.get('title')}", "  ", "    ")
        if r.get("rationale"):
            out += _wrap(f"Why the rule exists: {r['rationale']}", "  ", "    ")
        out += _wrap(f"source: {r.get('source') or 'none'} · {r.get('policy')}", "    ")
    if reason in ("range-full", "other-fits", "outranked"):
        sig = next((s for s in report.get("signals", []) if s["tier"] == tier), None)
        if sig is not None:
            q = (sig.get("quota") or {}).get(p["fit"])
            if q is not None:
                rng = str(q.get("min")) if q.get("min") == q.get("max") else f"{q.get('min')}-{q.get('max')}"
                used = (sig.get("by_fit") or {}).get(p["fit"], 0)
                owner = "signalwise's extension range" if sig.get("extension") else "the guide's range"
                out.append(f"  {decision_label(tier).capitalize()}s for {p['fit']} programs: {owner} {rng}, "
                           f"{used} used.")
            for b in sig.get("because", []):
                out += _wrap(f"The split: {b['text']}", "  ", "    ")
                out += _prov(b, "    ")
    changes = would_change(p)
    if changes:
        out += ["", "What would change it:"]
        for c in changes:
            out += _wrap(f"- {c}", "  ", "    ")
    out += ["", f"Decision now: {decision_label(p['decision'])}"]
    alloc = [b for step, b in chain(report, p) if step == "allocation"]
    for b in alloc:
        out += _wrap(b["text"], "  ")
    return "\n".join(out) + "\n"


def find_rule(report: dict[str, Any], path: str, query: str) -> str:
    rules = report.get("rules", {})
    known = sorted(
        set(rules)
        | {str(e.get("rule")) for _w, e in firing_entries(report) if e.get("rule")}
        | {
            str(w.get("rule"))
            for p in report.get("programs", [])
            for w in p.get("why_not", [])
            if w.get("rule")
        }
    )
    if query in known:
        return query
    hint = _did_you_mean(query, known, [k for k in known if query.lower() in k.lower()])
    raise input_error(
        path,
        f"no rule '{_shown(query)}' fired in this report",
        field="--rule",
        hint=hint or f"the report names {len(known)} rule(s); try one of: " + ", ".join(known[:5]),
    )


def rule_view(report: dict[str, Any], rule_id: str) -> str:
    r = report.get("rules", {}).get(rule_id)
    programs = program_index(report)
    out: list[str] = []
    if r is not None:
        out.append(f"Rule {rule_id}: {r.get('title')}")
        where = f"{r['file']}:{r['line']}" if r.get("file") else "(built-in default of a resolution)"
        fields = [
            ("policy", r.get("policy")),
            ("defined in", where),
            ("stage", r.get("stage")),
            ("because", r.get("because")),
            ("rationale", r.get("rationale")),
            ("advice", r.get("advice")),
            ("source", r.get("source") or "none"),
            ("fired", f"{r.get('fired')} time(s) in this report"),
        ]
        for label, value in fields:
            if value:
                out += _wrap(str(value), f"  {label + ':':<11} ", " " * 14)
        if r.get("programs"):
            out.append("  programs:")
            for pid in r["programs"]:
                p = programs.get(pid)
                out += _wrap(
                    f"{pid} {p['name']} ({decision_label(p['decision'])}, {p['fit']})" if p else pid, " " * 14
                )
    else:
        out.append(f"Rule {rule_id}")
        out += _wrap(
            "(not in the report's table of policy rules: a sentence the engine filled from "
            "policies/guidance/messages.yaml, or a rule named only by a why-not)",
            "  ",
        )
    said = [(where, e) for where, e in firing_entries(report) if e.get("rule") == rule_id]
    why_nots = [
        (p["id"], w)
        for p in report.get("programs", [])
        for w in p.get("why_not", [])
        if w.get("rule") == rule_id
    ]
    if said:
        out += ["", "Where it fired, and what it said:"]
        seen: set[tuple[str, str]] = set()
        for where, e in said:
            key = (where, str(e.get("text")))
            if key in seen:
                continue
            seen.add(key)
            out += _wrap(f"{where}: {e.get('text')}", "  ", "      ")
    if why_nots:
        out += ["", "Named in why-not answers:"]
        for pid, w in why_nots:
            out += _wrap(f"program {pid}, {decision_label(w['tier'])}: {w['text']}", "  ", "      ")
    if not said and not why_nots and r is not None:
        out += ["", "  (no sentence of this rule is shown in the report: it derives facts other rules use)"]
    return "\n".join(out) + "\n"
