"""Issue 14: the season open today, planned cycles, the specialty registry and the IM interview model.

Today is fixed by SIGNALWISE_TODAY (conftest sets 2026-12-01), so the default cycle is reproducible.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.policy.catalogue import Catalogue, bundled_root, choose_season
from signalwise.engine.policy.specialties import load_registry

from .conftest import EXAMPLES, run_cli

STRONG = EXAMPLES / "strong-im"
GSI = EXAMPLES / "gold-silver-im"


def profile_without_cycle(tmp_path: Path, specialty: str = "internal-medicine", source: Path = STRONG) -> Path:
    lines = [ln for ln in (source / "profile.yaml").read_text(encoding="utf-8").splitlines()
             if not ln.startswith("cycle:")]
    text = "\n".join(ln if not ln.startswith("specialty:") else f"specialty: {specialty}" for ln in lines) + "\n"
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def evaluate(profile: Path, *extra: str, programs: Path = STRONG / "programs.csv") -> Any:
    return run_cli("evaluate", "--profile", str(profile), "--programs", str(programs), *extra)


# ---------------------------------------------------------------- the season open today

def test_without_a_cycle_the_season_open_today_is_used_and_named_in_the_first_line(tmp_path: Path) -> None:
    result = evaluate(profile_without_cycle(tmp_path), "--signals", "gold=3,silver=12")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Your signal plan: Internal medicine, ERAS 2027 (cycle eras-2027 chosen from today's "
                            "date (2026-12-01): the season open")
    assert "2026-06-03 to 2027-05-31" in first


def test_the_chosen_season_without_a_count_asks_for_signals_and_says_why(tmp_path: Path) -> None:
    result = evaluate(profile_without_cycle(tmp_path))
    assert result.exit_code == 2
    assert "cycle eras-2027 chosen from today's date (2026-12-01)" in result.output
    assert "No 2026-27 count was found" in result.output and "--signals" in result.output


def test_the_default_follows_the_date(monkeypatch: pytest.MonkeyPatch) -> None:
    seasons = Catalogue(bundled_root()).seasons()
    on = {day: choose_season(seasons, "internal-medicine", dt.date.fromisoformat(day))
          for day in ("2025-10-01", "2026-06-02", "2026-12-01", "2027-09-01")}
    assert on["2025-10-01"] and on["2025-10-01"].season.cycle == "eras-2026"
    assert on["2026-06-02"] and (on["2026-06-02"].season.cycle, on["2026-06-02"].state) == ("eras-2027", "upcoming")
    assert on["2026-12-01"] and (on["2026-12-01"].season.cycle, on["2026-12-01"].state) == ("eras-2027", "open")
    assert on["2027-09-01"] and on["2027-09-01"].season.cycle == "eras-2028"


def test_emergency_medicine_defaults_to_its_own_system() -> None:
    seasons = Catalogue(bundled_root()).seasons()
    choice = choose_season(seasons, "emergency-medicine", dt.date(2026, 12, 1))
    assert choice is not None and choice.season.cycle == "residencycas-2027"


def test_a_profile_cycle_that_has_ended_gets_a_warning(tmp_path: Path) -> None:
    result = evaluate(GSI / "profile.yaml", "--format", "json", programs=GSI / "programs.csv")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    ended = [f for f in report["findings"] if f["rule"] == "check.cycle-ended"]
    assert ended and ended[0]["level"] == "warning"
    assert "eras-2026, a season that ended on 2026-05-31" in ended[0]["text"]
    assert "is eras-2027" in ended[0]["text"]


def test_an_explicit_cycle_option_is_not_warned_about(tmp_path: Path) -> None:
    result = evaluate(GSI / "profile.yaml", "--cycle", "eras-2026", "--format", "json", programs=GSI / "programs.csv")
    assert result.exit_code == 0, result.output
    assert "check.cycle-ended" not in {f["rule"] for f in json.loads(result.output)["findings"]}


# ---------------------------------------------------------------- planned cycles

def test_eras_2028_is_planned_and_listed_with_its_status() -> None:
    result = run_cli("policy", "list", "--cycle", "eras-2028", "--format", "json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries and all(e["status"] == "assumed" and e["signals"] == "unknown" for e in entries)
    text = run_cli("policy", "list", "--cycle", "eras-2028").output
    assert text.startswith("eras-2028 (16 specialties) [planned: assumed]")


def test_every_eras_2026_specialty_has_an_eras_2027_and_an_eras_2028_policy() -> None:
    cat = Catalogue(bundled_root())
    assert set(cat.specialties("eras-2026")) <= set(cat.specialties("eras-2027"))
    assert set(cat.specialties("eras-2026")) <= set(cat.specialties("eras-2028"))


def test_no_count_is_carried_forward_into_eras_2027_or_2028() -> None:
    for policy in Catalogue(bundled_root()).all_specialty_policies():
        info = policy.specialty
        assert info is not None
        if info.cycle in ("eras-2027", "eras-2028", "residencycas-2027"):
            assert all(t.count is None for t in info.tiers), policy.ref
            assert info.signals_note and "searched" in info.signals_note, policy.ref


def test_evaluating_an_assumed_cycle_asks_for_signals_and_says_why(tmp_path: Path) -> None:
    result = evaluate(STRONG / "profile.yaml", "--cycle", "eras-2028")
    assert result.exit_code == 2
    assert "eras-2028 is a planned cycle whose signal rules have not been announced (status: assumed)" in result.output
    assert "--signals" in result.output


def test_an_assumed_cycle_may_not_state_counts(tmp_path: Path) -> None:
    src = bundled_root() / "cycles" / "eras-2028" / "family-medicine.yaml"
    root = tmp_path / "policies"
    (root / "cycles" / "eras-2028").mkdir(parents=True)
    target = root / "cycles" / "eras-2028" / "family-medicine.yaml"
    target.write_text(src.read_text(encoding="utf-8").replace("{name: signal, count: null}",
                                                              "{name: signal, count: 5}"), encoding="utf-8")
    result = run_cli("policy", "validate", str(target))
    assert result.exit_code == 2
    assert "has `status: assumed` but states 5 signal signals" in result.output


# ---------------------------------------------------------------- the specialty registry

@pytest.mark.parametrize("extra", [[], ["--signals", "7"]])
def test_a_misspelled_specialty_exits_2_with_a_suggestion(tmp_path: Path, extra: list[str]) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_text((STRONG / "profile.yaml").read_text(encoding="utf-8")
                       .replace("specialty: internal-medicine", "specialty: internal-medicne"), encoding="utf-8")
    result = evaluate(profile, *extra)
    assert result.exit_code == 2
    assert "profile.yaml:3: specialty: unknown specialty 'internal-medicne'" in result.output
    assert "did you mean 'internal-medicine'" in result.output


@pytest.mark.parametrize("alias", ["IM", "Internal Medicine", "internal_medicine"])
def test_aliases_resolve_to_the_canonical_id(tmp_path: Path, alias: str) -> None:
    result = evaluate(STRONG / "profile.yaml", "--specialty", alias, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["specialty"] == "internal-medicine"


def test_registry_knows_every_specialty_of_the_catalogue_and_peds() -> None:
    registry = load_registry(bundled_root())
    assert registry is not None
    assert registry.resolve("peds") == "pediatrics" and registry.resolve("OB/GYN") == "obstetrics-gynecology"
    for policy in Catalogue(bundled_root()).all_specialty_policies():
        assert policy.specialty and registry.get(policy.specialty.specialty), policy.ref


def test_a_real_specialty_without_rules_evaluates_with_signals_and_says_so(tmp_path: Path) -> None:
    result = evaluate(profile_without_cycle(tmp_path, "Vascular Surgery"), "--signals", "5", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["specialty"] == "vascular-surgery" and report["cycle"] == "eras-2027"
    assert "check.no-specialty-rules" in {f["rule"] for f in report["findings"]}


# ---------------------------------------------------------------- the IM interview model

def test_gain_runs_for_internal_medicine_without_rate_columns_and_names_the_model(tmp_path: Path) -> None:
    result = evaluate(profile_without_cycle(tmp_path), "--signals", "gold=3,silver=12", "--strategy", "gain")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Expected interviews:" in out
    assert "Rates from eras-2027.internal-medicine.interview-model@1.0.0: all IM applicants pooled" in out
    assert "Residency Explorer" in out and "[secondary]" in out


# ---------------------------------------------------------------- track this season

def test_track_picks_the_2026_27_season_from_the_log(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("program,date,event,tier,note\nGSI-01,2026-09-09,applied,,fictional\n"
                   "GSI-01,2026-09-09,signaled,gold,\nGSI-09,2026-10-20,invited,,\n", encoding="utf-8")
    result = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"),
                     "--specialty", "IM", "--as-of", "2026-12-01", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cycle"] == "eras-2027" and data["specialty"] == "internal-medicine"
    assert data["cycle_choice"].startswith("cycle eras-2027 chosen from the log's first event (2026-09-09)")
    text = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"), "--as-of", "2026-12-01")
    assert text.exit_code == 0, text.output
    first = text.output.splitlines()[0]
    assert "ERAS 2027 (cycle eras-2027 chosen from the log's first event" in first
    assert "Unknown" not in first and "unknown" not in first   # no --report: the specialty is not said at all


def test_track_refuses_a_misspelled_specialty(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("program,date,event,tier,note\nGSI-01,2026-09-09,applied,,\n", encoding="utf-8")
    result = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"),
                     "--specialty", "pediatrcs")
    assert result.exit_code == 2
    assert "did you mean 'pediatrics'" in result.output
