"""Determinism: the same inputs give byte-identical reports across runs, processes, PYTHONHASHSEED values,
and input orderings that carry no meaning (CSV rows and columns, YAML keys).

The report's `inputs.profile.sha256` / `inputs.programs.sha256` identify the exact bytes given, and
`inputs.*.file` the path given, so they differ by design when the file or its name differs; order
comparisons remove those four values and nothing else. Ties between programs are broken by program id
(score descending, then id ascending: engine/allocate.py).
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import EXAMPLE_NAMES, EXAMPLES, run_cli
from .reliability_support import PROGRAMS, cli_subprocess, without_input_identity, write_inputs


def _args(name: str) -> list[str]:
    return ["evaluate", "--profile", str(EXAMPLES / name / "profile.yaml"),
            "--programs", str(EXAMPLES / name / "programs.csv")]


def _report(*args: str) -> str:
    result = run_cli(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return str(result.stdout)


@pytest.mark.parametrize("fmt", ["json", "md", "text"])
def test_two_runs_are_byte_identical(fmt: str) -> None:
    for name in EXAMPLE_NAMES:
        first = run_cli(*_args(name), "--format", fmt)
        second = run_cli(*_args(name), "--format", fmt)
        assert first.exit_code == second.exit_code == 0
        assert first.stdout_bytes == second.stdout_bytes, name


def test_reports_are_identical_across_hash_seeds_and_processes() -> None:
    """Set iteration and dict order of hashed keys must never leak into the report."""
    for name in ("strong-im", "gold-silver-im"):
        outputs = set()
        for seed in ("0", "1", "12345"):
            code, out, err = cli_subprocess([*_args(name), "--format", "json"], env={"PYTHONHASHSEED": seed})
            assert code == 0, err
            outputs.add(out)
        assert len(outputs) == 1, name
        assert outputs == {_report(*_args(name))}  # and equal to this process's run


def _rows_shuffled(text: str, seed: int) -> str:
    lines = text.splitlines()
    body = lines[1:]
    random.Random(seed).shuffle(body)
    return "\n".join([lines[0], *body]) + "\n"


def _columns_shuffled(text: str, seed: int) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    order = list(range(len(rows[0])))
    random.Random(seed).shuffle(order)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([[row[i] for i in order] for row in rows])
    return out.getvalue()


def _keys_shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _keys_shuffled(value[k], rng) for k in keys}
    return value


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_csv_row_and_column_order_and_yaml_key_order_do_not_matter(tmp_path: Path, name: str) -> None:
    profile = (EXAMPLES / name / "profile.yaml").read_text(encoding="utf-8")
    programs = (EXAMPLES / name / "programs.csv").read_text(encoding="utf-8")
    expected = without_input_identity(_report(*_args(name)))
    for seed in (1, 2, 3):
        data = yaml.safe_load(profile)
        shuffled_profile = yaml.safe_dump(_keys_shuffled(data, random.Random(seed)), sort_keys=False)
        variants = {
            "rows": write_inputs(tmp_path / f"rows{seed}", profile=profile,
                                 programs=_rows_shuffled(programs, seed)),
            "columns": write_inputs(tmp_path / f"cols{seed}", profile=profile,
                                    programs=_columns_shuffled(programs, seed)),
            "keys": write_inputs(tmp_path / f"keys{seed}", profile=shuffled_profile, programs=programs),
        }
        for kind, args in variants.items():
            assert without_input_identity(_report(*args)) == expected, (name, kind, seed)


@pytest.fixture(autouse=True)
def _mkdirs(tmp_path: Path) -> None:
    for kind in ("rows", "cols", "keys"):
        for seed in (1, 2, 3):
            (tmp_path / f"{kind}{seed}").mkdir()


def test_yaml_shortlist_gives_the_same_plan_as_the_csv(tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(PROGRAMS)))
    typed = []
    for row in rows:
        item: dict[str, Any] = {}
        for key, value in row.items():
            if value == "":
                continue
            if key in ("img_share", "us_img_share"):
                item[key] = float(value)
            elif key in ("alumni_from_my_school", "step2_min", "max_years_since_graduation", "interest"):
                item[key] = int(value)
            elif key in ("requires_step3", "sponsors_visa", "home", "rotated"):
                item[key] = value == "yes"
            elif key == "ties":
                item[key] = value.split(";")
            else:
                item[key] = value
        typed.append(item)
    args = write_inputs(tmp_path, programs=yaml.safe_dump(list(reversed(typed))),
                        programs_name="programs.yaml")
    expected = without_input_identity(_report(*_args("strong-im")))
    assert without_input_identity(_report(*args)) == expected


def test_equal_scores_are_ordered_by_program_id_whatever_the_row_order(tmp_path: Path) -> None:
    """Twin programs (same attributes, different ids) and one signal: the smaller id gets it, and says why."""
    header, row = PROGRAMS.splitlines()[0], PROGRAMS.splitlines()[9]  # SIM-09, a target for this applicant
    twins = [row.replace("SIM-09", pid, 1).replace("fenwhistle-mc", f"inst-{pid}", 1)
             for pid in ("TWIN-B", "TWIN-A", "TWIN-C")]
    decisions: list[dict[str, str]] = []
    for order in (twins, list(reversed(twins))):
        folder = tmp_path / str(len(decisions))
        folder.mkdir()
        report = json.loads(_report(*write_inputs(folder, programs="\n".join([header, *order]) + "\n"),
                                    "--signals", "1"))
        by_id = {p["id"]: p for p in report["programs"]}
        assert len({p["score"] for p in by_id.values()}) == 1  # a genuine tie
        decisions.append({pid: p["decision"] for pid, p in by_id.items()})
        texts = " ".join(b["text"] for b in by_id["TWIN-B"]["because"])
        assert "the choice between them is arbitrary (settled by program id)" in texts
        assert sorted(by_id["TWIN-B"]["allocation"]["tied_with"]) == ["TWIN-A"]
    assert decisions[0] == decisions[1]
    assert decisions[0]["TWIN-A"] == "signal"
    assert decisions[0]["TWIN-B"] == decisions[0]["TWIN-C"] == "none"


def test_the_rules_engine_runs_no_background_threads() -> None:
    """Nothing may fire rules behind the evaluation's back: one thread, one agenda, one outcome."""
    from signalwise.engine.chain.runtime import Runtime
    from signalwise.engine.policy.catalogue import Catalogue, bundled_root

    ps = Catalogue(bundled_root()).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                              where=("x", None))
    before = set(threading.enumerate())
    Runtime(ps)
    assert [t.name for t in threading.enumerate() if t not in before] == []


