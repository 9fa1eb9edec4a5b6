"""`signalwise compare`, the interview-rate models in policies/models and where every rate comes from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.errors import PolicyError
from signalwise.engine.pipeline import Request, evaluate
from signalwise.engine.plan.interview_model import (
    available_models,
    load_model,
    load_model_file,
    program_rates,
)
from signalwise.engine.plan.optimize import hard_violations, optimize
from signalwise.engine.plan.outcome import NONE
from signalwise.engine.policy.catalogue import bundled_root

from .conftest import EXAMPLES, run_cli

RATES_EXAMPLE = EXAMPLES / "gold-silver-im-rates"
RELIABILITIES = {"A", "B", "C", "assumption", "shortlist"}


def compare_args(name: str, plan: Path | str, *extra: str) -> list[str]:
    return ["compare", "--profile", str(EXAMPLES / name / "profile.yaml"),
            "--programs", str(EXAMPLES / name / "programs.csv"), "--plan", str(plan), *extra]


def compare_json(name: str, plan: Path | str, *extra: str) -> dict[str, Any]:
    result = run_cli(*compare_args(name, plan, "--format", "json", *extra))
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


@pytest.fixture(scope="module")
def rates_report() -> dict[str, Any]:
    return compare_json("gold-silver-im-rates", RATES_EXAMPLE / "my-signals.yaml")


def test_compare_three_plans_side_by_side(rates_report: dict[str, Any]) -> None:
    plans = rates_report["plans"]
    assert set(plans) == {"yours", "guide", "optimal"}
    e = {n: plans[n]["outcome"]["expected_interviews"] for n in plans}
    assert e["optimal"] >= e["guide"] - 1e-9
    assert e["optimal"] >= e["yours"] - 1e-9
    assert e["optimal"] > e["yours"]  # the example's own plan leaves interviews on the table
    for p in plans.values():
        assert set(p["outcome"]["p_at_least"]) == {"1", "3", "5", "8", "10", "12", "15"}
        probs = list(p["outcome"]["p_at_least"].values())
        assert probs == sorted(probs, reverse=True)
    assert plans["yours"]["decisions"]["GSI-01"] == "gold"
    assert plans["optimal"]["solver"]["name"].startswith("exact lexicographic")


def test_plans_respect_signal_counts_and_institutions(rates_report: dict[str, Any]) -> None:
    for p in rates_report["plans"].values():
        tiers = list(p["decisions"].values())
        assert tiers.count("gold") <= 3 and tiers.count("silver") <= 12
        assert not ({"GSI-11", "GSI-12"} <= set(p["decisions"]))


def test_swaps_are_improvements_in_order(rates_report: dict[str, Any]) -> None:
    swaps = rates_report["swaps"]
    assert swaps, "the example plan can be improved"
    assert all(s["delta"] > 0 for s in swaps)
    totals = [s["cumulative"] for s in swaps]
    assert totals == sorted(totals)
    assert swaps[0]["text"].startswith(("move ", "swap", "give "))
    assert "interviews" in swaps[0]["text"]


def test_explanations_name_gain_and_alternative(rates_report: dict[str, Any]) -> None:
    sig = rates_report["explanations"]["optimal"]["signals"]
    assert len(sig) == 15
    for s in sig:
        assert s["gain"] is not None
        assert "interviews" in s["text"]
        if s["alternative"] is not None:
            assert s["alternative"]["delta"] <= 1e-9  # the optimal plan: no alternative adds
    unused = rates_report["explanations"]["optimal"]["unused"]
    reasons = {u["program"]: u["reason"] for u in unused}
    assert reasons and set(reasons.values()) <= {"excluded", "blocked", "institution", "quota", "other-tier",
                                                 "tier-full"}
    assert reasons.get("GSI-04") == "excluded"  # no rate columns: its gain comes from the IM model


def test_every_rate_used_names_its_source(rates_report: dict[str, Any]) -> None:
    used = 0
    for row in rates_report["programs"]:
        for tier, rate in row["rates"].items():
            if rate is None:
                continue
            used += 1
            assert rate["source"], (row["program"], tier)
            assert rate["reliability"] in RELIABILITIES
            assert rate["origin"] in ("shortlist", "model")
    assert used > 100
    for s in rates_report["sources"]:
        assert s["source"] and s["reliability"] in RELIABILITIES


def test_model_rates_name_their_source_in_the_fm_example(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("MFM-01: signal\nMFM-07: signal\n", encoding="utf-8")
    data = compare_json("moderate-fm", plan)
    for s in data["sources"]:
        assert s["origin"] == "model"
        assert "datadoc1/signal-analysis" in s["source"] and s["source"].endswith("[secondary]")
        assert s["low"] is not None and s["range_note"]
    assert any("US-citizen IMGs" in n for n in data["notes"])
    e = {n: p["outcome"]["expected_interviews"] for n, p in data["plans"].items()}
    assert e["optimal"] >= e["guide"] - 1e-9 >= e["yours"] - 1e-9
    o = data["plans"]["optimal"]["outcome"]
    assert o["low"] < o["expected_interviews"] < o["high"]


@pytest.mark.parametrize("name", ["strong-im", "at-risk-im"])
def test_no_rate_data_exits_2_with_a_clear_message(name: str, tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("{}\n", encoding="utf-8")
    result = run_cli(*compare_args(name, plan))
    assert result.exit_code == 2
    assert "no interview-rate data for internal-medicine" in result.output
    assert "interview_rate_" in result.output


def test_text_format(tmp_path: Path) -> None:
    result = run_cli(*compare_args("gold-silver-im-rates", RATES_EXAMPLE / "my-signals.yaml"))
    assert result.exit_code == 0, result.output
    out = result.output
    for piece in ("expected interviews", "your plan", "guide plan", "optimal (gain)", "P(at least 10)",
                  "Changes that would add the most", "Rates used", "interview_rate_gold"):
        assert piece in out


def test_maximize_p_at_least_option(tmp_path: Path) -> None:
    data = compare_json("gold-silver-im-rates", RATES_EXAMPLE / "my-signals.yaml",
                        "--maximize-p-at-least", "12", "--at-least", "12")
    assert data["plans"]["optimal"]["solver"]["objective"] == "p_at_least:12"
    assert set(data["plans"]["optimal"]["outcome"]["p_at_least"]) == {"12"}


@pytest.mark.parametrize(("text", "message"), [
    ("GSI-99: gold\n", "'GSI-99' is not a program id"),
    ("GSI-01: platinum\n", "expected one of: gold, silver, none"),
    ("GSI-01: gold\nGSI-02: gold\nGSI-09: gold\nGSI-10: gold\n",
     "4 gold signals given, but there are only 3"),
    ("GSI-11: silver\nGSI-12: gold\n", "both at institution 'ardwellyn-univ'"),
    ("- GSI-01\n", "a plan must be a mapping"),
    ("GSI-01: gold\nGSI-01: silver\n", "duplicate key"),
])
def test_invalid_plans_exit_2(tmp_path: Path, text: str, message: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text, encoding="utf-8")
    result = run_cli(*compare_args("gold-silver-im-rates", plan))
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "plan.yaml:" in result.output


def test_plan_may_say_none_and_warns_about_excluded_programs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("GSI-15: gold\nGSI-01: none\n", encoding="utf-8")
    data = compare_json("gold-silver-im-rates", plan)
    assert data["plans"]["yours"]["decisions"] == {"GSI-15": "gold"}
    assert any("GSI-15" in w for w in data["warnings"])


# --- the models --------------------------------------------------------------------------------------


def test_bundled_models_load_and_cite_every_rate() -> None:
    names = available_models()
    assert "eras-2026.internal-medicine" in names and "eras-2026.family-medicine" in names
    for name in names:
        cycle, specialty = name.split(".", 1)
        model = load_model(specialty, cycle)
        assert model is not None
        for tier, rate in model.rates.items():
            assert rate.source and rate.reliability in RELIABILITIES, (name, tier)
            if rate.low is not None:
                assert rate.low <= rate.value <= (rate.high or 1.0)
                assert rate.range_note, (name, tier)
        for tier, note in model.unknown.items():
            assert note, (name, tier)
        assert set(model.rates) | set(model.unknown) >= {NONE}


def test_internal_medicine_rates_are_unknown_where_nothing_was_found() -> None:
    for cycle in ("eras-2023", "eras-2025"):
        model = load_model("internal-medicine", cycle)
        assert model is not None and model.rates == {}


def test_internal_medicine_rates_name_their_sample_source_and_population() -> None:
    for cycle in ("eras-2026", "eras-2027"):
        model = load_model("internal-medicine", cycle)
        assert model is not None and set(model.rates) == {"gold", "silver", "none"}
        assert model.applicant_types == ("all",) and "Residency Explorer" in model.population
        for rate in model.rates.values():
            assert rate.reliability == "C" and "27 programs" in rate.source
            assert rate.low is not None and rate.high is not None
        assert model.rates["gold"].value > model.rates["silver"].value > model.rates["none"].value


def test_compare_runs_for_internal_medicine_without_rate_columns(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("{}\n", encoding="utf-8")
    data = compare_json("gold-silver-im", plan)
    assert data["plans"]["optimal"]["outcome"]["expected_interviews"] > 0
    assert any("all IM applicants pooled" in note for note in data["notes"]), data["notes"]


def _write_model(tmp_path: Path, name: str, body: str) -> Path:
    folder = tmp_path / "models"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(body, encoding="utf-8")
    return path


MODEL = """\
id: eras-2026.test-specialty.interview-model
kind: interview-model
version: 1.0.0
title: Test model
specialty: test-specialty
cycle: eras-2026
structure: single
population: {applicant_types: [all], description: everyone}
rates:
  signal: {value: 0.5, low: 0.4, high: 0.6, source: s1, range_note: made up for a test}
  none: {value: 0.2, source: s1}
