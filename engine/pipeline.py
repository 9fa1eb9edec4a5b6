"""One evaluation, start to finish: load -> validate -> compile -> chain -> allocate -> (explain).

`evaluate()` is the single entry point the CLI, tests and batch runs share. Each call builds its own
fact store and session; nothing from one evaluation is visible to the next.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import field, replace
from datetime import date
from pathlib import Path
from typing import Any

from .chain.context import SignalSpec, build_context, signal_spec
from .chain.facts import ID_KEY, Fact, FactStore, make_fact
from .chain.runtime import Firing, firing_bound, runtime_for
from .errors import InputError, Problem
from .load.geography import locate
from .load.inputs import Profile, Shortlist, load_profile, load_programs
from .load.schemas import load_schema
from .plan.allocate import allocate
from .plan.candidates import build_candidates
from .plan.interview_model import GainInputs, gain_inputs, has_rate_columns
from .plan.quotas import Allocation, Candidate, LevelQuota, quota_from_row
from .policy.catalogue import Catalogue, bundled_root, choose_season, ended_text, seasons, today
from .policy.compiler import TYPE_KEY, policy_set_key
from .policy.messages import tier_label
from .policy.model import Aggregate, PolicySet, Resolution
from .policy.specialties import resolve_specialty
from .records import record


@record
class Request:
    profile: str
    programs: str
    specialty: str | None = None
    cycle: str | None = None
    signals: SignalSpec | None = None
    policies: str | None = None  # policy root; default: the bundled policies
    strategy: str = "guide"      # guide: the applicant's preferences; gain: expected interviews (needs rates)


@record(frozen=False)
class ResolutionOutcome:
    resolution: Resolution
    key: str | None
    value: str
    fact_id: int
    winners: list[int]           # vote fact ids with the winning value
    others: list[int]            # vote fact ids with other values
    default: bool


@record(frozen=False)
class Optimization:
    """The interview-rate side of an evaluation: the rates known, and under strategy "gain" the plan's
    description and what each signal buys. Under strategy "guide" the rates never choose a program; they
    only give the plan's expected outcome."""

    strategy: str
    inputs: GainInputs
    plan: Any | None     # optimize.Plan under strategy "gain", else None
    explanation: dict[str, list[dict[str, Any]]]


@record(frozen=False)
class Evaluation:
    request: Request
    profile: Profile
    shortlist: Shortlist
    policy_set: PolicySet
    signals: SignalSpec
    context: dict[str, Any]
    store: FactStore
    firings: list[Firing]
    allocation: Allocation
    quotas: list[LevelQuota]
    resolutions: list[ResolutionOutcome] = field(default_factory=list)
    optimization: Optimization | None = None
    candidates: list[Candidate] = field(default_factory=list)
    cycle_choice: str | None = None  # how the cycle was chosen from today's date, when no one named it

    def by_output(self) -> dict[int, list[Firing]]:
        out: dict[int, list[Firing]] = defaultdict(list)
        for f in self.firings:
            for fid in f.outputs:
                out[fid].append(f)
        return out


def load_inputs(req: Request) -> tuple[Profile, Shortlist]:
    """Load both files, reporting problems in both at once."""
    problems: list[Problem] = []
    profile = shortlist = None
    try:
        profile = load_profile(req.profile, Catalogue(Path(req.policies) if req.policies else bundled_root()).ids)
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        shortlist = load_programs(req.programs)
    except InputError as exc:
        problems.extend(exc.problems)
    if problems or profile is None or shortlist is None:
        raise InputError(problems)
    return profile, shortlist


