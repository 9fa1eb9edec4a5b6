"""The catalogue of bad inputs (docs/reliability.md): each answered with file, line, field, what was
expected and exit code 2 — never a traceback, never a silently wrong plan.

Every case starts from the bundled `strong-im` example and changes one thing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from signalwise.engine.load.inputs import MAX_PROBLEMS, MAX_PROGRAMS

from .conftest import run_cli
from .reliability_support import (
    PROFILE,
    PROGRAMS,
    assert_input_error,
    evaluate_ok,
    set_cell,
    write_inputs,
)

# --- malformed files ----------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = PROFILE.replace("  exams:\n", "  exams: [\n", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)), "profile.yaml:11: not valid YAML",
                       "while parsing a flow sequence that starts on line 9", "check indentation")


def test_yaml_tab_indentation_names_the_line(tmp_path: Path) -> None:
    bad = PROFILE.replace("    step1: pass", "\tstep1: pass", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)), "profile.yaml:10:", "not valid YAML")


def test_csv_unclosed_quote_names_the_row_where_it_opened(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "name", '"University of Orrinvale Internal Medicine')
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "programs.csv:4:", "malformed CSV",
                       "unclosed quote")


def test_csv_row_with_a_missing_comma(tmp_path: Path) -> None:
    lines = PROGRAMS.splitlines()
    lines[5] = lines[5] + ",extra"
    assert_input_error(run_cli(*write_inputs(tmp_path, programs="\n".join(lines) + "\n")),
                       "programs.csv:6:", "row has 22 values but the header has 21 columns", "extra comma")


def test_csv_with_a_trailing_comma_on_every_line_is_accepted(tmp_path: Path) -> None:
    """Spreadsheet exports often pad every line with a comma: an empty trailing column is padding."""
    padded = "".join(line + ",\n" for line in PROGRAMS.splitlines())
    assert evaluate_ok(*write_inputs(tmp_path, programs=padded))["inputs"]["programs"]["count"] == 37


def test_csv_value_under_an_empty_trailing_header_is_refused(tmp_path: Path) -> None:
    lines = [line + "," for line in PROGRAMS.splitlines()]
    lines[4] += "surprise"
    assert_input_error(run_cli(*write_inputs(tmp_path, programs="\n".join(lines) + "\n")),
                       "programs.csv:5: row has 22 values but the header has 21 columns")


def test_csv_separated_by_semicolons_is_recognised(tmp_path: Path) -> None:
    bad = PROGRAMS.replace(",", ";")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "programs.csv:1:",
                       "separated by semicolons", "expected commas")


def test_csv_without_a_header_row(tmp_path: Path) -> None:
    bad = "\n".join(PROGRAMS.splitlines()[1:]) + "\n"
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "programs.csv:1:",
                       "not a header row", "id, name, state, setting")


def test_second_yaml_document_is_refused(tmp_path: Path) -> None:
    bad = PROFILE + "---\nspecialty: family-medicine\n"
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)), "profile.yaml:34:",
                       "second YAML document")


def test_profile_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path, profile="- internal-medicine\n- eras-2026\n")),
                       "profile.yaml:1:", "a profile must be a mapping of fields")


def test_yaml_shortlist_that_is_not_a_list(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, programs="id: A\nname: B\n", programs_name="programs.yaml")
    assert_input_error(run_cli(*args), "programs.yaml:1:", "must be a list of programs")


# --- wrong types --------------------------------------------------------------------------------


def test_profile_wrong_type_names_field_and_expected_type(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: high", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       'profile.yaml:11: applicant.exams.step2_ck: got "high"; expected a whole number')


def test_profile_fractional_score_is_not_a_whole_number(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 242.5", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "applicant.exams.step2_ck: got 242.5; expected a whole number")


def test_profile_empty_value_is_named_as_empty(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck:", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:11: applicant.exams.step2_ck: got nothing (an empty value)")


def test_yaml_1_1_boolean_words_are_text_not_booleans(tmp_path: Path) -> None:
    """`no` is the string "no" (YAML 1.2), so a yes/no field asks for true or false instead of guessing."""
    bad = PROFILE.replace("needs_visa: false", "needs_visa: no", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       'profile.yaml:7: applicant.needs_visa: got "no"; expected true or false')


def test_yaml_sexagesimal_is_text_not_a_number(tmp_path: Path) -> None:
    """YAML 1.1 reads `4:02` as 242; YAML 1.2 (ours) keeps it text, so a typo is caught, not scored."""
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 4:02", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       'applicant.exams.step2_ck: got "4:02"; expected a whole number')


def test_csv_wrong_type_names_line_and_column(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "interest", "three")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: interest: got 'three'; expected a whole number")
    bad = set_cell(PROGRAMS, 3, "img_share", "lots")  # a decimal column too
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "programs.csv:4: img_share",
                       "expected a number")


def test_csv_number_with_underscores_is_refused(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "alumni_from_my_school", "1_0")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: alumni_from_my_school: got '1_0'; expected a whole number")


def test_csv_boolean_that_is_not_yes_or_no(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 2, "sponsors_visa", "maybe")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:3: sponsors_visa: got 'maybe'; expected yes or no")


def test_csv_enum_value_lists_the_choices(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 2, "setting", "hospital")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       'programs.csv:3: setting: got "hospital"; expected one of: university, '
                       "university-affiliated, community")


@pytest.mark.parametrize(("cell", "shown"), [("nan", "'nan'"), ("inf", "'inf'"), ("-inf", "'-inf'")])
def test_csv_non_finite_numbers_are_refused(tmp_path: Path, cell: str, shown: str) -> None:
    bad = set_cell(PROGRAMS, 3, "img_share", cell)
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       f"programs.csv:4: img_share: got {shown}; expected a number")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_yaml_non_finite_numbers_are_refused(tmp_path: Path, value: str) -> None:
    bad = PROFILE.replace("months: 3\n", f"months: {value}\n", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:15: applicant.usce.months:", "expected a finite number")


def test_number_too_long_to_read(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: " + "9" * 5000, 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert_input_error(result, "profile.yaml:11: applicant.exams.step2_ck: the number has too many digits")
    assert "9" * 100 not in result.output


def test_yaml_python_tags_are_refused_not_executed(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: !!python/object/apply:os.system ['echo pwned']", 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert_input_error(result, "profile.yaml:11: applicant.exams.step2_ck: unsupported YAML tag "
                       "'!!python/object/apply:os.system'", "remove the `!tag`")
    assert "pwned" not in result.output


@pytest.mark.parametrize("value", ["!!binary aGVsbG8=", "!!timestamp 2022-05-01", "!!set {a, b}",
                                   "!custom 242"])
def test_yaml_tags_beyond_plain_values_are_refused(tmp_path: Path, value: str) -> None:
    bad = PROFILE.replace("step2_ck: 242", f"step2_ck: {value}", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:11: applicant.exams.step2_ck: unsupported YAML tag")


# --- out-of-range values ------------------------------------------------------------------------


def test_step2_score_of_400_is_out_of_range(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:11: applicant.exams.step2_ck: got 400; "
                       "expected a value between 1 and 300")


def test_graduation_after_the_cycles_match_is_refused(tmp_path: Path) -> None:
    bad = PROFILE.replace("graduation_year: 2022", "graduation_year: 2031", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:8: applicant.graduation_year: got 2031, "
                       "after the 2023 Match of cycle eras-2023",
                       "graduation must come before the Match")


def test_img_share_of_1_7_is_out_of_range(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "img_share", "1.7")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: img_share: got 1.7; expected a value between 0 and 1")


def test_percent_share_over_100_is_out_of_range(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "img_share", "170%")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: img_share: got 1.7; expected a value between 0 and 1")


def test_negative_number_is_a_sign_then_range_checked(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "img_share", "-0.2")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: img_share: got -0.2; expected a value between 0 and 1")


def test_us_img_share_larger_than_img_share(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "us_img_share", "0.5")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: us_img_share: US-IMG share 0.5 is larger than the IMG share 0.0")


def test_unknown_state_code(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "state", "XX")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: state: 'XX' is not a US state code")


# --- unknown and misspelled fields --------------------------------------------------------------


def test_unknown_profile_field_lists_the_known_ones(tmp_path: Path) -> None:
    bad = PROFILE.replace("geography:", "hobbies: chess\ngeography:", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:27: hobbies: unknown field 'hobbies'",
                       "expected one of: applicant, cycle, geography, goals")


def test_misspelled_profile_field_suggests_the_right_name(tmp_path: Path) -> None:
    bad = PROFILE.replace("step2_ck:", "step2ck:", 1)
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert_input_error(result, "profile.yaml:11: applicant.exams.step2ck: unknown field 'step2ck'",
                       "did you mean 'step2_ck'?")
    assert "is required but missing" not in result.output  # one problem, not two


def test_missing_required_profile_field(tmp_path: Path) -> None:
    bad = PROFILE.replace("    step2_ck: 242\n", "", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:9: applicant.exams: 'step2_ck' is required but missing")


def test_misspelled_csv_column_suggests_the_right_name(tmp_path: Path) -> None:
    bad = PROGRAMS.replace("img_share,", "img_shaer,", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:1: img_shaer: unknown column 'img_shaer'", "did you mean 'img_share'?")


def test_misspelled_required_csv_column_is_one_problem(tmp_path: Path) -> None:
    result = run_cli(*write_inputs(tmp_path, programs=PROGRAMS.replace(",name,", ",nmae,", 1)))
    assert_input_error(result, "programs.csv:1: nmae: unknown column 'nmae' (did you mean 'name'?)")
    assert "required column is missing" not in result.output


def test_a_column_signalwise_does_not_use_is_kept_and_listed_once(tmp_path: Path) -> None:
    extra = PROGRAMS.replace("img_share,", "favourite_colour,", 1)
    report = evaluate_ok(*write_inputs(tmp_path, programs=extra))
    assert report["inputs"]["programs"]["unused_columns"] == ["favourite_colour"]
    listed = [f for f in report["findings"] if "favourite_colour" in f["text"]]
    assert len(listed) == 1 and listed[0]["text"].startswith("Columns signalwise does not use: favourite_colour.")


def test_missing_required_csv_column(tmp_path: Path) -> None:
    lines = [",".join(c for i, c in enumerate(line.split(",")) if i != 2) for line in PROGRAMS.splitlines()]
    assert_input_error(run_cli(*write_inputs(tmp_path, programs="\n".join(lines) + "\n")),
                       "programs.csv:1: state: required column is missing from the header")


def test_csv_column_given_twice(tmp_path: Path) -> None:
    bad = PROGRAMS.replace("interest,", "state,", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:1: state: column appears twice in the header")


# --- duplicates ---------------------------------------------------------------------------------


def test_duplicate_yaml_key_names_both_lines(tmp_path: Path) -> None:
    bad = PROFILE.replace("cycle: eras-2023", "cycle: eras-2023\ncycle: eras-2026", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:5: cycle: duplicate key 'cycle' (first given on line 4)")


def test_duplicate_program_id_in_csv(tmp_path: Path) -> None:
    lines = PROGRAMS.splitlines()
    lines.append(lines[1])
    assert_input_error(run_cli(*write_inputs(tmp_path, programs="\n".join(lines) + "\n")),
                       "programs.csv:39: id: duplicate program id 'SIM-01' (first on line 2)")


def test_duplicate_program_id_in_yaml(tmp_path: Path) -> None:
    programs = ("- {id: Y-1, name: Fictional Yarrow, state: OH, setting: community}\n"
                "- {id: Y-1, name: Fictional Quill, state: CA, setting: university}\n")
    args = write_inputs(tmp_path, programs=programs, programs_name="programs.yaml")
    assert_input_error(run_cli(*args), "programs.yaml:2: id: duplicate program id 'Y-1' (first on line 1)")


# --- empty, binary, encodings -------------------------------------------------------------------


@pytest.mark.parametrize("content", ["", "\n\n   \n"])
def test_empty_profile(tmp_path: Path, content: str) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=content)), "profile.yaml: file is empty")


def test_empty_shortlist(tmp_path: Path) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path, programs="")), "programs.csv: file is empty")


def test_yaml_of_only_comments_is_empty(tmp_path: Path) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path, profile="# nothing yet\n")),
                       "profile.yaml: file is empty", "expected a YAML document")


def test_png_given_as_profile(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=png)),
                       "profile.yaml: not a text file (it contains NUL bytes)", "expected UTF-8 text")


def test_nul_byte_in_csv(tmp_path: Path) -> None:
    bad = PROGRAMS.encode().replace(b"Quillmere", b"Quill\x00mere")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "programs.csv: not a text file")


def test_latin1_bytes_name_the_line(tmp_path: Path) -> None:
    bad = PROGRAMS.encode().replace(b"Vellamy", "Vellamý".encode("latin-1"))
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "programs.csv:3: not valid UTF-8",
                       "save the file with UTF-8 encoding")


def test_latin1_profile_names_the_line(tmp_path: Path) -> None:
    bad = PROFILE.encode().replace(b"Caribbean", "Caraïbes".encode("latin-1"))
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)), "profile.yaml:26: not valid UTF-8")


@pytest.mark.parametrize("which", ["profile", "programs"])
def test_byte_order_mark_is_accepted(tmp_path: Path, which: str) -> None:
    """Excel's "CSV UTF-8" starts with a byte-order mark; so do files from some editors."""
    bom = b"\xef\xbb\xbf"
    args = (write_inputs(tmp_path, profile=bom + PROFILE.encode()) if which == "profile"
            else write_inputs(tmp_path, programs=bom + PROGRAMS.encode()))
    assert evaluate_ok(*args)["inputs"]["programs"]["count"] == 37


