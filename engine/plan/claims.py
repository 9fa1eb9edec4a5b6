"""Explanations as data: what the report claims about each program's place in the plan, and a checker.

Every sentence the report prints about allocation is rendered from a `Claim`; `check_claims` verifies
each claim against the final plan (the decisions, the candidates and the quotas alone), so a claim that
is not true of the plan is caught before anyone reads it. The claims:

- `value`: what the program competed with under the plan's metric (score or expected gain);
- `competed_for`: the level it held, or, for an unsignaled program, the weakest level it could take;
- `outranked_by`: the signaled programs of its fit at that level with a value at least as high;
- `held_back_by`: the constraint, not a better program, that kept it out (`institution`, a precedence
  group such as `must-have`, `range-full` when its fit's range at that level is full, `other-fits` when
  the level's signals went to other fits' ranges), or for a program that could take nothing its status;
- `tied_with`: programs it is tied with on value and on the applicant's own rating (a real tie);
- for a pick past its fit's range: the fits left short and the programs of those fits still waiting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..records import record
from .allocate import value_of
from .outcome import RateTable
from .quotas import Allocation, Candidate, LevelQuota

EPS = 1e-9


@record
class Claim:
    program: str
    metric: str
    value: float | None
    competed_for: str | None
    outranked_by: tuple[str, ...] = ()
    held_back_by: str | None = None
    tied_with: tuple[str, ...] = ()
    kind: str = "unsignaled"          # signaled | signaled-below-range | spare | beyond-range | unsignaled | ...
    waiting: tuple[str, ...] = ()     # held back by a group: first-side programs still without a signal
    short_fits: tuple[str, ...] = ()  # beyond-range picks: fits left below their minimum at this level
    others_left: tuple[str, ...] = ()  # beyond-range picks: unsignaled programs of those fits that could take it
    others_why: str | None = None      # why those wait: "constraint", "required" or "lower-value"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric,
                               "value": None if self.value is None else round(self.value, 6),
                               "competed_for": self.competed_for, "outranked_by": list(self.outranked_by),
                               "held_back_by": self.held_back_by, "tied_with": list(self.tied_with),
                               "kind": self.kind}
        if self.waiting:
            out["waiting"] = list(self.waiting)
        if self.kind in ("beyond-range", "spare"):
            if self.kind == "beyond-range":
                out["short_fits"] = list(self.short_fits)
            out["others_left"] = list(self.others_left)
            out["others_why"] = self.others_why
        return out


_Reason = tuple[tuple[str, ...], str | None, tuple[str, ...]]   # (outranked_by, held_back_by, waiting)


class PlanView:
    """Lookups over one plan, shared by the claim builder and the checker.

    A plain class rather than a dataclass: nothing compares or prints a view, and generating dataclass
    methods is a measurable part of importing this module on every cold `evaluate`."""

    def __init__(self, candidates: dict[str, Candidate], quotas: dict[str, LevelQuota], levels: list[str],
                 decisions: dict[str, str], metric: str, rates: RateTable | None, institution_scope: bool) -> None:
        self.candidates = candidates
        self.quotas = quotas
        self.levels = levels
        self.decisions = decisions
        self.metric = metric
        self.rates = rates
        self.institution_scope = institution_scope
        self.holders: dict[str, str] = {}   # institution -> signaled program
        self._signaled: dict[tuple[str, str], list[str]] = {}
        self._signaled_values: dict[tuple[str, str], list[float]] = {}
        self._firsts: dict[str, list[tuple[float, str, bool]]] | None = None
        # Memos of the lookups a report repeats per program and level (the builder, the checker and the
        # report's WHY-NOT ask the same questions of one plan); a candidate's are kept with it, compared by `is`.
        self._allowed: dict[str, tuple[Candidate, list[str]]] = {}
        self._pools: dict[tuple[str, str, bool], list[str]] = {}
        self._used: dict[str, int] = {}
        self._waiting: dict[tuple[str, bool], tuple[Candidate, dict[str, list[str]]]] = {}
        self._reasons: dict[tuple[str, str], tuple[Candidate, _Reason]] = {}

    @classmethod
    def of(cls, candidates: Sequence[Candidate], quotas: Sequence[LevelQuota], decisions: Mapping[str, str],
           metric: str, rates: RateTable | None, institution_scope: bool) -> PlanView:
        plan = cls({c.program: c for c in candidates}, {q.level: q for q in quotas}, [q.level for q in quotas],
                   dict(decisions), metric, rates, institution_scope)
        if institution_scope:
            for p in sorted(decisions):
                inst = plan.candidates[p].institution
                if inst:
                    plan.holders.setdefault(inst, p)
        return plan

    def value(self, p: str, level: str | None) -> float:
        return value_of(self.candidates[p], level, self.metric, self.rates)

    def allowed(self, c: Candidate) -> list[str]:
        hit = self._allowed.get(c.program)
        if hit is not None and hit[0] is c:
            return hit[1]
        levels = [t for t in self.levels if self.quotas[t].usable > 0 and t not in c.blocked_levels]
        self._allowed[c.program] = (c, levels)
        return levels

    def used(self, level: str) -> int:
        """How many signals of `level` the plan gives out."""
        n = self._used.get(level)
        if n is None:
            n = self._used[level] = sum(1 for t in self.decisions.values() if t == level)
        return n

    def signaled(self, fit: str, level: str) -> list[str]:
        key = (fit, level)
        if key not in self._signaled:
            self._signaled[key] = sorted(
                (p for p, t in self.decisions.items() if t == level and self.candidates[p].fit == fit),
                key=lambda p: (-self.value(p, level), p))
        return self._signaled[key]

    def signaled_values(self, fit: str, level: str) -> list[float]:
        """The values of `signaled(fit, level)` at `level`, in its order (every unsignaled program of the fit
        is compared with them)."""
        key = (fit, level)
        values = self._signaled_values.get(key)
        if values is None:
            values = self._signaled_values[key] = [self.value(p, level) for p in self.signaled(fit, level)]
        return values

    def count(self, fit: str, level: str) -> int:
        return len(self.signaled(fit, level))

    def covered_by(self, c: Candidate) -> str | None:
        if not self.institution_scope or not c.institution:
            return None
        owner = self.holders.get(c.institution)
        return owner if owner is not None and owner != c.program else None

    def waiting_first(self, c: Candidate, *, reserve_too: bool) -> dict[str, list[str]]:
        """Per group where `c` is on the later side: first-side programs rated at least as high without a
        signal (and able to take one), which must be signaled before `c` may be (worked out once per
        program; callers only read the answer)."""
        key = (c.program, reserve_too)
        hit = self._waiting.get(key)
        if hit is not None and hit[0] is c:
            return hit[1]
        out = self._waiting_first(c, reserve_too=reserve_too)
        self._waiting[key] = (c, out)
        return out

    def _waiting_first(self, c: Candidate, *, reserve_too: bool) -> dict[str, list[str]]:
        if self._firsts is None:
            firsts: dict[str, list[tuple[float, str, bool]]] = {}
            for w in self.candidates.values():
                if w.program in self.decisions or self.covered_by(w) or not w.open or not self.allowed(w):
                    continue
                for h in w.precedence:
                    if h.side == "first":
                        firsts.setdefault(h.group, []).append((h.rank, w.program, w.eligible))
            self._firsts = firsts
        out: dict[str, list[str]] = {}
        for g in c.precedence:
            if g.side != "later":
                continue
            waiting = sorted(p for rank, p, eligible in self._firsts.get(g.group, [])
                             if p != c.program and rank >= g.rank and (eligible or reserve_too))
            if waiting:
                out[g.group] = waiting
        return out

    def required_first(self, a: str, joining: Candidate | None = None) -> str | None:
        """The group whose precedence would break if signaled program `a` gave up its signal (to `joining`,
        the program that would take its place): `a`, or a program covered only through `a`'s institution,
        is a first-side program that a later-side program (signaled, or `joining`) waits for."""
        ca = self.candidates[a]
        inst = ca.institution if self.institution_scope else None
        if inst and joining is not None and joining.institution == inst:
            return None          # the newcomer keeps the institution covered
        losing = [ca] + ([w for w in self.candidates.values() if w.institution == inst and w.program != a
                          and w.program not in self.decisions and w.open and self.allowed(w)] if inst else [])
        others = [self.candidates[p] for p in self.decisions if p != a] + ([joining] if joining else [])
        for w in losing:
            for g in w.precedence:
                if g.side != "first":
                    continue
                for o in others:
                    if any(h.group == g.group and h.side == "later" and h.rank <= g.rank
                           and (w.eligible or o.reserve) for h in o.precedence):
                        return g.group
        return None

    def tied(self, c: Candidate, level: str, pool: Sequence[str]) -> tuple[str, ...]:
        v = self.value(c.program, level)
        return tuple(sorted(p for p in pool if p != c.program and abs(self.value(p, level) - v) <= EPS
                            and (self.candidates[p].rating or 0.0) == (c.rating or 0.0)))


def build_claims(candidates: Sequence[Candidate], quotas: Sequence[LevelQuota], allocation: Allocation,
                 statuses: Mapping[str, str], *, rates: RateTable | None = None,
                 institution_scope: bool = False, plan: PlanView | None = None) -> dict[str, Claim]:
    """One claim per program (statuses: program -> resolved status, for programs that cannot compete).
    `plan`: the caller's view of this same plan, if it has one (its lookups are then computed once)."""
    if plan is None:
        decisions = {p.program: p.level for p in allocation.picks}
        plan = PlanView.of(candidates, quotas, decisions, allocation.metric, rates, institution_scope)
    out: dict[str, Claim] = {}
    for c in sorted(candidates, key=lambda c: c.program):
        out[c.program] = _claim(plan, c, statuses.get(c.program, "eligible"))
    return out


