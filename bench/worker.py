"""In-process measurements, each run in a fresh interpreter by `bench.run` (one JSON object on stdout).

    python -m bench.worker policy                      # policy load + check + compile, once (cold caches)
    python -m bench.worker evaluate DIR --repeat N     # one applicant folder, policies already compiled
    python -m bench.worker cohort DIR                  # every applicant folder of DIR, sequentially
    python -m bench.worker cli ARGS...                 # `signalwise ARGS` with the program limit lifted
    python -m bench.worker phases DIR                  # where one cold `evaluate` spends its CPU time
    python -m bench.worker optimizer DIR --repeat N    # the allocation model's solve times (--strategy gain)

`evaluate` also replays the exact facts the evaluation asserted into durable-rules with a trivial
ruleset (one rule matching every fact, a no-op action), in the same process: the engine floor.
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure_policy() -> dict[str, Any]:
    t0 = time.perf_counter()
    from signalwise.engine.chain.runtime import runtime_for
    from signalwise.engine.policy.catalogue import Catalogue, bundled_root
    from signalwise.engine.policy.check import check_policy_set
    t1 = time.perf_counter()
    ps = Catalogue(bundled_root()).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                              where=("bench", None))
    t2 = time.perf_counter()
    check_policy_set(ps)
    t3 = time.perf_counter()
    runtime_for(ps)
    t4 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "check_s": t3 - t2, "compile_s": t4 - t3,
            "load_compile_s": t4 - t1, "rules": len(ps.rules), "policies": len(ps.policies)}


class _Capture:
    """Record every fact the runtime asserts into durable-rules, grouped by session."""

    def __init__(self) -> None:
        self.sessions: dict[str, list[dict[str, Any]]] = {}

    def __enter__(self) -> _Capture:
        from signalwise.engine.chain import runtime

        self._ruleset = runtime._Ruleset  # the runtime's own wrapper of a C-core ruleset
        self._orig = runtime._Ruleset.assert_fact
        capture = self

        def assert_fact(ruleset: Any, fact: Any) -> Any:
            if isinstance(fact, dict):
                capture.sessions.setdefault(str(fact.get("sid")), []).append(dict(fact))
            return capture._orig(ruleset, fact)

        runtime._Ruleset.assert_fact = assert_fact
        return self

    def __exit__(self, *exc: object) -> None:
        self._ruleset.assert_fact = self._orig

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.sessions.values())


_FLOOR_HOST: Any = None


def _floor_host() -> Any:
    global _FLOOR_HOST
    from durable import engine

    if _FLOOR_HOST is None:
        class FloorHost(engine.Host):
            def get_action(self, action_name: str) -> Any:
                return lambda c: None

        _FLOOR_HOST = FloorHost()
        _FLOOR_HOST.register_rulesets({"bench-floor": {
            "every-fact": {"all": [{"m": {"$ex": {"t": 1}}}], "run": "noop"}}})
    return _FLOOR_HOST


def durable_floor(sessions: dict[str, list[dict[str, Any]]]) -> float:
    """Seconds to assert the same facts, session by session, into a one-rule ruleset whose rule matches
    every fact and whose action does nothing: durable-rules' public API (`Host.assert_fact`)."""
    from durable import engine

    host = _floor_host()
    start = time.perf_counter()
    for facts in sessions.values():
        sid = uuid.uuid4().hex
        for fact in facts:
            try:  # noqa: SIM105 - the same try/except the runtime pays for
                host.assert_fact("bench-floor", {**fact, "sid": sid})
            except (engine.MessageNotHandledException, engine.MessageObservedException):
                pass
        host.delete_state("bench-floor", sid)
    return time.perf_counter() - start


def durable_core_floor(sessions: dict[str, list[dict[str, Any]]]) -> float:
    """The same, driving the C core's agenda directly (no Closure objects, no state re-serialisation):
    the least any runtime on durable-rules can pay for these facts."""
    import durable_rules_engine as core
    from durable import engine

    ruleset = _floor_host().get_ruleset("bench-floor")
    handle = ruleset._handle
    start = time.perf_counter()
    for facts in sessions.values():
        sid = uuid.uuid4().hex
        for fact in facts:
            try:
                state_handle = ruleset.assert_fact({**fact, "sid": sid})
            except (engine.MessageNotHandledException, engine.MessageObservedException):
                continue
            result = core.start_action_for_state(handle, state_handle)
            if not result:
                continue
            state, message = result[0], result[1]
            while message:
                json.loads(message)
                core.update_state(handle, state)
                message = core.complete_and_start_action(handle, state_handle)
        ruleset.delete_state(sid)
    return time.perf_counter() - start


