"""Helpers shared by the reliability tests: example inputs, writing variants of them, checking results."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.testing import Result
from signalwise.cli.main import cli

from .conftest import EXAMPLES, run_cli

PROFILE = (EXAMPLES / "strong-im" / "profile.yaml").read_text(encoding="utf-8")
PROGRAMS = (EXAMPLES / "strong-im" / "programs.csv").read_text(encoding="utf-8")
HEADER = PROGRAMS.splitlines()[0].split(",")


def write_inputs(tmp_path: Path, profile: str | bytes = PROFILE, programs: str | bytes = PROGRAMS,
                 programs_name: str = "programs.csv") -> list[str]:
    """Write a profile and a shortlist under tmp_path; return the `evaluate` arguments for them."""
    for name, content in (("profile.yaml", profile), (programs_name, programs)):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return ["evaluate", "--profile", str(tmp_path / "profile.yaml"),
            "--programs", str(tmp_path / programs_name)]


def set_cell(programs: str, row: int, column: str, value: str) -> str:
    """Replace one cell of the example CSV (row 1 = first program, on line 2)."""
    lines = programs.splitlines()
    cells = lines[row].split(",")
    cells[HEADER.index(column)] = value
    lines[row] = ",".join(cells)
    return "\n".join(lines) + "\n"


def assert_input_error(result: Result, *fragments: str) -> None:
    """Exit code 2, no traceback, every fragment in the message."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output, result.output
    assert "internal error" not in result.output, result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"


def evaluate_ok(*args: str) -> dict[str, Any]:
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


_OUT, _ERR = io.StringIO(), io.StringIO()


def invoke_cli(*args: str) -> Outcome:
    """Run the CLI in this process, like CliRunner, for thousands of runs.

    Click caches a text wrapper per `sys.stdout` object in a WeakKeyDictionary whose value is the key
    itself, so every fresh capture stream (CliRunner makes two per call) is kept alive with its whole
    output: about 0.4 MB per report. Reusing one pair of streams keeps memory flat over long runs.
    """
    for buf in (_OUT, _ERR):
        buf.seek(0)
        buf.truncate()
    with contextlib.redirect_stdout(_OUT), contextlib.redirect_stderr(_ERR):
        try:
            code = cli.main(args=list(args), prog_name="signalwise", standalone_mode=False)
            code = code if isinstance(code, int) else 0
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except click.exceptions.Abort:
            code = 1
    return Outcome(code, _OUT.getvalue(), _ERR.getvalue())


def without_input_identity(report_json: str) -> str:
    """The report with `inputs.*.sha256` and `inputs.*.file` removed: they name the bytes and paths given."""
    report = json.loads(report_json)
    for key in ("profile", "programs"):
        report["inputs"][key].pop("sha256", None)
        report["inputs"][key].pop("file", None)
    return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)


@dataclass
class Cost:
    seconds: float
    peak_mb: float


def measure(fn: Callable[[], Any], *, memory: bool = True) -> tuple[Any, Cost]:
    """Run fn timed (CPU seconds of this process, so other load on the machine does not count), then,
    if `memory`, again under tracemalloc for its peak Python memory (tracing slows it several-fold)."""
    start = time.process_time()
    value = fn()
    seconds = time.process_time() - start
    if seconds > 0.5:  # a shared machine inflates CPU time too: the better of two runs is the cost
        start = time.process_time()
        value = fn()
        seconds = min(seconds, time.process_time() - start)
    if not memory:
        return value, Cost(seconds, 0.0)
    tracemalloc.start()
    try:
        value = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return value, Cost(seconds, peak / 1e6)


def cli_subprocess(args: list[str], env: dict[str, str] | None = None, cwd: str | Path | None = None,
                   timeout: float = 120) -> tuple[int, str, str]:
    """Run the CLI in a child process; return (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.pop("SIGNALWISE_DEBUG", None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-c", _ENTRY, *args], capture_output=True, env=full_env, cwd=cwd,
                          timeout=timeout, check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


_ENTRY = "from signalwise.cli.main import main; main()"


def cli_peak_rss_mb(args: list[str], workdir: Path, timeout: float = 60) -> tuple[int, str, float]:
    """Run the CLI in a child; return (exit code, stderr, the child's own peak RSS in MB). Linux only.

    The child reports its VmHWM from /proc/self/status as it exits: the high-water mark of its own
    address space since exec. (getrusage's ru_maxrss would include the parent's pages at fork time.)
    """
    err_path = workdir / "stderr.txt"
    with open(err_path, "wb") as err:
        proc = subprocess.run([sys.executable, "-c", _HWM_ENTRY, *args], stdout=subprocess.DEVNULL,
                              stderr=err, timeout=timeout, check=False)
    text = err_path.read_text("utf-8", "replace")
    marks = [line.split()[1] for line in text.splitlines() if line.startswith("VMHWM ")]
    assert marks, text
    return proc.returncode, text, int(marks[-1]) / 1024


_HWM_ENTRY = """
import atexit, sys
def _hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            sys.__stderr__.write('\\nVMHWM ' + line.split()[1] + '\\n')
atexit.register(_hwm)
from signalwise.cli.main import main
main()
"""