def test_windows_line_endings_are_accepted(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, profile=PROFILE.replace("\n", "\r\n"),
                        programs=PROGRAMS.replace("\n", "\r\n"))
    assert evaluate_ok(*args)["inputs"]["programs"]["count"] == 37


# --- CSV from spreadsheets ----------------------------------------------------------------------


def test_quoted_newline_inside_a_value_is_refused_with_the_rows_line(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 7, "interest", "seven")  # a later error keeps its physical line (one line down)
    bad = set_cell(bad, 3, "name", '"University of\nOrrinvale"')
    result = run_cli(*write_inputs(tmp_path, programs=bad))
    assert_input_error(result, "programs.csv:4: name: value contains a line break (inside quotes)",
                       "keep each value on one line", "programs.csv:9: interest: got 'seven'")
    assert "'name' is required" not in result.output  # one problem per cell, not two


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2+3", "=1+1"])
def test_spreadsheet_formula_in_a_text_cell_is_refused(tmp_path: Path, value: str) -> None:
    bad = set_cell(PROGRAMS, 3, "name", f'"{value}"' if "," in value or '"' in value else value)
    if '"' in value:
        bad = set_cell(PROGRAMS, 3, "name", '"' + value.replace('"', '""') + '"')
    result = run_cli(*write_inputs(tmp_path, programs=bad))
    assert_input_error(result, "programs.csv:4: name: got", "which looks like a spreadsheet formula",
                       "export values, not formulas")
    assert "'name' is required" not in result.output


