"""CLI acceptance: bad input gets file, line, field and exit code 2, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import EXAMPLES, example_args, run_cli

PROFILE = (EXAMPLES / "strong-im" / "profile.yaml").read_text()
PROGRAMS = (EXAMPLES / "strong-im" / "programs.csv").read_text()


def write(tmp_path: Path, profile: str = PROFILE, programs: str = PROGRAMS,
          programs_name: str = "programs.csv") -> list[str]:
    (tmp_path / "profile.yaml").write_text(profile)
    (tmp_path / programs_name).write_text(programs)
    return ["evaluate", "--profile", str(tmp_path / "profile.yaml"), "--programs", str(tmp_path / programs_name)]


def assert_input_error(result, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_text_summary_runs_for_every_example() -> None:
    for name in ("strong-im", "moderate-fm", "at-risk-im", "gold-silver-im"):
        result = run_cli("evaluate", *example_args(name))
        assert result.exit_code == 0, result.output
        assert "You are a" in result.output and "applicant:" in result.output


def test_markdown_report_has_the_plan_and_the_policies() -> None:
    result = run_cli("evaluate", *example_args("strong-im"), "--format", "md")
    assert result.exit_code == 0
    assert "## Plan" in result.output and "## Policies used" in result.output


def test_unknown_profile_field_suggests_the_right_name(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck:", "step2ck:", 1)
    result = run_cli(*write(tmp_path, profile=bad))
    assert_input_error(result, "applicant.exams.step2ck", "did you mean 'step2_ck'")


def test_out_of_range_score_is_refused(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1)
    result = run_cli(*write(tmp_path, profile=bad))
    assert_input_error(result, "applicant.exams.step2_ck", "between 1 and 300")


def test_graduation_after_the_match_is_refused(tmp_path: Path) -> None:
    bad = PROFILE.replace("graduation_year: 2022", "graduation_year: 2031", 1)
    result = run_cli(*write(tmp_path, profile=bad))
    assert_input_error(result, "applicant.graduation_year", "after the 2023 Match")


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    bad = PROFILE.replace("cycle: eras-2023", "cycle: eras-2023\ncycle: eras-2026", 1)
    result = run_cli(*write(tmp_path, profile=bad))
    assert_input_error(result, "duplicate key 'cycle'")


def test_csv_duplicate_program_id(tmp_path: Path) -> None:
    lines = PROGRAMS.splitlines()
    lines.append(lines[1])
    result = run_cli(*write(tmp_path, programs="\n".join(lines) + "\n"))
    assert_input_error(result, "duplicate program id 'SIM-01'")


def test_csv_unknown_column_suggests_the_right_name(tmp_path: Path) -> None:
    programs = PROGRAMS.replace("img_share,", "img_shaer,", 1)
    result = run_cli(*write(tmp_path, programs=programs))
    assert_input_error(result, "programs.csv:1", "did you mean 'img_share'")


def test_signals_override_works_without_a_specialty_policy(tmp_path: Path) -> None:
    other = PROFILE.replace("specialty: internal-medicine", "specialty: vascular-surgery", 1)
    result = run_cli(*write(tmp_path, profile=other), "--signals", "7", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["specialty"] == "vascular-surgery"
    assert report["inputs"]["signals_from"] == "--signals"
    assert [(s["tier"], s["available"]) for s in report["signals"]] == [("signal", 7)]


def test_a_specialty_the_registry_does_not_know_is_an_error_even_with_signals(tmp_path: Path) -> None:
    bad = PROFILE.replace("specialty: internal-medicine", "specialty: basket-weaving", 1)
    result = run_cli(*write(tmp_path, profile=bad), "--signals", "7")
    assert_input_error(result, "profile.yaml:", "unknown specialty 'basket-weaving'", "specialties.yaml")


def test_yaml_shortlist_is_accepted(tmp_path: Path) -> None:
    programs = """
- {id: Y-1, name: Fictional Yarrow Community IM, state: OH, setting: community, img_share: 0.6, interest: 4}
- {id: Y-2, name: Fictional Quill University IM, state: CA, setting: university, img_share: 0.05}
"""
    result = run_cli(*write(tmp_path, programs=programs, programs_name="programs.yaml"), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["inputs"]["programs"]["file"].endswith("programs.yaml")
    assert {p["id"]: p["name"] for p in report["programs"]} == {
        "Y-1": "Fictional Yarrow Community IM", "Y-2": "Fictional Quill University IM"}


def test_output_is_written_atomically_and_never_over_an_input(tmp_path: Path) -> None:
    args = write(tmp_path)
    out = tmp_path / "plan.json"
    assert run_cli(*args, "--format", "json", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("{")
    result = run_cli(*args, "-o", str(tmp_path / "programs.csv"))
    assert_input_error(result, "output would overwrite an input file")
    assert (tmp_path / "programs.csv").read_text() == PROGRAMS
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_failed_run_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    out.write_text("previous plan\n")
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1)
    assert run_cli(*write(tmp_path, profile=bad), "-o", str(out)).exit_code == 2
    assert out.read_text() == "previous plan\n"


def test_directory_given_as_a_file_is_refused(tmp_path: Path) -> None:
    result = run_cli("evaluate", "--profile", str(tmp_path), "--programs", str(tmp_path))
    assert_input_error(result, "is a directory")
