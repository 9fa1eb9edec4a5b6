"""The report fuzzer (tests/fuzz/fuzz_reports.py) as a Hypothesis test: any mutation of a real report
given to `signalwise explain` or `signalwise track --report` gives exit 0 or 2, never exit 1.

CI runs a bounded number of examples with a fixed seed; a long run sets SIGNALWISE_FUZZ_EXAMPLES (the
issue's bar is 5,000 per command), or uses the command line:
`python -m tests.fuzz.fuzz_reports --iterations 5000 --command track`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .fuzz.fuzz_reports import acceptable, base_report, run_one

EXAMPLES = int(os.environ.get("SIGNALWISE_FUZZ_EXAMPLES", "60"))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[Path, Path, Path], str]:
    folder = tmp_path_factory.mktemp("report-fuzz")
    files = base_report(folder)
    return folder, files, files[0].read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["explain", "track"])
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_report_never_crashes_explain_or_track(base: tuple[Path, tuple[Path, Path, Path], str],
                                                         command: str, data: st.DataObject) -> None:
    folder, files, text = base

    def draw(n: int) -> int:
        return data.draw(st.integers(0, n - 1)) if n > 1 else 0

    outcome = run_one(command, folder, files, text, draw)
    assert acceptable(outcome), (outcome.exit_code, outcome.output[-500:])
