"""Interview-gain tools around the one allocation model: plans, their metrics, moves, explanations.

`optimize()` runs the one model (engine/plan/solve.py) for a strategy and describes the plan it finds
(`Plan`): signals per tier and fit, shortfall and spill-over against the guide's ranges, expected gain.
The rest serves `signalwise compare` and the report's optimizer section: `neighbours()` lists every
single move or swap with its change in expected interviews, `explain_plan()` says what each signal buys
and why large gains were left unused, `improve_p_at_least()` is a deterministic local search for
P(at least k interviews) (a heuristic, documented in docs/optimizer.md), `improvement_path()` the best
next changes to an applicant's own plan.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import field, replace
from typing import Any

from ..records import record
from .claims import precedence_violations
from .outcome import NONE, RateTable, distribution, gain_of, p_at_least, rate_value
from .quotas import Candidate, LevelQuota
from .solve import SOLVER, STRATEGIES, OptimizeError, solve

__all__ = ["OBJECTIVES", "STRATEGIES", "OptimizeError", "Plan", "optimize"]
OBJECTIVES = ("expected", "p_at_least")
# The P(at least k) local search makes at most this many improving moves: a bound on work, never on time, so
# the plan is the same on a fast machine and a slow one.
MOVE_LIMIT = 100


@record
class Plan:
    strategy: str
    objective: str                              # "expected" or "p_at_least:K"
    decisions: dict[str, str]                   # program -> tier, signaled programs only
    gain: float                                 # sum of known gains of the signaled programs
    used: dict[str, int]                        # tier -> signals used
    counts: dict[str, dict[str, int]]           # tier -> fit -> signals
    shortfall: dict[str, dict[str, int]]        # tier -> fit -> signals missing below the fit's minimum
    overflow: dict[str, dict[str, int]]         # tier -> fit -> signals past the fit's cap (spill-over)
    deviation: int                              # total distance from the guide's min..max ranges
    unknown_gain: list[str]                     # signaled programs whose gain is unknown (counted as 0)
    solver: str = SOLVER
    solve_seconds: float = 0.0
    solves: int = 0
    notes: list[str] = field(default_factory=list)
    search: dict[str, Any] | None = None       # P(at least k) only: how the local search ended (`search_record`)

    def to_json(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "objective": self.objective,
                "decisions": dict(sorted(self.decisions.items())), "gain": round(self.gain, 6),
                "used": self.used, "counts": self.counts, "shortfall": self.shortfall,
                "overflow": self.overflow, "deviation": self.deviation, "unknown_gain": self.unknown_gain,
                "solver": self.solver, "solves": self.solves, "notes": self.notes}


# ----------------------------------------------------------------------------------------------------
# Gains and the guide's caps: shared with the brute-force tests and the explanations.


def fit_cap(q: LevelQuota, fit: str) -> int:
    """How many signals of this tier a fit may hold before it spills past the guide's range."""
    return q.fit_range(fit)[1]


Counts = dict[str, dict[str, int]]   # tier -> fit -> number


def plan_metrics(decisions: Mapping[str, str], candidates: Sequence[Candidate], quotas: Sequence[LevelQuota],
                 ) -> tuple[Counts, Counts, Counts, int]:
    """(counts, shortfall, overflow, deviation) of a plan against the quotas."""
    fit = {c.program: c.fit for c in candidates}
    counts: dict[str, dict[str, int]] = {q.level: defaultdict(int) for q in quotas}
    for pid, tier in decisions.items():
        if tier in counts:
            counts[tier][fit.get(pid, "unknown")] += 1
    shortfall: dict[str, dict[str, int]] = {}
    overflow: dict[str, dict[str, int]] = {}
    deviation = 0
    for q in quotas:
        n = counts[q.level]
        shortfall[q.level] = {f: lo - n[f] for f, (lo, _) in sorted(q.ranges.items()) if n[f] < lo}
        overflow[q.level] = {f: n[f] - fit_cap(q, f) for f in sorted(n) if n[f] > fit_cap(q, f)}
        if q.ranges:
            deviation += sum(max(0, lo - n[f]) + max(0, n[f] - hi) for f, (lo, hi) in q.ranges.items())
            deviation += sum(v for f, v in n.items() if f not in q.ranges)
    plain = {t: {f: v for f, v in sorted(c.items()) if v} for t, c in counts.items()}
    return plain, shortfall, overflow, deviation


