"""Issue 12: what signalwise prints and writes cannot be turned against the reader, and concurrent or
failing writes end with a message (cases 8, 11, 13, 14, 15, 16 and the minor items of 18).

docs/reliability.md, "Output hygiene" and "Concurrency".
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signalwise.engine import batch
from signalwise.engine.batch import Outcome, csv_cell, output_lock, summary_csv, summary_markdown

from .conftest import EXAMPLES, run_cli
from .reliability_support import PROGRAMS, set_cell, write_inputs

STRONG = ["--profile", str(EXAMPLES / "strong-im" / "profile.yaml"),
          "--programs", str(EXAMPLES / "strong-im" / "programs.csv")]
HOSTILE_NAME = "Evil \x1b[2J\x1b[31mRed\x9b31m Hospital \u202eabc"


# ---------------------------------------------------------------- control characters (case 13)

def test_terminal_escapes_in_a_program_name_never_reach_the_terminal_raw(tmp_path: Path) -> None:
    args = write_inputs(tmp_path, programs=set_cell(PROGRAMS, 1, "name", HOSTILE_NAME))
    for fmt in ("text", "md", "html"):
        page = tmp_path / f"plan.{fmt}"
        result = run_cli(*args, "--format", fmt, *(("-o", str(page)) if fmt == "html" else ()))
        assert result.exit_code == 0
        shown = page.read_text(encoding="utf-8") if fmt == "html" else result.output
        assert "\x1b" not in shown and "\x9b" not in shown and "\u202e" not in shown
        assert "\\x1b" in shown and "\\x9b" in shown and "\\u202e" in shown
    report = tmp_path / "report.json"
    assert run_cli(*args, "--format", "json", "-o", str(report)).exit_code == 0
    assert json.loads(report.read_text(encoding="utf-8"))["programs"][0]["name"] == HOSTILE_NAME  # data kept
    explained = run_cli("explain", str(report), "--program", "SIM-01")
    assert explained.exit_code == 0 and "\x1b" not in explained.output and "\\x1b[2J" in explained.output


def test_control_characters_in_error_messages_are_escaped(tmp_path: Path) -> None:
    profile = (EXAMPLES / "strong-im" / "profile.yaml").read_text(encoding="utf-8") + "home_program: \"X\\e[2J\"\n"
    result = run_cli(*write_inputs(tmp_path, profile=profile))
    assert result.exit_code == 2 and "\x1b" not in result.output and "\\x1b[2J" in result.output


# ---------------------------------------------------------------- injection in secondary outputs (case 14)

@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1+1", "\r=1+1", "\n=1"])
def test_csv_cells_that_start_like_formulas_are_neutralised(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell


def _outcome(name: str) -> Outcome:
    return Outcome(name, "ok", "evaluated", specialty="internal-medicine", cycle="eras-2026", tier="strong",
                   report=f"{name}.md")


def test_the_cohort_summary_escapes_folder_names() -> None:
    names = ["<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "a|b", "=cmd|' /C calc'!A0"]
    outcomes = [_outcome(n) for n in names]
    outcomes.append(Outcome("**bold** [y](javascript:z)", "error", "failed", error="bad <b>input</b>",
                            error_kind="input"))
    md = summary_markdown(outcomes)
    assert not re.search(r"(?<!\\)<(img|b)", md) and not re.search(r"(?<!\\)\]\(javascript:", md)
    assert "\\<img src=x onerror=alert(1)\\>" in md and "\\[x\\](javascript:alert(1))" in md
    assert "(%5Bx%5D%28javascript%3Aalert%281%29%29.md)" in md  # the link target, percent-encoded
    assert "a\\|b" in md
    rows = summary_csv(outcomes).splitlines()
    assert any(row.startswith("'=cmd") or ",'=cmd" in row or "\"'=cmd" in row for row in rows)


def test_track_markdown_escapes_program_names(tmp_path: Path) -> None:
    gsi = EXAMPLES / "gold-silver-im"
    lines = (gsi / "programs.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("name")] = "[x](javascript:alert(1)) <img src=x>"
    programs = tmp_path / "programs.csv"
    programs.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n", encoding="utf-8")
    plan = tmp_path / "plan.json"
    assert run_cli("evaluate", "--profile", str(gsi / "profile.yaml"), "--programs", str(programs),
                   "--format", "json", "-o", str(plan)).exit_code == 0
    log = tmp_path / "log.csv"
    log.write_text(f"program,date,event,tier,note\n{cells[0]},2025-09-05,signaled,gold,\n", encoding="utf-8")
    result = run_cli("track", "--log", str(log), "--programs", str(programs), "--report", str(plan),
                     "--as-of", "2025-12-01", "--format", "md")
    assert result.exit_code == 0, result.output
    assert not re.search(r"(?<!\\)\]\(javascript:", result.output)
    assert not re.search(r"(?<!\\)<img", result.output)


# ---------------------------------------------------------------- where outputs may go (case 11)

def test_output_is_never_written_inside_the_policy_folder(tmp_path: Path) -> None:
    root = tmp_path / "policies"
    shutil.copytree(EXAMPLES.parent / "policies", root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    for target in (root / "guidance" / "core.yaml", root / "guidance" / "new.yaml", root / "report.md"):
        result = run_cli("evaluate", *STRONG, "--policies", str(root), "-o", str(target))
        assert result.exit_code == 2 and "output would be written inside the policy folder" in result.output
    link = tmp_path / "link"
    link.symlink_to(root / "guidance")
    result = run_cli("evaluate", *STRONG, "--policies", str(root), "-o", str(link / "core.yaml"))
    assert result.exit_code == 2 and "inside the policy folder" in result.output
    assert "id: guidance.core" in (root / "guidance" / "core.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------- two batch runs (case 8)

def test_a_second_batch_run_on_the_same_folder_exits_2_and_touches_nothing(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort"
    shutil.copytree(EXAMPLES / "strong-im", cohort / "alice")
    out = tmp_path / "out"
    (out / batch.STATE_DIR).mkdir(parents=True)
    in_flight = out / ".alice.md.abc123.tmp"  # the first run's temporary file, mid-write
    in_flight.write_text("half a report")
    with output_lock(out):  # the first run holds the folder
        result = run_cli("batch", str(cohort), "-o", str(out))
    assert result.exit_code == 2 and "another `signalwise batch` (pid " in result.output
    assert in_flight.exists()
    assert run_cli("batch", str(cohort), "-o", str(out)).exit_code == 0  # once it is done, the next run goes


# ---------------------------------------------------------------- filesystem errors (case 15)

def test_schema_export_into_something_that_is_not_a_folder_is_exit_2(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for target in (a_file / "sub", Path("/proc/signalwise-test")):
        result = run_cli("schema", "export", str(target))
        assert result.exit_code == 2 and str(target) in result.output and "cannot create the folder" in result.output


def test_new_cycle_that_cannot_write_is_exit_2_with_path_and_reason(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "policies"
    shutil.copytree(EXAMPLES.parent / "policies", root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))

    def refuse(*args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(root / "cycles"))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    result = run_cli("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2030", "--policies", str(root))
    assert result.exit_code == 2 and "Permission denied" in result.output and "cycles" in result.output


def test_an_unreadable_path_anywhere_is_exit_2_not_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from signalwise.engine.load import report as report_io

    def broken(*args: object, **kwargs: object) -> str:
        raise IsADirectoryError(21, "Is a directory", "/some/where")

    monkeypatch.setattr(report_io, "read_text", broken)
    result = run_cli("explain", "/some/where", "--program", "X")
    assert result.exit_code == 2 and "/some/where: Is a directory" in result.output


# ---------------------------------------------------------------- the minor items (case 18)

def test_compare_output_is_the_same_on_every_run() -> None:
    gsi = EXAMPLES / "gold-silver-im-rates"
    args = ["compare", "--profile", str(gsi / "profile.yaml"), "--programs", str(gsi / "programs.csv"),
            "--plan", str(gsi / "my-signals.yaml")]
    for fmt in ("json", "text"):
        first, second = run_cli(*args, "--format", fmt), run_cli(*args, "--format", fmt)
        assert first.exit_code == 0 and first.output == second.output, first.output[-300:]
        assert '"seconds"' not in first.output and " s." not in first.output


def test_explain_does_not_echo_a_huge_query(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert run_cli("evaluate", *STRONG, "--format", "json", "-o", str(report)).exit_code == 0
    result = run_cli("explain", str(report), "--program", "x" * 100_000)
    assert result.exit_code == 2 and len(result.output) < 2_000


def test_policy_diff_of_devices_is_refused() -> None:
    result = run_cli("policy", "diff", "/dev/zero", "/dev/zero")
    assert result.exit_code == 2 and "is not a regular file or folder" in result.output


def test_a_misspelled_specialty_with_signals_is_refused(tmp_path: Path) -> None:
    profile = (EXAMPLES / "strong-im" / "profile.yaml").read_text(encoding="utf-8").replace(
        "specialty: internal-medicine", "specialty: internal-medicne")
    result = run_cli(*write_inputs(tmp_path, profile=profile), "--signals", "7")
    assert result.exit_code == 2 and "did you mean 'internal-medicine'" in result.output


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2100) | st.sampled_from(
    ["\x7f", "\x85", "\x9b", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069", "\u2014", "\u201c",
     "\U0001f600"]), max_size=40))
def test_json_output_escapes_exactly_the_unsafe_characters(text: str) -> None:
    """`safe` skips the escaping pass when the text's UTF-8 holds no unsafe character (a fast search); the
    result is always what escaping every character of the class gives."""
    from signalwise.cli.output import _JSON_UNSAFE, safe

    assert safe(text, "json") == _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