def _constrained(plan: PlanView, c: Candidate) -> bool:
    """Does an applicant constraint (a precedence group, a shared institution) hold `c` back?"""
    return bool(plan.covered_by(c)) or any(g.side == "later" for g in c.precedence)


def _unsignaled_pool(plan: PlanView, fit: str, level: str, *, reserve: bool = False) -> list[str]:
    key = (fit, level, reserve)
    pool = plan._pools.get(key)
    if pool is None:
        pool = plan._pools[key] = [p for p, c in plan.candidates.items() if p not in plan.decisions and c.fit == fit
                                   and (c.eligible or (reserve and c.reserve)) and level in plan.allowed(c)]
    return pool


def _claim(plan: PlanView, c: Candidate, status: str) -> Claim:
    metric = plan.metric
    level = plan.decisions.get(c.program)
    if level is not None:
        q = plan.quotas[level]
        lo, hi = q.fit_range(c.fit)
        value = plan.value(c.program, level)
        rivals = [p for p in _unsignaled_pool(plan, c.fit, level)   # free to take this signal instead
                  if not plan.covered_by(plan.candidates[p]) and not plan.waiting_first(plan.candidates[p],
                                                                                        reserve_too=False)]
        tied = plan.tied(c, level, rivals)
        if c.reserve:
            left = tuple(sorted(p for f in sorted({x.fit for x in plan.candidates.values()})
                                for p in _unsignaled_pool(plan, f, level)))
            why = None
            if left:
                why = ("constraint" if all(_constrained(plan, plan.candidates[p]) for p in left)
                       else "required" if plan.required_first(c.program) else "lower-value")
            return Claim(c.program, metric, value, level, tied_with=tied, kind="spare", others_left=left,
                         others_why=why)
        if q.ranges and plan.count(c.fit, level) > hi:
            short = tuple(f for f in sorted(set(q.ranges)) if plan.count(f, level) < q.fit_range(f)[0])
            left = tuple(sorted(p for f in short for p in _unsignaled_pool(plan, f, level)))
            held = None
            if left:
                if all(_constrained(plan, plan.candidates[p]) for p in left):
                    held = "constraint"
                elif plan.required_first(c.program):
                    held = "required"
                else:
                    held = "lower-value"
            return Claim(c.program, metric, value, level, held_back_by=None, tied_with=tied, kind="beyond-range",
                         short_fits=short, others_left=left, others_why=held)
        below = bool(q.ranges) and plan.count(c.fit, level) < lo
        return Claim(c.program, metric, value, level, tied_with=tied, kind="signaled-below-range" if below
                     else "signaled")
    if not c.open:
        return Claim(c.program, metric, None, None, held_back_by=status, kind=status)
    covered = plan.covered_by(c)
    allowed = plan.allowed(c)
    competed = allowed[-1] if allowed else None
    value = plan.value(c.program, competed)
    if competed is None:
        return Claim(c.program, metric, value, None, held_back_by="blocked", kind="unsignaled")
    if covered:
        return Claim(c.program, metric, value, competed, held_back_by="institution", kind="covered")
    kind = "reserve" if c.reserve else "unsignaled"
    outranked, held, waiting = level_reason(plan, c, competed)
    tied = plan.tied(c, competed, [p for p in plan.signaled(c.fit, competed)])
    return Claim(c.program, metric, value, competed, outranked, held, tied, kind, waiting)