def evaluate(req: Request) -> Evaluation:
    _check_overrides(req)
    profile, shortlist = load_inputs(req)
    data = dict(profile.data)
    catalogue = Catalogue(Path(req.policies) if req.policies else bundled_root())
    data["specialty"] = _resolve_specialty(catalogue, req, profile, data)
    day = today()
    origin = "option" if req.cycle else "profile" if data.get("cycle") else "today"
    choice = None
    if req.cycle:
        data["cycle"] = req.cycle
    elif origin == "today":
        choice = choose_season(catalogue.seasons(), data["specialty"], day)
        if choice is None:
            raise InputError([Problem(profile.file, None, "cycle", "no cycle given, and no policy has effective "
                                      "dates to choose one by today's date", "add `cycle:` or pass --cycle")])
        data["cycle"] = choice.season.cycle
    where = (profile.file, profile.positions.get(("cycle",)))
    ps = catalogue.policy_set(data["cycle"], data["specialty"], allow_missing_specialty=req.signals is not None,
                              where=where, specialty_line=profile.positions.get(("specialty",)))
    _check_once(ps)
    problems: list[Problem] = []
    try:
        signals = signal_spec(ps, req.signals, where)
    except InputError as exc:  # report it together with the input checks below, not one run later
        problems.extend(replace(x, message=f"{choice.describe()}; {x.message}") if choice else x
                        for x in exc.problems)
        signals = SignalSpec("single", (), "unknown")
    ctx = build_context(ps, data, signals)
    ctx.update(_cycle_context(catalogue, ps, data, origin, day))
    ctx["strategy"] = req.strategy
    ctx["shortlist_has_rates"] = has_rate_columns(shortlist.programs)
    try:
        _check_inputs_against_cycle(data, profile, shortlist, ctx)
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    ev = run(req, profile, shortlist, ps, signals, data, ctx)
    ev.cycle_choice = choice.describe() if choice else None
    return ev


def _resolve_specialty(catalogue: Catalogue, req: Request, profile: Profile, data: dict[str, Any]) -> str:
    """The canonical specialty id from the registry; a name it does not know is an error even with --signals."""
    if req.specialty:
        return resolve_specialty(catalogue.root, req.specialty, ("command line", None), "--specialty")
    return resolve_specialty(catalogue.root, str(data["specialty"]),
                             (profile.file, profile.positions.get(("specialty",))))


def _cycle_context(catalogue: Catalogue, ps: PolicySet, data: dict[str, Any], origin: str,
                   day: date) -> dict[str, Any]:
    """Where the cycle came from and whether its season is open today, for the rules to judge."""
    spec = ps.specialty
    found = ([s for s in seasons((spec,))] if spec is not None
             else [s for s in catalogue.seasons() if s.cycle == data["cycle"]][:1])
    season = found[0] if found else None
    state = season.state_on(day) if season else "undated"
    current = "not in the catalogue yet"
    if state == "ended":
        choice = choose_season(catalogue.seasons(), data["specialty"], day)
        current = choice.season.cycle if choice and choice.state != "ended" else current
    return {"cycle_origin": origin, "today": day.isoformat(), "cycle_status": state,
            "cycle_ended_on": ended_text(season) if season and state == "ended" else "none",
            "current_cycle": current, "specialty_rules": spec is not None,
            "cycle_plan_status": (season.status if season and season.status else "none")}


_CHECKED: set[str] = set()


def _check_once(ps: PolicySet) -> None:
    """Semantic checks depend only on the policies' content (and signalwise's code): run them once per
    process per policy set, and once across runs through the policy cache's marker."""
    from .policy import cache as policy_cache

    key = policy_set_key(ps)
    if key not in _CHECKED:
        content = [(p.ref, p.sha256) for p in ps.policies]
        if not policy_cache.was_checked(content):  # a previous run with the same code checked the same set
            from .policy.check import check_policy_set  # imported only when a check runs (cold start)

            check_policy_set(ps)
            policy_cache.mark_checked(content)
        _CHECKED.add(key)


def _check_overrides(req: Request) -> None:
    """--specialty/--cycle obey the same patterns as the profile's fields (they also name policy files)."""
    import re

    props = load_schema("profile")["properties"]
    problems = []
    for key, value in (("specialty", req.specialty), ("cycle", req.cycle)):
        pattern, longest = props[key]["pattern"], props[key].get("maxLength", 64)
        if value is not None and len(value) > longest:
            problems.append(Problem("command line", None, f"--{key}", f"is {len(value)} characters long; "
                                    f"expected at most {longest}"))
        elif value is not None and not re.fullmatch(pattern, value):
            problems.append(Problem("command line", None, f"--{key}", f"got {value!r}; expected text matching "
                                    f"{pattern}", props[key].get("description")))
    if problems:
        raise InputError(problems)


