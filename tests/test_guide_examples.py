"""The guide's example applicants, reproduced from the bundled examples (docs: shared/seed guide)."""

from __future__ import annotations

from typing import Any

import pytest
from signalwise.engine.load.schemas import validator

from .conftest import EXAMPLE_NAMES, evaluate_json


def split(report: dict[str, Any], tier: str) -> dict[str, int]:
    sig = next(s for s in report["signals"] if s["tier"] == tier)
    return {fit: n for fit, n in sig["by_fit"].items() if n}


def test_strong_im_with_seven_equal_signals_follows_example_1(reports: dict[str, Any]) -> None:
    r = reports["strong-im"]
    assert r["applicant"]["tier"] == "strong"
    assert split(r, "signal") == {"reach": 2, "target": 4, "safety": 1}


def test_moderate_fm_with_five_signals_follows_example_2(reports: dict[str, Any]) -> None:
    r = reports["moderate-fm"]
    assert r["applicant"]["tier"] == "moderate"
    assert split(r, "signal") == {"reach": 1, "target": 3, "safety": 1}


def test_at_risk_im_with_seven_signals_follows_example_3(reports: dict[str, Any]) -> None:
    r = reports["at-risk-im"]
    assert r["applicant"]["tier"] == "at-risk"
    got = split(r, "signal")
    assert got.get("reach", 0) <= 1
    assert 4 <= got.get("safety", 0) <= 5
    assert sum(got.values()) == 7


def test_at_risk_tier_names_its_reasons(reports: dict[str, Any]) -> None:
    codes = {b["rule"] for b in reports["at-risk-im"]["applicant"]["indicators"]}
    assert {"tier.indicator.step1-failure", "tier.indicator.step2-below-reference",
            "tier.indicator.long-since-graduation"} <= codes


def test_gold_silver_plan_uses_every_signal_and_sends_gold_to_a_tied_reach(reports: dict[str, Any]) -> None:
    r = reports["gold-silver-im"]
    gold = next(s for s in r["signals"] if s["tier"] == "gold")
    silver = next(s for s in r["signals"] if s["tier"] == "silver")
    assert (gold["assigned"], silver["assigned"]) == (3, 12)
    gold_reaches = [p for p in r["programs"] if p["decision"] == "gold" and p["fit"] == "reach"]
    assert 1 <= len(gold_reaches) <= 2
    programs = {p["id"]: p for p in r["programs"]}
    for p in gold_reaches:  # a meaningful tie: rotation, family or faculty
        assert any(b["rule"] in ("score.rotation", "score.ties") for b in programs[p["id"]]["because"])


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_report_validates_against_its_schema(name: str, reports: dict[str, Any]) -> None:
    errors = list(validator("report").iter_errors(reports[name]))
    assert errors == []


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_json_report_is_byte_identical_on_a_second_run(name: str, reports: dict[str, Any]) -> None:
    import json

    first = json.dumps(reports[name], sort_keys=True)
    assert json.dumps(evaluate_json(name), sort_keys=True) == first


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_program_has_one_entry_and_an_explained_decision(name: str, reports: dict[str, Any]) -> None:
    r = reports[name]
    ids = [p["id"] for p in r["programs"]]
    assert len(ids) == len(set(ids))
    for p in r["programs"]:
        assert p["because"], p["id"]
        for b in p["because"]:
            assert b["text"] and b["rule"] and b["policy"]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_excluded_and_closed_programs_never_get_a_signal(name: str, reports: dict[str, Any]) -> None:
    levels = {s["tier"] for s in reports[name]["signals"]}
    for p in reports[name]["programs"]:
        if p["fit"] == "closed":
            assert p["decision"] == "excluded"
        if p["decision"] in levels:
            assert p["fit"] != "closed"


def test_program_that_does_not_take_signals_is_excluded_with_the_reason(reports: dict[str, Any]) -> None:
    p = next(p for p in reports["strong-im"]["programs"] if p["id"] == "SIM-16")
    assert p["decision"] == "excluded"
    assert any(b["rule"] == "exclude.does-not-accept-signals" for b in p["because"])


def test_wanted_programs_without_a_signal_get_advice(reports: dict[str, Any]) -> None:
    advised = [p for p in reports["strong-im"]["programs"] if p["advice"]]
    assert advised
    for p in advised:
        assert p["decision"] in ("none", "excluded")
        assert "open house" in p["advice"][0]["advice"]


def test_short_safety_list_is_flagged_for_the_moderate_fm_example(reports: dict[str, Any]) -> None:
    rules = {f["rule"] for f in reports["moderate-fm"]["findings"]}
    assert "check.shortlist-few-safety" in rules


def test_avoided_region_lowers_the_score(reports: dict[str, Any]) -> None:
    r = reports["gold-silver-im"]
    west = [p for p in r["programs"] if any(b["rule"] == "score.avoided-region" for b in p["because"])]
    assert west and all(p["decision"] not in ("gold",) for p in west)
