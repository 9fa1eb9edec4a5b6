"""The one allocation model: which program gets which signal level, solved exactly.

Both strategies solve the same problem with the same hard constraints and differ only in what they
maximise (see docs/optimizer.md):

hard     only open programs (eligible, or reserve for spare signals); at most one level per program; at
         most `count` signals per level; no blocked (program, level) pair; one signal per institution when
         the specialty signals institutions; and every precedence group the policies declare (e.g. a
         program outside the must-have areas takes a signal only when every eligible must-have program the
         applicant rates at least as high holds one).

then, lexicographically (a later goal never costs an earlier one anything):
  1. most signals used, then fewest reserve programs used (a reserve takes only a signal nothing else can
     use: the guide's "use every signal"), then the stronger levels used first (a gold left unused while
     a silver is spent wastes the stronger signal);
  2. strategy "gain" only: most expected interviews (unknown gains count 0);
  3. least distance from the guide's ranges per level and fit: each signal below a fit's minimum or above
     its maximum costs 1; spill-over goes to the row's `overflow` fits in order before any other fit;
  4. the guide's shape inside its ranges: free signals go to the row's `fill_order` fits in order (the
     guide's worked examples, e.g. 2 reach / 4 target / 1 safety, not 2 / 3 / 2);
  5. the applicant's preferences: the sum of each signaled program's score, weighted by level strength
     (a stronger level to a higher score);
  6. ties: the applicant's own rating (interest) first, then program id, so the plan is deterministic.

Without precedence groups this is a minimum-cost flow (source -> level -> level x fit -> program ->
[institution] -> sink) whose arc costs are the goals above as one exact lexicographic cost
(engine/plan/flow.py); flows are integral, so the flow optimum is the plan's optimum. A precedence group
is exact too: a plan's lowest-rated signaled later-side program fixes a threshold, below which later-side
programs are barred and at or above which first-side programs must hold a signal. Each threshold is a
flow problem; the best of them is the plan. Scores are exact to 1e-6 points, gains to 1e-9 interviews.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from itertools import product

from ..records import record
from .flow import BOUND, DIGIT_BITS, Network
from .outcome import RateTable, gain_of
from .quotas import Candidate, LevelQuota

SOLVER = "exact lexicographic minimum-cost flow (signalwise)"
STRATEGIES = ("guide", "gain")
SCORE_UNIT = 10**6     # score points -> integers
GAIN_UNIT = 10**9      # interviews -> integers
INF = 10**9
# cost components, most important first
FORCED, USED, RESERVE, STRENGTH, GAIN, DEVIATION, SHAPE, SCORE, TIE = range(9)
WIDTH = 9


class OptimizeError(RuntimeError):
    """The model could not be solved (an extreme input). A bug or an extreme input, never a user mistake."""


@record
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


def _cost(**parts: int) -> int:
    """`pack` of the tuple with these components (the rest 0), without building the tuple: the model
    prices thousands of arcs per solve, and a zero component adds nothing to the packed sum."""
    out = 0
    for name, value in parts.items():
        if value:
            k = _INDEX[name]
            if abs(value) >= BOUND:
                raise OverflowError(f"cost component {k} = {value} is too large to pack exactly")
            out += value << _SHIFT[k]
    return out


_INDEX = {"forced": FORCED, "used": USED, "reserve": RESERVE, "strength": STRENGTH, "gain": GAIN,
          "deviation": DEVIATION, "shape": SHAPE, "score": SCORE, "tie": TIE}
_SHIFT = [DIGIT_BITS * (WIDTH - 1 - k) for k in range(WIDTH)]


def solve(candidates: Sequence[Candidate], quotas: Sequence[LevelQuota], *, strategy: str = "guide",
          rates: RateTable | None = None, institution_scope: bool = False) -> Solution:
    """The plan for `strategy` (see the module docstring for the exact lexicographic objective)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    ids = [c.program for c in candidates]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate program ids among candidates")
    started = time.perf_counter()
    model = _Model(sorted(candidates, key=lambda c: c.program), list(quotas), strategy, rates, institution_scope)
    # Without its precedence groups the problem is a relaxation: when its optimum already keeps every group,
    # it is the plan, and no threshold needs solving.
    best = model.run(frozenset(), frozenset())
    solves = 1
    if best is not None and not model.keeps_precedence(best[1]):
        best = None
        for barred, forced in model.thresholds():
            solves += 1
            result = model.run(barred, forced)
            if result is not None and (best is None or result[0] < best[0]):
                best = result
    decisions = best[1] if best is not None else {}
    levels = [q.level for q in quotas]
    ordered = dict(sorted(decisions.items(), key=lambda kv: (levels.index(kv[1]), kv[0])))
    return Solution(ordered, solves, time.perf_counter() - started)


