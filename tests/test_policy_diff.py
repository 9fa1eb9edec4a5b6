"""`policy diff` for reviewers: grouped by specialty, changed numbers first, a copy's bookkeeping collapsed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from signalwise.engine.policy.catalogue import bundled_root

from .conftest import run_cli as run

TODAY = "2026-12-01"


@pytest.fixture()
def copied(tmp_path: Path) -> Path:
    """eras-2026 copied to eras-2027 with `new-cycle`, then three real edits in two specialties."""
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for cycle in ("eras-2027", "eras-2028"):
        shutil.rmtree(root / "cycles" / cycle)
    made = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027", "--policies", str(root),
               "--today", TODAY)
    assert made.exit_code == 0, made.output
    im = root / "cycles" / "eras-2027" / "internal-medicine.yaml"
    im.write_text(im.read_text(encoding="utf-8").replace("{name: silver, count: 12}", "{name: silver, count: 10}")
                  .replace("    value: 235\n", "    value: 236\n"), encoding="utf-8")
    fm = root / "cycles" / "eras-2027" / "family-medicine.yaml"
    fm.write_text(fm.read_text(encoding="utf-8").replace("value: signal-regardless", "value: do-not-signal-away"),
                  encoding="utf-8")
    return root


def test_a_copied_cycle_shows_only_the_real_edits_and_one_line_of_bookkeeping(copied: Path) -> None:
    result = run("policy", "diff", "eras-2026", "eras-2027", "--policies", str(copied))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("eras-2026 -> eras-2027, in every copied policy (collapsed")
    for part in ("match_year moved by 1 year (16)", "effective.from moved by 1 year (16)",
                 "changelog (the copy's record) added (16)", "supersedes names the policy compared with (16)"):
        assert part in lines[0]
    assert lines[1].startswith("family-medicine: ") and lines[5].startswith("internal-medicine: ")  # numbers first
    assert "    home_rule.value: 'signal-regardless' -> 'do-not-signal-away'" in lines
    assert "    signals.tiers.silver.count: 12 -> 10" in lines
    assert "    parameters.step2_reference.value: 235 -> 236" in lines
    assert lines[-1].startswith("only the collapsed bookkeeping (14): anesthesiology, dermatology")
    assert len(lines) < 15, result.output  # three edits, not a page of boilerplate
    assert "changelog" not in "\n".join(lines[1:]) and "match_year" not in "\n".join(lines[1:])


def test_the_json_diff_keeps_every_change_and_says_which_are_numbers_and_bookkeeping(copied: Path) -> None:
    result = run("policy", "diff", "eras-2026", "eras-2027", "--policies", str(copied), "--format", "json")
    data = json.loads(result.output)
    pairs = {p["group"]: p for p in data["pairs"]}
    im = pairs["internal-medicine"]
    assert im["numbers"] == ["signals.tiers.silver.count", "parameters.step2_reference.value"]
    assert "match_year" in im["boilerplate"] and "signals.tiers.silver.count" not in im["boilerplate"]
    assert {c["path"] for c in im["changes"]} >= {"match_year", "signals.tiers.silver.count"}
    assert {"path": "match_year", "what": "moved by 1 year", "pairs": 16} in data["boilerplate"]


def test_a_real_cycle_diff_keeps_changed_sources_and_counts_per_specialty() -> None:
    result = run("policy", "diff", "eras-2024", "eras-2025")
    out = result.output
    section = out.split("\nemergency-medicine: ", 1)[1].split("\n" + "general-surgery: ", 1)[0]
    assert "    signals.tiers.signal.count: 7 -> 5" in section
    assert "    home_rule.value: 'signal-regardless' -> 'do-not-signal-home-away'" in section
    assert "signals.source: 'acepnow-2024' -> 'aamc-2025'" in section  # a source is a decision, never collapsed
    assert section.index("numbers:") < section.index("changes:")
    assert "match_year" not in section and "match_year moved by 1 year" in out.splitlines()[0]
    assert len(out.splitlines()) < 200


def test_one_pair_shows_everything() -> None:
    root = bundled_root() / "cycles"
    result = run("policy", "diff", str(root / "eras-2024" / "internal-medicine.yaml"),
                 str(root / "eras-2025" / "internal-medicine.yaml"))
    assert "match_year: 2024 -> 2025" in result.output and "collapsed" not in result.output
