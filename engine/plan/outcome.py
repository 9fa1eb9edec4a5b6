"""The interview count a signal plan should bring: an exact Poisson-binomial over independent programs.

Pure and deterministic. Each program contributes one Bernoulli trial whose probability is its interview
rate at the tier the plan gives it (`none` when unsignaled). The distribution of the sum is computed
exactly by dynamic programming (one convolution per program); expected interviews are the sum of the
rates. Rate ranges are propagated by evaluating the plan with every rate at the low end of its range
and again at the high end: a pessimistic / optimistic pair, not a confidence interval.

Programs whose rate is unknown are left out of every number and listed in `unknown_programs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field
from typing import Any

from ..records import record

NONE = "none"
DEFAULT_KS: tuple[int, ...] = (1, 3, 5, 8, 10, 12, 15)


@record
class Rate:
    """One interview probability with where it came from.

    `origin` is "shortlist" (the applicant's interview_rate_* column) or "model" (a policies/models file);
    `source` is text a report can print ("your shortlist, column interview_rate_gold" or the citation);
    `reliability` is A / B / C / assumption / shortlist. `low`/`high` are None when no range is known.
    """

    value: float
    low: float | None = None
    high: float | None = None
    origin: str = "model"
    source: str = ""
    reliability: str = "assumption"
    note: str | None = None
    range_note: str | None = None

    def lo(self) -> float:
        return self.value if self.low is None else self.low

    def hi(self) -> float:
        return self.value if self.high is None else self.high

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "low": self.low, "high": self.high, "origin": self.origin,
                "source": self.source, "reliability": self.reliability, "note": self.note,
                "range_note": self.range_note}


RateLike = Rate | float | None
# program id -> tier name (including "none") -> rate (None or absent = unknown)
RateTable = Mapping[str, Mapping[str, RateLike]]


def rate_value(r: RateLike) -> float | None:
    if r is None:
        return None
    return r.value if isinstance(r, Rate) else float(r)


def _ends(r: RateLike) -> tuple[float, float] | None:
    if r is None:
        return None
    if isinstance(r, Rate):
        return r.lo(), r.hi()
    return float(r), float(r)


def distribution(probabilities: Iterable[float]) -> list[float]:
    """P(X = k) for k = 0..n, X a sum of independent Bernoulli(p_i): exact by dynamic programming."""
    # new[k] = old[k-1]*p + old[k]*q, one comprehension per program carrying old[k-1] along (faster on
    # CPython 3.11+ than pairing sliced copies with zip, and no call per cell). The same products and the same single
    # addition per cell as the textbook loop, and the edges are 0.0*p + old[0]*q = old[0]*q and
    # old[-1]*p (0.0 + x is x for x >= 0), so the floats are bit-identical. With hundreds of programs the
    # upper tail underflows to exactly 0.0, and a cell whose two inputs are 0.0 is 0.0 again: those cells
    # are counted, not computed, and appended at the end.
    dist = [1.0]
    zeros = 0
    for p in probabilities:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability {p} outside [0, 1]")
        q = 1.0 - p
        prev = 0.0
        # `prev * p` is evaluated before `(prev := x)` rebinds prev: left operand first.
        new = [prev * p + (prev := x) * q for x in dist]
        new.append(prev * p)
        while len(new) > 1 and new[-1] == 0.0:
            new.pop()
            zeros += 1
        dist = new
    if zeros:
        dist += [0.0] * zeros
    return dist


def p_at_least(dist: list[float], k: int) -> float:
    """P(X >= k) from a distribution as returned by `distribution` (clamped to [0, 1])."""
    if k <= 0:
        return 1.0
    if k >= len(dist):
        return 0.0
    return min(1.0, max(0.0, sum(dist[k:])))


@record(frozen=False)
class Outcome:
    expected_interviews: float
    p_at_least: dict[int, float]
    low: float | None            # expected interviews with every known rate at the low end of its range
    high: float | None           # ... at the high end
    unknown_programs: list[str]  # programs left out: no rate for the tier the plan gives them
    ranges_missing: list[str] = field(default_factory=list)  # rate without a range: low = high = value
    programs: int = 0            # programs counted
    distribution: list[float] = field(default_factory=list)

    def to_json(self, *, with_distribution: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expected_interviews": round(self.expected_interviews, 6),
            "p_at_least": {str(k): round(v, 6) for k, v in sorted(self.p_at_least.items())},
            "low": None if self.low is None else round(self.low, 6),
            "high": None if self.high is None else round(self.high, 6),
            "unknown_programs": list(self.unknown_programs),
            "ranges_missing": list(self.ranges_missing),
            "programs_counted": self.programs,
        }
        if with_distribution:
            out["distribution"] = [round(x, 6) for x in self.distribution]
        return out


def outcome(plan_decisions: Mapping[str, str], rates: RateTable, *, programs: Iterable[str] | None = None,
            ks: Iterable[int] = DEFAULT_KS) -> Outcome:
    """The interview-count distribution of a plan.

    `plan_decisions` maps program id -> tier for signaled programs; every other program in `programs`
    (default: every program in `rates`) counts at its `none` rate. Programs whose rate for their tier is
    unknown are excluded and listed.
    """
    ids = sorted(set(programs) if programs is not None else set(rates) | set(plan_decisions))
    probs: list[float] = []
    lows: list[float] = []
    highs: list[float] = []
    unknown: list[str] = []
    no_range: list[str] = []
    empty: Mapping[str, RateLike] = {}
    for pid in ids:
        r = (rates.get(pid) or empty).get(plan_decisions.get(pid, NONE))
        # rate_value and _ends, inline: this runs once per program of the shortlist.
        if r is None:
            unknown.append(pid)
            continue
        if isinstance(r, Rate):
            v = r.value
            if v is None:
                unknown.append(pid)
                continue
            probs.append(v)
            lows.append(v if r.low is None else r.low)
            highs.append(v if r.high is None else r.high)
            if r.low is None or r.high is None:
                no_range.append(pid)
        else:
            v = float(r)
            probs.append(v)
            lows.append(v)
            highs.append(v)
            no_range.append(pid)
    dist = distribution(probs)
    return Outcome(
        expected_interviews=sum(probs),
        p_at_least={k: p_at_least(dist, k) for k in sorted(set(ks))},
        low=sum(lows) if probs else None,
        high=sum(highs) if probs else None,
        unknown_programs=unknown,
        ranges_missing=no_range,
        programs=len(probs),
        distribution=dist,
    )


def gain_of(rates: RateTable, program: str, tier: str) -> float | None:
    """P(interview | tier) - P(interview | no signal), or None when either is unknown."""
    row = rates.get(program) or {}
    t, n = rate_value(row.get(tier)), rate_value(row.get(NONE))
    if t is None or n is None:
        return None
    return t - n