def level_reason(plan: PlanView, c: Candidate, level: str) -> _Reason:
    """Why unsignaled-at-`level` program `c` does not hold `level`: (outranked_by, held_back_by, waiting).
    Worked out once per plan, program and level (a claim and the report's WHY-NOT both ask)."""
    key = (c.program, level)
    hit = plan._reasons.get(key)
    if hit is not None and hit[0] is c:
        return hit[1]
    reason = _level_reason(plan, c, level)
    plan._reasons[key] = (c, reason)
    return reason


def _level_reason(plan: PlanView, c: Candidate, level: str) -> _Reason:
    v = plan.value(c.program, level)
    holders = plan.signaled(c.fit, level)
    values = plan.signaled_values(c.fit, level)
    outranked = tuple(p for p, w in zip(holders, values, strict=True) if w >= v - EPS)
    lower = [p for p, w in zip(holders, values, strict=True) if w < v - EPS]
    if c.reserve:
        return outranked, "reserve", ()
    waiting = plan.waiting_first(c, reserve_too=False)
    if waiting:
        group = sorted(waiting)[0]
        return outranked, group, tuple(waiting[group])
    if lower:
        displaced = next((g for a in lower if (g := plan.required_first(a, c))), None)
        return outranked, displaced, ()
    q = plan.quotas[level]
    lo, hi = q.fit_range(c.fit)
    if q.ranges and len(holders) >= hi:
        return outranked, "range-full", ()
    if plan.used(level) >= q.count:
        return outranked, "other-fits" if not outranked else None, ()
    return outranked, None, ()


