"""The gain tools around the one allocation model: plans, moves, P(at least k), explanations.

The model itself is checked against an independent brute force in tests/test_allocation_model.py."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signalwise.engine.plan.optimize import (
    Move,
    gain_of,
    hard_violations,
    neighbours,
    optimize,
    plan_gain,
)
from signalwise.engine.plan.outcome import NONE, Rate
from signalwise.engine.plan.quotas import Candidate, LevelQuota

from .test_allocation_model import Instance, random_instance  # reserves, precedence groups, institutions

TOL = 1e-7


def test_a_spare_signal_to_a_reserve_program_is_a_valid_plan() -> None:
    """A reserve program may take a signal nothing eligible can use; `compare` once called that plan broken."""
    cands = [Candidate("E", "target", True, 5.0, rating=3.0), Candidate("R", "reach", False, 4.0, reserve=True)]
    q = LevelQuota("signal", 2, "r", {"target": (1, 2), "reach": (0, 1)}, ("target",), ())
    plan = optimize(cands, [q], {}, "guide")
    assert plan.decisions == {"E": "signal", "R": "signal"}
    assert not hard_violations(plan.decisions, cands, [q], institution_scope=False, strategy="guide")


def test_gain_plan_never_below_guide_plan() -> None:
    rng = random.Random(7)
    for _ in range(150):
        cands, quotas, rates, scope = random_instance(rng, max_programs=12)
        guide = optimize(cands, quotas, rates, "guide", institution_scope=scope)
        gain = optimize(cands, quotas, rates, "gain", institution_scope=scope)
        assert gain.gain >= guide.gain - 1e-9


def test_the_p_at_least_search_is_independent_of_input_order() -> None:
    """The solver's own order-independence is tested in test_allocation_model.py; this covers the local
    search on top of it (its moves, their order, its search record)."""
    rng = random.Random(99)
    for _ in range(40):
        cands, quotas, rates, scope = random_instance(rng, max_programs=10)
        k = rng.randint(1, 4)
        first = optimize(cands, quotas, rates, "gain", institution_scope=scope, objective="p_at_least", k=k)
        shuffled = list(cands)
        rng.shuffle(shuffled)
        again = optimize(shuffled, quotas, dict(reversed(list(rates.items()))), "gain", institution_scope=scope,
                         objective="p_at_least", k=k)
        assert (again.decisions, again.search, again.notes) == (first.decisions, first.search, first.notes)


def test_tie_break_gives_stronger_tiers_to_higher_scores() -> None:
    """With no rate data every plan ties on gain: higher scores get gold."""
    cands = [Candidate(f"P{i}", "target", True, float(i)) for i in range(5)]
    quotas = [LevelQuota("gold", 1, "r", {"target": (0, 5)}, ("target",), ()),
              LevelQuota("silver", 2, "r", {"target": (0, 5)}, ("target",), ())]
    rates: dict[str, dict[str, Any]] = {}
    plan = optimize(cands, quotas, rates, "guide")
    assert plan.decisions == {"P4": "gold", "P3": "silver", "P2": "silver"}
    assert plan.unknown_gain == ["P2", "P3", "P4"]


def test_guide_spill_over_like_allocate() -> None:
    """A minimum that cannot be met spills into the overflow fits, in overflow order."""
    cands = [Candidate("R1", "reach", True, 1.0)]
    cands += [Candidate(f"T{i}", "target", True, 1.0) for i in range(4)]
    cands += [Candidate(f"S{i}", "safety", True, 1.0) for i in range(4)]
    q = LevelQuota("signal", 5, "r", {"reach": (2, 2), "target": (2, 2), "safety": (1, 1)},
                   ("target",), ("target", "safety"))
    rates = {c.program: {NONE: 0.1, "signal": 0.2} for c in cands}
    plan = optimize(cands, [q], rates, "guide")
    assert plan.counts["signal"] == {"reach": 1, "target": 3, "safety": 1}
    assert plan.shortfall["signal"] == {"reach": 1}
    assert plan.overflow["signal"] == {"target": 1}


def test_gain_strategy_follows_the_lift_not_the_ratio() -> None:
    cands = [Candidate("A", "safety", True, 9.0), Candidate("B", "reach", True, 0.0)]
    q = LevelQuota("signal", 1, "r", {"safety": (1, 1), "reach": (0, 0)}, ("safety",), ())
    rates = {"A": {NONE: 0.5, "signal": 0.55}, "B": {NONE: 0.05, "signal": 0.4}}
    assert optimize(cands, [q], rates, "guide").decisions == {"A": "signal"}
    gain = optimize(cands, [q], rates, "gain")
    assert gain.decisions == {"B": "signal"}
    assert gain.deviation == 2


def test_gain_strategy_still_uses_every_signal() -> None:
    """Using every signal comes first in both strategies (the guide's FAQ 1), even at a negative gain."""
    cands = [Candidate("A", "target", True, 1.0)]
    q = LevelQuota("signal", 1, "r", {"target": (1, 1)}, ("target",), ())
    rates = {"A": {NONE: 0.5, "signal": 0.4}}
    assert optimize(cands, [q], rates, "gain").decisions == {"A": "signal"}
    assert optimize(cands, [q], rates, "guide").decisions == {"A": "signal"}


def test_rates_may_be_rate_objects() -> None:
    cands = [Candidate("A", "target", True, 1.0), Candidate("B", "target", True, 2.0)]
    q = LevelQuota("signal", 1, "r", {"target": (0, 1)}, ("target",), ())
    rates = {"A": {NONE: Rate(0.1), "signal": Rate(0.6)}, "B": {NONE: Rate(0.1), "signal": Rate(0.3)}}
    plan = optimize(cands, [q], rates, "gain")
    assert plan.decisions == {"A": "signal"}
    assert gain_of(rates, "A", "signal") == pytest.approx(0.5)


def test_p_at_least_objective_never_worse_and_valid() -> None:
    from signalwise.engine.plan.outcome import outcome

    rng = random.Random(3)
    for _ in range(30):
        cands, quotas, rates, scope = random_instance(rng, max_programs=8)
        for strategy in ("guide", "gain"):
            base = optimize(cands, quotas, rates, strategy, institution_scope=scope)
            better = optimize(cands, quotas, rates, strategy, institution_scope=scope,
                              objective="p_at_least", k=2)
            assert not hard_violations(better.decisions, cands, quotas, institution_scope=scope,
                                       strategy=strategy)
            p0 = outcome(base.decisions, rates, programs=[c.program for c in cands], ks=[2]).p_at_least[2]
            p1 = outcome(better.decisions, rates, programs=[c.program for c in cands], ks=[2]).p_at_least[2]
            assert p1 >= p0 - 1e-12


def test_neighbour_moves_keep_constraints() -> None:
    rng = random.Random(11)
    for _ in range(40):
        cands, quotas, rates, scope = random_instance(rng, max_programs=8)
        plan = optimize(cands, quotas, rates, "gain", institution_scope=scope)
        for mv in neighbours(plan.decisions, cands, quotas, rates, institution_scope=scope):
            after = mv.apply(plan.decisions)
            assert not hard_violations(after, cands, quotas, institution_scope=scope, strategy="gain"), mv
            change = plan_gain(after, rates) - plan_gain(plan.decisions, rates)
            assert change == pytest.approx(mv.delta, abs=1e-9)
            if mv.kind in ("move", "swap"):  # same signals used: the gain plan is optimal, none improves it
                assert mv.delta <= 1e-9
        assert isinstance(Move("add", "t", "A", None, None, 0.1).text(), str)


# --- property-based: never a violated constraint --------------------------------------------------------

@st.composite
def instances(draw: st.DrawFn) -> Instance:
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    size = draw(st.integers(min_value=1, max_value=25))
    return random_instance(random.Random(seed), max_programs=size)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(), st.sampled_from(["guide", "gain"]))
