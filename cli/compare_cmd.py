"""`signalwise compare`: your own signal plan vs the guide-ratio plan vs the optimal (gain) plan.

Expected interviews and P(at least k) for each plan (exact Poisson-binomial), the single changes that
would add the most to your plan, why the optimal plan signals where it does, and every rate's source.
"""

from __future__ import annotations

import difflib
import json
from typing import TYPE_CHECKING, Any

import click

from .options import evaluation_inputs
from .output import emit, format_option, output_option, template_option, verbose_option

if TYPE_CHECKING:
    from signalwise.engine.pipeline import Evaluation
    from signalwise.engine.plan.interview_model import GainInputs

PLAN_NAMES = ("yours", "guide", "optimal")
PLAN_TITLES = {"yours": "your plan", "guide": "guide plan", "optimal": "optimal (gain)"}


@click.command("compare")
@evaluation_inputs
@click.option("--plan", "plan", required=True, type=click.Path(dir_okay=True),
              help="Your plan: a YAML mapping of program id -> tier (e.g. GSI-01: gold).")
@click.option("--at-least", "at_least", default=None,
              help="Interview counts k for P(at least k), comma-separated (default 1,3,5,8,10,12,15).")
@click.option("--maximize-p-at-least", "goal_k", type=click.IntRange(1, 200), default=None,
              help="Let the optimal plan maximise P(at least K interviews) instead of expected interviews "
                   "(local search, a heuristic; see docs/optimizer.md).")
@format_option()
@output_option("Write the comparison here.")
@verbose_option
@template_option
def compare_command(profile: str, programs: str, plan: str, specialty: str | None, cycle: str | None,
                    signals: str | None, policies: str | None, at_least: str | None, goal_k: int | None,
                    fmt: str, output: str | None, verbose: bool, template: str | None) -> None:
    """Compare your signal plan with the guide-ratio plan and the plan that maximises expected interviews."""
    from signalwise.engine.chain.context import parse_signals_option
    from signalwise.engine.pipeline import Request, evaluate

    ks = _parse_ks(at_least)
    req = Request(profile, programs, specialty, cycle,
                  parse_signals_option(signals) if signals is not None else None, policies)
    ev = evaluate(req)
    report = build_comparison(ev, plan, ks=ks, goal_k=goal_k)
    if fmt == "json":
        text = json.dumps(report, indent=2, sort_keys=False) + "\n"
    elif fmt == "md":
        text = render_markdown(report, verbose=verbose)
    elif fmt == "html":
        text = render_html(report, verbose=verbose, template_dir=template)
    else:
        text = render_text(report, verbose=verbose)
    emit(text, fmt=fmt, output=output, command="compare", inputs=(profile, programs, plan), policies=policies)


def _parse_ks(text: str | None) -> tuple[int, ...]:
    from signalwise.engine.errors import InputError, Problem
    from signalwise.engine.plan.outcome import DEFAULT_KS

    if text is None:
        return DEFAULT_KS
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 500:
            raise InputError([Problem("command line", None, "--at-least", f"cannot read {part!r}",
                                      "give whole numbers from 1 to 500, e.g. --at-least 5,10")])
        out.append(int(part))
    return tuple(sorted(set(out)))


# ----------------------------------------------------------------------------------------------------