def hard_violations(decisions: Mapping[str, str], candidates: Sequence[Candidate],
                    quotas: Sequence[LevelQuota], *, institution_scope: bool, strategy: str) -> list[str]:
    """Every hard constraint the plan breaks (empty for a valid plan); used by tests and `compare`."""
    by_id = {c.program: c for c in candidates}
    tiers = {q.level: q for q in quotas}
    out = []
    for pid, tier in sorted(decisions.items()):
        c = by_id.get(pid)
        if c is None:
            out.append(f"{pid}: not a candidate")
            continue
        if tier not in tiers:
            out.append(f"{pid}: unknown tier {tier}")
            continue
        if not c.open:
            out.append(f"{pid}: may take no signal (neither eligible nor kept for a spare signal)")
        if tier in c.blocked_levels:
            out.append(f"{pid}: {tier} is blocked")
    out += precedence_violations(candidates, quotas, decisions, institution_scope=institution_scope)
    for q in quotas:
        n = sum(1 for t in decisions.values() if t == q.level)
        if n > q.count:
            out.append(f"{q.level}: {n} signals, only {q.count} available")
    if institution_scope:
        seen: dict[str, str] = {}
        for pid in sorted(decisions):
            inst = by_id[pid].institution if pid in by_id else None
            if inst:
                if inst in seen:
                    out.append(f"{pid}: institution {inst} already signaled through {seen[inst]}")
                seen[inst] = pid
    return out


# ----------------------------------------------------------------------------------------------------
# The plan of one strategy.