def test_never_violates_a_constraint(inst: Instance, strategy: str) -> None:
    cands, quotas, rates, scope = inst
    plan = optimize(cands, quotas, rates, strategy, institution_scope=scope)
    assert not hard_violations(plan.decisions, cands, quotas, institution_scope=scope, strategy=strategy)
    by_id = {c.program: c for c in cands}
    for p, t in plan.decisions.items():
        assert by_id[p].open and t not in by_id[p].blocked_levels   # eligible, or a reserve's spare signal
    assert len(plan.decisions) == len(set(plan.decisions))
    for q in quotas:
        assert plan.used[q.level] <= q.count


def test_incremental_distribution_update_is_exact() -> None:
    from signalwise.engine.plan.optimize import _add, _remove
    from signalwise.engine.plan.outcome import distribution

    rng = random.Random(5)
    for _ in range(200):
        ps = [rng.random() for _ in range(rng.randint(1, 30))]
        ps += [rng.choice([0.0, 1.0, 0.5])] if rng.random() < 0.3 else []
        full = distribution(ps)
        j = rng.randrange(len(ps))
        without = distribution(ps[:j] + ps[j + 1:])
        for a, b in zip(_remove(full, ps[j]), without, strict=True):
            assert a == pytest.approx(b, abs=1e-9)
        assert _add(without, ps[j]) == pytest.approx(full, abs=1e-12)


def test_explanations_are_exact_and_consistent() -> None:
    from signalwise.engine.plan.optimize import explain_plan

    rng = random.Random(21)
    reasons = {"excluded", "blocked", "institution", "quota", "other-tier", "tier-full"}
    for _ in range(60):
        cands, quotas, rates, scope = random_instance(rng, max_programs=10)
        for strategy in ("guide", "gain"):
            plan = optimize(cands, quotas, rates, strategy, institution_scope=scope)
            ex = explain_plan(plan.decisions, cands, quotas, rates, institution_scope=scope,
                              strategy=strategy)
            assert [s["program"] for s in ex["signals"]] == sorted(plan.decisions, key=lambda p: (
                [q.level for q in quotas].index(plan.decisions[p]), p))
            for s in ex["signals"]:
                alt = s["alternative"]
                if alt is not None:
                    if strategy == "gain" and alt["kind"] in ("move", "swap"):
                        assert alt["delta"] <= 1e-9  # the gain plan is optimal: no alternative adds
                    after = Move(alt["kind"], alt["tier"], alt["to"], alt["from"], alt["other_tier"],
                                 alt["delta"]).apply(plan.decisions)
                    assert plan_gain(after, rates) - plan.gain == pytest.approx(alt["delta"], abs=1e-9)
            for u in ex["unused"]:
                assert u["reason"] in reasons and u["gain"] > 0
