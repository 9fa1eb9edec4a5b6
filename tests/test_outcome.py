"""Poisson-binomial distribution against brute-force enumeration; ranges and unknown rates."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signalwise.engine.plan.outcome import NONE, Rate, distribution, outcome, p_at_least


def enumerate_distribution(ps: list[float]) -> list[float]:
    dist = [0.0] * (len(ps) + 1)
    for hits in itertools.product((0, 1), repeat=len(ps)):
        prob = math.prod(p if h else 1 - p for p, h in zip(ps, hits, strict=True))
        dist[sum(hits)] += prob
    return dist


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), max_size=10))
def test_distribution_matches_enumeration(ps: list[float]) -> None:
    exact = enumerate_distribution(ps)
    dp = distribution(ps)
    assert len(dp) == len(ps) + 1
    assert sum(dp) == pytest.approx(1.0, abs=1e-12)
    for a, b in zip(dp, exact, strict=True):
        assert a == pytest.approx(b, abs=1e-12)
    mean = sum(k * v for k, v in enumerate(dp))
    assert mean == pytest.approx(sum(ps), abs=1e-9)
    for k in range(len(ps) + 2):
        assert p_at_least(dp, k) == pytest.approx(sum(exact[k:]) if k <= len(ps) else 0.0, abs=1e-12)


def _loop_distribution(ps: list[float]) -> list[float]:
    """The original in-place dynamic program, kept as the reference for the faster one (issue 15)."""
    dist = [1.0]
    for p in ps:
        nxt = [0.0] * (len(dist) + 1)
        for k, mass in enumerate(dist):
            nxt[k] += mass * (1.0 - p)
            nxt[k + 1] += mass * p
        dist = nxt
    return dist


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 0.5, 5e-324]),
                          st.floats(min_value=0.0, max_value=1.0, allow_nan=False)), max_size=40))
def test_distribution_is_bit_identical_to_the_loop_it_replaced(ps: list[float]) -> None:
    """Reports print these numbers: the comprehension must give the very same floats, not close ones."""
    assert [x.hex() for x in distribution(ps)] == [x.hex() for x in _loop_distribution(ps)]


def test_distribution_rejects_bad_probabilities() -> None:
    with pytest.raises(ValueError):
        distribution([0.5, 1.5])


def test_outcome_uses_the_tier_of_each_program_and_propagates_ranges() -> None:
    rates = {
        "A": {NONE: Rate(0.1, 0.05, 0.2), "gold": Rate(0.6, 0.5, 0.7)},
        "B": {NONE: Rate(0.2, 0.1, 0.3), "silver": Rate(0.4)},
        "C": {NONE: 0.3},
        "D": {NONE: None},
    }
    out = outcome({"A": "gold", "B": "silver"}, rates)
    assert out.expected_interviews == pytest.approx(0.6 + 0.4 + 0.3)
    assert out.low == pytest.approx(0.5 + 0.4 + 0.3)
    assert out.high == pytest.approx(0.7 + 0.4 + 0.3)
    assert out.unknown_programs == ["D"]
    assert out.ranges_missing == ["B", "C"]
    exact = enumerate_distribution([0.6, 0.4, 0.3])
    assert out.p_at_least[1] == pytest.approx(1 - exact[0])
    assert out.p_at_least[3] == pytest.approx(exact[3])
    assert out.p_at_least[5] == 0.0
    assert out.programs == 3


def test_outcome_program_list_and_json() -> None:
    rates = {"A": {NONE: 0.5, "signal": 0.9}}
    out = outcome({}, rates, programs=["A", "B"], ks=[1])
    assert out.unknown_programs == ["B"]
    assert out.expected_interviews == pytest.approx(0.5)
    js = out.to_json()
    assert js["p_at_least"] == {"1": 0.5}
    assert set(js) >= {"expected_interviews", "p_at_least", "low", "high", "unknown_programs"}
    empty = outcome({}, {}, programs=["X"])
    assert empty.low is None and empty.high is None and empty.expected_interviews == 0.0


def test_a_500_program_distribution_keeps_its_mass_mean_and_variance() -> None:
    """No timing here (bench/ measures speed): a long chain of convolutions must not drift."""
    rng = random.Random(1)
    ps = [rng.random() * 0.3 for _ in range(500)]
    dist = distribution(ps)
    assert len(dist) == 501 and min(dist) >= 0.0
    assert sum(dist) == pytest.approx(1.0)
    mean = sum(k * v for k, v in enumerate(dist))
    assert mean == pytest.approx(sum(ps))
    assert sum((k - mean) ** 2 * v for k, v in enumerate(dist)) == pytest.approx(sum(p * (1 - p) for p in ps))
