"""Turn an `Evaluation` into the report: every decision with the rules, facts and sources behind it.

The report is plain data (the JSON report contract in schemas/report.schema.json); renderers only
format it. Lists are sorted by documented keys so the same inputs give byte-identical output.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .allocate import NearMiss, Pick
from .compiler import TYPE_KEY, flat
from .errors import EngineError
from .facts import ID_KEY, Fact
from .messages import tier_label
from .model import AnyOf, PolicySet, Rule, SourceRef, Test
from .pipeline import Evaluation, ResolutionOutcome, sha256_text
from .runtime import Firing
from .templates import fmt_value, render

REPORT_VERSION = "1.0"
TOOL_VERSION = "0.1.0"
LEVEL_ORDER = {"critical": 0, "warning": 1, "info": 2}


def source_text(ps: PolicySet, policy_ref: str, ref: SourceRef | None) -> str | None:
    src, at = ps.source(policy_ref, ref)
    return src.describe(at) if src is not None else None


def _used_fields(rule: Rule) -> dict[str, set[str]]:
    used: dict[str, set[str]] = defaultdict(set)

    def walk(tests: tuple[Test | AnyOf, ...], alias: str) -> None:
        for t in tests:
            if isinstance(t, AnyOf):
                for g in t.groups:
                    walk(g, alias)
            else:
                used[alias].add(t.field.removesuffix(".count") if t.op != "present" else t.field)
                for ref in _refs(t.value):
                    used[ref[0]].add(ref[1])
    for p in rule.patterns:
        if not p.negated:
            walk(p.tests, p.alias)
    import re
    for m in re.finditer(r"\{([a-z_][a-z0-9_]*)\.([a-z0-9_.]+)", rule.because):
        used[m.group(1)].add(m.group(2))
    return used


def _refs(v: Any) -> list[tuple[str, str]]:
    if isinstance(v, tuple) and v and v[0] == "ref":
        return [(v[1], v[2])]
    if isinstance(v, tuple):
        return [x for item in v for x in _refs(item)]
    return []


def matched_facts(ev: Evaluation, firing: Firing) -> dict[str, dict[str, Any]]:
    """The facts a firing matched, reduced to the fields its conditions and sentence used."""
    used = _used_fields(firing.rule)
    out: dict[str, dict[str, Any]] = {}
    for alias, fid in sorted(firing.matched.items()):
        fact = ev.store.get(fid)
        shown: dict[str, Any] = {"fact": fact[TYPE_KEY]}
        if ID_KEY in fact:
            shown["id"] = fact[ID_KEY]
        for field in sorted(used.get(alias, ())):
            value = fact.get(flat(field))
            if value is None and field.endswith(".count"):
                value = fact.get(flat(field[:-6]) + "__count")
            if value is not None:
                shown[field] = value
        out[alias] = shown
    return out


def firing_entry(ev: Evaluation, f: Firing) -> dict[str, Any]:
    entry = {
        "rule": f.rule.id, "policy": f.rule.policy, "text": _clean(f.text),
        "source": source_text(ev.policy_set, f.rule.policy, f.rule.source),
        "facts": matched_facts(ev, f),
    }
    if f.rule.would_change:
        matched = {alias: ev.store.get(fid) for alias, fid in f.matched.items()}
        entry["would_change"] = _clean(render(f.rule.would_change, matched))
    return entry


def _clean(text: str) -> str:
    return " ".join(text.split())


def _resolution_default_entry(ev: Evaluation, o: ResolutionOutcome) -> dict[str, Any]:
    res = o.resolution
    return {"rule": f"{res.id}.default", "policy": res.policy, "text": _clean(res.default_because or ""),
            "source": source_text(ev.policy_set, res.policy, res.default_source), "facts": {}}


def _outcome_entries(ev: Evaluation, o: ResolutionOutcome, by_output: dict[int, list[Firing]],
                     winners: bool = True) -> list[dict[str, Any]]:
    if o.default and winners:
        return [_resolution_default_entry(ev, o)]
    ids = o.winners if winners else o.others
    firings = sorted({id(f): f for fid in ids for f in by_output.get(fid, [])}.values(),
                     key=lambda f: (f.rule.priority, f.rule.id, f.seq))
    return [firing_entry(ev, f) for f in firings]


def build_report(ev: Evaluation) -> dict[str, Any]:
    ps = ev.policy_set
    by_output = ev.by_output()
    outcomes: dict[tuple[str, str | None], ResolutionOutcome] = {(o.resolution.produces, o.key): o
                                                                 for o in ev.resolutions}
    tier_outcome = next((o for o in ev.resolutions if o.resolution.produces == "applicant_tier"), None)
    picks = {p.program: p for p in ev.allocation.picks}
    near = defaultdict(list)
    for n in ev.allocation.near_misses:
        near[n.program].append(n)
    quota_firings = {f.rule.id: f for f in ev.firings if any(ev.store.get(o)[TYPE_KEY] == "quota_row"
                                                             for o in f.outputs)}
    finding_firings = [f for f in ev.firings if f.findings]
    advice_by_program: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in ev.firings:
        for fid in f.outputs:
            fact = ev.store.get(fid)
            if fact[TYPE_KEY] == "advice":
                advice_by_program[fact["program"]].append(
                    {"rule": f.rule.id, "policy": f.rule.policy, "kind": fact.get("kind"),
                     "text": _clean(f.text), "advice": _clean(f.rule.advice or ""),
                     "source": source_text(ps, f.rule.policy, f.rule.source)})
    scores = _score_entries(ev)
    idx = _Index.of(ev)
    programs = []
    for prog in sorted(ev.store.of_type("program"), key=lambda p: p[ID_KEY]):
        pid = prog[ID_KEY]
        fit_o = outcomes.get(("program_fit", pid))
        status_o = outcomes.get(("program_status", pid))
        if fit_o is None or status_o is None:
            raise EngineError(f"the policies did not resolve a fit and a status for program {pid}: "
                              "a `program-fit` and a `program-status` resolution with defaults are required")
        fit, status = fit_o.value, status_o.value
        pick = picks.get(pid)
        decision = pick.level if pick else ("excluded" if status == "excluded" else
                                            "exempt" if status == "exempt" else "none")
        because: list[dict[str, Any]] = []
        if fit_o:
            because += _outcome_entries(ev, fit_o, by_output)
        if status_o:
            because += _outcome_entries(ev, status_o, by_output)
        score = sum(s["points"] for s in scores.get(pid, []))
        if status == "eligible":
            because += [s["entry"] for s in scores.get(pid, [])]
            because.append(_allocation_entry(ev, idx, pid, pick, near.get(pid, []), quota_firings, score, fit))
        programs.append({
            "id": pid, "name": prog["name"], "state": prog["state"], "division": prog.get("division"),
            "region": prog.get("region"), "setting": prog.get("setting"), "fit": fit, "decision": decision,
            "score": round(score, 4) if status == "eligible" else None,
            "because": because,
            "considered": (_outcome_entries(ev, fit_o, by_output, winners=False) if fit_o else [])
                          + (_outcome_entries(ev, status_o, by_output, winners=False) if status_o else []),
            "why_not": _why_not(ev, idx, pid, decision, fit, status, score, by_output,
                                [e["rule"] for e in _outcome_entries(ev, status_o, by_output)]),
            "advice": sorted(advice_by_program.get(pid, []), key=lambda a: a["rule"]),
        })
    if tier_outcome is None:
        raise EngineError("the policies did not resolve the applicant's tier (an `applicant_tier` resolution "
                          "with a default is required)")
    tier = tier_outcome.value
    indicators = sorted((firing_entry(ev, f) for f in ev.firings
                         if any(ev.store.get(o)[TYPE_KEY] == "indicator" for o in f.outputs)),
                        key=lambda e: e["rule"])
    signals = []
    for lv in ev.allocation.levels:
        qf = quota_firings.get(lv.rule or "")
        signals.append({
            "tier": lv.level, "available": lv.available, "assigned": lv.assigned,
            "by_fit": {fit: lv.counts.get(fit, 0) for fit in sorted(lv.counts)},
            "quota": {fit: {"min": lo, "max": hi} for fit, (lo, hi) in sorted(lv.ranges.items())},
            "because": [firing_entry(ev, qf)] if qf else [],
        })
    findings = []
    for f in finding_firings:
        for item in f.findings:
            findings.append({"level": item["level"], "rule": f.rule.id, "policy": f.rule.policy,
                             "text": _clean(f.text), "advice": _clean(f.rule.advice or ""),
                             "program": item.get("program"),
                             "source": source_text(ps, f.rule.policy, f.rule.source)})
    findings.sort(key=lambda x: (LEVEL_ORDER.get(x["level"], 9), x["rule"], x["program"] or "", x["text"]))
    return {
        "report_version": REPORT_VERSION,
        "specialty": ev.context["specialty"],
        "cycle": ev.context["cycle"],
        "inputs": {
            "profile": {"file": ev.profile.file, "sha256": sha256_text(ev.profile.text)},
            "programs": {"file": ev.shortlist.file, "sha256": sha256_text(ev.shortlist.text),
                         "count": len(ev.shortlist.programs)},
            "signals_from": ev.signals.origin,
            "strategy": ev.request.strategy,
            "signalwise": TOOL_VERSION,
        },
        "applicant": {
            "tier": tier,
            "because": _outcome_entries(ev, tier_outcome, by_output) if tier_outcome else [],
            "indicators": indicators,
            "geography": {k: list(v) for k, v in sorted((ev.profile.data.get("geography") or {}).items())},
            "goals": ev.profile.data.get("goals") or {},
        },
        "rules": _rules_used(ev),
        "signals": signals,
        "programs": programs,
        "findings": findings,
        "context": _context_entries(ev),
        "strategy": ev.request.strategy,
        "outcome": _outcome(ev),
        "optimizer": _optimizer(ev),
        "policies": [{"id": p.id, "version": p.version, "sha256": p.sha256, "file": p.file, "kind": p.kind,
                      "sources": [{"key": k, "title": src.title, "url": src.url, "reliability": src.reliability}
                                  for k, src in sorted(p.sources.items())]}
                     for p in sorted(ps.policies, key=lambda p: p.id)],
    }


def _rules_used(ev: Evaluation) -> dict[str, dict[str, Any]]:
    """Every rule that fired, with its title, rationale, source and the programs it fired for."""
    ps = ev.policy_set
    out: dict[str, dict[str, Any]] = {}
    for f in ev.firings:
        r = f.rule
        item = out.setdefault(r.id, {
            "title": r.title, "policy": r.policy, "file": r.file, "line": r.line, "stage": r.phase,
            "because": _clean(r.because), "rationale": _clean(r.rationale or ""),
            "advice": _clean(r.advice or ""), "source": source_text(ps, r.policy, r.source),
            "fired": 0, "programs": set(),
        })
        item["fired"] += 1
        for fid in (*f.matched.values(), *f.outputs):
            fact = ev.store.get(fid)
            pid = fact.get(ID_KEY) if fact[TYPE_KEY] == "program" else fact.get("program")
            if pid:
                item["programs"].add(pid)
    for item in out.values():
        item["programs"] = sorted(item["programs"])
    for o in ev.resolutions:
        if o.default:
            res = o.resolution
            item = out.setdefault(f"{res.id}.default", {
                "title": f"Default for {res.id}", "policy": res.policy, "file": None, "line": None,
                "stage": res.after, "because": _clean(res.default_because or ""),
                "rationale": _clean(res.default_rationale or ""), "advice": "",
                "source": source_text(ps, res.policy, res.default_source), "fired": 0, "programs": []})
            item["fired"] += 1
            if o.key:
                item["programs"].append(o.key)
    for item in out.values():
        item["programs"] = sorted(set(item["programs"]))
    return dict(sorted(out.items()))


def _score_entries(ev: Evaluation) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in ev.firings:
        for fid in f.outputs:
            fact = ev.store.get(fid)
            if fact[TYPE_KEY] == "score":
                entry = firing_entry(ev, f)
                pts = float(fact.get("points") or 0)
                unit = "point" if abs(pts) == 1 else "points"
                entry["text"] = f"{entry['text']} ({'+' if pts >= 0 else ''}{fmt_value(pts)} {unit})"
                entry["points"] = pts
                out[fact["program"]].append({"points": pts, "entry": entry})
    for items in out.values():
        items.sort(key=lambda s: (s["entry"]["rule"]))
    return out


def _a_level(level: str) -> str:
    return "a signal" if level == "signal" else f"a {level} signal"


def _tie_note(score: float, other: float) -> str:
    return " (equal scores are ordered by program id)" if score == other else ""


@dataclass(frozen=True)
class _Index:
    """Lookups the explainer needs for every program, built once per report."""

    picks_by_pair: dict[tuple[str, str], list[Pick]]
    blocks: dict[str, dict[str, Fact]]

    @classmethod
    def of(cls, ev: Evaluation) -> _Index:
        picks: dict[tuple[str, str], list[Pick]] = defaultdict(list)
        for p in ev.allocation.picks:
            picks[(p.level, p.fit)].append(p)
        blocks: dict[str, dict[str, Fact]] = defaultdict(dict)
        for b in ev.store.of_type("level_block"):
            blocks[b["program"]][b["level"]] = b
        return cls(picks, blocks)


def _allocation_entry(ev: Evaluation, idx: _Index, pid: str, pick: Pick | None, misses: list[NearMiss],
                      quota_firings: dict[str, Firing], score: float, fit: str) -> dict[str, Any]:
    """HOW the allocator treated an eligible program: picked (and in which pass) or why not."""
    ps = ev.policy_set
    levels = {lv.level: lv for lv in ev.allocation.levels}

    def entry(key: str, at_level: str | None, facts: dict[str, Any], **values: Any) -> dict[str, Any]:
        lv = levels.get(at_level or "")
        qf = quota_firings.get(lv.rule or "") if lv else None
        return {"rule": qf.rule.id if qf else f"allocate.{key}", "policy": ps.message_owner(key),
                "text": _clean(ps.message(key, **values)),
                "source": source_text(ps, qf.rule.policy, qf.rule.source) if qf else None, "facts": facts}

    if pick is not None and pick.step == "optimal" and ev.optimization is not None:
        lv = levels[pick.level]
        opt = ev.optimization
        row = opt.inputs.rates.get(pid) or {}
        rate, rate_none = row.get(pick.level), row.get("none")
        detail = next((s["text"] for s in opt.explanation["signals"] if s["program"] == pid), "")
        gain = (rate.value - rate_none.value) if rate is not None and rate_none is not None else None
        return entry("allocation.pick.optimal", pick.level,
                     {"signal": {"fact": "signal", "program": pid, "level": pick.level, "fit": pick.fit,
                                 "rank": pick.rank}},
                     a_level=_a_level(pick.level), gain="unknown" if gain is None else f"{gain:+.2f}",
                     rate="unknown" if rate is None else f"{rate.value:.2f}",
                     rate_none="unknown" if rate_none is None else f"{rate_none.value:.2f}",
                     rate_source=(rate.source if rate is not None else "no rate"), strategy=opt.strategy,
                     fit=pick.fit, rank=pick.rank, available=lv.available, detail=detail)
    if pick is not None:
        lv = levels[pick.level]
        lo, hi = lv.ranges.get(pick.fit, (0, 0))
        return entry(f"allocation.pick.{pick.step}", pick.level,
                     {"signal": {"fact": "signal", "program": pid, "level": pick.level, "fit": pick.fit,
                                 "rank": pick.rank}},
                     a_level=_a_level(pick.level), score=fmt_value(pick.score), fit=pick.fit, lo=lo, hi=hi,
                     rank=pick.rank, available=lv.available)
    covered = ev.allocation.covered.get(pid)
    if covered:
        return entry("allocation.covered", None, {}, covered_by=covered)
    by_pair = idx.picks_by_pair
    for miss in misses:
        lv = levels[miss.level]
        lo, hi = lv.ranges.get(miss.fit, (0, 0))
        last = by_pair[(miss.level, miss.fit)][-1] if by_pair[(miss.level, miss.fit)] else None
        if last is not None:
            key = "allocation.near-miss" if len(by_pair[(miss.level, miss.fit)]) >= hi else \
                "allocation.near-miss.other-fits"
            return entry(key, miss.level, {}, a_level=_a_level(miss.level), fit=miss.fit,
                         score=fmt_value(miss.score), last_pick=last.program, last_score=fmt_value(last.score),
                         lo=lo, hi=hi, tie_note=_tie_note(miss.score, last.score))
    last_level = ev.allocation.levels[-1].level if ev.allocation.levels else "signal"
    last_lv = levels.get(last_level)
    lo, hi = last_lv.ranges.get(fit, (0, 0)) if last_lv else (0, 0)
    taken = len(by_pair[(last_level, fit)])
    if taken == 0:
        return entry("allocation.no-room", last_level, {}, level_signal=tier_label(last_level), fit=fit)
    key = "allocation.outranked" if taken >= hi else "allocation.outranked.other-fits"
    return entry(key, last_level, {}, level_signal=tier_label(last_level), fit=fit, lo=lo,
                 hi=hi, taken=taken, score=fmt_value(score))


def _why_not(ev: Evaluation, idx: _Index, pid: str, decision: str, fit: str, status: str, score: float,
             by_output: dict[int, list[Firing]], status_rules: list[str]) -> list[dict[str, Any]]:
    """For each signal tier the program did not get: the blocking rule or the program that outranked it."""
    ps = ev.policy_set
    out = []
    levels = [lv.level for lv in ev.allocation.levels]
    blocks = idx.blocks.get(pid, {})
    by_pair = idx.picks_by_pair
    for level in levels:
        if level == decision:
            continue
        if decision in levels and levels.index(decision) < levels.index(level):
            out.append({"tier": level, "reason": "stronger-tier", "rule": None,
                        "text": ps.message("why-not.taken", decision=decision)})
            continue
        if status != "eligible":
            out.append({"tier": level, "reason": status, "rule": status_rules[0] if status_rules else None,
                        "text": ps.message("why-not.status", status=status)})
            continue
        if level in blocks:
            f = by_output.get(int(blocks[level]["_id"]), [])
            out.append({"tier": level, "reason": "blocked", "rule": f[0].rule.id if f else None,
                        "text": ps.message("why-not.blocked", text=_clean(f[0].text) if f else level)})
            continue
        lv = next(x for x in ev.allocation.levels if x.level == level)
        lo, hi = lv.ranges.get(fit, (0, 0))
        picks = by_pair[(level, fit)]
        if not picks and hi == 0:
            out.append({"tier": level, "reason": "no-quota", "rule": lv.rule,
                        "text": ps.message("why-not.no-quota", level_signal=tier_label(level), fit=fit)})
        elif not picks:
            out.append({"tier": level, "reason": "not-reached", "rule": lv.rule,
                        "text": ps.message("why-not.not-reached", level_signal=tier_label(level), fit=fit,
                                           lo=lo, hi=hi)})
        elif picks:
            last = picks[-1]
            out.append({"tier": level, "reason": "outranked", "rule": lv.rule, "outranked_by": last.program,
                        "text": ps.message("why-not.outranked", level_signal=tier_label(level), fit=fit,
                                           last_pick=last.program, last_score=fmt_value(last.score),
                                           score=fmt_value(score), tie_note=_tie_note(score, last.score))})
        else:
            out.append({"tier": level, "reason": "full", "rule": lv.rule,
                        "text": ps.message("why-not.full", level_signal=tier_label(level), fit=fit, lo=lo, hi=hi,
                                           taken=len(picks), score=fmt_value(score))})
    return out


def _outcome(ev: Evaluation) -> dict[str, Any] | None:
    """Expected interviews and P(at least k) for the plan, from rates with named sources (None if unknown)."""
    opt = ev.optimization
    if opt is None or not opt.inputs.has_data():
        return None
    from .outcome import outcome

    decisions = {p.program: p.level for p in ev.allocation.picks}
    result: dict[str, Any] = outcome(decisions, opt.inputs.rates,
                                     programs=[p["id"] for p in ev.shortlist.programs]).to_json()
    result["strategy"] = opt.strategy
    result["notes"] = opt.inputs.notes()
    return result


def _optimizer(ev: Evaluation) -> dict[str, Any] | None:
    """What the solver did and why, and the rate (with its source) behind every signaled program."""
    opt = ev.optimization
    if opt is None or not opt.inputs.has_data():
        return None
    picked = {p.program: p.level for p in ev.allocation.picks}
    rates = {pid: {tier: (r.to_json() if r is not None else None) for tier, r in sorted(row.items())}
             for pid, row in sorted(opt.inputs.rates.items()) if pid in picked}
    return {
        "used": opt.plan is not None,
        "plan": opt.plan.to_json() if opt.plan is not None else None,
        "signals": opt.explanation["signals"],
        "unused_gains": opt.explanation["unused"],
        "rates": rates,
    }


def _context_entries(ev: Evaluation) -> dict[str, Any]:
    """The numbers this evaluation used, each with where it came from."""
    ps = ev.policy_set
    out: dict[str, Any] = {}
    for p in ps.policies:
        for name, param in sorted(p.parameters.items()):
            value = ev.context.get(name) if name in ev.context else param.value
            origin = source_text(ps, p.ref, param.source)
            if name == "step2_reference" and ev.context.get("step2_reference_origin") == "profile":
                origin = f"your profile ({ev.profile.file})"
            out[name] = {"value": value, "unit": param.unit, "policy": p.ref, "source": origin,
                         "note": param.note}
    if "step2_reference" not in out:
        origin = "your profile" if ev.context.get("step2_reference_origin") == "profile" else None
        out["step2_reference"] = {"value": ev.context.get("step2_reference"), "unit": "USMLE Step 2 CK",
                                  "policy": None, "source": origin,
                                  "note": None if origin else "not known for this specialty and cycle"}
    spec = ps.specialty
    sig_source = (source_text(ps, spec.ref, spec.specialty.signals_source)
                  if spec and spec.specialty and ev.signals.origin != "--signals" else "--signals on the command line")
    out["signals"] = {"value": {name: count for name, count in ev.signals.tiers}, "unit": "signals",
                      "policy": spec.ref if spec and ev.signals.origin != "--signals" else None,
                      "source": sig_source, "note": spec.specialty.signals_note if spec and spec.specialty else None}
    return dict(sorted(out.items()))