adjustments:
  - id: reach-lower
    when: {fit: [reach]}
    tiers: [signal]
    multiply: 0.5
    source: guess
    note: a labelled assumption for the test
sources:
  s1: {title: Source one, reliability: B}
  guess: {title: signalwise assumption, reliability: assumption}
"""


def test_program_rates_shortlist_first_then_model_with_adjustments(tmp_path: Path) -> None:
    _write_model(tmp_path, "eras-2026.test-specialty", MODEL)
    model = load_model("test-specialty", "eras-2026", tmp_path)
    assert model is not None
    rates = program_rates(model, {"id": "P", "interview_rate_unsignaled": 0.1}, "target", ["signal"])
    assert rates[NONE] is not None and rates[NONE].origin == "shortlist" and rates[NONE].value == 0.1
    assert "interview_rate_unsignaled" in rates[NONE].source
    sig = rates["signal"]
    assert sig is not None and sig.origin == "model" and sig.value == 0.5 and sig.reliability == "B"
    reach = program_rates(model, {"id": "P"}, "reach", ["signal"])["signal"]
    assert reach is not None and reach.value == pytest.approx(0.25) and reach.low == pytest.approx(0.2)
    assert reach.reliability == "assumption" and "reach-lower" in (reach.note or "")
    assert program_rates(model, {"id": "P"}, "target", ["gold"])["gold"] is None
    assert program_rates(None, {"id": "P"}, "target", ["signal"]) == {"signal": None, NONE: None}


@pytest.mark.parametrize(("change", "message"), [
    (("source: s1}", "source: nowhere}"), "'nowhere' is not a key of sources"),
    (("value: 0.5, low: 0.4", "value: 0.3, low: 0.4"), "expected low <= value <= high"),
    (("  none: {value: 0.2, source: s1}\n", ""), "rates.none: missing"),
    (("value: 0.2, source: s1", "value: unknown"), "note"),
    (("tiers: [signal]", "tiers: [gold]"), "'gold' is not a tier of this model"),
])
def test_invalid_models_are_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _write_model(tmp_path, "eras-2026.test-specialty", MODEL.replace(*change, 1))
    with pytest.raises(PolicyError) as err:
        load_model_file(path)
    assert message in str(err.value)


def test_model_file_name_must_match(tmp_path: Path) -> None:
    path = _write_model(tmp_path, "eras-2025.test-specialty", MODEL)
    with pytest.raises(PolicyError, match="name the file eras-2026.test-specialty.yaml"):
        load_model_file(path)


def test_models_folder_is_package_data() -> None:
    assert (bundled_root() / "models" / "eras-2026.family-medicine.yaml").is_file()


# --- the API the evaluate command uses ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["moderate-fm", "gold-silver-im-rates"])
def test_gain_inputs_and_both_strategies_on_examples(name: str) -> None:
    ev = evaluate(Request(str(EXAMPLES / name / "profile.yaml"), str(EXAMPLES / name / "programs.csv")))
    assert ev.optimization is not None
    gi = ev.optimization.inputs
    assert gi.has_data()
    plans = {s: optimize(gi.candidates, gi.quotas, gi.rates, s, institution_scope=gi.institution_scope)
             for s in ("guide", "gain")}
    for s, plan in plans.items():
        assert not hard_violations(plan.decisions, gi.candidates, gi.quotas,
                                   institution_scope=gi.institution_scope, strategy=s)
    assert plans["gain"].gain >= plans["guide"].gain - 1e-9


def test_compare_guide_plan_is_the_evaluate_plan() -> None:
    """One allocation model: `compare`'s guide plan is exactly the plan `evaluate` prints."""
    for name in ("moderate-fm", "gold-silver-im-rates"):
        ev = evaluate(Request(str(EXAMPLES / name / "profile.yaml"), str(EXAMPLES / name / "programs.csv")))
        assert ev.optimization is not None
        gi = ev.optimization.inputs
        plan = optimize(gi.candidates, gi.quotas, gi.rates, "guide", institution_scope=gi.institution_scope)
        assert plan.decisions == {p.program: p.level for p in ev.allocation.picks}


