"""`signalwise batch`: a cohort in, one report per applicant plus a summary out; resumable and robust."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from signalwise.cli.main import cli
from signalwise.engine import batch

from .conftest import EXAMPLE_NAMES, EXAMPLES

BROKEN_PROFILE = """specialty: internal-medicine
cycle: eras-2026
applicant:
  graduate_type: martian
  graduation_year: 2024
  exams: {step2_ck: 230}
"""


@pytest.fixture()
def cohort(tmp_path: Path) -> Path:
    """The four bundled examples, one applicant with an invalid profile, one missing its shortlist,
    and a folder that is not an applicant at all."""
    root = tmp_path / "cohort"
    for name in EXAMPLE_NAMES:
        shutil.copytree(EXAMPLES / name, root / name)
    (root / "broken").mkdir()
    (root / "broken" / "profile.yaml").write_text(BROKEN_PROFILE, encoding="utf-8")
    shutil.copy(EXAMPLES / "strong-im" / "programs.csv", root / "broken" / "programs.csv")
    (root / "no-shortlist").mkdir()
    shutil.copy(EXAMPLES / "strong-im" / "profile.yaml", root / "no-shortlist" / "profile.yaml")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not an applicant\n", encoding="utf-8")
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["batch", *args, *(["--format", "md"] if "--format" not in args else [])],
                                catch_exceptions=False)
    return result.exit_code, result.output


def summary(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / batch.SUMMARY_CSV).read_text(encoding="utf-8"))))


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file() and not p.name.startswith("_")}


def test_cohort_reports_summary_and_bad_input(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = run(str(cohort), "-o", str(out), "--workers", "1")
    assert code == 2, output  # some applicants had invalid input; the others are done
    rows = summary(out)
    assert [r["applicant"] for r in rows] == sorted(["broken", "no-shortlist", *EXAMPLE_NAMES])
    by_name = {r["applicant"]: r for r in rows}
    for name in EXAMPLE_NAMES:
        row = by_name[name]
        assert row["status"] == "ok" and row["this_run"] == "evaluated" and row["error"] == ""
        assert (out / f"{name}.md").is_file() and row["report"] == f"{name}.md"
        assert row["tier"] in ("strong", "moderate", "at-risk")
        assert int(row["findings_critical"]) + int(row["findings_warning"]) + int(row["findings_info"]) >= 0
    # Signals used/available per tier: 7 equal signals (ERAS 2023 IM), 3 gold + 12 silver (ERAS 2026 IM).
    assert by_name["strong-im"]["signal_available"] == "7" and by_name["strong-im"]["gold_available"] == ""
    assert by_name["gold-silver-im"]["gold_available"] == "3"
    assert by_name["gold-silver-im"]["silver_available"] == "12"
    assert int(by_name["gold-silver-im"]["gold_used"]) <= 3
    broken = by_name["broken"]
    assert broken["status"] == "error" and broken["report"] == "" and broken["tier"] == ""
    assert "graduate_type" in broken["error"] and "martian" in broken["error"]
    assert "programs.csv" in by_name["no-shortlist"]["error"]
    assert not (out / "broken.md").exists() and not (out / "no-shortlist.md").exists()
    assert "notes" not in by_name  # a folder without profile.yaml or programs.csv is not an applicant
    md = (out / batch.SUMMARY_MD).read_text(encoding="utf-8")
    assert "| gold-silver-im | ok |" in md and "## Errors" in md and "**broken** (input error)" in md
    assert "error: broken:" in output


def test_reports_match_evaluate(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1", "--format", "json")
    report = json.loads((out / "strong-im.json").read_text(encoding="utf-8"))
    folder = cohort / "strong-im"
    single = CliRunner().invoke(cli, ["evaluate", "--profile", str(folder / "profile.yaml"),
                                      "--programs", str(folder / "programs.csv"), "--format", "json"])
    assert report == json.loads(single.output)


def test_resume_skips_current_reports_and_redoes_changed_ones(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1")
    before = mtimes(out)
    first = summary(out)
    code, output = run(str(cohort), "-o", str(out), "--workers", "1")
    assert code == 2
    assert mtimes(out) == before  # nothing rewritten
    rows = {r["applicant"]: r for r in summary(out)}
    assert {rows[n]["this_run"] for n in EXAMPLE_NAMES} == {"reused"}
    assert rows["broken"]["this_run"] == "failed"  # errors are retried every run (they have no report)
    strip = [{k: v for k, v in r.items() if k != "this_run"} for r in first]
    assert [{k: v for k, v in r.items() if k != "this_run"} for r in summary(out)] == strip
    # An edited shortlist makes that applicant's report stale: only it is evaluated again.
    programs = cohort / "moderate-fm" / "programs.csv"
    later = before["moderate-fm.md"] + 5_000_000_000
    os.utime(programs, ns=(later, later))
    run(str(cohort), "-o", str(out), "--workers", "1")
    rows = {r["applicant"]: r for r in summary(out)}
    assert rows["moderate-fm"]["this_run"] == "evaluated"
    assert {rows[n]["this_run"] for n in EXAMPLE_NAMES if n != "moderate-fm"} == {"reused"}
    after = mtimes(out)
    assert after["moderate-fm.md"] != before["moderate-fm.md"]
    assert after["strong-im.md"] == before["strong-im.md"]


def test_force_redoes_everything(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1")
    text = (out / "strong-im.md").read_text(encoding="utf-8")
    run(str(cohort), "-o", str(out), "--workers", "1", "--force")
    rows = {r["applicant"]: r for r in summary(out)}
    assert {rows[n]["this_run"] for n in EXAMPLE_NAMES} == {"evaluated"}
    assert (out / "strong-im.md").read_text(encoding="utf-8") == text  # deterministic


def test_interrupted_run_leaves_nothing_partial(cohort: Path, tmp_path: Path) -> None:
    """A kill between the report and its record, or in the middle of a write, is repaired by a rerun."""
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1")
    batch.record_path(out, "at-risk-im").unlink()          # killed after the report, before the record
    (out / "moderate-fm.md").unlink()                      # killed before the report
    (out / ".moderate-fm.md.x1y2z3.tmp").write_text("half a rep", encoding="utf-8")  # killed mid-write
    run(str(cohort), "-o", str(out), "--workers", "1")
    rows = {r["applicant"]: r for r in summary(out)}
    assert rows["at-risk-im"]["this_run"] == "evaluated" and rows["moderate-fm"]["this_run"] == "evaluated"
    assert rows["strong-im"]["this_run"] == "reused"
    assert not list(out.glob(".*.tmp"))
    assert (out / "moderate-fm.md").is_file()


def test_applicant_that_becomes_invalid_loses_its_old_report(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1")
    assert (out / "strong-im.md").is_file()
    profile = cohort / "strong-im" / "profile.yaml"
    profile.write_text(profile.read_text(encoding="utf-8").replace("step2_ck: 242", "step2_ck: 999"),
                       encoding="utf-8")
    later = (out / "strong-im.md").stat().st_mtime_ns + 5_000_000_000
    os.utime(profile, ns=(later, later))
    code, _ = run(str(cohort), "-o", str(out), "--workers", "1")
    assert code == 2
    rows = {r["applicant"]: r for r in summary(out)}
    assert rows["strong-im"]["status"] == "error" and "step2_ck" in rows["strong-im"]["error"]
    assert not (out / "strong-im.md").exists()  # never an old plan next to an error


def test_policy_change_makes_reports_stale(cohort: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1")
    monkeypatch.setattr(batch, "policy_fingerprint", lambda root=None: "a-newer-policy-set")
    run(str(cohort), "-o", str(out), "--workers", "1")
    rows = {r["applicant"]: r for r in summary(out)}
    assert {rows[n]["this_run"] for n in EXAMPLE_NAMES} == {"evaluated"}


def test_all_ok_exits_zero_and_pool_matches_serial(cohort: Path, tmp_path: Path) -> None:
    for name in ("broken", "no-shortlist"):
        shutil.rmtree(cohort / name)
    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    code, output = run(str(cohort), "-o", str(serial), "--workers", "1")
    assert code == 0, output
    code, output = run(str(cohort), "-o", str(pooled), "--workers", "2")  # a real process pool
    assert code == 0, output
    assert "on 2 worker(s)" in output
    for name in (batch.SUMMARY_CSV, batch.SUMMARY_MD, *(f"{n}.md" for n in EXAMPLE_NAMES)):
        assert (serial / name).read_bytes() == (pooled / name).read_bytes(), name


def test_empty_or_missing_directory_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, output = run(str(tmp_path / "empty"), "-o", str(tmp_path / "out"))
    assert code == 2 and "no applicant folders found" in output
    code, output = run(str(tmp_path / "missing"), "-o", str(tmp_path / "out"))
    assert code == 2 and "missing" in output and "is not a folder" in output
    assert not (tmp_path / "out").exists()


def test_summary_cells_cannot_become_spreadsheet_formulas() -> None:
    outcome = batch.Outcome("=cmd", "error", "failed", error="-1+1", error_kind="input")
    text = batch.summary_csv([outcome])
    assert "'=cmd" in text and "'-1+1" in text


def test_input_changed_behind_the_reports_back_is_noticed(cohort: Path, tmp_path: Path) -> None:
    """An input rewritten but given an old mtime (an edit during the run, a restored backup) is not
    mistaken for the file that was evaluated: its size or mtime differs from the record's."""
    out = tmp_path / "out"
    run(str(cohort), "-o", str(out), "--workers", "1")
    programs = cohort / "strong-im" / "programs.csv"
    st = programs.stat()
    lines = programs.read_text(encoding="utf-8").splitlines(keepends=True)
    programs.write_text("".join(lines[:-1]), encoding="utf-8")  # one program fewer
    os.utime(programs, ns=(st.st_atime_ns, st.st_mtime_ns))     # ... and the old mtime
    run(str(cohort), "-o", str(out), "--workers", "1")
    rows = {r["applicant"]: r for r in summary(out)}
    assert rows["strong-im"]["this_run"] == "evaluated"
    assert rows["moderate-fm"]["this_run"] == "reused"


