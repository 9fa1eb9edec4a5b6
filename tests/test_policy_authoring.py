"""The policy author's tools: validate, test, diff, lint, new-cycle, list and schema export.

Most tests copy the bundled policies to a temporary folder, break or change one thing the way an
author might, and check what the command says (file:line, message, exit code).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pytest
from signalwise.engine.chain.conditions import all_matches, best_match, check, holds_for
from signalwise.engine.pipeline import Request, evaluate
from signalwise.engine.policy.catalogue import bundled_root
from signalwise.engine.policy.compiler import all_rules
from signalwise.engine.policy.model import AnyOf, Pattern, Rule
from signalwise.engine.policy.model import Test as Cond

from .conftest import EXAMPLE_NAMES, EXAMPLES, edit
from .conftest import run_cli as run

TODAY = "2026-11-29"


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle in line]
    return hits[occurrence - 1]


# ---------------------------------------------------------------- validate

def test_bundled_policies_validate() -> None:
    result = run("policy", "validate")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("valid: ")
    assert " policies, " in result.output and " rules " in result.output


def test_a_copy_of_the_policies_validates_as_a_root(policies: Path) -> None:
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 0, result.output
    bundled = run("policy", "validate")
    assert result.output.splitlines()[-1] == bundled.output.splitlines()[-1]  # the same policies and rules
    assert result.output.splitlines()[-1].startswith("valid: ")


def test_wrong_field_name_in_a_condition_points_at_its_line(policies: Path) -> None:
    path = policies / "guidance" / "program-fit.yaml"
    line = edit(path, "img_share: {lte: $ctx.reach_img_share_max}",
                "img_shar: {lte: $ctx.reach_img_share_max}")
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    assert f"program-fit.yaml:{line}: rule fit.reach.low-img-share.when: 'program' has no field 'img_shar'" \
        in result.output
    assert "did you mean 'img_share'?" in result.output
    assert result.output.splitlines()[-1].startswith("invalid: ")


def test_duplicate_rule_id_points_at_both_rules(policies: Path) -> None:
    path = policies / "guidance" / "program-fit.yaml"
    original = line_of(path, "- id: fit.closed.visa-not-sponsored")
    renamed = edit(path, "- id: fit.closed.step3-required", "- id: fit.closed.visa-not-sponsored")
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    assert (f"program-fit.yaml:{original}: rule fit.closed.visa-not-sponsored: duplicate rule id "
            f"(also at ") in result.output
    assert f"program-fit.yaml:{renamed})" in result.output


def test_quota_table_gap_points_at_the_row(policies: Path) -> None:
    path = policies / "guidance" / "allocation.yaml"
    row = edit(path, "count: {min: 8, max: 100}", "count: {min: 9, max: 100}")  # strong-many: 8 is uncovered
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2
    assert f"allocation.yaml:{row}: quota_tables.ratios.single-level.rows.strong-many.count: gap for key " \
           "'strong': no row covers 8-8 signals" in result.output


def test_cycle_in_the_file_must_match_its_folder(policies: Path) -> None:
    path = policies / "cycles" / "eras-2026" / "internal-medicine.yaml"
    line = edit(path, "cycle: eras-2026", "cycle: eras-2025")
    result = run("policy", "validate", str(policies / "cycles" / "eras-2026"))
    assert result.exit_code == 2
    assert f"internal-medicine.yaml:{line}: cycle: says 'eras-2025' but the file is in cycles/eras-2026/" \
        in result.output


def test_effective_dates_in_the_wrong_order_are_an_error(policies: Path) -> None:
    path = policies / "cycles" / "eras-2026" / "internal-medicine.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("effective:")
    end = text.index("\n", start)
    wrong = "effective: {from: 2026-06-01, to: 2025-05-31}"
    path.write_text(text[:start] + wrong + text[end:], encoding="utf-8")
    result = run("policy", "validate", str(path))
    assert result.exit_code == 2
    assert "effective: from 2026-06-01 is after to 2025-05-31" in result.output


def test_supersedes_naming_a_missing_policy_is_an_error(policies: Path) -> None:
    path = policies / "cycles" / "eras-2026" / "internal-medicine.yaml"
    line = edit(path, "supersedes: eras-2025.internal-medicine@", "supersedes: eras-2019.internal-medicine@")
    result = run("policy", "validate", str(policies))
    assert result.exit_code == 2, result.output
    assert f"internal-medicine.yaml:{line}: supersedes: names 'eras-2019.internal-medicine@" in result.output


def test_schema_errors_are_reported_with_their_line(policies: Path) -> None:
    path = policies / "guidance" / "program-fit.yaml"
    line = edit(path, "phase: program\n", "phse: program\n")
    result = run("policy", "validate", str(path))
    assert result.exit_code == 2
    assert f"program-fit.yaml:{line}:" in result.output and "unknown field 'phse'" in result.output


def test_validate_names_a_missing_path() -> None:
    result = run("policy", "validate", "no/such/folder")
    assert result.exit_code == 2
    assert "no/such/folder: no such file or folder" in result.output


# ---------------------------------------------------------------- test

def test_bundled_policy_tests_pass_with_full_coverage() -> None:
    result = run("policy", "test")
    assert result.exit_code == 0, result.output
    assert " passed, 0 failed" in result.output
    assert "never fired" not in result.output


def test_a_case_expecting_the_wrong_decision_fails_at_its_line(policies: Path) -> None:
    path = policies / "tests" / "what-not-to-signal.yaml"
    edit(path, "decisions: {HOME: excluded, AWAY: excluded, OTHER: signal}",
         "decisions: {HOME: signal, AWAY: excluded, OTHER: signal}")
    case_line = line_of(path, "- name: do-not-signal-home-away excludes")
    result = run("policy", "test", str(path))
    assert result.exit_code == 1
    assert "FAIL  do-not-signal-home-away excludes the home program and away rotations  " \
           "(" in result.output
    assert f"what-not-to-signal.yaml:{case_line})" in result.output
    assert "decision for HOME: expected signal, got excluded" in result.output
    assert "[exclude.specialty-home-away-rule]" in result.output  # the program's because texts
    assert "1 failed" in result.output


def test_a_missing_rule_shows_what_its_conditions_saw(policies: Path) -> None:
    path = policies / "tests" / "applicant-tier.yaml"
    edit(path, "      not_fired: [tier.indicator.*, tier.strong.all-pillars, tier.at-risk.*]",
         "      fired: [tier.indicator.solid-usce]")
    result = run("policy", "test", str(path), "-k", "moderate by default")
    assert result.exit_code == 1
    assert "missing (expected to fire, did not): tier.indicator.solid-usce" in result.output
    assert "fails usce.months_in_specialty gte 3 (saw 2)" in result.output


def test_an_unexpected_rule_is_reported_with_what_it_matched(policies: Path) -> None:
    path = policies / "tests" / "applicant-tier.yaml"
    edit(path, "      fired: [tier.indicator.visa-needed]\n      not_fired: [tier.at-risk.*]",
         "      not_fired: [tier.indicator.visa-needed]")
    result = run("policy", "test", str(path), "-k", "visa")
    assert result.exit_code == 1
    assert "unexpected (expected not to fire, fired): tier.indicator.visa-needed" in result.output
    assert "tier.indicator.visa-needed matched a=applicant#" in result.output


def test_an_unknown_rule_id_in_a_case_fails_instead_of_passing_silently(policies: Path) -> None:
    path = policies / "tests" / "applicant-tier.yaml"
    edit(path, "      not_fired: [tier.indicator.*, tier.strong.all-pillars, tier.at-risk.*]",
         "      not_fired: [tier.strong.all-pilars]")
    result = run("policy", "test", str(path), "-k", "moderate by default")
    assert result.exit_code == 1
    assert "unknown rule 'tier.strong.all-pilars' in expect.not_fired" in result.output


def test_no_case_run_is_a_failure(policies: Path) -> None:
    result = run("policy", "test", str(policies), "-k", "no case has this name")
    assert result.exit_code == 1
    assert "no test case ran" in result.output


def test_a_malformed_case_file_is_invalid_input_with_its_line(policies: Path) -> None:
    path = policies / "tests" / "scores.yaml"
    line = edit(path, "    expect:\n      fired: [score.community-goal]",
                "    expct:\n      fired: [score.community-goal]")
    result = run("policy", "test", str(path))
    assert result.exit_code == 2
    assert f"scores.yaml:{line}: cases[1].expct: unknown field 'expct'" in result.output


def test_an_invalid_inline_profile_is_reported_at_the_case(policies: Path) -> None:
    path = policies / "tests" / "scores.yaml"
    line = edit(path, "      goals: {setting: community}", "      goals: {setting: communty}")
    result = run("policy", "test", str(path), "-k", "community goal")
    assert result.exit_code == 1
    assert f"scores.yaml:{line}: goals.setting: got \"communty\"" in result.output


def test_cases_can_read_profile_and_shortlist_files_next_to_them(policies: Path) -> None:
    folder = policies / "tests" / "inputs"
    folder.mkdir()
    (folder / "profile.yaml").write_text(
        "specialty: internal-medicine\ncycle: sample-2026\nstep2_reference: 235\n"
        "applicant: {graduate_type: us-img, graduation_year: 2024, exams: {step2_ck: 238}}\n",
        encoding="utf-8")
    (folder / "programs.csv").write_text(
        "id,name,state,setting,img_share\nF1,Fosse Medical Center,OH,university-affiliated,0.3\n"
        "F2,Gallows Hill Community Hospital,IN,community,0.7\n", encoding="utf-8")
    case = policies / "tests" / "from-files.yaml"
    case.write_text("cases:\n  - name: inputs from files\n    profile_file: inputs/profile.yaml\n"
                    "    programs_file: inputs/programs.csv\n    signals: '2'\n"
                    "    expect: {decisions: {F1: signal, F2: signal}, fits: {F2: safety}}\n",
                    encoding="utf-8")
    result = run("policy", "test", str(case))
    assert result.exit_code == 0, result.output
    assert "1 passed, 0 failed" in result.output


def test_coverage_lists_rules_no_case_fires(policies: Path) -> None:
    for other in (policies / "tests").glob("*.yaml"):
        if other.name != "applicant-tier.yaml":
            other.unlink()
    result = run("policy", "test", str(policies))
    assert result.exit_code == 0, result.output
    # the copy's own file, not the bundled folder's name for it
    assert f"never fired: {policies.as_posix()}/guidance/what-not-to-signal.yaml:" in result.output
    assert "never fired: policies/" not in result.output
    assert "ratios.gold.strong-3" in result.output


# ---------------------------------------------------------------- diff

def _im_policy(root: Path, cycle: str, tiers: str, structure: str) -> Path:
    """An internal-medicine policy for `cycle` made from the bundled 2026 one, with other signal tiers."""
    text = (bundled_root() / "cycles" / "eras-2026" / "internal-medicine.yaml").read_text(encoding="utf-8")
    year = cycle.split("-")[1]
    start, end = text.index("  tiers:\n"), text.index("  scope:")
    text = text[:start] + tiers + text[end:]
    text = text.replace("structure: tiered", f"structure: {structure}").replace("eras-2026", cycle)
    text = text.replace("match_year: 2026", f"match_year: {year}")
    path = root / "cycles" / cycle / "internal-medicine.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


SEVEN = "  tiers:\n    - {name: signal, count: 7}\n"
GOLD_SILVER = "  tiers:\n    - {name: gold, count: 3}\n    - {name: silver, count: 12}\n"


def test_diff_of_two_files_shows_single_level_to_gold_and_silver(tmp_path: Path) -> None:
    old = _im_policy(tmp_path, "eras-2024", SEVEN, "single")
    new = _im_policy(tmp_path, "eras-2025", GOLD_SILVER, "tiered")
    result = run("policy", "diff", str(old), str(new))
    assert result.exit_code == 0, result.output
    assert "signals: 7 -> 3 gold + 12 silver" in result.output
    assert "signals.structure: 'single' -> 'tiered'" in result.output
    assert "signals.tiers.signal.count: removed 7" in result.output
    assert "signals.tiers.gold.count: added 3" in result.output
    assert "signals.tiers.silver.count: added 12" in result.output
    assert "match_year: 2024 -> 2025" in result.output


def test_diff_of_two_cycles_pairs_files_by_specialty_and_speaks_json(tmp_path: Path) -> None:
    _im_policy(tmp_path, "eras-2024", SEVEN, "single")
    _im_policy(tmp_path, "eras-2025", GOLD_SILVER, "tiered")
    extra = tmp_path / "cycles" / "eras-2025" / "family-medicine.yaml"
    shutil.copy(bundled_root() / "cycles" / "eras-2026" / "family-medicine.yaml", extra)
    result = run("policy", "diff", "eras-2024", "eras-2025", "--policies", str(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [p["new"]["policy"].split("@")[0] for p in data["pairs"]] == ["eras-2025.internal-medicine"]
    assert data["pairs"][0]["signals"] == {"old": "7", "new": "3 gold + 12 silver"}
    changes = {c["path"]: c for c in data["pairs"][0]["changes"]}
    assert changes["signals.tiers.gold.count"] == {"path": "signals.tiers.gold.count", "kind": "added",
                                                   "new": 3}
    assert len(data["policies_added"]) == 1
    assert data["policies_added"][0]["file"].endswith("eras-2025/family-medicine.yaml")


def test_diff_names_changed_rules_and_numbers(policies: Path, tmp_path: Path) -> None:
    old = policies / "guidance" / "allocation.yaml"
    new_root = tmp_path / "new"
    shutil.copytree(policies / "guidance", new_root)
    new = new_root / "allocation.yaml"
    edit(new, "quota: {reach: {min: 2, max: 2}, target: {min: 3, max: 4}",
         "quota: {reach: {min: 1, max: 2}, target: {min: 3, max: 4}")
    edit(new, 'because: "You rotated at {p.name}."', 'because: "You did a rotation at {p.name}."')
    edit(new, "  - id: score.alumni\n", "  - id: score.alumni-ties\n")
    result = run("policy", "diff", str(old), str(new))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "quota_tables.ratios.single-level.rows.strong-6-7.quota.reach.min: 2 -> 1" in out
    assert "rules added: score.alumni-ties" in out
    assert "rules removed: score.alumni" in out
    assert "score.rotation (because)" in out


def test_diff_of_unknown_cycle_is_invalid_input(tmp_path: Path) -> None:
    result = run("policy", "diff", "eras-1999", "eras-2000", "--policies", str(tmp_path))
    assert result.exit_code == 2
    assert "eras-1999: no such file, folder or cycle" in result.output


REAL_OLD = bundled_root() / "cycles" / "eras-2024" / "internal-medicine.yaml"
REAL_NEW = bundled_root() / "cycles" / "eras-2025" / "internal-medicine.yaml"


@pytest.mark.skipif(not (REAL_OLD.is_file() and REAL_NEW.is_file()), reason="catalogue lacks IM 2024/2025")
def test_real_internal_medicine_2024_to_2025_goes_from_7_to_3_gold_12_silver() -> None:
    result = run("policy", "diff", "eras-2024", "eras-2025")
    assert result.exit_code == 0, result.output
    section = result.output.split("eras-2025/internal-medicine.yaml\n", 1)[1]
    assert section.splitlines()[1] == "  signals: 7 -> 3 gold + 12 silver"


# ---------------------------------------------------------------- lint

def test_lint_warns_about_missing_rationale_and_literal_numbers(policies: Path) -> None:
    path = policies / "guidance" / "allocation.yaml"
    edit(path, "    rationale: A rotation is a connection that makes a signal credible.\n", "")
    line = edit(path, "where: {alumni_from_my_school: {gte: 1}}", "where: {alumni_from_my_school: {gte: 3}}")
    result = run("policy", "lint", str(path), "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert "rule score.rotation: has no `rationale`" in result.output
    assert f"allocation.yaml:{line}: warning: rule score.alumni.when: literal number 3" in result.output
    assert "info: parameters.score_interest_weight: = 2 is a signalwise assumption" in result.output
    strict = run("policy", "lint", str(path), "--today", TODAY, "--strict")
    assert strict.exit_code == 1


def test_lint_sees_stale_cycles_and_specialties_that_disappear(policies: Path) -> None:
    gone = policies / "cycles" / "eras-2026" / "family-medicine.yaml"
    gone.unlink()
    result = run("policy", "lint", str(policies), "--today", "2030-01-15")
    assert "warning: cycles: the newest cycle is " in result.output and "older than 2030" in result.output
    assert "'family-medicine' has a policy in eras-2025 but none in eras-2026" in result.output
    assert "eras-2028.internal-medicine ended on 2028-05-31 and is the newest policy for internal-medicine" \
        in result.output
    assert "eras-2028 ended on 2028-05-31 and has no successor" in result.output


def test_lint_lists_weak_sources_and_counts_whose_page_does_not_name_the_cycle(policies: Path) -> None:
    path = policies / "cycles" / "eras-2026" / "family-medicine.yaml"
    edit(path, "    reliability: A\n", "    reliability: C\n")
    edit(path, "    url: https://afmrd.connectedcommunity.org/collaborative-projects/opda-pd-guide\n", "")
    edit(path, "    cycles: [eras-2026]\n", "")
    result = run("policy", "lint", str(path), "--today", TODAY)
    out = result.output
    assert "signals.source: the eras-2026 count rests on one secondary [C] source" in out
    assert "which is not recorded as naming eras-2026" in out
    assert "has no URL" in out


def test_lint_is_quiet_about_a_moved_specialty_and_a_cycle_with_a_successor(policies: Path) -> None:
    result = run("policy", "lint", str(policies), "--today", TODAY)
    assert "has no successor" not in result.output  # aua/psca/opdo moved into ERAS; eras-2026 has eras-2027


# ---------------------------------------------------------------- new-cycle

def _without_later_eras_cycles(policies: Path) -> None:
    """The bundled catalogue already has eras-2027 and eras-2028: remove them to start eras-2027 afresh."""
    for cycle in ("eras-2027", "eras-2028"):
        shutil.rmtree(policies / "cycles" / cycle)


def test_new_cycle_copies_a_cycle_that_validates_and_keeps_comments(policies: Path) -> None:
    _without_later_eras_cycles(policies)
    source = policies / "cycles" / "eras-2026" / "internal-medicine.yaml"
    source.write_text("# Keep me: a comment an author wrote.\n" + source.read_text(encoding="utf-8"),
                      encoding="utf-8")
    result = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027",
                 "--policies", str(policies), "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert "they validate" in result.output
    new = (policies / "cycles" / "eras-2027" / "internal-medicine.yaml").read_text(encoding="utf-8")
    assert new.startswith("# Keep me: a comment an author wrote.\n")
    assert "id: eras-2027.internal-medicine" in new and "cycle: eras-2027" in new
    assert "match_year: 2027" in new
    old = re.search(r"^version: (\d+)\.(\d+)\.\d+", source.read_text(encoding="utf-8"), re.M)
    assert old is not None
    was = old.group(0).split(": ")[1]
    assert f"version: {old.group(1)}.{int(old.group(2)) + 1}.0" in new
    assert f"supersedes: eras-2026.internal-medicine@{was}" in new
    assert "reviewed: false" in new
    assert "effective: {from: 2026-06-04, to: 2027-05-31}" in new
    assert f"Copied from eras-2026.internal-medicine@{was}; verify every count for eras-2027 before use" in new
    assert len(list((policies / "cycles" / "eras-2027").glob("*.yaml"))) == \
        len(list((policies / "cycles" / "eras-2026").glob("*.yaml")))
    valid = run("policy", "validate", str(policies))
    assert valid.exit_code == 0, valid.output
    again = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027",
                "--policies", str(policies))
    assert again.exit_code == 2
    assert "cycle folder eras-2027 already exists" in again.output


def test_new_cycle_without_policies_writes_to_a_policies_folder_here_and_reports_warn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from signalwise.engine.policy.catalogue import bundled_root

    monkeypatch.chdir(tmp_path)
    # the bundled policies already have eras-2027 (and a planned eras-2028): copying onto one is refused
    refused = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027", "--today", TODAY)
    assert refused.exit_code == 2, refused.output
    assert "cycle folder eras-2027 already exists" in refused.output
    assert not (tmp_path / "policies").exists()
    result = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2030", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "policies" / "cycles" / "eras-2030" / "internal-medicine.yaml").is_file()
    assert (tmp_path / "policies" / "guidance").is_dir()
    assert (tmp_path / "policies" / "lint-baseline.yaml").is_file()
    assert not (bundled_root() / "cycles" / "eras-2030").exists()
    ex = Path(__file__).resolve().parent.parent / "examples" / "gold-silver-im"
    profile = tmp_path / "profile.yaml"
    profile.write_text((ex / "profile.yaml").read_text(encoding="utf-8").replace("eras-2026", "eras-2030"),
                       encoding="utf-8")
    for fmt in ("text", "md"):
        out = run("evaluate", "--profile", str(profile), "--programs", str(ex / "programs.csv"),
                  "--policies", str(tmp_path / "policies"), "--format", fmt)
        assert out.exit_code == 0, out.output
        first = out.output.splitlines()[0]
        assert "Warning" in first or "WARNING" in first
        assert "reviewed: false" in out.output


def test_new_cycle_refuses_an_unknown_source_cycle(policies: Path) -> None:
    result = run("policy", "new-cycle", "--from", "eras-1990", "--to", "eras-1991",
                 "--policies", str(policies))
    assert result.exit_code == 2
    assert "no cycle 'eras-1990'" in result.output


def test_new_cycle_then_test_cases_still_run_without_python(policies: Path) -> None:
    _without_later_eras_cycles(policies)
    run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027", "--policies", str(policies))
    case = policies / "tests" / "new-cycle.yaml"
    case.write_text(
        "cases:\n"
        "  - name: internal medicine in the new cycle\n"
        "    profile:\n"
        "      specialty: internal-medicine\n      cycle: eras-2027\n"
        "      applicant: {graduate_type: us-img, graduation_year: 2025, exams: {step2_ck: 240}}\n"
        "    programs:\n"
        "      - {id: N1, name: Nether Medical Center, state: OH, setting: university-affiliated,\n"
        "         img_share: 0.3}\n"
        "    expect:\n      assigned: {gold: 1}\n", encoding="utf-8")
    result = run("policy", "test", str(case))
    assert result.exit_code == 0, result.output
    assert "ok    internal medicine in the new cycle" in result.output
    assert "1 passed, 0 failed" in result.output


# ---------------------------------------------------------------- list and schema export

def test_list_shows_specialties_by_cycle_with_sources() -> None:
    result = run("policy", "list", "--format", "json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    assert entries and all(e["sources"] for e in entries)
    im = [e for e in entries if e["specialty"] == "internal-medicine" and e["cycle"] == "eras-2026"]
    assert im and im[0]["signals"] == "3 gold + 12 silver" and im[0]["application_system"]
    text = run("policy", "list", "--cycle", "eras-2026")
    assert text.exit_code == 0
    assert text.output.startswith("eras-2026 (")
    assert "source: " in text.output


def test_list_of_an_unknown_cycle_names_the_cycles_that_exist() -> None:
    result = run("policy", "list", "--cycle", "eras-1999")
    assert result.exit_code == 2
    assert "no cycle 'eras-1999'" in result.output and "eras-2026" in result.output


def test_schema_export_writes_every_schema(tmp_path: Path) -> None:
    target = tmp_path / "schemas"
    result = run("schema", "export", str(target))
    assert result.exit_code == 0, result.output
    names = {p.name for p in target.iterdir()}
    assert {"policy.schema.json", "policy-test.schema.json", "profile.schema.json",
            "program.schema.json"} <= names
    for p in target.iterdir():
        assert json.loads(p.read_text(encoding="utf-8"))["$schema"].endswith("2020-12/schema")


# ---------------------------------------------------------------- conditions.py against durable-rules

@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_conditions_agree_with_the_engine_on_the_examples(name: str) -> None:
    ev = evaluate(Request(str(EXAMPLES / name / "profile.yaml"), str(EXAMPLES / name / "programs.csv")))
    facts = ev.store.facts
    fired: dict[str, set[tuple[tuple[str, int], ...]]] = {}
    for f in ev.firings:
        matched = {alias: ev.store.get(fid) for alias, fid in f.matched.items()}
        assert holds_for(f.rule, matched, facts) == [], f.rule.id
        fired.setdefault(f.rule.id, set()).add(tuple(sorted(f.matched.items())))
    for rule in all_rules(ev.policy_set):
        python = {tuple(sorted(m.items())) for m in all_matches(rule, facts)}
        assert python == fired.get(rule.id, set()), rule.id


def _rule(*patterns: Pattern) -> Rule:
    return Rule("t.rule", "A test rule", "program", 100, patterns, (), "because", None, None, None,
                "test@1.0.0", "test.yaml", 1)


def test_a_missing_field_matches_only_absence_tests() -> None:
    fact = {"t": "program", "_id": 0, "setting": "community"}
    assert not check(Cond("img_share", "ne", 0.5), fact, "p", {}).passed
    assert not check(Cond("img_share", "not_in", (0.1, 0.2)), fact, "p", {}).passed
    assert not check(Cond("img_share", "lt", 0.5), fact, "p", {}).passed
    assert check(Cond("img_share", "present", False), fact, "p", {}).passed
    assert check(Cond("ties", "not_contains", "family"), fact, "p", {}).passed
    assert not check(Cond("ties", "contains", "family"), fact, "p", {}).passed


def test_best_match_names_the_first_failing_test_and_the_value_seen() -> None:
    rule = _rule(Pattern("applicant", "a", (Cond("exams.step2_ck", "gte", 230),)),
                 Pattern("program", "p", (Cond("setting", "eq", "community"),
                                          Cond("step2_min", "lte", ("ref", "a", "exams.step2_ck")))))
    facts = [{"t": "applicant", "_id": 0, "exams__step2_ck": 235},
             {"t": "program", "_id": 1, "setting": "university", "step2_min": 250},
             {"t": "program", "_id": 2, "setting": "community", "step2_min": 240}]
    match = best_match(rule, facts)
    assert not match.full
    assert match.bindings == {"a": 0}
    assert match.describe() == [
        "a (applicant): matched applicant#0",
        "p (program): closest is program#2 of 2, which fails step2_min lte 235 (saw 240)"]
    facts[2]["step2_min"] = 230
    assert best_match(rule, facts).full
    assert all_matches(rule, facts) == [{"a": 0, "p": 2}]


def test_negation_and_any_of() -> None:
    home_or_rotated = AnyOf(((Cond("home", "eq", True),), (Cond("rotated", "eq", True),)))
    rule = _rule(Pattern("program", "p", (home_or_rotated,)),
                 Pattern("signal", "not1_signal", (Cond("program", "eq", ("ref", "p", "id")),), negated=True))
    facts = [{"t": "program", "_id": 0, "id__": "A", "home": False, "rotated": True},
             {"t": "signal", "_id": 1, "program": "A"}]
    match = best_match(rule, facts)
    assert not match.full
    assert match.describe()[1].startswith("not signal: blocked by signal#1")
    assert best_match(rule, facts[:1]).full


def test_dates_in_new_cycle_survive_a_leap_day() -> None:
    from signalwise.engine.authoring.newcycle import shift_date, shift_years

    assert shift_date("from: 2024-02-29", 1) == "from: 2025-02-28"
    assert shift_years("ERAS 2026 (2025-26 season, 2026 Match)", 1) == \
        "ERAS 2027 (2026-27 season, 2027 Match)"
    assert dt.date.fromisoformat(shift_date("2025-06-04", 2)) == dt.date(2027, 6, 4)
