"""The data-driven policy cases (policies/tests/*.yaml), run by pytest exactly as `signalwise policy test`
runs them: one pytest test per case, plus the coverage promise that every guidance rule fires somewhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from signalwise.engine.authoring.testing import (
    Case,
    CaseResult,
    case_files,
    load_cases,
    rule_universe,
    run_case,
    uncovered,
)
from signalwise.engine.policy.catalogue import bundled_root


def _bundled_cases() -> tuple[list[Case], list[Any]]:
    files, problems = case_files([bundled_root()])
    cases: list[Case] = []
    for path, root in files:
        found, bad = load_cases(path, root)
        cases.extend(found)
        problems.extend(bad)
    return cases, problems


CASES, LOAD_PROBLEMS = _bundled_cases()


@pytest.fixture(scope="module")
def results() -> dict[str, CaseResult]:
    return {c.id: run_case(c) for c in CASES}


def test_every_case_file_is_valid() -> None:
    assert not LOAD_PROBLEMS, "\n".join(p.render() for p in LOAD_PROBLEMS)
    assert CASES, "no policy test cases found"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_policy_case(case: Case, results: dict[str, CaseResult]) -> None:
    result = results[case.id]
    assert result.passed, "\n".join([f"{case.where}: {case.name}", *result.failures])


def test_every_guidance_rule_fires_in_some_case(results: dict[str, CaseResult]) -> None:
    universe = [r for r in rule_universe(bundled_root()) if r.file.startswith("policies/guidance/")]
    never = uncovered(list(results.values()), universe)
    assert not never, "rules no case fires:\n" + "\n".join(f"{r.file}:{r.line}: {r.id}" for r in never)