def test_spreadsheet_formula_in_a_number_cell_is_refused(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "img_share", "=B2/C2")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: img_share: got '=B2/C2', which looks like a spreadsheet formula")


def test_spreadsheet_formula_in_a_list_cell_is_refused(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "ties", "family;=A1")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       "programs.csv:4: ties: got '=A1', which looks like a spreadsheet formula")


def test_a_lone_dash_is_not_a_formula_but_not_a_valid_choice_either(tmp_path: Path) -> None:
    bad = set_cell(PROGRAMS, 3, "area_type", "-")
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)),
                       'programs.csv:4: area_type: got "-"; expected one of: urban, suburban, rural')


# --- policies: unknown specialty or cycle -------------------------------------------------------


def test_unknown_cycle_lists_the_cycles_that_exist(tmp_path: Path) -> None:
    bad = PROFILE.replace("cycle: eras-2023", "cycle: eras-1999", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad)),
                       "profile.yaml:4: cycle: no policies for cycle 'eras-1999'", "cycles available:",
                       "eras-2023", "eras-2026")


def test_unknown_specialty_lists_the_specialties_of_the_cycle(tmp_path: Path) -> None:
    other = PROFILE.replace("specialty: internal-medicine", "specialty: vascular-surgery", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=other)),
                       "specialty: no policy for specialty 'vascular-surgery' in eras-2023",
                       "internal-medicine", "--signals")