def _check_inputs_against_cycle(data: dict[str, Any], profile: Profile, shortlist: Shortlist,
                                ctx: dict[str, Any]) -> None:
    problems = []
    year = data["applicant"]["graduation_year"]
    if year > ctx["match_year"]:
        problems.append(Problem(profile.file, profile.positions.get(("applicant", "graduation_year")),
                                "applicant.graduation_year",
                                f"got {year}, after the {ctx['match_year']} Match of cycle {ctx['cycle']}",
                                "graduation must come before the Match you apply for"))
    home = data.get("home_program")
    if home is not None and home not in {p["id"] for p in shortlist.programs}:
        problems.append(Problem(profile.file, profile.positions.get(("home_program",)), "home_program",
                                f"'{home}' is not a program id in {shortlist.file}",
                                "use the id of a program on your shortlist, or remove home_program"))
    for prog, line in zip(shortlist.programs, shortlist.lines, strict=True):
        if locate(prog["state"]) == (None, None) and prog["state"] not in ("PR", "GU", "VI", "AS", "MP"):
            problems.append(Problem(shortlist.file, line, "state", f"'{prog['state']}' is not a US state code",
                                    "use a two-letter code such as OH"))
    if problems:
        raise InputError(problems)


def base_facts(data: dict[str, Any], shortlist: Shortlist, ctx: dict[str, Any]) -> list[Fact]:
    applicant = {k: v for k, v in data.items() if k != "applicant"}
    applicant.update(data["applicant"])
    facts = [make_fact("context", ctx), make_fact("applicant", applicant)]
    home = data.get("home_program")
    for prog in sorted(shortlist.programs, key=lambda p: p["id"]):
        division, region = locate(prog["state"])
        values = dict(prog, division=division, region=region)
        if home is not None and prog["id"] == home:
            values["home"] = True
        facts.append(make_fact("program", values))
    for list_name in ("must_have", "preferred", "avoid"):
        for area in (data.get("geography") or {}).get(list_name, []):
            facts.append(make_fact("geo_pref", {"list": list_name, "area": area}))
    return facts


def run(req: Request, profile: Profile, shortlist: Shortlist, ps: PolicySet, signals: SignalSpec,
        data: dict[str, Any], ctx: dict[str, Any]) -> Evaluation:
    """Chain every stage in order; allocation and the declared counts/resolutions run between them."""
    store = FactStore()
    for fact in base_facts(data, shortlist, ctx):
        store.add(fact)
    runtime = runtime_for(ps)
    firings: list[Firing] = []
    bound = firing_bound(len(store.facts))
    outcomes: list[ResolutionOutcome] = []
    allocation = Allocation([], [], {})
    quotas: list[LevelQuota] = []
    candidates: list[Candidate] = []
    optimization: Optimization | None = None
    for stage in ps.stages:
        if stage.kind == "rules":
            runtime.run_stage(stage.name, store, firings, bound)
        else:
            quotas, candidates, allocation, optimization = _plan(req, data, shortlist, store, ctx, signals)
            _add_allocation_facts(store, allocation, candidates, ps)
        for agg in ps.aggregates:
            if agg.after == stage.name:
                _aggregate(store, agg)
        for res in ps.resolutions:
            if res.after == stage.name:
                outcomes.extend(_resolve(store, res))
    return Evaluation(req, profile, shortlist, ps, signals, ctx, store, firings, allocation, quotas, outcomes,
                      optimization, candidates)


def _plan(req: Request, data: dict[str, Any], shortlist: Shortlist, store: FactStore, ctx: dict[str, Any],
          signals: SignalSpec) -> tuple[list[LevelQuota], list[Candidate], Allocation, Optimization | None]:
    """Quotas from the matched rows, candidates from the facts, then the one allocation model.

    Interview rates choose programs only under strategy "gain" (which needs them); under "guide" they
    only describe the plan's expected outcome.
    """
    rows = {r["level"]: r for r in store.of_type("quota_row")}
    quotas = [quota_from_row(level, count, rows.get(level)) for level, count in signals.tiers]
    candidates = build_candidates(store)
    scope = ctx.get("scope") == "institution"
    if not quotas:
        return quotas, candidates, Allocation([], [], {}), None
    inputs = gain_inputs(specialty=str(ctx["specialty"]), cycle=str(ctx["cycle"]), programs=shortlist.programs,
                         shortlist_file=shortlist.file,
                         graduate_type=(data.get("applicant") or {}).get("graduate_type"),
                         candidates=candidates, quotas=quotas, institution_scope=scope, root=req.policies)
    gain = req.strategy == "gain"
    if gain:
        inputs.require_data(shortlist.file)
    allocation = allocate(quotas, candidates, strategy=req.strategy, rates=inputs.rates if gain else None,
                          institution_scope=scope)
    inputs.covered = dict(allocation.covered)
    plan = None
    explanation: dict[str, list[dict[str, Any]]] = {"signals": [], "unused": []}
    if gain:
        from .plan.optimize import describe_plan, explain_plan

        decisions = {p.program: p.level for p in allocation.picks}
        plan = describe_plan("gain", "expected", decisions, candidates, quotas, inputs.rates, 0.0, 0, [])
        explanation = explain_plan(decisions, candidates, quotas, inputs.rates, institution_scope=scope,
                                   strategy="gain")
    return quotas, candidates, allocation, Optimization(req.strategy, inputs, plan, explanation)


