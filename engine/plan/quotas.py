"""The allocation vocabulary: candidates, per-level quotas from the quota table, picks and results.

The engine knows nothing about gold or silver: levels arrive strongest first from the policy, and the
ranges per fit category come from the quota-table row that matched. `engine/plan/solve.py` chooses the
programs; this module only says what a candidate, a quota and a plan are.
"""

from __future__ import annotations

import json
import math
from dataclasses import field
from typing import Any

from ..records import record


@record
class Precedence:
    """Membership in a precedence group declared by the policies (e.g. must-have areas first).

    A program on the `later` side may hold a signal only while every `first`-side program of the group
    whose `rank` is at least its own holds one too (when the list can satisfy that at all).
    """

    group: str
    side: str      # first | later
    rank: float    # the applicant's own rating (e.g. interest); higher = wanted more


@record
class Candidate:
    program: str
    fit: str
    eligible: bool
    score: float
    blocked_levels: frozenset[str] = frozenset()
    institution: str | None = None
    reserve: bool = False              # excluded for a soft reason: takes only a signal nothing else can use
    rating: float | None = None        # the applicant's own rating, the first tie-break after the value
    precedence: tuple[Precedence, ...] = ()

    @property
    def open(self) -> bool:
        """May take a signal at all (eligible, or held in reserve for spare signals)."""
        return self.eligible or self.reserve


@record
class LevelQuota:
    level: str
    count: int
    rule: str | None                  # the quota-table rule that matched, None if no row matched
    ranges: dict[str, tuple[int, int]]
    fill_order: tuple[str, ...]
    overflow: tuple[str, ...]
    from_shares: bool = False
    extension: bool = False           # the row is signalwise's extension of the guide, not the guide's own

    def fit_range(self, fit: str) -> tuple[int, int]:
        return self.ranges.get(fit, (0, 0))

    @property
    def usable(self) -> int:
        """Signals the plan may give: none when no ratio row matched (the policy has a gap; the report
        says so rather than splitting the level without the guide)."""
        return self.count if self.rule is not None else 0


@record
class Pick:
    program: str
    level: str
    fit: str
    value: float   # what it competed with under the plan's metric (score or expected gain)
    step: str      # chosen | spare (a reserve program given a signal nothing else could use)
    rank: int      # 1-based order within the level, by value


@record(frozen=False)
class LevelResult:
    level: str
    available: int
    assigned: int
    ranges: dict[str, tuple[int, int]]
    counts: dict[str, int]
    rule: str | None
    shortfalls: list[str] = field(default_factory=list)   # fits whose minimum could not be met
    extension: bool = False


@record(frozen=False)
class Allocation:
    picks: list[Pick]
    levels: list[LevelResult]
    covered: dict[str, str]  # program -> program whose institution-level signal already covers it
    metric: str = "score"    # score | expected-gain


def quota_from_row(level: str, count: int, row: dict[str, Any] | None) -> LevelQuota:
    """Turn a matched `quota_row` fact (numbers as JSON text) into ranges for `count` signals."""
    if row is None:
        return LevelQuota(level, count, None, {}, (), ())
    ranges = {fit: (lo, hi) for fit, lo, hi in json.loads(row["quota"])}
    shares = [(fit, float(s)) for fit, s in json.loads(row["shares"])]
    caps = {fit: int(c) for fit, c in json.loads(row["caps"])}
    optional = set(json.loads(row.get("optional") or "[]"))
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
        spare = sum(n for fit, n in counts.items() if fit in optional)
        for fit in optional & set(ranges):
            ranges[fit] = (0, ranges[fit][1])      # the guide's "if any": none is as good as some
        receiver = next((f for f in fill if f in ranges and f not in optional), None)
        if receiver is not None and spare:
            lo, hi = ranges[receiver]
            ranges[receiver] = (lo, hi + spare)
    return LevelQuota(level, count, str(row.get("rule")), ranges, fill, overflow, bool(shares),
                      bool(row.get("extension")))


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