def test_a_background_dispatch_is_what_breaks_an_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pins why no such thread may exist: durable-rules taking an activation itself (as its timer thread
    does, `durable_rules_engine.start_action`) between our assert and our agenda loses that firing, so
    the evaluation changes; no such thread may exist."""
    import durable_rules_engine
    from signalwise.engine.chain import runtime
    from signalwise.engine.pipeline import Request, evaluate

    request = Request(str(EXAMPLES / "strong-im" / "profile.yaml"), str(EXAMPLES / "strong-im" / "programs.csv"))
    clean = len(evaluate(request).firings)
    real = runtime.Runtime._run_agenda

    def dispatch_first(self: runtime.Runtime, ruleset: runtime._Ruleset, state_handle: int) -> None:
        durable_rules_engine.start_action(ruleset.handle)  # what Host.dispatch_ruleset does every 0.2 s
        real(self, ruleset, state_handle)

    monkeypatch.setattr(runtime.Runtime, "_run_agenda", dispatch_first)
    try:
        disturbed = len(evaluate(request).firings)
    except Exception:  # the engine may also refuse the next call for that session: just as broken
        return
    assert disturbed != clean


# --- P(at least k): bounded by moves, not by a clock ------------------------------------------------------

RATES = EXAMPLES / "gold-silver-im-rates"
_BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end:\n    pass\n"


def _gain_runs() -> list[list[str]]:
    inputs = ["--profile", str(RATES / "profile.yaml"), "--programs", str(RATES / "programs.csv")]
    return [["evaluate", *inputs, "--strategy", "gain", "--format", "json"],
            ["compare", *inputs, "--plan", str(RATES / "my-signals.yaml"), "--maximize-p-at-least", "5",
             "--format", "json"]]


def test_gain_reports_are_byte_identical_with_a_cpu_bound_neighbour() -> None:
    """A slow machine is simulated by busy loops competing for every core: the P(at least k) plan and every
    other byte must not change (the search is bounded by moves; a wall clock would show here)."""
    import os
    import subprocess
    import sys

    plain = [cli_subprocess(args) for args in _gain_runs()]
    busy = [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(os.cpu_count() or 1)]
    try:
        loaded = [cli_subprocess(args) for args in _gain_runs()]
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    for (code, out, err), (code2, out2, err2) in zip(plain, loaded, strict=True):
        assert code == code2 == 0, err + err2
        assert out.encode() == out2.encode()
    search = json.loads(plain[1][1])["plans"]["optimal"]["solver"]["search"]
    assert search == {"method": "local-search", "moves": 2, "move_limit": 100, "stopped": "local-optimum",
                      "proven_optimal": False}  # the search did move: the comparison covers its plan


def test_p_at_least_plan_ignores_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each clock reading an hour after the last: the plan, its search record and its notes stay the same."""
    import time

    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.plan.optimize import optimize

    ev = evaluate(Request(str(RATES / "profile.yaml"), str(RATES / "programs.csv"), strategy="gain"))
    assert ev.optimization is not None
    gi = ev.optimization.inputs

    def plan() -> tuple[Any, ...]:
        p = optimize(gi.candidates, gi.quotas, gi.rates, "gain", objective="p_at_least", k=5,
                     institution_scope=gi.institution_scope)
        return p.decisions, p.search, p.notes

    calm = plan()
    ticks = iter(range(0, 10**9, 3600))
    for name in ("perf_counter", "monotonic", "time", "process_time"):
        monkeypatch.setattr(time, name, lambda: float(next(ticks)))
    assert plan() == calm


def test_the_report_says_when_the_move_limit_cut_the_search_short(monkeypatch: pytest.MonkeyPatch) -> None:
    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.plan import optimize as opt

    ev = evaluate(Request(str(RATES / "profile.yaml"), str(RATES / "programs.csv"), strategy="gain"))
    assert ev.optimization is not None
    gi = ev.optimization.inputs
    full = opt.optimize(gi.candidates, gi.quotas, gi.rates, "gain", objective="p_at_least", k=5,
                        institution_scope=gi.institution_scope)
    monkeypatch.setattr(opt, "MOVE_LIMIT", 1)
    cut = opt.optimize(gi.candidates, gi.quotas, gi.rates, "gain", objective="p_at_least", k=5,
                       institution_scope=gi.institution_scope)
    assert full.search is not None and cut.search is not None
    assert (full.search["stopped"], full.search["moves"]) == ("local-optimum", 2)
    assert (cut.search["stopped"], cut.search["moves"], cut.search["move_limit"]) == ("move-limit", 1, 1)
    assert "stopped at its move limit" in cut.notes[0]
    assert cut.decisions != full.decisions