CRASHING_WORKER = '''
import importlib.abc, importlib.util, os, sys

class _Crash(importlib.abc.MetaPathFinder):
    """Make the pool worker die (as a segfault in the rules engine would) on one applicant."""

    def find_spec(self, name, path, target=None):
        if name != "signalwise.engine.batch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            real = module.evaluate_applicant

            def evaluate_applicant(task):
                if task.applicant.name == os.environ["CRASH_APPLICANT"] and os.getpid() != int(os.environ["BATCH_PID"]):
                    os._exit(7)
                return real(task)

            evaluate_applicant.__module__ = module.__name__
            evaluate_applicant.__qualname__ = "evaluate_applicant"
            module.evaluate_applicant = evaluate_applicant

        spec.loader.exec_module = exec_module
        return spec

if os.environ.get("CRASH_APPLICANT"):
    sys.meta_path.insert(0, _Crash())
'''


def test_a_crashing_worker_blames_only_its_applicant(cohort: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    for name in ("broken", "no-shortlist"):
        shutil.rmtree(cohort / name)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(CRASHING_WORKER, encoding="utf-8")
    out = tmp_path / "out"
    code = ("import os; os.environ['BATCH_PID'] = str(os.getpid()); "
            "from signalwise.cli.main import main; main()")
    env = {**os.environ, "PYTHONPATH": str(hook), "CRASH_APPLICANT": "moderate-fm"}
    proc = subprocess.run([sys.executable, "-c", code, "batch", str(cohort), "-o", str(out), "--workers", "2",
                           "--format", "md"], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 1, proc.stderr  # an internal error for one applicant
    rows = {r["applicant"]: r for r in summary(out)}
    assert rows["moderate-fm"]["status"] == "error" and "crashed" in rows["moderate-fm"]["error"], proc.stderr
    assert {rows[n]["status"] for n in EXAMPLE_NAMES if n != "moderate-fm"} == {"ok"}