def optimize(candidates: Sequence[Candidate], quotas: Sequence[LevelQuota], rates: RateTable,
             strategy: str = "guide", *, institution_scope: bool = False, objective: str = "expected",
             k: int | None = None) -> Plan:
    """The one model's plan for `strategy` (engine/plan/solve.py), optionally improved for P(at least k)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")
    if objective == "p_at_least" and (k is None or k < 1):
        raise ValueError("objective p_at_least needs k >= 1")
    started = time.perf_counter()
    sol = solve(candidates, quotas, strategy=strategy, rates=rates, institution_scope=institution_scope)
    cands = sorted(candidates, key=lambda c: c.program)
    decisions = dict(sol.decisions)
    notes: list[str] = []
    search: dict[str, Any] | None = None
    if objective == "p_at_least":
        assert k is not None
        decisions, moved, cut = improve_p_at_least(decisions, cands, quotas, rates, k, strategy=strategy,
                                                    institution_scope=institution_scope, max_rounds=MOVE_LIMIT)
        search = search_record(moved, cut)
        notes.append(f"P(at least {k}) improved by local search in {moved} move(s) from the "
                     "expected-interviews optimum (heuristic, not a proven optimum)"
                     + ("; the search stopped at its move limit" if cut else ""))
    broken = hard_violations(decisions, cands, quotas, institution_scope=institution_scope, strategy=strategy)
    if broken:  # never expected: the solver honours these constraints by construction
        raise OptimizeError("solver plan breaks hard constraints: " + "; ".join(broken))
    plan = describe_plan(strategy, objective if objective == "expected" else f"p_at_least:{k}", decisions, cands,
                         quotas, rates, time.perf_counter() - started, sol.solves, notes)
    return replace(plan, search=search)


def search_record(moves: int, cut: bool) -> dict[str, Any]:
    """How the P(at least k) search ended, for the report. A local search proves no optimum: `stopped` is
    "local-optimum" (no single move or swap improves P(at least k)) or "move-limit" (bound reached)."""
    return {"method": "local-search", "moves": moves, "move_limit": MOVE_LIMIT,
            "stopped": "move-limit" if cut else "local-optimum", "proven_optimal": False}


def describe_plan(strategy: str, objective: str, decisions: dict[str, str], cands: Sequence[Candidate],
               quotas: Sequence[LevelQuota], rates: RateTable, seconds: float, solves: int,
               notes: list[str]) -> Plan:
    counts, shortfall, overflow, deviation = plan_metrics(decisions, cands, quotas)
    gain = 0.0
    unknown = []
    for p, t in sorted(decisions.items()):
        g = gain_of(rates, p, t)
        if g is None:
            unknown.append(p)
        else:
            gain += g
    used = {q.level: sum(1 for t in decisions.values() if t == q.level) for q in quotas}
    return Plan(strategy, objective, dict(sorted(decisions.items())), gain, used, counts, shortfall, overflow,
                deviation, unknown, SOLVER, seconds, solves, notes)


def plan_gain(decisions: Mapping[str, str], rates: RateTable) -> float:
    return sum(g for p, t in decisions.items() if (g := gain_of(rates, p, t)) is not None)


# ----------------------------------------------------------------------------------------------------
# P(at least k): local search (heuristic) and single-move analysis shared with `compare`.


@record
class Move:
    """One change to a plan and what it does to expected interviews."""

    kind: str                 # add | move | swap | upgrade | drop
    tier: str
    to_program: str | None    # the program that gains `tier`
    from_program: str | None  # the program that loses `tier`
    other_tier: str | None    # swap: the tier `from_program` gets in exchange
    delta: float              # change in expected interviews (known gains only)

    def text(self) -> str:
        d = f"{'+' if self.delta >= 0 else ''}{self.delta:.2f} interviews"
        if self.kind == "add":
            what = "signal" if self.tier == "signal" else f"{self.tier} signal"
            return f"give an unused {what} to {self.to_program}: {d}"
        if self.kind == "move":
            return f"move {self.tier} from {self.from_program} to {self.to_program}: {d}"
        if self.kind == "swap":
            return f"swap: {self.tier} to {self.to_program} and {self.other_tier} to {self.from_program}: {d}"
        if self.kind == "drop":
            return f"withdraw the {self.tier} signal from {self.from_program}: {d}"
        return f"{self.kind} {self.tier}: {d}"

    def apply(self, decisions: Mapping[str, str]) -> dict[str, str]:
        out = dict(decisions)
        if self.from_program is not None:
            out.pop(self.from_program, None)
        if self.kind == "swap" and self.from_program is not None and self.other_tier is not None:
            out[self.from_program] = self.other_tier
        if self.to_program is not None:
            out[self.to_program] = self.tier
        return out

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "tier": self.tier, "to": self.to_program, "from": self.from_program,
                "other_tier": self.other_tier, "delta": round(self.delta, 6), "text": self.text()}


def neighbours(decisions: Mapping[str, str], candidates: Sequence[Candidate], quotas: Sequence[LevelQuota],
               rates: RateTable, *, institution_scope: bool, strategy: str | None = None) -> list[Move]:
    """Every single move or swap that keeps the hard constraints (including precedence groups such as
    must-have areas first; for "guide" also each tier's counts per fit), with its change in expected
    interviews. Sorted best first, then deterministically."""
    by_id = {c.program: c for c in candidates}
    counts = {q.level: sum(1 for t in decisions.values() if t == q.level) for q in quotas}
    cap = {q.level: q.count for q in quotas}
    inst_owner: dict[str, str] = {}
    for p in sorted(decisions):
        inst = by_id[p].institution if p in by_id else None
        if inst:
            inst_owner.setdefault(inst, p)

    def g(p: str, t: str) -> float:
        return gain_of(rates, p, t) or 0.0

    def allowed(p: str, t: str, leaving: tuple[str, ...] = ()) -> bool:
        c = by_id.get(p)
        if c is None or not c.eligible or t in c.blocked_levels or t not in cap:
            return False
        if institution_scope and c.institution:
            owner = inst_owner.get(c.institution)
            if owner is not None and owner != p and owner not in leaving:
                return False
        return True

    same_fit = strategy == "guide"
    moves: list[Move] = []
    ordered = sorted(by_id)
    for q in quotas:
        t = q.level
        holders = sorted(p for p, tt in decisions.items() if tt == t)
        for p in ordered:
            if p in decisions or not allowed(p, t):
                continue
            if counts[t] < cap[t] and not same_fit:
                moves.append(Move("add", t, p, None, None, g(p, t)))
            for h in holders:
                if same_fit and by_id[h].fit != by_id[p].fit:
                    continue
                if allowed(p, t, leaving=(h,)):
                    moves.append(Move("move", t, p, h, None, g(p, t) - g(h, t)))
        for h in holders:
            if not same_fit:
                moves.append(Move("drop", t, None, h, None, -g(h, t)))
    # swaps between tiers: a (tier t) <-> b (tier u)
    items = sorted(decisions.items())
    for i, (a, ta) in enumerate(items):
        for b, tb in items[i + 1:]:
            if ta == tb:
                continue
            if same_fit and by_id[a].fit != by_id[b].fit:
                continue
            if allowed(b, ta, leaving=(a,)) and allowed(a, tb, leaving=(b,)):
                delta = g(b, ta) + g(a, tb) - g(a, ta) - g(b, tb)
                moves.append(Move("swap", ta, b, a, tb, delta))
    if any(c.precedence for c in candidates):  # keep only moves that respect precedence groups (must-have first)
        moves = [mv for mv in moves if mv.kind == "swap"   # a swap keeps who holds a signal
                 or not precedence_violations(candidates, quotas, mv.apply(decisions),
                                              institution_scope=institution_scope)]
    moves.sort(key=lambda mv: (-mv.delta, mv.kind, mv.tier, mv.to_program or "", mv.from_program or ""))
    return moves


def _add(dist: list[float], p: float) -> list[float]:
    out = [0.0] * (len(dist) + 1)
    q = 1.0 - p
    for k, mass in enumerate(dist):
        out[k] += mass * q
        out[k + 1] += mass * p
    return out


def _remove(dist: list[float], p: float) -> list[float]:
    """Undo `_add(., p)`: forward recursion for p <= 0.5, backward for p > 0.5 (both numerically stable)."""
    n = len(dist) - 1
    out = [0.0] * n
    if n == 0:
        return out
    if p <= 0.5:
        q = 1.0 - p
        out[0] = dist[0] / q
        for j in range(1, n):
            out[j] = (dist[j] - p * out[j - 1]) / q
    else:
        q = 1.0 - p
        out[n - 1] = dist[n] / p
        for j in range(n - 1, 0, -1):
            out[j - 1] = (dist[j] - q * out[j]) / p
    return [max(0.0, v) for v in out]


def improve_p_at_least(decisions: Mapping[str, str], candidates: Sequence[Candidate],
                       quotas: Sequence[LevelQuota], rates: RateTable, k: int, *, strategy: str,
                       institution_scope: bool, max_rounds: int = MOVE_LIMIT) -> tuple[dict[str, str], int, bool]:
    """Best-improvement local search on P(at least k); deterministic; returns (plan, moves made, whether
    the move limit cut it short). No wall clock: the same inputs give the same plan on any machine.

    Each round scores every single move and swap (for "guide": within a fit, so the quotas hold) whose
    receiving program is among the best `3 x count + 10` programs by gain for that tier, updating the exact
    distribution incrementally (remove the changed programs' Bernoulli terms, add the new ones). It stops
    when no move improves P(at least k) or after `max_rounds` moves. Moves that would break a precedence
    group (e.g. must-have areas first) are skipped.
    """
    current = dict(decisions)
    ids = sorted(c.program for c in candidates)

    def val(p: str, plan: Mapping[str, str]) -> float | None:
        return rate_value((rates.get(p) or {}).get(plan.get(p, NONE)))

    dist = distribution([v for p in ids if (v := val(p, current)) is not None])
    best = p_at_least(dist, k)
    shortlist: dict[str, set[str]] = {}
    for q in quotas:
        ranked = sorted((c for c in candidates if c.eligible and q.level not in c.blocked_levels),
                        key=lambda c: (-(gain_of(rates, c.program, q.level) or 0.0), c.program))
        shortlist[q.level] = {c.program for c in ranked[:3 * q.count + 10]}
    moved = 0
    for _ in range(max_rounds):
        improved: tuple[float, dict[str, str], list[float]] | None = None
        for mv in neighbours(current, candidates, quotas, rates, institution_scope=institution_scope,
                             strategy=strategy):
            if mv.to_program is not None and mv.to_program not in shortlist.get(mv.tier, set()):
                continue
            trial = mv.apply(current)
            if precedence_violations(candidates, quotas, trial, institution_scope=institution_scope):
                continue
            d = dist
            for p in {x for x in (mv.to_program, mv.from_program) if x is not None}:
                old, new = val(p, current), val(p, trial)
                if old is not None:
                    d = _remove(d, old)
                if new is not None:
                    d = _add(d, new)
            value = p_at_least(d, k)
            if value > best + 1e-12 and (improved is None or value > improved[0] + 1e-15):
                improved = (value, trial, d)
        if improved is None:
            return current, moved, False
        best, current, _ = improved
        dist = distribution([v for p in ids if (v := val(p, current)) is not None])  # fresh, no drift
        moved += 1
    return current, moved, True


# ----------------------------------------------------------------------------------------------------
# Explanations: what each signal buys, what it beat, and why large gains were left unused.


def explain_plan(decisions: Mapping[str, str], candidates: Sequence[Candidate], quotas: Sequence[LevelQuota],
                 rates: RateTable, *, institution_scope: bool, strategy: str,
                 unused_limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """Why the plan is what it is, in exact numbers.

    Per signal: the gain it buys and its best alternative -- the single move or swap that would hand this
    signal to another program (same fit under "guide"), with the exact change in expected interviews
    (never positive for an optimal plan; 0 means a tie settled by the tie-break).
    Per large unused gain (a program whose best tier beats the weakest signal of that tier): the reason,
    and the exact change of the best way to give it that tier when one exists.
    """
    by_id = {c.program: c for c in sorted(candidates, key=lambda c: c.program)}
    quota = {q.level: q for q in quotas}
    order = {q.level: j for j, q in enumerate(quotas)}
    owner: dict[str, str] = {}
    if institution_scope:
        for p in sorted(decisions):
            inst = by_id[p].institution if p in by_id else None
            if inst:
                owner.setdefault(inst, p)
    counts, _, _, _ = plan_metrics(decisions, candidates, quotas)
    moves = [m for m in neighbours(decisions, candidates, quotas, rates, institution_scope=institution_scope,
                                   strategy=strategy) if m.kind != "drop"]
    give_away: dict[tuple[str, str], Move] = {}
    receive: dict[tuple[str, str], Move] = {}
    for m in moves:  # sorted best first: keep the first per key
        if m.from_program is not None:
            give_away.setdefault((m.from_program, m.tier), m)
        if m.to_program is not None:
            receive.setdefault((m.to_program, m.tier), m)

    def rate(p: str, t: str) -> float | None:
        return rate_value((rates.get(p) or {}).get(t))

    def signed(v: float) -> str:
        return "0.00" if abs(v) < 5e-7 else f"{'+' if v >= 0 else '-'}{abs(v):.2f}"

    signals = []
    for p, t in sorted(decisions.items(), key=lambda kv: (order.get(kv[1], 99), kv[0])):
        g = gain_of(rates, p, t)
        fit = by_id[p].fit
        alt = give_away.get((p, t))
        if g is None:
            text = f"{t} to {p}: gain unknown (no rate for {t} or without a signal); placed by the tie-break"
        else:
            text = f"{t} to {p}: {signed(g)} interviews ({rate(p, t):.2f} with, {rate(p, NONE):.2f} without)"
        if alt is not None:
            tie = " (a tie, settled by the tie-break)" if abs(alt.delta) < 5e-7 else ""
            text += f"; best alternative: {_describe_alt(alt)}: {signed(alt.delta)}{tie}"
        elif g is not None:
            scope = f" {fit}" if strategy == "guide" else ""
            text += f"; no other{scope} program could take this {t} signal"
        signals.append({"program": p, "tier": t, "fit": fit, "gain": None if g is None else round(g, 6),
                        "rate": rate(p, t), "rate_none": rate(p, NONE),
                        "alternative": alt.to_json() if alt is not None else None, "text": text})

    weakest: dict[str, float] = {}
    for t in quota:
        held = [g for p, tt in decisions.items() if tt == t and (g := gain_of(rates, p, t)) is not None]
        weakest[t] = min(held) if held else 0.0
    unused: list[dict[str, Any]] = []
    for p, c in by_id.items():
        options = [(g, t) for t in quota if (g := gain_of(rates, p, t)) is not None and g > 0
                   and decisions.get(p) != t and (g > weakest[t] + 1e-12 or not counts[t])]
        current = decisions.get(p)
        if current is not None:
            have = gain_of(rates, p, current) or 0.0
            options = [(g, t) for g, t in options if g > have + 1e-12]
        if not options:
            continue
        g, t = max(options, key=lambda o: (o[0], -order[o[1]]))
        q = quota[t]
        best = receive.get((p, t))
        if not c.eligible:
            reason, why = "excluded", "the rules exclude it (see the evaluate report)"
        elif t in c.blocked_levels:
            reason, why = "blocked", f"a rule advises against {t} for it (see the evaluate report)"
        elif institution_scope and c.institution and owner.get(c.institution, p) != p:
            reason, why = "institution", (f"its institution is already signaled through "
                                          f"{owner[c.institution]} (one signal per institution)")
        elif (strategy == "guide" and counts[t].get(c.fit, 0) >= fit_cap(q, c.fit)
              and c.fit not in q.overflow):
            lo, hi = q.ranges.get(c.fit, (0, 0))
            reason, why = "quota", f"the guide's {c.fit} range for {t} ({lo if lo == hi else f'{lo}-{hi}'}) is full"
        elif current is not None:
            reason, why = "other-tier", f"it has {current} instead"
        elif sum(1 for tt in decisions.values() if tt == t) >= q.count:
            reason, why = "tier-full", f"all {q.count} {t} signals are in use"
        else:
            reason, why = "quota", f"the guide's ranges for {t} leave no room for another {c.fit} program"
        text = f"{p} would gain +{g:.2f} with {t}, but {why}"
        if best is not None and reason in ("other-tier", "tier-full", "quota"):
            tie = " (a tie)" if abs(best.delta) < 5e-7 else ""
            text += f"; the best way to give it {t} ({_describe_alt(best)}) changes the total by " \
                    f"{signed(best.delta)}{tie}"
        unused.append({"program": p, "tier": t, "fit": c.fit, "gain": round(g, 6), "reason": reason,
                       "best_change": best.to_json() if best is not None else None, "text": text})
    unused.sort(key=lambda u: (-u["gain"], u["program"], u["tier"]))
    return {"signals": signals, "unused": unused[:unused_limit]}


def _describe_alt(m: Move) -> str:
    if m.kind == "move":
        return f"move {m.tier} from {m.from_program} to {m.to_program}"
    if m.kind == "swap":
        return f"{m.tier} to {m.to_program} and {m.other_tier} to {m.from_program}"
    if m.kind == "add":
        return f"an unused {m.tier} signal to {m.to_program}"
    return m.text()


def improvement_path(decisions: Mapping[str, str], candidates: Sequence[Candidate],
                     quotas: Sequence[LevelQuota], rates: RateTable, *, institution_scope: bool,
                     steps: int = 5) -> list[dict[str, Any]]:
    """The best single change to a plan, then the best next one on the changed plan, up to `steps`:
    each with its gain and the running total (hard constraints only; the guide's ratios are ignored)."""
    current = dict(decisions)
    out: list[dict[str, Any]] = []
    total = 0.0
    for _ in range(steps):
        moves = [m for m in neighbours(current, candidates, quotas, rates,
                                       institution_scope=institution_scope) if m.delta > 1e-9]
        if not moves:
            break
        m = moves[0]
        current = m.apply(current)
        total += m.delta
        out.append({**m.to_json(), "cumulative": round(total, 6)})
    return out
