"""Shortlists as people keep them (issue 13): Excel's CSV, an .xlsx workbook, any case, extra columns,
and only the columns a decision needs. Each gives the same plan as the clean CSV, or says what it lacks."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from .conftest import run_cli
from .reliability_support import PROFILE, PROGRAMS, assert_input_error, evaluate_ok, write_inputs

CAPITALISED = {"yes", "no", "high", "moderate", "low", "university", "community", "urban", "rural", "suburban",
               "normal", "university-affiliated"}


def _plan(report: dict[str, Any]) -> dict[str, tuple[str, str, Any]]:
    return {p["id"]: (p["decision"], p["fit"], p["score"]) for p in report["programs"]}


def _rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(PROGRAMS)))


def excel_csv() -> bytes:
    """What Excel's "CSV UTF-8" writes after an applicant typed Yes, Community, added notes and a website."""
    rows = _rows()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([h.upper() if h == "id" else h.replace("_", " ").title() if h == "img_share" else h
                     for h in rows[0]] + ["notes", "website"])
    for r in rows[1:]:
        cells = [c.replace("-", " ").title() if c in CAPITALISED else c for c in r]
        cells = [f" {c} " if i == 3 else c for i, c in enumerate(cells)]  # stray spaces around `setting`
        writer.writerow(cells + ["called the coordinator", "https://example.org"])
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def workbook(rows: list[list[Any]], title: str = "Programs") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _typed(cell: str) -> Any:
    if cell in ("yes", "no"):
        return cell == "yes"
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            continue
    return cell or None


def example_xlsx() -> bytes:
    rows = _rows()
    return workbook([rows[0] + ["notes"]] + [[_typed(c) for c in r] + ["a note"] for r in rows[1:]])


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return evaluate_ok(*write_inputs(tmp_path_factory.mktemp("clean")))


def test_an_excel_saved_csv_gives_the_same_plan_as_the_clean_csv(tmp_path: Path, clean: dict[str, Any]) -> None:
    report = evaluate_ok(*write_inputs(tmp_path, programs=excel_csv()))
    assert _plan(report) == _plan(clean)
    unused = [f for f in report["findings"] if f["rule"] == "input.extra-columns"]
    assert [f["text"] for f in unused] == [
        "Columns signalwise does not use: notes, website. They stay in your file; no rule reads them."]


def test_an_xlsx_workbook_gives_the_same_plan_as_the_clean_csv(tmp_path: Path, clean: dict[str, Any]) -> None:
    args = write_inputs(tmp_path, programs=example_xlsx(), programs_name="programs.xlsx")
    report = evaluate_ok(*args)
    assert _plan(report) == _plan(clean)
    assert report["inputs"]["programs"]["unused_columns"] == ["notes"]
    assert len(report["inputs"]["programs"]["sha256"]) == 64


def test_xlsx_problems_name_the_row(tmp_path: Path) -> None:
    rows = _rows()
    bad = [[_typed(c) for c in r] for r in rows[1:]]
    bad[2][rows[0].index("interest")] = "three"
    args = write_inputs(tmp_path, programs=workbook([rows[0]] + bad), programs_name="programs.xlsx")
    assert_input_error(run_cli(*args), "programs.xlsx:4: interest: got 'three'; expected a whole number")


def test_a_damaged_or_old_workbook_is_an_input_error(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, programs=b"PK\x03\x04 not really a zip", programs_name="programs.xlsx")
    assert_input_error(run_cli(*args), "programs.xlsx: not a readable Excel workbook")
    args = write_inputs(tmp_path, programs=b"\xd0\xcf\x11\xe0old", programs_name="programs.xls")
    assert_input_error(run_cli(*args), "programs.xls: old Excel workbooks (.xls) cannot be read")


def test_a_workbook_that_unpacks_to_a_huge_size_is_refused_before_unpacking(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (80 * 1024 * 1024))
    args = write_inputs(tmp_path, programs=buf.getvalue(), programs_name="programs.xlsx")
    assert_input_error(run_cli(*args), "programs.xlsx: the workbook unpacks to more than 64 MB")


