"""Issue 12: no policy can crash, hang or exhaust signalwise.

Each hostile policy in tests/attacks/policies/ is added to a copy of the bundled policies. What cannot
run safely is refused by `policy validate` and by every evaluation (exit 2, naming the file and rule);
what only shows at run time stops with exit 3 naming the stage, the rule and its policy. Limits and
their reasons: docs/reliability.md, "Policies are untrusted input".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
from signalwise.engine.chain import runtime
from signalwise.engine.chain.runtime import encode
from signalwise.engine.policy import capacity
from signalwise.engine.policy.catalogue import Catalogue, bundled_root
from signalwise.engine.policy.compiler import compile_stages

from .conftest import EXAMPLES, run_cli
from .reliability_support import cli_subprocess

ATTACKS = Path(__file__).resolve().parent / "attacks" / "policies"
STRONG = ["--profile", str(EXAMPLES / "strong-im" / "profile.yaml"),
          "--programs", str(EXAMPLES / "strong-im" / "programs.csv")]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="fork, signals and /proc are POSIX")


def root_with(tmp_path: Path, *files: tuple[str, str]) -> Path:
    """A copy of the bundled policies (all guidance, the one specialty policy strong-im needs) with files
    added or replaced: (path in the root, text)."""
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py", "tests", "cycles"))
    (root / "cycles" / "eras-2023").mkdir(parents=True)
    shutil.copy(bundled_root() / "cycles" / "eras-2023" / "internal-medicine.yaml", root / "cycles" / "eras-2023")
    for rel, text in files:
        (root / rel).write_text(text, encoding="utf-8")
    return root


def untrusted_root(tmp_path: Path) -> Path:
    """The bundled policies with a harmless edit: no longer the bundled files, so they run in an engine
    process of their own (a new one per test: the edit names the test's folder)."""
    root = root_with(tmp_path)
    core = root / "guidance" / "core.yaml"
    core.write_text(core.read_text(encoding="utf-8") + f"\n# {tmp_path.name}\n", encoding="utf-8")
    return root


def attack(name: str) -> tuple[str, str]:
    return (f"guidance/zz-{name}", (ATTACKS / name).read_text(encoding="utf-8"))


def programs_csv(tmp_path: Path, n: int) -> Path:
    """`n` programs: the strong-im rows repeated under new ids, interest 1-5."""
    lines = (EXAMPLES / "strong-im" / "programs.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    interest = header.split(",").index("interest")
    out = [header]
    for i in range(n):
        cells = rows[i % len(rows)].split(",")
        cells[0], cells[interest] = f"P-{i:04d}", str(1 + i % 5)
        out.append(",".join(cells))
    path = tmp_path / f"programs{n}.csv"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- refused before they run (exit 2)

REFUSED = {
    "divide-by-literal-zero.yaml": ("attack.div-zero", "divides by zero"),
    "divisor-reads-two-facts.yaml": ("attack.div-two", "a divisor may read one fact only"),
    "huge-parameter.yaml": ("parameters.attack_big.value", "must be within ±10^15"),
    "tiny-number.yaml": ("attack.tiny", "at least 10^-9"),
    "arithmetic-on-text.yaml": ("attack.text", "'mul' needs numbers"),
    "deep-any.yaml": ("attack.deep-any", "`any` nested 4 deep; the limit is 3"),
    "long-in-list.yaml": ("attack.long-in", "lists 150 items; the limit is 100"),
    "many-groups.yaml": ("aggregates.many-groups.groups", "1,000 groups; the limit is 100"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_policy_attack_is_refused_by_validate_and_by_every_evaluation(tmp_path: Path, name: str) -> None:
    where, fragment = REFUSED[name]
    root = root_with(tmp_path, attack(name))
    validated = run_cli("policy", "validate", str(root))
    assert validated.exit_code == 2, validated.output
    assert f"zz-{name}" in validated.output and where in validated.output and fragment in validated.output
    evaluated = run_cli("evaluate", *STRONG, "--policies", str(root))
    assert evaluated.exit_code == 2, evaluated.output
    assert where in evaluated.output and fragment in evaluated.output
    assert "internal error" not in evaluated.output


@pytest.mark.parametrize(("spec", "fragment"), [
    ("{status:>300000000}", "the width is at most 40"),   # issue 12, case 4: 14.7 GB
    ("{status:d}", "only an alignment and a width"),       # case 4: ValueError, exit 1
    ("{status!r}", "conversions (!r, !s, !a) are not allowed"),
    ("{status.__class__}", "a field is a plain name"),
])
def test_message_format_specs_are_limited_to_alignment_and_width(tmp_path: Path, spec: str, fragment: str) -> None:
    messages = (bundled_root() / "guidance" / "messages.yaml").read_text(encoding="utf-8")
    lines = [f'  why-not.status: "Status: {spec}"' if line.startswith("  why-not.status:") else line
             for line in messages.splitlines()]
    root = root_with(tmp_path, ("guidance/messages.yaml", "\n".join(lines) + "\n"))
    for args in (["policy", "validate", str(root)], ["evaluate", *STRONG, "--policies", str(root)]):
        result = run_cli(*args)
        assert result.exit_code == 2 and "messages.why-not.status" in result.output and fragment in result.output


def test_an_aligned_message_field_is_filled_safely() -> None:
    from signalwise.engine.policy.messages import fill_message

    assert fill_message("[{a:>5}|{b:<3}|{c}]", {"a": 7, "b": None, "c": 1.5}) == "[    7|None|1.5]"


def test_policy_folders_too_large_to_load_are_refused_before_reading(tmp_path: Path) -> None:
    root = root_with(tmp_path)
    with open(root / "guidance" / "zz-huge.yaml", "wb") as fh:  # sparse: 2 MB claimed, nothing written
        fh.truncate(2 * 1024 * 1024)
    started = time.perf_counter()
    result = run_cli("evaluate", *STRONG, "--policies", str(root))
    assert result.exit_code == 2 and "the limit is 1,048,576" in result.output
    assert time.perf_counter() - started < 5


# ---------------------------------------------------------------- stopped at run time (exit 3)

@posix_only
def test_a_divisor_that_is_zero_at_run_time_stops_naming_rule_and_policy(tmp_path: Path) -> None:
    root = root_with(tmp_path, attack("divide-by-computed-zero.yaml"))
    assert run_cli("policy", "validate", str(root)).exit_code == 0  # nothing wrong on paper
    result = run_cli("evaluate", *STRONG, "--policies", str(root))
    assert result.exit_code == 3, result.output
    assert "rule attack.div-computed (attack.divide-by-computed-zero@1.0.0) divides by zero" in result.output
    assert "$p.alumni_from_my_school is 0 for the program fact SIM-01" in result.output


@posix_only
def test_arithmetic_that_overflows_stops_naming_the_rule(tmp_path: Path) -> None:
    root = root_with(tmp_path, attack("overflowing-counter.yaml"))
    result = run_cli("evaluate", *STRONG, "--policies", str(root))
    assert result.exit_code == 3, result.output
    assert "rule attack.square (attack.overflowing-counter@1.0.0) failed while firing" in result.output
    assert "out of range" in result.output


@posix_only
def test_a_runaway_join_is_stopped_within_the_budget_naming_stage_and_rule(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "ENGINE_CPU_SECONDS", 1.0)  # 6 s in production
    root = root_with(tmp_path, attack("three-way-join.yaml"))
    started = time.perf_counter()
    result = run_cli("evaluate", "--profile", str(EXAMPLES / "strong-im" / "profile.yaml"),
                     "--programs", str(programs_csv(tmp_path, 500)), "--policies", str(root))
    assert result.exit_code == 3, result.output
    assert time.perf_counter() - started < runtime.ENGINE_WALL_SECONDS
    assert "did not finish within its budget of 1 s of computing" in result.output
    assert "stage 'eligibility'" in result.output
    assert "while matching a program fact against rules attack.join3 (attack.three-way-join@1.0.0)" in result.output


@posix_only
def test_an_engine_process_that_dies_is_reported_with_the_stage(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A C-level crash (SIGFPE, SIGSEGV) kills the engine process, not signalwise: exit 3."""
    root = untrusted_root(tmp_path)

    def crash(self: runtime.Runtime, stage: object, *args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGFPE)

    monkeypatch.setattr(runtime.Runtime, "run_stage_here", crash)
    result = run_cli("evaluate", *STRONG, "--policies", str(root))
    assert result.exit_code == 3, result.output
    assert "was stopped by an arithmetic fault" in result.output and "stage 'applicant'" in result.output


@posix_only
def test_an_engine_process_out_of_memory_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = untrusted_root(tmp_path)

    def hog(self: runtime.Runtime, stage: object, *args: object, **kwargs: object) -> None:
        _ = bytearray(1 << 30)  # 1 GB: over the engine process's address-space budget

    monkeypatch.setattr(runtime.Runtime, "run_stage_here", hog)
    result = run_cli("evaluate", *STRONG, "--policies", str(root))
    assert result.exit_code == 3, result.output
    assert f"needed more than its memory budget of {runtime.ENGINE_EXTRA_MB} MB" in result.output


# ---------------------------------------------------------------- the ~612-rule hang (issue 12, case 2)

def _trivial_rules(n: int, prefix: str = "attack.trivial") -> str:
    return "".join(f"""
  - id: {prefix}-{i}
    title: Never fires {i}
    phase: eligibility
    when: [{{fact: program, as: p, where: {{name: "never-{i}"}}}}]
    then: [{{assert: {{fact: status_vote, set: {{program: $p.id, status: excluded}}}}}}]
    because: never
    source: t
""" for i in range(n))


def _rules_file(policy_id: str, rules: str) -> str:
    return (f"id: {policy_id}\nkind: guidance\nversion: 1.0.0\nrequires_engine: \">=1.0,<2\"\ntitle: Many rules\n"
            "sources: {t: {title: test, reliability: assumption}}\nrules:" + rules)


@posix_only
def test_hundreds_of_rules_on_one_fact_type_no_longer_hang(tmp_path: Path) -> None:
    """500 trivial rules (here two files of 250; one file of 500 hung the same) put more than 511 tests
    under the engine's single `t = program` node: its 512-slot table filled and every lookup looped.
    The stage is now split into rulesets that each keep the table at most half full."""
    files = 2
    per_file = 500 // files
    root = root_with(tmp_path, *[(f"guidance/zz-many-{k}.yaml",
                                  _rules_file(f"attack.many-{k}", _trivial_rules(per_file, f"attack.t{k}")))
                                 for k in range(files)])
    code, out, err = cli_subprocess(["evaluate", *STRONG, "--policies", str(root), "--format", "json"], timeout=60)
    assert code == 0, err
    assert json.loads(out)["programs"]
    ps = Catalogue(root).policy_set("eras-2023", "internal-medicine", allow_missing_specialty=False,
                                    where=("x", None))
    eligibility = next(s for s in compile_stages(ps) if s.name == "eligibility")
    assert len(eligibility.parts) >= 2


def test_the_capacity_model_sees_the_full_table_that_hangs_the_c_core() -> None:
    def one_test(i: int) -> dict[str, object]:
        return {"all": [{"p": {"$and": [{"t": "program"}, {"x": i}]}}]}

    net = capacity.AlphaNetwork()
    for i in range(capacity.SAFE_HASH_CHILDREN):
        net.add_rule(one_test(i))
    assert net.usage().exceeds() == []
    net.add_rule(one_test(-1))
    assert "different tests on one fact" in net.usage().exceeds()[0]
    groups = capacity.partition((f"r{i}", one_test(i)) for i in range(capacity.C_HASH_SLOTS + 100))
    assert len(groups) >= 3 and all(len(g) <= capacity.SAFE_HASH_CHILDREN for g in groups)


def test_rules_the_engine_cannot_hold_even_alone_are_refused_naming_them(tmp_path: Path) -> None:
    # 40 `not_in` groups in one `any`: the pattern needs more than 31 entries of the C core's sequence.
    groups = ", ".join(f"{{state: {{not_in: [X{i}, Y{i}]}}}}" for i in range(40))
    rule = f"""
  - id: attack.wide-any
    title: Forty alternatives
    phase: eligibility
    when: [{{fact: program, as: p, where: {{any: [{groups}]}}}}]
    then: [{{assert: {{fact: status_vote, set: {{program: $p.id, status: excluded}}}}}}]
    because: never
    source: t
"""
    root = root_with(tmp_path, ("guidance/zz-wide.yaml", _rules_file("attack.wide", rule)))
    result = run_cli("policy", "validate", str(root))
    assert result.exit_code == 2 and "attack.wide-any" in result.output
    assert "too complex for the rules engine" in result.output and "engine expressions" in result.output


def test_more_rules_than_the_limit_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from signalwise.engine.errors import PolicyError
    from signalwise.engine.policy import limits as policy_limits
    from signalwise.engine.policy.loader import load_policy_file

    monkeypatch.setattr(policy_limits, "MAX_RULES", 150)  # 1,000 in production: the mechanism is the same
    root = root_with(tmp_path, ("guidance/zz-many.yaml", _rules_file("attack.many", _trivial_rules(50))))
    result = run_cli("policy", "validate", str(root))
    assert result.exit_code == 2 and "rules (quota-table rows included); the limit is 150" in result.output
    big = tmp_path / "big.yaml"
    big.write_text(_rules_file("attack.big", _trivial_rules(2_000)), encoding="utf-8")
    with pytest.raises(PolicyError, match="document has more than 25,000 values"):
        load_policy_file(big)


# ---------------------------------------------------------------- numbers the C core can read (case 5)

def test_numbers_reach_the_engine_without_exponent_notation() -> None:
    assert encode(0.00001) == "0.00001"
    assert encode(1e16) == "10000000000000000.0"
    assert encode(4.9e-324) == "0.0" and encode(-1e-20) == "0.0"
    assert json.loads(encode({"a": [1, 2.5, True, None, "é\n"]})) == {"a": [1, 2.5, True, None, "é\n"]}
    assert encode({"share": 0.00001, "n": 3, "big": 2e16}) == '{"share":0.00001,"n":3,"big":20000000000000000.0}'
    with pytest.raises(ValueError):
        encode(float("nan"))


def test_small_shares_and_tiny_months_are_evaluated(tmp_path: Path) -> None:
    from .reliability_support import PROFILE, PROGRAMS, set_cell, write_inputs

    small = set_cell(PROGRAMS, 1, "us_img_share", "0.00001")
    assert run_cli(*write_inputs(tmp_path, programs=small)).exit_code == 0
    tiny = PROFILE.replace("months: 3\n", "months: 4.9e-324\n", 1)
    assert tiny != PROFILE
    assert run_cli(*write_inputs(tmp_path, profile=tiny)).exit_code == 0


def test_many_distinct_values_are_refused_as_input(tmp_path: Path) -> None:
    from .reliability_support import PROFILE, write_inputs

    interests = "goals:\n  interests: [" + ", ".join(f"interest-{i}" for i in range(240)) + "]\n"
    profile = PROFILE.split("goals:")[0] + interests
    result = run_cli(*write_inputs(tmp_path, profile=profile))
    assert result.exit_code == 2 and "goals.interests: got 240 item(s); expected at most 30" in result.output
    tiers = ",".join(f"t{chr(97 + i // 26)}{chr(97 + i % 26)}=1" for i in range(300))
    result = run_cli("evaluate", *STRONG, "--signals", tiers)
    assert result.exit_code == 2 and "--signals" in result.output
    result = run_cli("evaluate", *STRONG, "--signals", "a=1,b=1,c=1,d=1,e=1")
    assert result.exit_code == 2 and "got 5 tiers; expected at most 4" in result.output


def test_an_id_with_a_trailing_line_break_is_refused(tmp_path: Path) -> None:
    """`$` in a pattern matched before a final line break: "SIM-01\\n" passed the id pattern."""
    from .reliability_support import PROFILE, write_inputs

    programs = ('- {id: "SIM-01\\n", name: Fictional One, state: OH, setting: community}\n'
                '- {id: SIM-01, name: Fictional Two, state: OH, setting: community}\n')
    result = run_cli(*write_inputs(tmp_path, PROFILE, programs, programs_name="programs.yaml"))
    assert result.exit_code == 2 and "id: got \"SIM-01\\n\"" in result.output