def check_claims(claims: Mapping[str, Claim], candidates: Sequence[Candidate], quotas: Sequence[LevelQuota],
                 decisions: Mapping[str, str], *, metric: str, rates: RateTable | None = None,
                 institution_scope: bool = False, plan: PlanView | None = None) -> list[str]:
    """Every claim that is not true of the plan, as one line each (empty when every claim holds).
    `plan`: a view of this same plan the caller already has (a `PlanView` is a pure function of the
    candidates, quotas, decisions, metric and rates, so reusing one changes no verdict)."""
    if plan is None:
        plan = PlanView.of(candidates, quotas, decisions, metric, rates, institution_scope)
    bad: list[str] = []
    for q in quotas:
        n = sum(1 for t in decisions.values() if t == q.level)
        if n > q.count:
            bad.append(f"{q.level}: {n} signals for {q.count} available")
    for p, t in decisions.items():
        c = plan.candidates.get(p)
        if c is None or not c.open or t in c.blocked_levels or t not in plan.quotas:
            bad.append(f"{p}: holds {t} but may not")
    for p, cl in sorted(claims.items()):
        c = plan.candidates[p]
        if p in decisions:
            bad += _check_signaled(plan, cl, c)
        else:
            bad += _check_unsignaled(plan, cl, c)
    bad += _check_precedence(plan)
    return bad


def _check_signaled(plan: PlanView, cl: Claim, c: Candidate) -> list[str]:
    bad = []
    level = plan.decisions[c.program]
    if cl.competed_for != level or cl.outranked_by or cl.held_back_by:
        bad.append(f"{c.program}: signaled with {level} but the claim says otherwise")
    if cl.value is None or abs(cl.value - plan.value(c.program, level)) > 1e-6:
        bad.append(f"{c.program}: claimed value {cl.value} is not its value")
    for t in cl.tied_with:
        ct = plan.candidates[t]
        if abs(plan.value(t, level) - plan.value(c.program, level)) > EPS or (ct.rating or 0) != (c.rating or 0):
            bad.append(f"{c.program}: claims a tie with {t}, which differs")
    if cl.kind == "spare":
        if not c.reserve:
            bad.append(f"{c.program}: called a spare signal but it is eligible")
        left = sorted(p for f in sorted({x.fit for x in plan.candidates.values()})
                      for p in _unsignaled_pool(plan, f, level))
        if sorted(cl.others_left) != left:
            bad.append(f"{c.program}: eligible programs left {cl.others_left} are not {left}")
        required = cl.others_why == "required" and plan.required_first(c.program) is not None
        for p in left:
            if not (plan.waiting_first(plan.candidates[p], reserve_too=False) or plan.covered_by(plan.candidates[p])
                    or required):
                bad.append(f"{c.program}: a spare signal while eligible {p} could take {level}")
    q = plan.quotas[level]
    n, (lo, hi) = plan.count(c.fit, level), q.fit_range(c.fit)
    if cl.kind == "signaled" and q.ranges and not lo <= n <= hi:
        bad.append(f"{c.program}: said to be within its fit's range at {level}, but {n} is not in {lo}-{hi}")
    if cl.kind == "signaled-below-range" and not n < lo:
        bad.append(f"{c.program}: said to be below its fit's range at {level}, but {n} is not below {lo}")
    if cl.kind == "beyond-range":
        if plan.count(c.fit, level) <= q.fit_range(c.fit)[1]:
            bad.append(f"{c.program}: said to be beyond its range, but the range is not exceeded")
        short = tuple(f for f in sorted(set(q.ranges)) if plan.count(f, level) < q.fit_range(f)[0])
        if short != cl.short_fits:
            bad.append(f"{c.program}: short fits {cl.short_fits} are not {short}")
        left = sorted(p for f in short for p in _unsignaled_pool(plan, f, level))
        if sorted(cl.others_left) != left:
            bad.append(f"{c.program}: programs left {cl.others_left} are not {left}")
        required = cl.others_why == "required"
        if required and not plan.required_first(c.program):
            bad.append(f"{c.program}: said to be required by a precedence group, but nothing depends on it")
        for p in left:
            cp = plan.candidates[p]
            lower = cl.others_why == "lower-value" and plan.value(p, level) < plan.value(c.program, level) - EPS
            if not (_constrained(plan, cp) or lower or required):
                bad.append(f"{c.program}: beyond its range while {p} could take {level} and nothing holds it")
        if left and cl.others_why == "constraint" and not all(_constrained(plan, plan.candidates[p]) for p in left):
            bad.append(f"{c.program}: says constraints hold back {left}, but not all are constrained")
    return bad