def test_a_shortlist_of_id_name_state_and_interest_says_what_the_unknowns_touched(tmp_path: Path) -> None:
    rows = _rows()
    keep = [rows[0].index(c) for c in ("id", "name", "state", "interest")]
    minimal = "\n".join(",".join(r[i] for i in keep) for r in rows) + "\n"
    report = evaluate_ok(*write_inputs(tmp_path, programs=minimal))
    assert sum(s["assigned"] for s in report["signals"]) > 0
    by_rule = {f["rule"]: f for f in report["findings"]}
    setting = by_rule["input.unknown.setting"]
    assert setting["text"].startswith("setting is unknown for every program on your list")
    assert "fit (reach, target or safety)" in setting["text"]
    assert "FREIDA" in setting["advice"]
    assert "input.unknown.img_share" in by_rule and "input.unknown.step2_min" in by_rule
    assumed = by_rule["input.assumed"]["text"]
    assert "rotated (no)" in assumed and "would_attend (yes)" in assumed
    program = report["programs"][0]
    assert {"field": "setting", "decides": ["fit", "score"]} in program["unknown"]


def test_a_blank_minimum_score_means_none_stated_not_unknown(clean: dict[str, Any]) -> None:
    assert "input.unknown.step2_min" not in {f["rule"] for f in clean["findings"]}


@pytest.mark.parametrize("cell, expected", [("Community", "community"), ("UNIVERSITY", "university"),
                                            ("University Affiliated", "university-affiliated"),
                                            ("  community  ", "community")])
def test_choices_are_read_in_any_case_and_spacing(tmp_path: Path, cell: str, expected: str) -> None:
    rows = _rows()
    rows[1][rows[0].index("setting")] = cell
    text = "\n".join(",".join(r) for r in rows) + "\n"
    args = write_inputs(tmp_path, programs=text, programs_name="programs.csv")
    report = evaluate_ok(*args)
    assert report["programs"][0]["setting"] == expected or any(
        p["setting"] == expected for p in report["programs"] if p["id"] == rows[1][0])


@pytest.mark.parametrize("cell", ["30%", "0.3", " 30 % ", "0.30"])
def test_shares_as_percent_or_fraction_alike(tmp_path: Path, cell: str) -> None:
    rows = _rows()
    rows[1][rows[0].index("img_share")] = cell
    rows[1][rows[0].index("us_img_share")] = "10%"
    text = "\n".join(",".join(r) for r in rows) + "\n"
    report = evaluate_ok(*write_inputs(tmp_path, programs=text))
    assert report["inputs"]["programs"]["count"] == 37


def test_unknown_in_a_cell_is_an_unknown_value(tmp_path: Path) -> None:
    rows = _rows()
    rows[1][rows[0].index("sponsors_visa")] = "Unknown"
    rows[1][rows[0].index("research_intensity")] = "?"
    text = "\n".join(",".join(r) for r in rows) + "\n"
    report = evaluate_ok(*write_inputs(tmp_path, programs=text))
    first = next(p for p in report["programs"] if p["id"] == rows[1][0])
    assert {u["field"] for u in first["unknown"]} >= {"sponsors_visa", "research_intensity"}


def test_a_misspelled_column_is_still_a_problem_not_an_extra_column(tmp_path: Path) -> None:
    bad = PROGRAMS.replace("img_share,", "img_shaer,", 1)
    assert_input_error(run_cli(*write_inputs(tmp_path, programs=bad)), "did you mean 'img_share'?")


def test_profile_with_a_byte_order_mark_and_crlf_reads_like_the_clean_one(tmp_path: Path,
                                                                          clean: dict[str, Any]) -> None:
    profile = b"\xef\xbb\xbf" + PROFILE.replace("\n", "\r\n").encode()
    assert _plan(evaluate_ok(*write_inputs(tmp_path, profile=profile))) == _plan(clean)


def test_profile_errors_are_in_applicant_words_with_a_did_you_mean_on_the_right_line(tmp_path: Path) -> None:
    bad = PROFILE.replace("cycle: eras-2023", "cycle: 2023")
    result = run_cli(*write_inputs(tmp_path, profile=bad))
    assert_input_error(result, "cycle: got 2023", "did you mean 'eras-2023'?")
    words = PROFILE.replace("specialty: internal-medicine", "specialty: Internal Medicne")
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=words)), "unknown specialty 'Internal Medicne'",
                       "did you mean 'internal-medicine'")
    assert "^[a-z]" not in result.output and "expected text" not in result.output
    alias = PROFILE.replace("specialty: internal-medicine", "specialty: Internal Medicine")
    assert run_cli(*write_inputs(tmp_path, profile=alias)).exit_code == 0   # a registered alias is understood
    typo = PROFILE.replace("specialty: internal-medicine", "specialty: internal-medecine")
    line = next(i for i, text in enumerate(typo.splitlines(), 1) if text.startswith("specialty:"))
    assert_input_error(run_cli(*write_inputs(tmp_path, profile=typo)),
                       f"profile.yaml:{line}: specialty: unknown specialty 'internal-medecine'",
                       "did you mean 'internal-medicine'")