def load_plan(path: str, ev: Evaluation, gi: GainInputs) -> dict[str, str]:
    """Read and validate the applicant's plan; every problem at once (exit 2)."""
    from signalwise.engine.errors import InputError, Problem
    from signalwise.engine.load.files import read_text
    from signalwise.engine.load.yamlsafe import load_yaml_text
    from signalwise.engine.plan.outcome import NONE

    text = read_text(path)
    data, positions = load_yaml_text(text, path)
    levels = [name for name, _ in ev.signals.tiers]
    counts = dict(ev.signals.tiers)
    hint_tiers = ", ".join([*levels, NONE])
    if not isinstance(data, dict):
        raise InputError([Problem(path, 1, None, "a plan must be a mapping of program id -> tier",
                                  f"for example `{ev.shortlist.programs[0]['id']}: {levels[0]}`"
                                  if ev.shortlist.programs and levels else None)])
    ids = [p["id"] for p in ev.shortlist.programs]
    problems: list[Problem] = []
    plan: dict[str, str] = {}
    for key, tier in data.items():
        pid = str(key)
        line = positions.get((pid,))
        if pid not in ids:
            guess = difflib.get_close_matches(pid, ids, n=1, cutoff=0.6)
            hint = f"did you mean '{guess[0]}'?" if guess else "use ids from your shortlist"
            problems.append(Problem(path, line, pid, f"'{pid}' is not a program id in {ev.shortlist.file}",
                                    hint))
            continue
        if not isinstance(tier, str) or tier not in (*levels, NONE):
            problems.append(Problem(path, line, str(pid), f"got {tier!r}; expected one of: {hint_tiers}",
                                    f"{ev.context['specialty']} {ev.context['cycle']} signals are "
                                    + ", ".join(f"{n} {t}" for t, n in ev.signals.tiers)))
            continue
        if tier != NONE:
            plan[pid] = tier
    for tier in levels:
        used = [p for p, t in plan.items() if t == tier]
        if len(used) > counts[tier]:
            problems.append(Problem(path, positions.get((used[counts[tier]],)), used[counts[tier]],
                                    f"{len(used)} {tier} signals given, but there are only {counts[tier]}",
                                    f"remove {len(used) - counts[tier]} {tier} signal(s)"))
    if gi.institution_scope:
        inst = {c.program: c.institution for c in gi.candidates}
        seen: dict[str, str] = {}
        for pid in sorted(plan, key=lambda p: positions.get((p,), 0)):
            i = inst.get(pid)
            if i and i in seen:
                problems.append(Problem(path, positions.get((pid,)), pid,
                                        f"{pid} and {seen[i]} are both at institution '{i}', and "
                                        f"{ev.context['specialty']} signals go to the institution",
                                        "keep one of the two"))
            elif i:
                seen[i] = pid
    if problems:
        raise InputError(problems)
    return plan


def _plan_warnings(plan: dict[str, str], gi: GainInputs) -> list[str]:
    by_id = {c.program: c for c in gi.candidates}
    out = []
    for pid, tier in sorted(plan.items()):
        c = by_id[pid]
        if not c.eligible:
            out.append(f"{pid}: the rules exclude this program (see `signalwise evaluate`); "
                       "its rates still count")
        elif tier in c.blocked_levels:
            out.append(f"{pid}: a rule advises against a {tier} signal here (see `signalwise evaluate`)")
    return out


