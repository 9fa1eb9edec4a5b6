"""Plans an applicant can trust: one test per problem the trust issue found, on the reports users read.

(The allocation model and its claims are tested in test_allocation_model.py and test_invariants.py; the
guide's readings as policy cases in policies/tests/.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.explain.report import build_report
from signalwise.engine.pipeline import Request, evaluate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def report_of(name: str, **kw: Any) -> dict[str, Any]:
    return build_report(evaluate(Request(str(EXAMPLES / name / "profile.yaml"),
                                         str(EXAMPLES / name / "programs.csv"), **kw)))


@pytest.fixture(scope="module")
def gold_silver() -> dict[str, Any]:
    return report_of("gold-silver-im")


def _texts(p: dict[str, Any]) -> str:
    return " ".join([b["text"] for b in p["because"]] + [w["text"] for w in p["why_not"]])


def test_no_signal_leaves_the_must_have_area_while_a_program_there_rated_as_high_waits(
        gold_silver: dict[str, Any]) -> None:
    """gold-silver-im: must-have middle-atlantic (NY, NJ, PA). A Wisconsin program once took a silver
    "because other fits had no eligible programs left" while a must-have program scoring higher waited."""
    must = {"NY", "NJ", "PA"}
    import csv

    with open(EXAMPLES / "gold-silver-im" / "programs.csv", newline="") as fh:
        interest = {r["id"]: int(r["interest"]) for r in csv.DictReader(fh)}
    programs = gold_silver["programs"]
    waiting = [p for p in programs if p["decision"] == "none" and p["state"] in must
               and p["allocation"]["held_back_by"] != "institution"]
    for p in programs:
        if p["decision"] in ("gold", "silver") and p["state"] not in must:
            assert not [w["id"] for w in waiting if interest[w["id"]] >= interest[p["id"]]], p["id"]
    for p in programs:
        assert "had no eligible programs left" not in _texts(p)


def test_extension_ranges_are_labelled_and_aspirational_silvers_are_optional(gold_silver: dict[str, Any]) -> None:
    """12 silvers is signalwise's extension of the guide's 7-silver advice ("only 1-2 silvers to very
    aspirational programs, if any"): no minimum for reach, and never called the guide's range."""
    silver = next(s for s in gold_silver["signals"] if s["tier"] == "silver")
    assert silver["extension"] is True and silver["quota"]["reach"]["min"] == 0
    for p in gold_silver["programs"]:
        if p["decision"] == "silver":
            how = " ".join(b["text"] for b in p["because"])
            assert "signalwise's extension range" in how and "the guide's range" not in how
    assert not any("silver" in f["text"] and "reach programs" in f["text"] and f["rule"].startswith(
        "check.quota-shortfall") for f in gold_silver["findings"])


def test_the_home_program_is_named_with_the_rule_that_applied(tmp_path: Path) -> None:
    src = EXAMPLES / "strong-im"
    profile = (src / "profile.yaml").read_text() + "home_program: SIM-09\n"
    (tmp_path / "profile.yaml").write_text(profile)
    report = build_report(evaluate(Request(str(tmp_path / "profile.yaml"), str(src / "programs.csv"))))
    home = next(p for p in report["programs"] if p["id"] == "SIM-09")["home"]
    assert home["rule"].startswith("home.") and home["home_rule"] == report["context"].get("home_rule", home[
        "home_rule"])
    assert "is your home program" in home["text"]
    assert home["home_rule_source"]
    assert all("home" not in p for p in report["programs"] if p["id"] != "SIM-09")


def test_a_gain_plan_speaks_of_expected_interviews_not_scores() -> None:
    report = report_of("gold-silver-im-rates", strategy="gain")
    for p in report["programs"]:
        assert p["allocation"]["metric"] == "expected-gain"
        for w in p["why_not"]:
            assert "score" not in w["text"], w
        alloc = [b for b in p["because"] if b["rule"].startswith(("ratios.", "allocate."))]
        for b in alloc:
            assert "score" not in b["text"], b


def test_every_bundled_example_explains_every_program_with_a_checked_claim() -> None:
    for name in ("strong-im", "moderate-fm", "at-risk-im", "gold-silver-im", "gold-silver-im-rates"):
        report = report_of(name)   # build_report refuses a plan whose claims do not hold
        for p in report["programs"]:
            a = p["allocation"]
            assert {"metric", "value", "competed_for", "outranked_by", "held_back_by"} <= set(a)
            if p["decision"] in ("none",):
                assert a["outranked_by"] or a["held_back_by"], p["id"]
