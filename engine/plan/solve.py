"""The one allocation model: which program gets which signal level, as a mixed-integer program.

Both strategies solve the same problem with the same hard constraints and differ only in what they
maximise (see docs/optimizer.md):

hard     only open programs (eligible, or reserve for spare signals); at most one level per program; at
         most `count` signals per level; no blocked (program, level) pair; one signal per institution when
         the specialty signals institutions; and every precedence group the policies declare (e.g. a
         program outside the must-have areas takes a signal only when every eligible must-have program the
         applicant rates at least as high holds one).

then, lexicographically (each optimum is fixed as a constraint for the next solve):
  1. most signals used, then fewest reserve programs used (a reserve takes only a signal nothing else can
     use: the guide's "use every signal");
  2. strategy "gain" only: most expected interviews (unknown gains count 0);
  3. least distance from the guide's ranges per level and fit: each signal below a fit's minimum or above
     its maximum costs 1; spill-over goes to the row's `overflow` fits in order before any other fit;
  4. the guide's shape inside its ranges: free signals go to the row's `fill_order` fits in order (the
     guide's worked examples, e.g. 2 reach / 4 target / 1 safety, not 2 / 3 / 2);
  5. the applicant's preferences: the sum of each signaled program's score, weighted by level strength
     (a stronger level to a higher score);
  6. ties: the applicant's own rating (interest) first, then program id, so the plan is deterministic.

HiGHS (via `highspy`) solves each stage exactly (`mip_rel_gap = 0`). Every number in the objectives is
an integer or scaled to one, so "fixed" optima are exact.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .outcome import RateTable, gain_of
from .quotas import Candidate, LevelQuota

SOLVER = "HiGHS (highspy), exact: mip_rel_gap=0"
SCALE = 1e4          # solver units per point of score or per interview
STRATEGIES = ("guide", "gain")


class OptimizeError(RuntimeError):
    """The solver failed (time limit, numerical trouble). A bug or an extreme input, never a user mistake."""


@dataclass(frozen=True)
class Solution:
    decisions: dict[str, str]        # program -> level, signaled programs only
    solves: int
    seconds: float


def spill_weight(q: LevelQuota, fit: str) -> int:
    """Cost of one signal past `fit`'s maximum: the row's overflow fits in order, any other fit last."""
    return 1 + q.overflow.index(fit) if fit in q.overflow else 2 + len(q.overflow)


def fill_weight(q: LevelQuota, fit: str) -> int:
    """Cost of one signal to `fit` inside the ranges: the row's fill_order fits in order, any other fit last."""
    return 1 + q.fill_order.index(fit) if fit in q.fill_order else 1 + len(q.fill_order)