def _check_unsignaled(plan: PlanView, cl: Claim, c: Candidate) -> list[str]:
    bad = []
    if not c.open:
        if cl.held_back_by is None:
            bad.append(f"{c.program}: cannot take a signal but the claim names no reason")
        return bad
    level = cl.competed_for
    if level is None:
        if plan.allowed(c):
            bad.append(f"{c.program}: could take {plan.allowed(c)} but competed for nothing")
        return bad
    v = plan.value(c.program, level)
    if cl.value is None or abs(cl.value - v) > 1e-6:
        bad.append(f"{c.program}: claimed value {cl.value} is not its value {v}")
    for o in cl.outranked_by:
        if plan.decisions.get(o) != level or plan.candidates[o].fit != c.fit or plan.value(o, level) < v - EPS:
            bad.append(f"{c.program}: says {o} outranked it for {level}, which is not true of the plan")
    held = cl.held_back_by
    if held == "institution" and not plan.covered_by(c):
        bad.append(f"{c.program}: says its institution is signaled, but it is not")
    if held == "range-full":
        q = plan.quotas[level]
        if not q.ranges or plan.count(c.fit, level) < q.fit_range(c.fit)[1]:
            bad.append(f"{c.program}: says the {c.fit} range for {level} is full, but it is not")
    if held == "reserve" and not c.reserve:
        bad.append(f"{c.program}: called a reserve program but it is eligible")
    groups = {g.group for g in c.precedence}
    if held in groups:
        lower = [a for a in plan.signaled(c.fit, level) if plan.value(a, level) < v - EPS]
        if not (plan.waiting_first(c, reserve_too=c.reserve).get(held)
                or any(plan.required_first(a, c) == held for a in lower)):
            bad.append(f"{c.program}: says {held} held it back, which is not true of the plan")
    if c.eligible and not plan.covered_by(c) and held not in groups | {"institution"}:
        for a in plan.signaled(c.fit, level):
            if plan.value(a, level) < v - EPS:
                bad.append(f"{c.program} ({v:g}) left out while {a} ({plan.value(a, level):g}) holds {level} "
                           f"in its fit, and no constraint is named")
    return bad


def precedence_violations(candidates: Sequence[Candidate], quotas: Sequence[LevelQuota],
                          decisions: Mapping[str, str], *, institution_scope: bool = False) -> list[str]:
    """Signaled later-side programs while first-side programs rated at least as high wait (hard constraint)."""
    if not any(c.precedence for c in candidates):
        return []
    return _check_precedence(PlanView.of(candidates, quotas, decisions, "score", None, institution_scope))


def _check_precedence(plan: PlanView) -> list[str]:
    bad = []
    for p in sorted(plan.decisions):
        c = plan.candidates[p]
        for group, waiting in plan.waiting_first(c, reserve_too=c.reserve).items():
            bad.append(f"{p}: signaled while {group} programs rated at least as high wait: {', '.join(waiting)}")
    return bad
