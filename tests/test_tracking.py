"""`signalwise track`: honest pace status and explained next steps at several points of a season."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES, run_cli

GSI = EXAMPLES / "gold-silver-im"
HEADER = "program,date,event,tier,note\n"
SILENT = ["GSI-07", "GSI-18", "GSI-21", "GSI-24"]


@pytest.fixture(scope="module")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    result = run_cli("evaluate", "--profile", str(GSI / "profile.yaml"), "--programs", str(GSI / "programs.csv"),
                     "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out


def log_with_invites(tmp_path: Path, invites: list[tuple[str, str]], extra: str = "") -> Path:
    rows = [f"{pid},2025-09-03,applied,," for pid in SILENT]
    rows += [f"{pid},{day},invited,," for pid, day in invites]
    path = tmp_path / "log.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n" + extra)
    return path


def run_track(log: Path, plan: Path, *extra: str) -> dict[str, Any]:
    result = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"), "--report", str(plan),
                     "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


SIGNALED = ["GSI-01", "GSI-09", "GSI-10", "GSI-02", "GSI-11", "GSI-16", "GSI-23", "GSI-14", "GSI-22"]


def rules(data: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in data["findings"]} | {a["rule"] for a in data["advice"]}


def test_on_pace_applicant_is_told_so(tmp_path: Path, plan: Path) -> None:
    invites = [(pid, "2025-10-10") for pid in SIGNALED[:7]]
    data = run_track(log_with_invites(tmp_path, invites), plan, "--as-of", "2025-10-30", "--target", "10")
    assert data["pace"]["status"] == "on-pace"
    assert "track.on-pace" in rules(data) and "track.under-interviewed" not in rules(data)


def test_under_interviewed_by_mid_season_gets_the_guides_advice(tmp_path: Path, plan: Path) -> None:
    invites = [(pid, "2025-10-10") for pid in SIGNALED[:3]]
    data = run_track(log_with_invites(tmp_path, invites), plan, "--as-of", "2025-12-01", "--target", "12")
    assert data["pace"]["status"] == "under-interviewed"
    found = {f["rule"]: f for f in data["findings"]}
    assert "widening your geographic or program-type" in found["track.under-interviewed"]["advice"]
    letters = [a for a in data["advice"] if a["rule"] == "track.letter-of-interest"]
    assert {a["program"] for a in letters} == set(SILENT)
    silent = [a for a in data["advice"] if a["rule"] == "track.silent-signaled-program"]
    assert silent and all("do not pressure" in a["advice"] for a in silent)
    assert all(f["source"] for f in data["findings"])


def test_behind_but_early_is_not_alarming(tmp_path: Path, plan: Path) -> None:
    data = run_track(log_with_invites(tmp_path, [("GSI-09", "2025-10-01")]), plan, "--as-of", "2025-10-10",
                     "--target", "12")
    assert data["pace"]["status"] == "behind-early"
    assert "track.under-interviewed" not in rules(data)


def test_before_review_starts_nothing_is_judged(tmp_path: Path, plan: Path) -> None:
    data = run_track(log_with_invites(tmp_path, []), plan, "--as-of", "2025-09-10", "--target", "12")
    assert "track.season-not-started" in rules(data)
    assert data["pace"]["status"] == "unknown"


def test_unknown_target_is_said_not_guessed(tmp_path: Path, plan: Path) -> None:
    data = run_track(log_with_invites(tmp_path, []), plan, "--as-of", "2025-12-01")
    assert data["pace"]["target_min"] is None
    assert "track.target-unknown" in rules(data)


def test_events_after_as_of_are_ignored(tmp_path: Path, plan: Path) -> None:
    data = run_track(log_with_invites(tmp_path, [("GSI-09", "2026-01-05")]), plan, "--as-of", "2025-12-01",
                     "--target", "12")
    assert data["season"]["invites"] == 0 and data["events_after_as_of"] == 1


def test_signaled_and_unsignaled_rates_are_compared(tmp_path: Path, plan: Path) -> None:
    invites = [("GSI-09", "2025-10-02"), ("GSI-21", "2025-10-03")]
    data = run_track(log_with_invites(tmp_path, invites), plan, "--as-of", "2025-11-01")
    assert data["by_signal_tier"]["none"]["invited"] == 1
    assert "track.signal-comparison" in rules(data)


def test_markdown_has_a_chart_against_the_expected_pace(tmp_path: Path, plan: Path) -> None:
    result = run_cli("track", "--log", str(log_with_invites(tmp_path, [("GSI-09", "2025-10-02")])), "--programs",
                     str(GSI / "programs.csv"), "--report", str(plan), "--as-of", "2025-11-15", "--target", "12",
                     "--format", "md")
    assert result.exit_code == 0
    assert "## Invitations over time" in result.output and "|" in result.output


@pytest.mark.parametrize("row, fragment", [
    ("NOPE-1,2025-10-01,invited,,", "'NOPE-1' is not on the shortlist"),
    ("GSI-09,2025-13-01,invited,,", "date"),
    ("GSI-09,2025-10-01,hired,,", "expected one of: applied"),
    ("GSI-09,2025-10-01,signaled,,", "needs the tier"),
])
def test_malformed_log_rows_name_file_line_and_field(tmp_path: Path, plan: Path, row: str, fragment: str) -> None:
    log = log_with_invites(tmp_path, [], extra=row + "\n")
    result = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"), "--report", str(plan))
    assert result.exit_code == 2, result.output
    assert "log.csv:6" in result.output and fragment in result.output
    assert "Traceback" not in result.output


def test_log_with_unknown_column_is_refused(tmp_path: Path, plan: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("program,day,event\nGSI-09,2025-10-01,invited\n")
    result = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"))
    assert result.exit_code == 2 and "unknown column 'day'" in result.output


def test_report_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "r.json"
    bad.write_text('{"hello": 1}')
    result = run_cli("track", "--log", str(GSI / "interview-log.csv"), "--programs", str(GSI / "programs.csv"),
                     "--report", str(bad))
    assert result.exit_code == 2 and "not a signalwise report" in result.output


def test_example_log_yaml_form_is_accepted(tmp_path: Path, plan: Path) -> None:
    log = tmp_path / "log.yaml"
    log.write_text("events:\n  - {program: GSI-09, date: 2025-10-02, event: invited}\n"
                   "  - {program: GSI-01, date: 2025-09-03, event: signaled, tier: gold}\n")
    data = run_track(log, plan, "--as-of", "2025-11-01")
    assert data["season"]["invites"] == 1


def test_html_form_has_the_pace_chart_and_no_external_references(tmp_path: Path, plan: Path) -> None:
    log = log_with_invites(tmp_path, [("GSI-09", "2025-10-02"), ("GSI-21", "2025-10-20")])
    result = run_cli("track", "--log", str(log), "--programs", str(GSI / "programs.csv"), "--report", str(plan),
                     "--as-of", "2025-11-15", "--target", "12", "--format", "html", "-o", str(tmp_path / "t.html"))
    assert result.exit_code == 0, result.output
    page = (tmp_path / "t.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and '<svg class="chart" id="pace-chart"' in page
    assert "stroke-dasharray" in page and not re.search(r'(src|href)="(https?:)?//', page)
    # a real page in the evaluate report's layout: sections and tables, no Markdown dumped in a <pre>
    assert "<pre>" not in page and "```" not in page and "| signal tier |" not in page
    for section in ("pace", "rates", "over-time", "now"):
        assert f'<section id="{section}">' in page
    assert '<div class="card pace-1"><div class="label">Season</div>' in page
    assert page.count('<details class="how">') >= 2 and "<summary>How this was decided</summary>" in page
    assert "--ink: #1d1d1f" in page  # the shared stylesheet