class _Model:
    """A tiny sparse MILP builder; every variable is an integer."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.rows: list[dict[int, float]] = []
        self.row_lb: list[float] = []
        self.row_ub: list[float] = []

    def var(self, lb: float = 0.0, ub: float = 1.0) -> int:
        self.lb.append(lb)
        self.ub.append(ub)
        return len(self.lb) - 1

    def row(self, coefs: Mapping[int, float], lb: float, ub: float) -> None:
        self.rows.append(dict(coefs))
        self.row_lb.append(lb)
        self.row_ub.append(ub)

    def solve(self, objective: Mapping[int, float], time_limit: float) -> list[float]:
        """Minimise `objective`; the rounded solution."""
        import highspy
        import numpy as np

        h = _highs()
        inf = h.getInfinity()
        n = len(self.lb)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = len(self.rows)
        cost = np.zeros(n)
        for i, v in objective.items():
            cost[i] += v
        lp.col_cost_ = cost
        lp.col_lower_ = np.array(self.lb, dtype=float)
        lp.col_upper_ = np.array(self.ub, dtype=float)
        lp.row_lower_ = np.array([max(v, -inf) for v in self.row_lb], dtype=float)
        lp.row_upper_ = np.array([min(v, inf) for v in self.row_ub], dtype=float)
        start, index, value = [0], [], []
        for r in self.rows:
            for i in sorted(r):
                index.append(i)
                value.append(r[i])
            start.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.num_col_ = n
        lp.a_matrix_.num_row_ = len(self.rows)
        lp.a_matrix_.start_ = np.array(start, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=float)
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n
        h.clearModel()
        h.setOptionValue("time_limit", float(time_limit))
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            raise OptimizeError(f"HiGHS could not solve the allocation: {h.modelStatusToString(status)}")
        return [float(round(v)) for v in h.getSolution().col_value]


_SOLVER: Any = None


def _highs() -> Any:
    """One quiet HiGHS instance per process. HiGHS prints a banner to the C stdout the first time an
    instance is built, even with logging off; it would corrupt `--format json` on stdout, so the first
    construction runs with file descriptor 1 pointed at /dev/null."""
    global _SOLVER
    if _SOLVER is None:
        import highspy

        sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:
            saved = -1
        try:
            if saved >= 0:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.close(null)
            solver = highspy.Highs()
            ctypes.CDLL(None).fflush(None)
        finally:
            if saved >= 0:
                os.dup2(saved, 1)
                os.close(saved)
        for name, value in (("output_flag", False), ("mip_rel_gap", 0.0), ("random_seed", 0),
                            ("threads", 1), ("presolve", "on")):
            solver.setOptionValue(name, value)
        _SOLVER = solver
    return _SOLVER


def solve(candidates: Sequence[Candidate], quotas: Sequence[LevelQuota], *, strategy: str = "guide",
          rates: RateTable | None = None, institution_scope: bool = False,
          time_limit: float = 60.0) -> Solution:
    """The plan for `strategy` (see the module docstring for the exact lexicographic objective)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    ids = [c.program for c in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate program ids among candidates")
    started = time.perf_counter()
    cands = sorted(candidates, key=lambda c: c.program)
    levels = [q.level for q in quotas]
    quota_of = {q.level: q for q in quotas}
    strength = {q.level: len(quotas) - j for j, q in enumerate(quotas)}
    m = _Model()
    x: dict[tuple[str, str], int] = {}
    for c in cands:
        if c.open:
            for q in quotas:
                if q.level not in c.blocked_levels and q.count > 0:
                    x[(c.program, q.level)] = m.var()
    if not x:
        return Solution({}, 0, time.perf_counter() - started)
    own: dict[str, list[int]] = defaultdict(list)
    for (p, _), i in x.items():
        own[p].append(i)
    for idx in own.values():
        if len(idx) > 1:
            m.row({i: 1.0 for i in idx}, 0.0, 1.0)
    for q in quotas:
        idx = [i for (_, t), i in x.items() if t == q.level]
        if idx:
            m.row({i: 1.0 for i in idx}, 0.0, float(q.count))
    by_id = {c.program: c for c in cands}
    reach_of: dict[str, list[int]] = dict(own)   # the variables that put a signal "on" a program
    if institution_scope:
        by_inst: dict[str, list[str]] = defaultdict(list)
        for c in cands:
            if c.institution and c.program in own:
                by_inst[c.institution].append(c.program)
        for members in by_inst.values():
            idx = [i for p in members for i in own[p]]
            if len(idx) > 1:
                m.row({i: 1.0 for i in idx}, 0.0, 1.0)
            for p in members:
                reach_of[p] = idx
    _precedence_rows(m, cands, own, reach_of)

    used = {i: 1.0 for i in x.values()}
    reserve = {i: 1.0 for (p, _), i in x.items() if by_id[p].reserve}
    total = sum(q.count for q in quotas)
    deviation = _deviation_terms(m, quotas, x, by_id)
    score = {i: -by_id[p].score * strength[t] * SCALE for (p, t), i in x.items()}
    n_prog = len(cands)
    order = {c.program: k for k, c in enumerate(cands)}
    tie = {i: -float(strength[t]) * ((by_id[p].rating or 0.0) * (n_prog + 1) + (n_prog - order[p]))
           for (p, t), i in x.items()}
    stages: list[tuple[dict[int, float], float]] = [
        ({**{i: -float(total + 1) for i in used}, **{i: -float(total + 1) + 1.0 for i in reserve}}, 0.5)]
    if strategy == "gain":
        gains = {i: -(gain_of(rates or {}, p, t) or 0.0) * SCALE for (p, t), i in x.items()}
        if any(gains.values()):
            stages.append((gains, 1e-6 * SCALE))
    shape = {i: float(fill_weight(quota_of[t], by_id[p].fit)) for (p, t), i in x.items() if quota_of[t].ranges}
    stages += [(deviation, 0.5), (shape, 0.5), (score, 1e-6 * SCALE), (tie, 0.5)]
    solves = 0
    sol: list[float] = []
    for k, (objective, slack) in enumerate(stages):
        left = max(1.0, time_limit - (time.perf_counter() - started))
        sol = m.solve(objective, left)
        solves += 1
        if k < len(stages) - 1:
            value = sum(v * sol[i] for i, v in objective.items())
            m.row(objective, -float("inf"), value + slack)
    decisions = {p: t for (p, t), i in x.items() if sol[i] > 0.5}
    return Solution(dict(sorted(decisions.items(), key=lambda kv: (levels.index(kv[1]), kv[0]))), solves,
                    time.perf_counter() - started)


def _precedence_rows(m: _Model, cands: Sequence[Candidate], own: Mapping[str, list[int]],
                     reach_of: Mapping[str, list[int]]) -> None:
    """Later-side programs wait for every first-side program rated at least as high (per group).

    One switch per (group, rank, class): it must be on for any later program of that rank to hold a
    signal, and it can be on only while every qualifying first-side program holds one. Eligible later
    programs wait for eligible first-side ones; reserve later programs wait for every open one.
    First-side programs that cannot take any signal are left out: the list cannot satisfy them.
    """
    groups = sorted({g.group for c in cands for g in c.precedence})
    for group in groups:
        firsts = [(c, g.rank) for c in cands for g in c.precedence
                  if g.group == group and g.side == "first" and c.program in own]
        laters = [(c, g.rank) for c in cands for g in c.precedence
                  if g.group == group and g.side == "later" and c.program in own]
        for reserve_class in (False, True):
            members = [(c, r) for c, r in laters if c.reserve == reserve_class]
            for rank in sorted({r for _, r in members}):
                waiting = [c for c, r in firsts if r >= rank and (reserve_class or c.eligible)]
                if not waiting:
                    continue
                switch = m.var()
                for c, r in members:
                    if r == rank:
                        m.row({**{i: 1.0 for i in own[c.program]}, switch: -1.0}, -float("inf"), 0.0)
                for w in waiting:
                    m.row({**{i: 1.0 for i in reach_of[w.program]}, switch: -1.0}, 0.0, float("inf"))


def _deviation_terms(m: _Model, quotas: Sequence[LevelQuota], x: Mapping[tuple[str, str], int],
                     by_id: Mapping[str, Candidate]) -> dict[int, float]:
    """Slack variables for every signal below a fit's minimum or above its maximum, with their costs."""
    members: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (p, t), i in x.items():
        members[(t, by_id[p].fit)].append(i)
    terms: dict[int, float] = {}
    for q in quotas:
        if not q.ranges:
            continue
        fits = sorted(set(q.ranges) | {f for (t, f) in members if t == q.level})
        for f in fits:
            idx = members.get((q.level, f), [])
            lo, hi = q.fit_range(f)
            if lo > 0:
                short = m.var(0.0, float(lo))
                m.row({**{i: 1.0 for i in idx}, short: 1.0}, float(lo), float("inf"))
                terms[short] = 1.0
            if idx and len(idx) > hi:
                extra = m.var(0.0, float(q.count))
                m.row({**{i: 1.0 for i in idx}, extra: -1.0}, -float("inf"), float(hi))
                terms[extra] = float(spill_weight(q, f))
    return terms
