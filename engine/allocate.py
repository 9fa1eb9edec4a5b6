"""Fill each signal level's quotas with concrete programs: pure, deterministic, explained.

The engine knows nothing about gold or silver: levels arrive strongest first from the policy, quotas
per fit category come from the quota table row that matched, and programs are ranked by the sum of
their `score` facts. Ties are broken by program id (ascending), so input order never matters.

Per level, in three passes: (1) meet each fit's minimum, (2) fill up to each fit's maximum in the
row's `fill_order`, (3) spill what is left past the maximum in the row's `overflow` order. Every pick
records which pass placed it; every fit records the best program left out (the near miss).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    program: str
    fit: str
    eligible: bool
    score: float
    blocked_levels: frozenset[str] = frozenset()
    institution: str | None = None


@dataclass(frozen=True)
class LevelQuota:
    level: str
    count: int
    rule: str | None                  # the quota-table rule that matched, None if no row matched
    ranges: dict[str, tuple[int, int]]
    fill_order: tuple[str, ...]
    overflow: tuple[str, ...]
    from_shares: bool = False


@dataclass(frozen=True)
class Pick:
    program: str
    level: str
    fit: str
    score: float
    step: str      # minimum | fill | overflow
    rank: int      # 1-based order within the level


@dataclass(frozen=True)
class NearMiss:
    program: str
    level: str
    fit: str
    score: float
    last_pick: str | None  # lowest-ranked program picked for this level and fit


@dataclass
class LevelResult:
    level: str
    available: int
    assigned: int
    ranges: dict[str, tuple[int, int]]
    counts: dict[str, int]
    rule: str | None
    shortfalls: list[str] = field(default_factory=list)   # fits whose minimum could not be met


@dataclass
class Allocation:
    picks: list[Pick]
    near_misses: list[NearMiss]
    levels: list[LevelResult]
    covered: dict[str, str]  # program -> program whose institution-level signal already covers it


def quota_from_row(level: str, count: int, row: dict[str, Any] | None) -> LevelQuota:
    """Turn a matched `quota_row` fact (numbers as JSON text) into ranges for `count` signals."""
    if row is None:
        return LevelQuota(level, count, None, {}, (), ())
    ranges = {fit: (lo, hi) for fit, lo, hi in json.loads(row["quota"])}
    shares = [(fit, float(s)) for fit, s in json.loads(row["shares"])]
    caps = {fit: int(c) for fit, c in json.loads(row["caps"])}
    fill = tuple(json.loads(row["fill_order"]))
    overflow = tuple(json.loads(row["overflow"]))
    if shares:
        counts = largest_remainder(count, shares, fill)
        for fit, cap in caps.items():
            excess = counts.get(fit, 0) - cap
            if excess > 0:
                counts[fit] = cap
                for other in fill:
                    if other != fit and other not in caps:
                        counts[other] = counts.get(other, 0) + excess
                        break
        ranges = {fit: (n, n) for fit, n in counts.items()}
    return LevelQuota(level, count, str(row.get("rule")), ranges, fill, overflow, bool(shares))


def largest_remainder(total: int, shares: list[tuple[str, float]], order: tuple[str, ...]) -> dict[str, int]:
    """Apportion `total` by `shares` (Hamilton's method); ties go to the fit earlier in `order`."""
    weight = sum(s for _, s in shares) or 1.0
    exact = {fit: total * s / weight for fit, s in shares}
    counts = {fit: math.floor(v) for fit, v in exact.items()}
    left = total - sum(counts.values())
    rank = {fit: (order.index(fit) if fit in order else len(order)) for fit, _ in shares}
    for fit in sorted(exact, key=lambda f: (-(exact[f] - counts[f]), rank[f], f))[:left]:
        counts[fit] += 1
    return counts


@dataclass
class _Filler:
    """Fills one level's quotas; shares `assigned` and `used_institutions` with the levels before it."""

    q: LevelQuota
    ordered: list[Candidate]
    assigned: dict[str, Pick]
    used_institutions: dict[str, str]
    institution_scope: bool
    remaining: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    last: dict[str, str] = field(default_factory=dict)
    picks: list[Pick] = field(default_factory=list)

    def pool(self, fit: str) -> list[Candidate]:
        """Eligible programs of this fit still open for this level, best first."""
        return [c for c in self.ordered
                if c.fit == fit and c.eligible and c.program not in self.assigned
                and self.q.level not in c.blocked_levels
                and not (self.institution_scope and c.institution and c.institution in self.used_institutions)]

    def take(self, fit: str, limit: int, step: str) -> None:
        """Give signals to the best open programs of `fit` until `limit` of them hold one."""
        self.counts.setdefault(fit, 0)
        while self.remaining > 0 and self.counts[fit] < limit:
            options = self.pool(fit)
            if not options:
                return
            c = options[0]
            pick = Pick(c.program, self.q.level, fit, c.score, step, len(self.picks) + 1)
            self.assigned[c.program] = pick
            self.picks.append(pick)
            if self.institution_scope and c.institution:
                self.used_institutions[c.institution] = c.program
            self.counts[fit] += 1
            self.last[fit] = c.program
            self.remaining -= 1


def allocate(quotas: list[LevelQuota], candidates: list[Candidate], *, institution_scope: bool) -> Allocation:
    """Assign at most one level per program, never more signals than a level has."""
    ordered = sorted(candidates, key=lambda c: (-c.score, c.program))
    assigned: dict[str, Pick] = {}
    used_institutions: dict[str, str] = {}
    picks: list[Pick] = []
    near: list[NearMiss] = []
    results: list[LevelResult] = []
    for q in quotas:
        f = _Filler(q, ordered, assigned, used_institutions, institution_scope, remaining=q.count,
                    counts={fit: 0 for fit in q.ranges})
        order = list(q.fill_order) + sorted(fit for fit in q.ranges if fit not in q.fill_order)
        for fit in order:
            if fit in q.ranges:
                f.take(fit, q.ranges[fit][0], "minimum")
        shortfalls = [fit for fit in order if fit in q.ranges and f.counts[fit] < q.ranges[fit][0]]
        for fit in q.fill_order:
            if fit in q.ranges:
                f.take(fit, q.ranges[fit][1], "fill")
        for fit in q.overflow:
            f.take(fit, q.count, "overflow")
        for fit in sorted(f.counts):
            options = f.pool(fit)
            if options:
                near.append(NearMiss(options[0].program, q.level, fit, options[0].score, f.last.get(fit)))
        picks.extend(f.picks)
        results.append(LevelResult(q.level, q.count, q.count - f.remaining, dict(q.ranges), dict(f.counts),
                                   q.rule, shortfalls))
    covered = {}
    if institution_scope:
        for c in ordered:
            owner = used_institutions.get(c.institution or "")
            if owner and owner != c.program and c.program not in assigned:
                covered[c.program] = owner
    return Allocation(picks, near, results, covered)
