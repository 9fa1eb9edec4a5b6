"""Invariants over generated applicants and shortlists (Hypothesis).

Whatever the inputs: never more signals than a tier has, one tier per program, never a signal to an
excluded or closed program, and every decision explained by rules that exist in the loaded policies.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from signalwise.engine.chain.context import parse_signals_option
from signalwise.engine.explain.report import build_report
from signalwise.engine.pipeline import Request, evaluate
from signalwise.engine.policy.catalogue import Catalogue, bundled_root
from signalwise.engine.policy.compiler import all_rules

STATES = ["NY", "NJ", "PA", "OH", "MI", "TX", "FL", "GA", "CA", "WA", "AZ", "MA", "IL", "MN", "KY"]
AREAS = ["northeast", "midwest", "south", "west", "middle-atlantic", "pacific", "OH", "TX", "NY"]

program = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["Fictional Alder", "Fictional Birch", "Fictional Cedar"]),
        "state": st.sampled_from(STATES),
        "setting": st.sampled_from(["university", "university-affiliated", "community"]),
    },
    optional={
        "research_intensity": st.sampled_from(["high", "moderate", "low"]),
        "img_share": st.sampled_from([0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9]),
        "alumni_from_my_school": st.integers(0, 4),
        "step2_min": st.integers(200, 260),
        "max_years_since_graduation": st.integers(0, 8),
        "requires_step3": st.booleans(),
        "sponsors_visa": st.booleans(),
        "accepts_signals": st.sampled_from(["yes", "no", "unknown"]),
        "location_desirability": st.sampled_from(["high", "normal"]),
        "home": st.booleans(),
        "rotated": st.booleans(),
        "ties": st.lists(st.sampled_from(["geographic", "family", "rotation", "faculty", "research"]),
                         unique=True, max_size=3),
        "would_attend": st.sampled_from(["yes", "no"]),
        "interest": st.integers(1, 5),
        "area_type": st.sampled_from(["urban", "suburban", "rural"]),
        "institution": st.sampled_from(["inst-a", "inst-b", "inst-c"]),
    },
)

profile = st.fixed_dictionaries({
    "specialty": st.sampled_from(["internal-medicine", "family-medicine"]),
    "cycle": st.just("eras-2026"),
    "applicant": st.fixed_dictionaries({
        "graduate_type": st.sampled_from(["us-img", "non-us-img", "us-md", "us-do"]),
        "needs_visa": st.booleans(),
        "graduation_year": st.integers(2010, 2026),
        "exams": st.fixed_dictionaries({
            "step1": st.sampled_from(["pass", "fail-then-pass"]),
            "step2_ck": st.integers(190, 280),
            "step2_attempts": st.integers(1, 3),
            "step3": st.sampled_from(["pass", "not-taken"]),
        }),
        "usce": st.fixed_dictionaries({"months": st.integers(0, 12), "months_in_specialty": st.integers(0, 6),
                                       "sub_internship": st.booleans()}),
        "letters": st.fixed_dictionaries({"us_in_specialty": st.integers(0, 4),
                                          "strength": st.sampled_from(["strong", "good", "weak", "unknown"])}),
        "red_flags": st.lists(st.sampled_from(["exam-failure", "leave-of-absence", "large-gap", "professionalism"]),
                              unique=True, max_size=2),
    }),
    "geography": st.fixed_dictionaries({
        "must_have": st.lists(st.sampled_from(AREAS), unique=True, max_size=2),
        "preferred": st.lists(st.sampled_from(AREAS), unique=True, max_size=2),
        "avoid": st.lists(st.sampled_from(AREAS), unique=True, max_size=1),
    }),
    "goals": st.fixed_dictionaries({"setting": st.sampled_from(["academic", "community", "any"]),
                                    "interests": st.lists(st.sampled_from(["rural", "underserved", "research"]),
                                                          unique=True, max_size=2)}),
})

signals = st.one_of(st.none(), st.integers(0, 12).map(str),
                    st.tuples(st.integers(0, 4), st.integers(0, 15)).map(lambda t: f"gold={t[0]},silver={t[1]}"))

KNOWN_RULES = {r.id for r in all_rules(Catalogue(bundled_root()).policy_set(
    "eras-2026", "internal-medicine", allow_missing_specialty=False, where=("x", None)))}


def run(prof: dict[str, Any], progs: list[dict[str, Any]], sig: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(progs):
            p["id"] = f"G-{i:03d}"
        (Path(tmp) / "profile.yaml").write_text(yaml.safe_dump(prof))
        (Path(tmp) / "programs.yaml").write_text(yaml.safe_dump(progs))
        req = Request(str(Path(tmp) / "profile.yaml"), str(Path(tmp) / "programs.yaml"),
                      signals=parse_signals_option(sig) if sig else None)
        return build_report(evaluate(req))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profile, st.lists(program, min_size=1, max_size=25), signals)
def test_plan_stays_within_quota_and_every_decision_is_explained(
        prof: dict[str, Any], progs: list[dict[str, Any]], sig: str | None) -> None:
    report = run(prof, progs, sig)
    levels = {s["tier"]: s for s in report["signals"]}
    for tier, s in levels.items():
        given_to = [p for p in report["programs"] if p["decision"] == tier]
        assert len(given_to) == s["assigned"] <= s["available"]
    for p in report["programs"]:
        assert p["decision"] in set(levels) | {"none", "exempt", "excluded"}
        if p["fit"] == "closed":
            assert p["decision"] == "excluded"
        assert p["because"], p
        for b in p["because"]:
            assert b["rule"] in KNOWN_RULES or b["rule"].endswith(".default") or b["rule"].startswith("allocate"), b
            assert b["text"].strip()
    for f in report["findings"]:
        assert f["rule"] in KNOWN_RULES or f["rule"].startswith("input.")
    assert report["applicant"]["because"]


# --- the trust contract: the applicant's constraints first, and every allocation claim checked ---------------

LONG = int(__import__("os").environ.get("SIGNALWISE_PROPERTY_EXAMPLES", "0"))
rated_program = program.map(lambda p: {**p, "interest": p.get("interest", 3)})
rates = st.fixed_dictionaries({}, optional={
    "interview_rate_signaled": st.floats(0.0, 1.0).map(lambda v: round(v, 3)),
    "interview_rate_gold": st.floats(0.0, 1.0).map(lambda v: round(v, 3)),
    "interview_rate_silver": st.floats(0.0, 1.0).map(lambda v: round(v, 3)),
    "interview_rate_unsignaled": st.floats(0.0, 0.5).map(lambda v: round(v, 3)),
})


def _states(area: str) -> set[str]:
    from signalwise.engine.load.geography import locate

    return {s for s in STATES + ["AR", "OK", "LA", "WI", "IN"] if area in (s, *locate(s))}


@settings(max_examples=LONG or 150, deadline=None, derandomize=not LONG,
          suppress_health_check=[HealthCheck.too_slow], database=None)
@given(profile, st.lists(st.tuples(rated_program, rates).map(lambda t: {**t[0], **t[1]}), min_size=1, max_size=30),
       signals, st.sampled_from(["guide", "gain"]))
def test_must_have_areas_and_allocation_claims_hold_on_generated_shortlists(
        prof: dict[str, Any], progs: list[dict[str, Any]], sig: str | None, strategy: str) -> None:
    """Independent of engine/plan: no signal leaves the must-have areas while an eligible program inside
    them, rated at least as high, waits; every program carries its `allocation` claim (build_report has
    already run the claim checker, which raises on any false claim)."""
    from signalwise.engine.errors import InputError

    with tempfile.TemporaryDirectory() as tmp:
        for i, p in enumerate(progs):
            p["id"] = f"G-{i:03d}"
        (Path(tmp) / "profile.yaml").write_text(yaml.safe_dump(prof))
        (Path(tmp) / "programs.yaml").write_text(yaml.safe_dump(progs))
        req = Request(str(Path(tmp) / "profile.yaml"), str(Path(tmp) / "programs.yaml"),
                      signals=parse_signals_option(sig) if sig else None, strategy=strategy)
        try:
            report = build_report(evaluate(req))
        except InputError:
            return  # e.g. --strategy gain with no usable rate, or a count the policy does not know
    must = set().union(*(_states(a) for a in prof["geography"]["must_have"])) if prof["geography"]["must_have"] \
        else set()
    rows = {p["id"]: p for p in progs}
    decided = {p["id"]: p for p in report["programs"]}
    for p in report["programs"]:
        assert set(p["allocation"]) >= {"metric", "value", "competed_for", "outranked_by", "held_back_by"}
        assert p["allocation"]["metric"] == ("expected-gain" if strategy == "gain" else "score")
    if must:
        waiting = [pid for pid, p in decided.items() if p["decision"] == "none" and rows[pid]["state"] in must
                   and p["allocation"]["held_back_by"] != "institution"]
        for pid, p in decided.items():
            if p["decision"] in ("none", "excluded", "exempt") or rows[pid]["state"] in must:
                continue
            better = [w for w in waiting if rows[w]["interest"] >= rows[pid]["interest"]]
            assert not better, f"{pid} ({rows[pid]['state']}) signaled while {better} wait inside {must}"