@pytest.mark.parametrize("override", [["--specialty", "../../guidance/core"],
                                      ["--specialty", "../eras-2026/family-medicine"],
                                      ["--cycle", "../cycles/eras-2026"]])
def test_specialty_and_cycle_overrides_are_validated_like_the_profile(tmp_path: Path,
                                                                       override: list[str]) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path), *override), override[0], "expected text matching")


@pytest.mark.parametrize("where", ["profile", "--specialty"])
def test_a_specialty_name_too_long_for_the_file_system_is_an_input_error(tmp_path: Path, where: str) -> None:
    long_name = "internal-medicine" + "9" * 300
    if where == "profile":
        args = write_inputs(tmp_path, profile=PROFILE.replace("internal-medicine", long_name, 1))
    else:
        args = [*write_inputs(tmp_path), "--specialty", long_name]
    assert_input_error(run_cli(*args), "specialty")


# --- sizes of the plan: zero programs, zero signals, too many signals ---------------------------


def test_header_only_shortlist_has_no_programs(tmp_path: Path) -> None:
    header_only = PROGRAMS.splitlines()[0] + "\n\n,,,\n"
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=header_only)),
                       "programs.csv: the shortlist has no programs", "add at least one program")


def test_empty_yaml_shortlist_has_no_programs(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, programs="[]\n", programs_name="programs.yaml")
    assert_input_error(run_cli(*args), "programs.yaml: the shortlist has no programs")