def _aggregate(store: FactStore, agg: Aggregate) -> None:
    facts = store.of_type(agg.count)
    if agg.group_by is None:
        store.add({TYPE_KEY: agg.produces, "count": len(facts), "rule": f"count:{agg.id}"})
        return
    counts: dict[Any, int] = {g: 0 for g in agg.groups}
    for f in facts:
        key = f.get(agg.group_by)
        counts[key] = counts.get(key, 0) + 1
    for key in sorted(counts, key=str):
        store.add({TYPE_KEY: agg.produces, agg.group_by: key, "count": counts[key], "rule": f"count:{agg.id}"})


def _resolve(store: FactStore, res: Resolution) -> list[ResolutionOutcome]:
    votes = store.of_type(res.votes)
    grouped: dict[str | None, list[Fact]] = defaultdict(list)
    for v in votes:
        grouped[v.get(res.key) if res.key else None].append(v)
    if res.key:
        domain = {f.get(ID_KEY) for f in store.of_type(res.key)} or set(grouped)
        keys: list[str | None] = list(sorted(str(k) for k in domain | set(grouped) if k is not None))
    else:
        keys = [None]
    out = []
    rank = {value: i for i, value in enumerate(res.precedence)}
    for key in keys:
        vs = grouped.get(key, [])
        values = sorted({str(v.get(res.field)) for v in vs}, key=lambda x: (rank.get(x, len(rank)), x))
        if values:
            value, default = values[0], False
        elif res.default is not None:
            value, default = res.default, True
        else:
            continue
        fact: Fact = {TYPE_KEY: res.produces, res.field: value, "rule": f"resolve:{res.id}"}
        if res.key:
            fact[res.key] = key
        fid, _ = store.add(fact)
        winners = [int(v["_id"]) for v in vs if str(v.get(res.field)) == value]
        others = [int(v["_id"]) for v in vs if str(v.get(res.field)) != value]
        out.append(ResolutionOutcome(res, key, value, fid, winners, others, default))
    return out


def _add_allocation_facts(store: FactStore, allocation: Allocation, candidates: list[Candidate],
                          ps: PolicySet) -> None:
    signaled = {p.program for p in allocation.picks}
    for pick in allocation.picks:
        store.add({TYPE_KEY: "signal", "program": pick.program, "level": pick.level,
                   "label": tier_label(pick.level), "fit": pick.fit, "rank": pick.rank, "step": pick.step,
                   "rule": "allocate"})
    for lv in allocation.levels:
        if lv.rule is None and lv.available > 0:
            store.add({TYPE_KEY: "quota_missing", "level": lv.level, "available": lv.available, "rule": "allocate"})
        store.add({TYPE_KEY: "level_summary", "level": lv.level, "available": lv.available,
                   "label": tier_label(lv.level),
                   "assigned": lv.assigned, "unused": lv.available - lv.assigned, "rule": "allocate"})
        for fit in lv.shortfalls:
            # "none-left": no eligible program of this fit could take one; "constraint": some could, but
            # the applicant's own constraints (e.g. must-have areas first) kept them out.
            open_left = [c for c in candidates if c.eligible and c.fit == fit and c.program not in signaled
                         and lv.level not in c.blocked_levels]
            store.add({TYPE_KEY: "quota_shortfall", "level": lv.level, "fit": fit, "label": tier_label(lv.level),
                       "minimum": lv.ranges[fit][0], "assigned": lv.counts.get(fit, 0),
                       "cause": "constraint" if open_left else "none-left",
                       "range_label": ps.message("range.owner.extension" if lv.extension else "range.owner.guide"),
                       "rule": "allocate"})


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