def build_comparison(ev: Evaluation, plan_file: str, *, ks: tuple[int, ...], goal_k: int | None = None,
                     ) -> dict[str, Any]:
    """The comparison as plain data (the `--format json` output)."""
    from signalwise.engine.errors import InputError, Problem
    from signalwise.engine.plan.optimize import explain_plan, improvement_path, optimize, plan_metrics
    from signalwise.engine.plan.outcome import outcome

    if ev.optimization is None:
        raise InputError([Problem(ev.shortlist.file, None, None, "there are no signals to compare this cycle")])
    gi = ev.optimization.inputs
    gi.require_data(ev.shortlist.file)
    yours = load_plan(plan_file, ev, gi)
    ids = [p["id"] for p in ev.shortlist.programs]
    kw: dict[str, Any] = {"institution_scope": gi.institution_scope}
    guide = optimize(gi.candidates, gi.quotas, gi.rates, "guide", **kw)   # the plan `evaluate` gives
    best = optimize(gi.candidates, gi.quotas, gi.rates, "gain", **kw)
    if goal_k is not None:
        best = optimize(gi.candidates, gi.quotas, gi.rates, "gain", objective="p_at_least", k=goal_k, **kw)
    plans = {"yours": yours, "guide": guide.decisions, "optimal": best.decisions}
    ks_all = tuple(sorted(set(ks) | ({goal_k} if goal_k else set())))
    fit = {c.program: c.fit for c in gi.candidates}
    plan_out: dict[str, Any] = {}
    for name, decisions in plans.items():
        o = outcome(decisions, gi.rates, programs=ids, ks=ks_all)
        counts, shortfall, overflow, deviation = plan_metrics(decisions, gi.candidates, gi.quotas)
        plan_out[name] = {
            "decisions": dict(sorted(decisions.items())),
            "outcome": o.to_json(),
            "by_fit": counts,
            "guide_shortfall": {t: v for t, v in shortfall.items() if v},
            "distance_from_guide_ranges": deviation,
        }
    plan_out["guide"]["solver"] = {"name": guide.solver, "solves": guide.solves}
    plan_out["optimal"]["solver"] = {"name": best.solver, "solves": best.solves, "objective": best.objective,
                                     "search": best.search, "notes": best.notes}
    swaps = improvement_path(yours, gi.candidates, gi.quotas, gi.rates,
                             institution_scope=gi.institution_scope)
    explanations = explain_plan(best.decisions, gi.candidates, gi.quotas, gi.rates,
                                institution_scope=gi.institution_scope, strategy="gain")
    guide_explanations = explain_plan(guide.decisions, gi.candidates, gi.quotas, gi.rates,
                                      institution_scope=gi.institution_scope, strategy="guide")
    rows = []
    for pid in ids:
        row_rates = gi.rates.get(pid, {})
        rows.append({
            "program": pid, "fit": fit.get(pid),
            "eligible": next((c.eligible for c in gi.candidates if c.program == pid), False),
            "yours": yours.get(pid), "guide": guide.decisions.get(pid), "optimal": best.decisions.get(pid),
            "rates": {t: (r.to_json() if r is not None else None) for t, r in row_rates.items()},
        })
    return {
        "specialty": ev.context["specialty"], "cycle": ev.context["cycle"],
        "signals": {name: count for name, count in ev.signals.tiers},
        "inputs": {"profile": ev.profile.file, "programs": ev.shortlist.file, "plan": plan_file},
        "model": gi.model.to_json() if gi.model is not None else None,
        "plans": plan_out,
        "swaps": swaps,
        "explanations": {"optimal": explanations, "guide": guide_explanations},
        "programs": rows,
        "sources": _sources(gi),
        "warnings": _plan_warnings(yours, gi),
        "notes": gi.notes(ev.policy_set.message),
    }