def test_zero_signals_is_a_plan_with_an_info_finding(tmp_path: Path) -> None:
    report = evaluate_ok(*write_inputs(tmp_path), "--signals", "0")
    assert [(s["available"], s["assigned"]) for s in report["signals"]] == [(0, 0)]
    assert {p["decision"] for p in report["programs"]} <= {"none", "excluded", "exempt"}
    findings = {f["rule"]: f["level"] for f in report["findings"]}
    assert findings.get("check.no-signals-available") == "info"


def test_more_signals_than_eligible_programs_warns_about_unused_signals(tmp_path: Path) -> None:
    three = "\n".join(PROGRAMS.splitlines()[:4]) + "\n"
    report = evaluate_ok(*write_inputs(tmp_path, programs=three), "--signals", "7")
    level = report["signals"][0]
    assert level["available"] == 7 and level["assigned"] <= 3
    unused = [f for f in report["findings"] if f["rule"] == "check.unused-signals"]
    assert unused and unused[0]["level"] == "warning"
    assert f"{7 - level['assigned']} of your 7" in unused[0]["text"]


def test_more_signals_than_the_shortlist_can_take_uses_every_eligible_program(tmp_path: Path) -> None:
    report = evaluate_ok(*write_inputs(tmp_path), "--signals", "36")
    eligible = [p for p in report["programs"] if p["decision"] not in ("excluded", "exempt")]
    assert report["signals"][0]["assigned"] == len(eligible)


@pytest.mark.parametrize("signals", ["41", "100", "gold=11,silver=5", "gold=3,silver=41"])
def test_signal_counts_beyond_the_quota_tables_still_give_a_plan(tmp_path: Path, signals: str) -> None:
    """Every count --signals accepts (up to 100 per level) has a quota row: never an empty plan."""
    report = evaluate_ok(*write_inputs(tmp_path), "--signals", signals)
    assert all(level["assigned"] > 0 for level in report["signals"]), report["signals"]
    eligible = [p for p in report["programs"] if p["decision"] not in ("excluded", "exempt")]
    assert sum(level["assigned"] for level in report["signals"]) == min(
        len(eligible), sum(level["available"] for level in report["signals"]))


