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


def allocate(quotas: list[LevelQuota], candidates: list[Candidate], *, institution_scope: bool) -> Allocation:
    """Assign at most one level per program, never more signals than a level has."""
    ordered = sorted(candidates, key=lambda c: (-c.score, c.program))
    assigned: dict[str, Pick] = {}
    used_institutions: dict[str, str] = {}
    picks: list[Pick] = []
    near: list[NearMiss] = []
    results: list[LevelResult] = []
    for q in quotas:
        remaining = q.count
        counts = {fit: 0 for fit in q.ranges}
        last: dict[str, str] = {}
        level_picks: list[Pick] = []

        def pool(fit: str, q: LevelQuota = q) -> list[Candidate]:
            return [c for c in ordered
                    if c.fit == fit and c.eligible and c.program not in assigned
                    and q.level not in c.blocked_levels
                    and not (institution_scope and c.institution and c.institution in used_institutions)]

        def take(fit: str, limit: int, step: str, q: LevelQuota = q) -> None:
            nonlocal remaining
            while remaining > 0 and counts[fit] < limit:
                options = pool(fit)
                if not options:
                    return
                c = options[0]
                pick = Pick(c.program, q.level, fit, c.score, step, len(level_picks) + 1)
                assigned[c.program] = pick
                level_picks.append(pick)
                if institution_scope and c.institution:
                    used_institutions[c.institution] = c.program
                counts[fit] += 1
                last[fit] = c.program
                remaining -= 1

        order = list(q.fill_order) + sorted(f for f in q.ranges if f not in q.fill_order)
        for fit in order:
            if fit in q.ranges:
                take(fit, q.ranges[fit][0], "minimum")
        shortfalls = [fit for fit in order if fit in q.ranges and counts[fit] < q.ranges[fit][0]]
        for fit in q.fill_order:
            if fit in q.ranges:
                take(fit, q.ranges[fit][1], "fill")
        for fit in q.overflow:
            counts.setdefault(fit, 0)
            take(fit, q.count, "overflow")
        for fit in sorted(counts):
            options = pool(fit)
            if options:
                c = options[0]
                near.append(NearMiss(c.program, q.level, fit, c.score, last.get(fit)))
        picks.extend(level_picks)
        results.append(LevelResult(q.level, q.count, q.count - remaining, dict(q.ranges),
                                   {f: n for f, n in counts.items()}, q.rule, shortfalls))
    covered = {}
    if institution_scope:
        for c in ordered:
            owner = used_institutions.get(c.institution or "")
            if owner and owner != c.program and c.program not in assigned:
                covered[c.program] = owner
    return Allocation(picks, near, results, covered)