def _sources(gi: GainInputs) -> list[dict[str, Any]]:
    """Each distinct rate source, with the tiers and how many programs use it."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for _, row in sorted(gi.rates.items()):
        for tier, r in row.items():
            if r is None:
                continue
            key = (r.source, tier)
            entry = seen.setdefault(key, {
                "tier": tier, "source": r.source, "origin": r.origin, "reliability": r.reliability,
                "value": r.value if r.origin == "model" else None, "low": r.low, "high": r.high,
                "range_note": r.range_note, "note": r.note, "programs": 0})
            entry["programs"] += 1
    return sorted(seen.values(), key=lambda e: (e["origin"], e["tier"], e["source"]))


# ----------------------------------------------------------------------------------------------------


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def render_text(r: dict[str, Any], verbose: bool = False) -> str:
    sig = ", ".join(f"{n} {t}" if t != "signal" else f"{n} signal{'s' if n != 1 else ''}"
                    for t, n in r["signals"].items())
    lines = [f"signalwise compare: {r['specialty']}, {r['cycle']} ({sig})", ""]
    plans = r["plans"]
    head = f"{'':24}" + "".join(f"{PLAN_TITLES[n]:>16}" for n in PLAN_NAMES)
    lines.append(head)
    lines.append(f"{'expected interviews':24}" + "".join(
        f"{_fmt(plans[n]['outcome']['expected_interviews']):>16}" for n in PLAN_NAMES))
    def band(o: dict[str, Any]) -> str:
        if o["low"] is None or len(o["ranges_missing"]) >= o["programs_counted"]:
            return "no ranges"
        return f"{_fmt(o['low'])} - {_fmt(o['high'])}"
    lines.append(f"{'  low - high':24}" + "".join(f"{band(plans[n]['outcome']):>16}" for n in PLAN_NAMES))
    for k in plans["yours"]["outcome"]["p_at_least"]:
        lines.append(f"{'P(at least ' + k + ')':24}" + "".join(
            f"{_fmt(plans[n]['outcome']['p_at_least'][k]):>16}" for n in PLAN_NAMES))
    lines.append(f"{'distance from guide':24}" + "".join(
        f"{plans[n]['distance_from_guide_ranges']:>16}" for n in PLAN_NAMES))
    unknown = plans["optimal"]["outcome"]["unknown_programs"]
    if unknown:
        lines.append(f"  (left out, rate unknown: {', '.join(unknown)})")
    lines += ["", "  low - high: every rate at the low / high end of its range (not a confidence interval)."]
    lines += ["", "Signals:",
              f"  {'program':12}{'fit':9}{'yours':>9}{'guide':>9}{'optimal':>9}   gain if signaled"]
    tiers = list(r["signals"])
    for row in r["programs"]:
        if not (row["yours"] or row["guide"] or row["optimal"]):
            continue
        gains = []
        none = (row["rates"].get("none") or {}).get("value")
        for t in tiers:
            v = (row["rates"].get(t) or {}).get("value")
            gains.append(f"{t} {'+' if v is not None and none is not None and v >= none else ''}"
                         f"{_fmt(None if v is None or none is None else v - none)}")
        lines.append(f"  {row['program']:12}{row['fit'] or '-':9}{row['yours'] or '-':>9}"
                     f"{row['guide'] or '-':>9}{row['optimal'] or '-':>9}   {', '.join(gains)}")
    lines += ["", "Changes that would add the most to your plan (each on top of the previous):"]
    lines += [f"  {i}. {s['text']} (total {'+' if s['cumulative'] >= 0 else ''}{s['cumulative']:.2f})"
              for i, s in enumerate(r["swaps"], 1)] or ["  none: no single move or swap adds interviews"]
    lines += ["", "Why the optimal plan signals where it does:"]
    lines += [f"  {e['text']}" for e in r["explanations"]["optimal"]["signals"]]
    if r["explanations"]["optimal"]["unused"]:
        lines += ["", "Large gains left unused by the optimal plan:"]
        lines += [f"  {u['text']}" for u in r["explanations"]["optimal"]["unused"]]
    lines += ["", "Rates used (P(interview) by tier):"]
    for s in r["sources"]:
        if s["origin"] == "shortlist":
            lines.append(f"  {s['tier']:7} {s['programs']} program{'' if s['programs'] == 1 else 's'}: {s['source']}")
        else:
            rng = (f" (range {_fmt(s['low'], 3)}-{_fmt(s['high'], 3)}: {s['range_note']})"
                   if s["low"] is not None else " (no range published)")
            lines.append(f"  {s['tier']:7} {s['programs']} program{'' if s['programs'] == 1 else 's'}: "
                         f"{_fmt(s['value'], 3)}{rng}, "
                         f"{s['source']}")
    if r["warnings"]:
        lines += ["", "About your plan:"] + [f"  - {w}" for w in r["warnings"]]
    if r["notes"]:
        lines += ["", "Notes:"] + [f"  - {n}" for n in r["notes"]]
    if verbose:
        solver = plans["optimal"]["solver"]
        lines += ["", f"How the optimal plan was computed: {solver['name']}; "
                  f"{solver['solves']} solve{'' if solver['solves'] == 1 else 's'}."]
        lines += [f"  {note}" for note in solver.get("notes") or []]
    return "\n".join(lines) + "\n"


def render_markdown(r: dict[str, Any], verbose: bool = False) -> str:
    """The comparison as Markdown: the same content as the text, with tables."""
    text = render_text(r, verbose=verbose).splitlines()
    out = [f"# {text[0].removeprefix('signalwise compare: ').capitalize()}", ""]
    out += ["```", *text[2:], "```", ""]
    return "\n".join(out)


def render_html(r: dict[str, Any], verbose: bool = False, template_dir: str | None = None) -> str:
    """The comparison as one self-contained page, in the evaluate report's look (text_page.html.j2)."""
    from signalwise.engine.render.templating import render_page

    lines = render_text(r, verbose=verbose).splitlines()
    title = "Compare plans: " + lines[0].removeprefix("signalwise compare: ")
    return render_page("text_page.html.j2", {"title": title, "subtitles": [], "section_id": "comparison",
                                             "text": "\n".join(lines[2:])}, template_dir)
