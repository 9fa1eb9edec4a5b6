"""Issue 17, paths and lines: every message names the real file under the `--policies` root in use, and
validate, test and evaluate give the same line for the same problem."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from signalwise.engine.policy.catalogue import bundled_root

from .conftest import edit
from .conftest import run_cli as run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TODAY = "2026-12-01"


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "b1"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def located(output: str, file: Path) -> set[int]:
    """The lines at which `output` names `file` (by its full path: the copy, never `policies/...`)."""
    return {int(m) for m in re.findall(re.escape(file.as_posix()) + r":(\d+):", output)}


BREAKS = [  # (guidance file, text, broken text, what the message says)
    ("what-not-to-signal.yaml", "where: {fit: closed}", "where: {fit: reech}", "did you mean 'reach'?"),
    ("what-not-to-signal.yaml", 'where: {accepts_signals: "no"}', 'where: {accepts_signals: "no", acepts: 1}',
     "has no field 'acepts'"),
    ("program-fit.yaml", "setting: {in: [community, university-affiliated]}",
     "setting: {in: [comunity, university-affiliated]}", "did you mean 'community'?"),
]


@pytest.mark.parametrize(("file", "old", "new", "said"), BREAKS)
def test_validate_test_and_evaluate_name_the_copy_and_the_same_line(copy: Path, file: str, old: str, new: str,
                                                                    said: str) -> None:
    path = copy / "guidance" / file
    line = edit(path, old, new)
    validate = run("policy", "validate", "--policies", str(copy))
    assert validate.exit_code == 2
    assert located(validate.output, path) == {line}, validate.output
    assert said in validate.output
    ex = EXAMPLES / "strong-im"
    evaluate = run("evaluate", "--profile", str(ex / "profile.yaml"), "--programs", str(ex / "programs.csv"),
                   "--policies", str(copy))
    assert evaluate.exit_code == 2
    assert located(evaluate.output, path) == {line}, evaluate.output
    assert "policies/guidance/" not in evaluate.output  # never the bundled folder's name
    test = run("policy", "test", "--policies", str(copy), "-k", "strong")
    assert located(test.output, path) == {line}, test.output


def test_coverage_names_a_rule_no_case_fires_in_the_copy(copy: Path) -> None:
    path = copy / "guidance" / "list-checks.yaml"
    line = edit(path, "rules:\n", "rules:\n"
                "  - id: plan.feature.never\n"
                "    title: Never fires\n"
                "    phase: plan\n"
                "    when:\n"
                "      - fact: signal\n"
                "        as: s\n"
                "        where: {level: gold, rank: {lt: 0}}\n"
                "    then:\n"
                "      - assert: {fact: never_fact, set: {program: $s.program}}\n"
                "    because: never\n"
                "    rationale: a rule no case fires\n"
                "    source: {ref: guide, at: \"1. Map Your Application Geography & Constraints\"}\n") + 1
    result = run("policy", "test", "--policies", str(copy))
    assert f"  never fired: {path.as_posix()}:{line}: plan.feature.never" in result.output, result.output


def test_the_unreviewed_warning_of_evaluate_names_the_copy(copy: Path, tmp_path: Path) -> None:
    for cycle in ("eras-2027", "eras-2028"):
        shutil.rmtree(copy / "cycles" / cycle)
    made = run("policy", "new-cycle", "--from", "eras-2026", "--to", "eras-2027", "--policies", str(copy),
               "--today", TODAY)
    assert made.exit_code == 0, made.output
    ex = EXAMPLES / "gold-silver-im"
    profile = tmp_path / "profile.yaml"
    profile.write_text((ex / "profile.yaml").read_text(encoding="utf-8").replace("eras-2026", "eras-2027"),
                       encoding="utf-8")
    result = run("evaluate", "--profile", str(profile), "--programs", str(ex / "programs.csv"), "--policies",
                 str(copy))
    assert result.exit_code == 0, result.output
    text = "".join(result.output.split())  # the warning wraps; the path has no spaces
    assert (copy / "cycles" / "eras-2027" / "internal-medicine.yaml").as_posix() in text
    assert "(policies/cycles/eras-2027" not in text


def test_the_bundled_policies_are_still_named_policies_slash() -> None:
    result = run("policy", "lint", "--today", TODAY)
    assert "policies/guidance/" in result.output