class _Model:
    """One allocation problem; `run` solves it with some later-side programs barred and some first-side
    programs forced, `thresholds` lists the combinations that together cover every feasible plan."""

    def __init__(self, cands: list[Candidate], quotas: list[LevelQuota], strategy: str,
                 rates: RateTable | None, institution_scope: bool) -> None:
        self.cands = cands
        self.quotas = quotas
        self.strategy = strategy
        self.rates = rates or {}
        self.scope = institution_scope
        self.strength = {q.level: len(quotas) - j for j, q in enumerate(quotas)}
        self.allowed = {c.program: [q.level for q in quotas if q.usable > 0 and q.level not in c.blocked_levels]
                        for c in cands if c.open}
        n = len(cands)
        self.tie = {c.program: int(round((c.rating or 0.0) * 1000)) * (n + 1) + (n - k) for k, c in enumerate(cands)}
        self._priced: dict[str, list[tuple[str, int]]] = {}

    def keeps_precedence(self, decisions: Mapping[str, str]) -> bool:
        """Does a plan keep every precedence group (no later-side program signaled while a first-side one
        rated at least as high, able to take a signal and not covered by its institution, waits)?"""
        held = {c.institution for c in self.cands if c.program in decisions and self.scope and c.institution}
        for c in self.cands:
            if c.program not in decisions:
                continue
            for g in c.precedence:
                if g.side != "later":
                    continue
                for w in self.cands:
                    if w.program in decisions or not self.allowed.get(w.program):
                        continue
                    if not (w.eligible or c.reserve) or (self.scope and w.institution in held and w.institution):
                        continue
                    if any(h.group == g.group and h.side == "first" and h.rank >= g.rank for h in w.precedence):
                        return False
        return True

    def thresholds(self) -> list[tuple[frozenset[str], frozenset[str]]]:
        """(barred, forced) per combination of thresholds, one per precedence group and class."""
        groups = sorted({g.group for c in self.cands for g in c.precedence})
        per_group = []
        for group in groups:
            firsts = [(c, g.rank) for c in self.cands for g in c.precedence
                      if g.group == group and g.side == "first" and self.allowed.get(c.program)]
            laters = [(c, g.rank) for c in self.cands for g in c.precedence
                      if g.group == group and g.side == "later" and self.allowed.get(c.program)]
            ranks_e = sorted({r for c, r in laters if c.eligible}) + [float("inf")]
            ranks_r = sorted({r for c, r in laters if c.reserve}) + [float("inf")]
            options = []
            for re_, rr in product(ranks_e, ranks_r):
                barred = frozenset(c.program for c, r in laters if r < (re_ if c.eligible else rr))
                forced = frozenset(c.program for c, r in firsts
                                   if (c.eligible and r >= min(re_, rr)) or (c.reserve and r >= rr))
                options.append((barred, forced))
            per_group.append(options)
        combos = []
        for choice in product(*per_group):
            barred = frozenset().union(*(b for b, _ in choice)) if choice else frozenset()
            forced = frozenset().union(*(f for _, f in choice)) if choice else frozenset()
            if not barred & forced:
                combos.append((barred, forced))
        return sorted(set(combos), key=lambda bf: (sorted(bf[0]), sorted(bf[1])))

    def run(self, barred: frozenset[str], forced: frozenset[str]) -> tuple[int, dict[str, str]] | None:
        """The best plan with `barred` programs out and every `forced` program signaled; None if impossible."""
        net = Network()
        source, sink = net.node(), net.node()
        level_node = {}
        for q in self.quotas:
            if q.usable > 0:
                level_node[q.level] = net.node()
                net.arc(source, level_node[q.level], q.usable, _cost(used=-1, strength=-self.strength[q.level]))
        group_node: dict[tuple[str, str], int] = {}
        program_node: dict[str, int] = {}
        inst_node: dict[str, int] = {}
        program_arcs: list[tuple[int, str, str]] = []
        # A forced program is satisfied by a signal to it or, when signals go to institutions, to its
        # institution: the reward for covering it sits on the arc into the sink that the signal takes.
        forced_insts = {c.institution for c in self.cands if c.program in forced and self.scope and c.institution}
        units = len(forced_insts) + sum(1 for c in self.cands if c.program in forced
                                        and not (self.scope and c.institution))
        node, add_arc, allowed = net.node, net.arc, self.allowed   # once per program: locals, not look-ups
        covered, uncovered = _cost(forced=-1), _cost(forced=0)
        for c in self.cands:
            levels = allowed.get(c.program)
            if not levels or c.program in barred:
                continue
            pn = program_node[c.program] = node()
            if self.scope and c.institution:
                if c.institution not in inst_node:
                    inst_node[c.institution] = node()
                    add_arc(inst_node[c.institution], sink, 1,
                            covered if c.institution in forced_insts else uncovered)
                add_arc(pn, inst_node[c.institution], 1, 0)
            else:
                add_arc(pn, sink, 1, covered if c.program in forced else uncovered)
            for level, cost in self._arc_costs(c, levels):
                key = (level, c.fit)
                if key not in group_node:
                    group_node[key] = self._group(net, level_node[level], level, c.fit)
                program_arcs.append((add_arc(group_node[key], pn, 1, cost), c.program, level))
        total = net.min_cost_flow(source, sink)
        decisions = {p: level for arc, p, level in program_arcs if net.flow(arc) > 0}
        held = {c.institution for c in self.cands if c.program in decisions and self.scope and c.institution}
        if any(p not in decisions and not (self.scope and c.institution in held)
               for c in self.cands if (p := c.program) in forced):
            return None
        return total - _cost(forced=-units), decisions

    def _arc_costs(self, c: Candidate, levels: list[str]) -> list[tuple[str, int]]:
        """(level, packed cost) of each arc into `c`'s program node: the same in every threshold's solve,
        so priced once per model."""
        got = self._priced.get(c.program)
        if got is None:
            got = []
            score = -int(round(c.score * SCORE_UNIT))
            tie = -self.tie[c.program]
            for level in levels:
                gain = 0
                if self.strategy == "gain":
                    gain = -int(round((gain_of(self.rates, c.program, level) or 0.0) * GAIN_UNIT))
                strength = self.strength[level]
                got.append((level, _cost(reserve=1 if c.reserve else 0, gain=gain, score=score * strength,
                                         tie=tie * strength)))
            self._priced[c.program] = got
        return got

    def _group(self, net: Network, level_node: int, level: str, fit: str) -> int:
        """The level x fit node, fed by arcs that price each signal against the fit's range."""
        q = next(x for x in self.quotas if x.level == level)
        node = net.node()
        shape = fill_weight(q, fit) if q.ranges else 0
        if not q.ranges:
            net.arc(level_node, node, INF, 0)
            return node
        lo, hi = q.fit_range(fit)
        if lo > 0:
            net.arc(level_node, node, lo, _cost(deviation=-1, shape=shape))
        if hi > lo:
            net.arc(level_node, node, hi - lo, _cost(shape=shape))
        net.arc(level_node, node, INF, _cost(deviation=spill_weight(q, fit), shape=shape))
        return node
