"""The home-rule vocabulary is data: a specialty policy saying `home_rule: do-not-signal-away` (away rotations
only) changes the plan through the guidance rules, with no Python branch on the value."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.policy.catalogue import bundled_root

from .conftest import run_cli as run

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "strong-im"
ENGINE = Path(__file__).resolve().parent.parent / "engine"


@pytest.fixture()
def scenario(tmp_path: Path) -> tuple[Path, Path]:
    """A policy root whose eras-2023 internal medicine says `do-not-signal-away`, and the strong-im shortlist
    with SIM-02 (an away rotation) and SIM-04 made the home program, where the applicant also rotated."""
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    policy = root / "cycles" / "eras-2023" / "internal-medicine.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "home_rule:\n  value: unknown\n" in text
    policy.write_text(text.replace("home_rule:\n  value: unknown\n", "home_rule:\n  value: do-not-signal-away\n"),
                      encoding="utf-8")
    rows = list(csv.DictReader((EXAMPLE / "programs.csv").open(encoding="utf-8")))
    for row in rows:
        if row["id"] == "SIM-04":
            row["home"], row["rotated"] = "yes", "yes"
    programs = tmp_path / "programs.csv"
    with programs.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root, programs


def _plan(root: Path, programs: Path) -> dict[str, Any]:
    result = run("evaluate", "--profile", str(EXAMPLE / "profile.yaml"), "--programs", str(programs),
                 "--policies", str(root), "--format", "json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_do_not_signal_away_excludes_the_away_rotation_and_keeps_the_home_program(scenario: tuple[Path, Path]) \
        -> None:
    root, programs = scenario
    plan = _plan(root, programs)
    by_id = {p["id"]: p for p in plan["programs"]}
    away = by_id["SIM-02"]
    assert away["status"] == "excluded" and away["decision"] == "excluded"
    assert any(b["rule"] == "exclude.specialty-away-rule" and "did an away rotation" in b["text"]
               for b in away["because"])
    home = by_id["SIM-04"]
    assert home["status"] != "excluded"
    fired = set(plan["rules"])  # the rules that fired, by id
    assert {"exclude.specialty-away-rule", "home.away-rule"} <= fired
    assert "exclude.specialty-rotated-rule" not in fired


def test_the_same_shortlist_under_signal_regardless_keeps_the_away_rotation(scenario: tuple[Path, Path]) -> None:
    root, programs = scenario
    policy = root / "cycles" / "eras-2023" / "internal-medicine.yaml"
    policy.write_text(policy.read_text(encoding="utf-8").replace("value: do-not-signal-away",
                                                                 "value: signal-regardless"), encoding="utf-8")
    by_id = {p["id"]: p for p in _plan(root, programs)["programs"]}
    assert by_id["SIM-02"]["status"] != "excluded"


def test_a_misspelled_home_rule_literal_fails_validate_with_a_suggestion(scenario: tuple[Path, Path]) -> None:
    root, _ = scenario
    path = root / "guidance" / "what-not-to-signal.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("where: {home_rule: do-not-signal-away}", "where: {home_rule: do-not-signal-awy}",
                                 1), encoding="utf-8")
    result = run("policy", "validate", str(root))
    assert result.exit_code == 2
    assert "did you mean 'do-not-signal-away'?" in result.output


def test_no_python_code_names_a_home_rule_value() -> None:
    for source in ENGINE.rglob("*.py"):
        assert "do-not-signal" not in source.read_text(encoding="utf-8"), source
