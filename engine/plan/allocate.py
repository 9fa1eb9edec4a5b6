"""From candidates and quotas to an `Allocation`: solve the one model, then describe the plan it chose.

Pure and deterministic. The metric a program competes with is its score under strategy "guide" and its
expected interview gain under strategy "gain"; picks are ranked within a level by that value, then by
the applicant's own rating, then by program id.
"""

from __future__ import annotations

from collections.abc import Sequence

from .outcome import RateTable, gain_of
from .quotas import Allocation, Candidate, LevelQuota, LevelResult, Pick
from .solve import solve

METRICS = {"guide": "score", "gain": "expected-gain"}


def value_of(c: Candidate, level: str | None, metric: str, rates: RateTable | None) -> float:
    """What `c` competes with for `level` under `metric` (an unknown gain counts as 0, as in the solver)."""
    if metric == "score" or level is None:
        return c.score if metric == "score" else 0.0
    return gain_of(rates or {}, c.program, level) or 0.0


def allocate(quotas: Sequence[LevelQuota], candidates: Sequence[Candidate], *, strategy: str = "guide",
             rates: RateTable | None = None, institution_scope: bool = False) -> Allocation:
    """At most one level per program, never more signals than a level has; see engine/plan/solve.py."""
    metric = METRICS[strategy]
    sol = solve(candidates, quotas, strategy=strategy, rates=rates, institution_scope=institution_scope)
    by_id = {c.program: c for c in candidates}
    picks: list[Pick] = []
    results: list[LevelResult] = []
    for q in quotas:
        chosen = sorted((by_id[p] for p, t in sol.decisions.items() if t == q.level),
                        key=lambda c: (-value_of(c, q.level, metric, rates), -(c.rating or 0.0), c.program))
        counts: dict[str, int] = {fit: 0 for fit in q.ranges}
        for rank, c in enumerate(chosen, start=1):
            picks.append(Pick(c.program, q.level, c.fit, value_of(c, q.level, metric, rates),
                              "spare" if c.reserve else "chosen", rank))
            counts[c.fit] = counts.get(c.fit, 0) + 1
        short = [fit for fit, (lo, _) in sorted(q.ranges.items()) if counts.get(fit, 0) < lo]
        results.append(LevelResult(q.level, q.count, len(chosen), dict(q.ranges), counts, q.rule, short,
                                   q.extension))
    covered: dict[str, str] = {}
    if institution_scope:
        owner = {by_id[p].institution: p for p in sorted(sol.decisions) if by_id[p].institution}
        for c in sorted(candidates, key=lambda c: c.program):
            o = owner.get(c.institution or "")
            if o and o != c.program and c.program not in sol.decisions:
                covered[c.program] = o
    return Allocation(picks, results, covered, metric)