def measure_evaluate(folder: Path, repeat: int) -> dict[str, Any]:
    """Timings of `repeat` evaluations; an evaluation of this valid input that fails is recorded and
    retried, and after `3 * repeat + 10` failures the measurement gives up with what it has."""
    from signalwise.engine.explain.report import build_report
    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.render import RENDERERS

    req = Request(str(folder / "profile.yaml"), str(folder / "programs.csv"))
    errors: list[str] = []
    budget = 3 * repeat + 10

    def evaluate_valid() -> Any:
        while len(errors) <= budget:
            try:
                return evaluate(req)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
        return None

    out: dict[str, Any] = {"evaluate_s": [], "report_render_s": [], "durable_floor_s": [],
                           "durable_core_floor_s": [], "distinct_results": [], "facts": None,
                           "facts_asserted": None, "firings": None, "errors": errors, "gave_up": False,
                           "py_heap_peak_mb": None}
    ev = evaluate_valid()  # warm-up: policies loaded and compiled, caches filled
    cap = _Capture()
    if ev is not None:
        RENDERERS["text"](build_report(ev))
        ev = None
        while ev is None and len(errors) <= budget:  # capture the facts of one successful evaluation
            with _Capture() as cap:
                try:
                    ev = evaluate(req)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
    if ev is None:
        out.update(gave_up=True, peak_rss_mb=peak_rss_mb())
        return out
    sessions = cap.sessions
    out.update(programs=len(ev.shortlist.programs), facts=len(ev.store.facts), facts_asserted=cap.count,
               firings=len(ev.firings))
    outcomes = {(len(ev.store.facts), len(ev.firings))}
    durable_floor(sessions)  # warm-up of the floor rulesets
    durable_core_floor(sessions)
    while len(out["evaluate_s"]) < repeat:
        gc.collect()
        t0 = time.perf_counter()
        try:
            ev = evaluate(req)
        except Exception as exc:  # recorded: an evaluation of valid input must not fail
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            if len(errors) > budget:
                out["gave_up"] = True
                break
            continue
        t1 = time.perf_counter()
        outcomes.add((len(ev.store.facts), len(ev.firings)))
        RENDERERS["text"](build_report(ev))
        t2 = time.perf_counter()
        out["evaluate_s"].append(t1 - t0)
        out["report_render_s"].append(t2 - t1)
        gc.collect()
        out["durable_floor_s"].append(durable_floor(sessions))
        gc.collect()
        out["durable_core_floor_s"].append(durable_core_floor(sessions))
    out["distinct_results"] = sorted(outcomes)
    del ev
    gc.collect()
    tracemalloc.start()
    ev = evaluate_valid()
    if ev is not None:
        RENDERERS["text"](build_report(ev))
        out["py_heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def measure_cohort(root: Path) -> dict[str, Any]:
    from signalwise.engine.explain.report import build_report
    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.render import RENDERERS

    folders = sorted(p for p in root.iterdir() if (p / "profile.yaml").is_file())
    start = time.perf_counter()
    first = None
    per_applicant = []
    errors: list[str] = []
    per_applicant_cpu = []
    for folder in folders:
        t0 = time.perf_counter()
        c0 = time.process_time()
        try:
            ev = evaluate(Request(str(folder / "profile.yaml"), str(folder / "programs.csv")))
        except Exception as exc:  # recorded: every generated applicant is valid input
            errors.append(f"{folder.name}: {type(exc).__name__}: {exc}"[:300])
            continue
        RENDERERS["md"](build_report(ev))
        dt = time.perf_counter() - t0
        if first is None:
            first = dt  # includes loading and compiling the policies
        else:
            per_applicant.append(dt)
            per_applicant_cpu.append(time.process_time() - c0)
    return {"applicants": len(folders), "total_s": time.perf_counter() - start, "first_s": first,
            "per_applicant_s": per_applicant, "per_applicant_cpu_s": per_applicant_cpu, "errors": errors,
            "peak_rss_mb": peak_rss_mb()}


def measure_phases(folder: Path, out_file: Path) -> dict[str, Any]:
    """CPU time of each step of one cold `signalwise evaluate --format json -o FILE`, in this fresh process
    (the policy cache as the caller left it): what the cold-start ratio is made of."""
    t0 = time.process_time()
    import click  # noqa: F401
    import durable.engine  # noqa: F401
    import yaml  # noqa: F401
    t1 = time.process_time()
    from signalwise.cli.output import emit
    from signalwise.engine.explain.report import build_report
    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.render import RENDERERS
    t2 = time.process_time()
    ev = evaluate(Request(str(folder / "profile.yaml"), str(folder / "programs.csv")))
    t3 = time.process_time()
    report = build_report(ev)
    t4 = time.process_time()
    text = RENDERERS["json"](report)
    t5 = time.process_time()
    emit(text, fmt="json", output=str(out_file), command="evaluate")
    t6 = time.process_time()
    return {"import_deps_s": t1 - t0, "import_signalwise_s": t2 - t1, "evaluate_s": t3 - t2,
            "report_s": t4 - t3, "render_json_s": t5 - t4, "write_s": t6 - t5,
            "jsonschema_imported": "jsonschema" in sys.modules}


def measure_optimizer(folder: Path, repeat: int) -> dict[str, Any]:
    """Solve times of the allocation model under strategy "gain" on one applicant's real inputs: the
    expected-interviews optimum (exact), and the P(at least k) local search from it (k: the expected
    interviews of the optimum, rounded up), each `repeat` times after a warm-up."""
    import math

    from signalwise.engine.pipeline import Request, evaluate
    from signalwise.engine.plan.optimize import optimize
    from signalwise.engine.plan.outcome import outcome

    ev = evaluate(Request(str(folder / "profile.yaml"), str(folder / "programs.csv"), strategy="gain"))
    opt = ev.optimization
    assert opt is not None and opt.inputs is not None
    gi = opt.inputs
    scope = gi.institution_scope
    base = optimize(gi.candidates, gi.quotas, gi.rates, "gain", institution_scope=scope)
    expected = outcome(base.decisions, gi.rates, programs=[c.program for c in gi.candidates]).to_json()
    k = max(1, math.ceil(float(expected["expected_interviews"])))
    times: dict[str, list[float]] = {"expected": [], "p_at_least": []}
    plans: dict[str, Any] = {}
    for _ in range(repeat + 1):
        for name, kwargs in (("expected", {}), ("p_at_least", {"objective": "p_at_least", "k": k})):
            t0 = time.process_time()
            plan = optimize(gi.candidates, gi.quotas, gi.rates, "gain", institution_scope=scope, **kwargs)
            times[name].append(time.process_time() - t0)
            plans[name] = plan
    signals = sum(q.count for q in gi.quotas)
    return {"programs": len(ev.shortlist.programs), "signals": signals,
            "tiers": [q.level for q in gi.quotas], "k": k,
            "model": gi.model.id if gi.model is not None else None,
            "expected_s": times["expected"][1:], "p_at_least_s": times["p_at_least"][1:],
            "solves": plans["expected"].solves, "p_at_least_notes": plans["p_at_least"].notes}


def lift_program_limit() -> None:
    """Shortlists above the input limit (2,000 programs) are refused; the 5,000 stress size lifts it."""
    from signalwise.engine.load import inputs

    inputs.MAX_PROGRAMS = max(getattr(inputs, "MAX_PROGRAMS", 0), 10**6)


def main(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "phases":
        print(json.dumps(measure_phases(Path(argv[1]), Path(argv[2]))))
        return
    if mode == "optimizer":
        repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 5
        print(json.dumps(measure_optimizer(Path(argv[1]), repeat)))
        return
    if "--lift-limit" in argv:
        lift_program_limit()
    if mode == "policy":
        out = measure_policy()
    elif mode == "evaluate":
        repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 10
        out = measure_evaluate(Path(argv[1]), repeat)
    elif mode == "cohort":
        out = measure_cohort(Path(argv[1]))
    elif mode == "cli":
        from signalwise.cli.main import main as cli_main

        cli_main([a for a in argv[1:] if a != "--lift-limit"])
        return
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
