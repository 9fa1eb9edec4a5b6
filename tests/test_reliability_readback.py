"""Issue 12: reports read back, interview logs and dates are untrusted input (exit 2, never exit 1).

Cases 6, 7, 12, 17 and the track items of 18; docs/reliability.md, "Reports read back" and "Dates".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from signalwise.engine.load.report import MAX_REPORT_BYTES

from .conftest import EXAMPLES, run_cli

GSI = EXAMPLES / "gold-silver-im"
PROGRAMS = str(GSI / "programs.csv")
LOG = str(GSI / "interview-log.csv")


@pytest.fixture(scope="module")
def plan_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("plan") / "plan.json"
    result = run_cli("evaluate", "--profile", str(GSI / "profile.yaml"), "--programs", PROGRAMS,
                     "--format", "json", "-o", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


def _both(path: Path) -> list[Any]:
    """The same report through `explain` and through `track --report`."""
    return [run_cli("explain", str(path), "--program", "GSI-01"),
            run_cli("track", "--log", LOG, "--programs", PROGRAMS, "--report", str(path), "--as-of", "2025-11-01")]


def _edited(plan_text: str, edit: Any) -> str:
    report = json.loads(plan_text)
    edit(report)
    return json.dumps(report)


CASES = {
    # issue 12, case 7: each of these was an internal error (exit 1) in explain or track
    "division: 1.5": (lambda t: _edited(t, lambda r: r["programs"][0].__setitem__("division", 1.5)),
                      "$.programs[0].division: got 1.5; expected text or nothing"),
    "a program replaced by 5": (lambda t: _edited(t, lambda r: r["programs"].__setitem__(1, 5)),
                                "$.programs[1]: got 5; expected a mapping of fields"),
    "deep nesting": (lambda t: t[:-2] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n",
                     "JSON nested 100,001 levels deep; the limit is 32"),
    "a 5,000-digit number": (lambda t: t.replace('"score": ', '"score": ' + "9" * 5000 + ", \"was\": ", 1),
                             "a number of 5,000 characters; the limit is 32"),
    "NaN": (lambda t: t.replace('"score": ', '"score": NaN, "was": ', 1), "NaN is not a number JSON allows"),
    "a key twice": (lambda t: t.replace('"decision": ', '"decision": "gold", "decision": ', 1),
                    'the key "decision" appears twice in one object'),
    "a tier that is not a name": (lambda t: _edited(t, lambda r: r["signals"][0].__setitem__("tier", 7)),
                                  "$.signals[0].tier: got 7; expected text"),
    "a tracking result": (lambda t: _edited(t, lambda r: r.__setitem__("kind", "tracking")),
                          "this is a tracking result"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_damaged_report_is_refused_by_explain_and_track_naming_the_place(tmp_path: Path, plan_text: str,
                                                                            case: str) -> None:
    make, fragment = CASES[case]
    path = tmp_path / "report.json"
    path.write_text(make(plan_text), encoding="utf-8")
    for result in _both(path):
        assert result.exit_code == 2, (case, result.output[-500:])
        assert fragment in result.output and "internal error" not in result.output


def test_every_report_evaluate_writes_fits_the_readers_size_limit() -> None:
    """Case 17: track refused a 9.8 MB report evaluate wrote (its limit was 5 MB), explain took 64 MB.
    Both read up to 20 MB now; the largest report evaluate can write (2,000 programs with 200-character
    names and every tie) is about 16 MB (measured; docs/reliability.md)."""
    assert MAX_REPORT_BYTES == 20 * 1024 * 1024


def test_a_report_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(MAX_REPORT_BYTES + 1)  # sparse: nothing is written, nothing may be read
    for result in _both(path):
        assert result.exit_code == 2 and "the limit is 20,971,520 bytes" in result.output


def test_a_large_valid_report_is_read_by_track(tmp_path: Path, plan_text: str) -> None:
    """A report of more than 5 MB (the old limit of track) is accepted: track takes what evaluate writes."""
    report = json.loads(plan_text)
    first = report["programs"][0]
    long_reason = dict(first["because"][0], text="A long explanation. " * 1_000)
    report["programs"] = [dict(first, id=f"P-{i:04d}", because=[long_reason] * 14) for i in range(20)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    assert path.stat().st_size > 5 * 1024 * 1024
    result = run_cli("track", "--log", LOG, "--programs", PROGRAMS, "--report", str(path), "--as-of", "2025-11-01")
    assert result.exit_code == 0, result.output[-500:]


# ---------------------------------------------------------------- dates and the season (case 6)

@pytest.mark.parametrize(("args", "fragment"), [
    (["--as-of", "9999-12-31"], "--as-of: got 9999-12-31; expected a date between 2000-01-01"),
    (["--review-from", "0001-01-01", "--as-of", "2025-11-01"], "--review-from: got 0001-01-01"),
    (["--as-of", "20251101"], "Invalid value for '--as-of': '20251101'"),
])
def test_dates_are_bounded_and_the_season_is_capped(args: list[str], fragment: str) -> None:
    result = run_cli("track", "--log", LOG, "--programs", PROGRAMS, *args, "--format", "html")
    assert result.exit_code == 2 and fragment in result.output, result.output


def test_a_season_long_over_is_said_to_be_over_with_a_capped_timeline(tmp_path: Path) -> None:
    """A season judged years after review began: no refusal, the season is over, and the weekly timeline
    stops at MAX_SEASON_DAYS (the 48 MB page of case 6 came from drawing every week since year 1)."""
    import json

    from signalwise.engine.season.tracking import MAX_SEASON_DAYS

    result = run_cli("track", "--log", LOG, "--programs", PROGRAMS, "--review-from", "2025-09-01",
                     "--as-of", "2099-01-01", "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["pace"]["phase"] == "after-season"
    assert len(data["timeline"]) <= MAX_SEASON_DAYS // 7 + 1
    html = tmp_path / "season.html"
    assert run_cli("track", "--log", LOG, "--programs", PROGRAMS, "--review-from", "0001-01-01",
                   "--as-of", "2099-01-01", "--format", "html", "-o", str(html)).exit_code == 2
    page = run_cli("track", "--log", LOG, "--programs", PROGRAMS, "--review-from", "2000-01-01",
                   "--as-of", "2099-01-01", "--format", "html", "-o", str(html))
    assert page.exit_code == 0 and html.stat().st_size < 200_000


def test_log_dates_outside_the_range_are_refused(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("program,date,event,tier,note\nGSI-01,9999-12-31,invited,,\n", encoding="utf-8")
    result = run_cli("track", "--log", str(log), "--programs", PROGRAMS, "--as-of", "2025-11-01")
    assert result.exit_code == 2 and "log.csv:2: date: got '9999-12-31'" in result.output


def test_a_log_of_many_unknown_programs_lists_fifty_problems(tmp_path: Path) -> None:
    """Case 12: 5 MB of unknown programs printed 154,883 error lines."""
    log = tmp_path / "log.csv"
    log.write_text("program,date,event,tier,note\n" + "".join(f"NOPE-{i},2025-10-01,invited,,\n"
                                                              for i in range(20_000)), encoding="utf-8")
    result = run_cli("track", "--log", str(log), "--programs", PROGRAMS, "--as-of", "2025-11-01")
    assert result.exit_code == 2
    assert result.output.count("is not on the shortlist") == 50 and "after 50 problems" in result.output


def test_a_signal_tier_the_plan_does_not_have_is_refused(tmp_path: Path, plan_text: str) -> None:
    """Case 18: `platinum` in a log was accepted."""
    log = tmp_path / "log.csv"
    log.write_text("program,date,event,tier,note\nGSI-01,2025-09-05,signaled,platinum,\n", encoding="utf-8")
    plan = tmp_path / "plan.json"
    plan.write_text(plan_text, encoding="utf-8")
    with_plan = run_cli("track", "--log", str(log), "--programs", PROGRAMS, "--report", str(plan),
                        "--as-of", "2025-11-01")
    assert with_plan.exit_code == 2 and "tier: got 'platinum'; expected one of: gold, silver" in with_plan.output
    without = run_cli("track", "--log", str(log), "--programs", PROGRAMS, "--as-of", "2025-11-01")
    assert without.exit_code == 2 and "expected one of: signal, gold, silver" in without.output


def test_track_options_follow_the_profile_patterns() -> None:
    result = run_cli("track", "--log", LOG, "--programs", PROGRAMS, "--specialty", "x\x1b[31m",
                     "--as-of", "2025-11-01")
    assert result.exit_code == 2 and "--specialty: got 'x\\x1b[31m'" in result.output and "\x1b" not in result.output