def test_unused_signal_warning_reads_naturally_for_single_level_signals(tmp_path: Path) -> None:
    three = "\n".join(PROGRAMS.splitlines()[:4]) + "\n"
    report = evaluate_ok(*write_inputs(tmp_path, programs=three), "--signals", "7")
    assert not any("signal signal" in f["text"] for f in report["findings"])


def test_too_many_programs_is_refused_before_evaluating(tmp_path: Path) -> None:
    lines = PROGRAMS.splitlines()
    rows = [lines[0]] + [f"P-{i:05d}," + lines[1 + i % 37].split(",", 1)[1] for i in range(MAX_PROGRAMS + 1)]
    assert_input_error(run_cli(*write_inputs(tmp_path, programs="\n".join(rows) + "\n")),
                       f"the shortlist has {MAX_PROGRAMS + 1:,} programs; the limit is {MAX_PROGRAMS:,}")


def test_many_problems_stop_the_reading_after_fifty(tmp_path: Path) -> None:
    rows = [PROGRAMS.splitlines()[0]] + ["x"] * 500
    result = run_cli(*write_inputs(tmp_path, programs="\n".join(rows) + "\n"))
    assert_input_error(result, f"stopped reading at line {MAX_PROBLEMS + 2} after {MAX_PROBLEMS} problems")
    assert result.output.count("row has 1 value but") == MAX_PROBLEMS


def test_many_problems_in_a_yaml_file_are_capped_with_a_count(tmp_path: Path) -> None:
    programs = "".join(f"- {{id: Y-{i}, name: N, state: OH, setting: hospital}}\n" for i in range(80))
    result = run_cli(*write_inputs(tmp_path, programs=programs, programs_name="programs.yaml"))
    assert_input_error(result, f"{80 - MAX_PROBLEMS} more problems not shown",
                       f"the first {MAX_PROBLEMS} of 80 are listed")
    assert result.output.count("expected one of: university") == MAX_PROBLEMS


# --- the two files together ---------------------------------------------------------------------


def test_home_program_must_be_on_the_shortlist(tmp_path: Path) -> None:
    result = run_cli(*write_inputs(tmp_path, profile=PROFILE + "home_program: NOPE-1\n"))
    assert_input_error(result, "profile.yaml:34: home_program: 'NOPE-1' is not a program id in",
                       "use the id of a program on your shortlist")


def test_problems_in_both_files_are_reported_together(tmp_path: Path) -> None:
    bad_profile = PROFILE.replace("step2_ck: 242", "step2_ck: 400", 1)
    bad_programs = set_cell(PROGRAMS, 3, "img_share", "1.7")
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=bad_profile, programs=bad_programs)),
                       "profile.yaml:11: applicant.exams.step2_ck", "programs.csv:4: img_share")


def test_missing_file_is_named(tmp_path: Path) -> None:
    assert_input_error(run_cli("evaluate", "--profile", str(tmp_path / "nope.yaml"),
                               "--programs", str(tmp_path / "nope.csv")),
                       "nope.yaml: file not found", "nope.csv: file not found")


def test_bad_signals_option_is_explained(tmp_path: Path) -> None:
    for value in ("gold=three", "-1", "", "101", "gold=3,gold=4"):
        assert_input_error(run_cli(*write_inputs(tmp_path), "--signals", value), "--signals")
    # the hint shows the form it expects (kept from tests/test_cli_inputs.py's copy of this test)
    assert_input_error(run_cli(*write_inputs(tmp_path), "--signals", "gold=three"), "--signals", "gold=3,silver=12")


@pytest.mark.parametrize("value", ["²", "7²", "①"])
def test_signals_that_are_digits_only_to_unicode_are_refused(tmp_path: Path, value: str) -> None:
    assert_input_error(run_cli(*write_inputs(tmp_path), "--signals", value), "--signals")