def test_rate_columns_do_not_change_the_default_plan(tmp_path: Path) -> None:
    """Rates choose programs only under --strategy gain; without it the plan is the one without rates,
    and a finding says the rates went unused."""
    import csv

    src = EXAMPLES / "gold-silver-im-rates"
    with open(src / "programs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [k for k in rows[0] if not k.startswith("interview_rate_")]
    bare = tmp_path / "programs.csv"
    with open(bare, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keep, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    with_rates = evaluate(Request(str(src / "profile.yaml"), str(src / "programs.csv")))
    without = evaluate(Request(str(src / "profile.yaml"), str(bare)))
    plan = {p.program: p.level for p in with_rates.allocation.picks}
    assert plan == {p.program: p.level for p in without.allocation.picks}
    gain = evaluate(Request(str(src / "profile.yaml"), str(src / "programs.csv"), strategy="gain"))
    assert {p.program: p.level for p in gain.allocation.picks} != plan   # the rates do matter under gain
    from signalwise.engine.explain.report import build_report

    report = build_report(with_rates)
    assert report["strategy"] == "guide"
    assert any(f["rule"] == "check.rates-unused" for f in report["findings"])
    assert not any(f["rule"] == "check.rates-unused" for f in build_report(without)["findings"])
    assert all(p["allocation"]["metric"] == "score" for p in report["programs"])
    assert all(p["allocation"]["metric"] == "expected-gain" for p in build_report(gain)["programs"])


def test_evaluate_still_reads_the_rates_example() -> None:
    result = run_cli("evaluate", "--profile", str(RATES_EXAMPLE / "profile.yaml"),
                     "--programs", str(RATES_EXAMPLE / "programs.csv"), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["strategy"] == "guide"  # the rates describe the guide plan; they choose nothing
    assert report["outcome"]["expected_interviews"] > 0
    assert all(p["allocation"]["metric"] == "score" for p in report["programs"] if p.get("allocation"))
