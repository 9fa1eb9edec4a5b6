"""The benchmark suite: `python -m bench` from the repository root (`--quick` for a short run).

Generates clearly fictional inputs (50, 200, 1,000 and 5,000 programs; cohorts of 1, 100 and 1,000
applicants) under bench/.work/, then measures, each figure with its median and spread:

- CLI wall time end to end (`signalwise evaluate`, a fresh process each run) and its peak memory;
- start-up: `signalwise --help` and `signalwise evaluate` up to reading its inputs;
- policy load + compile time (a fresh process each run, so no cache helps);
- in-process evaluation time per applicant with the policies already compiled (and report+render);
- cohorts: per-applicant time in one process, and `signalwise batch` wall time and throughput;

and side by side, in the same run, the floors: the interpreter starting and importing the dependencies
(durable-rules, PyYAML, jsonschema, click), and durable-rules asserting the very same facts into a
trivial ruleset. Results go to bench/results/latest.json and a table in docs/performance.md (between
the `bench:begin`/`bench:end` markers). Targets that are missed are reported with the size of the gap.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from .generate import write_applicant, write_cohort

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
PROGRAM_SIZES = (50, 200, 1000, 5000)
COHORT_SIZES = (1, 100, 1000)
DEPS_IMPORT = "import durable.engine, yaml, jsonschema, click"
CLICK_IMPORT = "import click"
COLD_SIZES = (40, 200, 1000)  # cold `signalwise evaluate`, interleaved with the floors (issue 15)
# `--strategy gain` inputs (issue 18): family medicine with the real interview-rate model of its cycle, and
# a gold/silver internal-medicine shortlist with per-program rate columns; the optimizer's solve times.
GAIN_INPUTS = {"gain-fm": ("family-medicine", False), "gain-im-rates": ("internal-medicine", True)}
GAIN_SIZES = (40, 200, 1000)


# ---------------------------------------------------------------- statistics

def stats(samples: list[float], scale: float = 1000.0) -> dict[str, Any]:
    """Median and spread of samples in seconds, reported in ms (scale 1000) or s (scale 1)."""
    xs = sorted(x * scale for x in samples)
    if not xs:
        return {"n": 0}
    q = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else [xs[0]] * 3
    return {"n": len(xs), "median": round(statistics.median(xs), 3), "min": round(xs[0], 3),
            "max": round(xs[-1], 3), "p25": round(q[0], 3), "p75": round(q[2], 3),
            "iqr": round(q[2] - q[0], 3), "unit": "ms" if scale == 1000.0 else "s"}


def fmt(s: dict[str, Any]) -> str:
    """`123 ms (IQR 4, 118–131)` — median, interquartile range, min–max."""
    if not s.get("n"):
        return "failed"
    unit = s["unit"]
    digits = 0 if s["median"] >= 100 else 1
    return (f"{s['median']:.{digits}f} {unit} (IQR {s['iqr']:.{digits}f}, "
            f"{s['min']:.{digits}f}–{s['max']:.{digits}f})")


# ---------------------------------------------------------------- subprocesses

def child_env(bytecode: bool = True) -> dict[str, str]:
    """Environment for measured processes: bytecode caching on (in a private cache) like a normal install.

    This container sets PYTHONDONTWRITEBYTECODE=1, which would make every run recompile signalwise's
    own modules from source; users' installs cache bytecode, so the suite measures with a warm cache
    (and reports the uncached start-up separately).
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPYCACHEPREFIX"] = str(WORK / "pycache-never-written")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SIGNALWISE_CACHE_DIR"] = str(WORK / "policy-cache")  # never the user's own policy cache
    env.pop("SIGNALWISE_NO_CACHE", None)
    return env


class Crash(RuntimeError):
    """A measured process died from a signal (durable-rules' C core can segfault) or failed on valid input."""


class Run(NamedTuple):
    wall: float    # seconds
    rss: float     # peak RSS in MiB (the process or any of its reaped children)
    cpu: float     # user + system CPU seconds of the process and its reaped children (batch workers)
    code: int


def run_once(cmd: list[str], env: dict[str, str], expect: tuple[int, ...] = (0,)) -> Run:
    """Wall time, peak memory and CPU time of one child process, measured with wait4."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in expect:
            err.seek(0)
            if proc.returncode < 0:
                raise Crash(f"{' '.join(cmd)} died from signal {-proc.returncode}")
            if proc.returncode in (1, 3):  # an internal or engine error on valid input: record and retry
                raise Crash(f"exit {proc.returncode}: {err.read().decode().strip().splitlines()[-1][:300]}")
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {err.read().decode()[-2000:]}")
    return Run(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, proc.returncode)


def timed(cmd: list[str], repeat: int, env: dict[str, str], expect: tuple[int, ...] = (0,),
          warmup: int = 1) -> dict[str, Any]:
    """Median and spread of `repeat` runs; runs that crash are counted and retried (at most 3 times)."""
    failures: list[str] = []
    walls: list[float] = []
    rss: list[float] = []
    while len(walls) < repeat + warmup:
        try:
            w, r, _, _ = run_once(cmd, env, expect)
        except Crash as exc:
            failures.append(str(exc))
            _log(f"FAILED RUN ({len(failures)}): {exc}")
            if len(failures) > repeat + 3:
                _log(f"giving up on {' '.join(cmd[:3])} ...: {len(failures)} failed runs")
                break
            continue
        walls.append(w)
        rss.append(r)
    walls, rss = walls[warmup:], rss[warmup:]
    return {"wall": stats(walls), "peak_rss_mb": round(max(rss, default=0.0), 1), "failed_runs": failures,
            "samples_s": [round(w, 5) for w in walls]}


def worker(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One in-process measurement in a fresh interpreter; a crashed worker is retried (at most 3 times)."""
    crashes = 0
    while True:
        out = subprocess.run([sys.executable, "-m", "bench.worker", *args], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True, check=False)
        if out.returncode == 0:
            result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
            result["crashes"] = crashes
            return result
        if out.returncode > 0 or crashes >= 3:
            raise RuntimeError(f"bench.worker {' '.join(args)} exited {out.returncode}")
        crashes += 1
        _log(f"CRASH ({crashes}): bench.worker {' '.join(args)} died from signal {-out.returncode}; retrying")


def policy_state() -> str:
    """The batch's staleness fingerprint (signalwise version and policy files)."""
    from signalwise.engine.batch import policy_fingerprint

    return policy_fingerprint()


def input_limit() -> int:
    """The shortlist size `signalwise evaluate` accepts (sizes above it are run with the limit lifted)."""
    from signalwise.engine.load import inputs

    return int(getattr(inputs, "MAX_PROGRAMS", 10**9))


def signalwise_cmd() -> list[str]:
    exe = shutil.which("signalwise", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-c", "from signalwise.cli.main import main; main()"]


# ---------------------------------------------------------------- inputs

def prepare_inputs(quick: bool) -> dict[str, Path]:
    paths: dict[str, Path] = {}
    for n in sorted(set(PROGRAM_SIZES) | set(COLD_SIZES)):
        folder = WORK / "inputs" / f"programs-{n}"
        if not (folder / "programs.csv").is_file():
            write_applicant(folder, seed=1, n_programs=n)
        paths[f"programs-{n}"] = folder
    for label, (specialty, rates) in GAIN_INPUTS.items():
        for n in GAIN_SIZES:
            folder = WORK / "inputs" / f"{label}-{n}"
            if not (folder / "programs.csv").is_file():
                write_applicant(folder, seed=1, n_programs=n, specialty=specialty, rates=rates)
            paths[f"{label}-{n}"] = folder
    for n in COHORT_SIZES if not quick else COHORT_SIZES[:2]:
        folder = WORK / "inputs" / f"cohort-{n}"
        if not (folder / f"applicant-{n:05d}" / "programs.csv").is_file():
            shutil.rmtree(folder, ignore_errors=True)
            write_cohort(folder, n)
        paths[f"cohort-{n}"] = folder
    return paths


# ---------------------------------------------------------------- the suite

def importtime_breakdown(env: dict[str, str]) -> dict[str, Any]:
    """`python -X importtime` of what `signalwise evaluate` imports: own modules vs dependencies."""
    code = ("import signalwise.cli.main, signalwise.engine.pipeline, signalwise.engine.explain.report, "
            "signalwise.engine.render")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)  # fill the bytecode cache
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, cwd=ROOT, check=True,
                          stderr=subprocess.PIPE, text=True)
    own: dict[str, float] = {}
    total_self = 0.0
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _, name = _split(line)
        total_self += self_us
        if name.startswith("signalwise"):
            own[name] = self_us / 1000
    top = sorted(own.items(), key=lambda kv: -kv[1])[:10]
    return {"total_ms": round(total_self / 1000, 1), "signalwise_ms": round(sum(own.values()), 1),
            "dependencies_and_stdlib_ms": round(total_self / 1000 - sum(own.values()), 1),
            "top_signalwise_modules_ms": {k: round(v, 2) for k, v in top}}


def _split(line: str) -> tuple[str, float, float, str]:
    body = line.replace("import time:", "")
    self_us, cumulative, name = body.split("|")
    return "", float(self_us), float(cumulative), name.strip()


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    quick = args.quick
    rep = args.repeat or (3 if quick else 7)
    env = child_env()
    paths = prepare_inputs(quick)
    sw = signalwise_cmd()
    results: dict[str, Any] = {"meta": meta(quick)}
    log = _log

    log("floors: interpreter start-up and dependency imports")
    results["floors"] = {
        "python_bare": timed([sys.executable, "-c", "pass"], rep * 2, env),
        "import_deps": timed([sys.executable, "-c", DEPS_IMPORT], rep * 2, env),
        "import_click": timed([sys.executable, "-c", CLICK_IMPORT], rep * 2, env),
    }
    log("start-up: signalwise --help, signalwise evaluate (up to reading its inputs)")
    missing = str(WORK / "does-not-exist")
    startup_cmd = [*sw, "evaluate", "--profile", missing + ".yaml", "--programs", missing + ".csv"]
    results["startup"] = {
        "help": timed([*sw, "--help"], rep * 2, env),
        "evaluate": timed(startup_cmd, rep * 2, env, expect=(2,)),
        "evaluate_no_bytecode_cache": timed(startup_cmd, rep, child_env(bytecode=False), expect=(2,)),
        "importtime": importtime_breakdown(env),
    }
    log("cold CLI: floors, --help and evaluate at 40/200/1,000 programs, interleaved")
    results["cold"] = cold_runs(sw, paths, rep * 2 if not quick else rep + 2, env)
    log("where a cold evaluate's CPU time goes (fresh process each run, policy cache filled)")
    phases = [worker(["phases", str(paths["programs-200"]), str(WORK / "cold-out" / "phases.json")], env)
              for _ in range(rep * 2)]
    results["phases"] = {k: stats([p[k] for p in phases]) for k in phases[0] if k.endswith("_s")}
    results["phases"]["jsonschema_imported"] = any(p["jsonschema_imported"] for p in phases)
    results["phases"]["programs"] = 200
    log("optimizer: --strategy gain solve times (FM with its rate model, gold/silver IM with rate columns)")
    results["optimizer"] = {}
    for label in GAIN_INPUTS:
        for n in GAIN_SIZES:
            o = worker(["optimizer", str(paths[f"{label}-{n}"]), "--repeat", str(3 if quick else 7)], env)
            results["optimizer"][f"{label}-{n}"] = {
                **{k: o[k] for k in ("programs", "signals", "tiers", "k", "model", "solves", "p_at_least_notes")},
                "expected": stats(o["expected_s"]), "p_at_least": stats(o["p_at_least_s"])}
    log("policy load + compile (fresh process each run)")
    pol = [worker(["policy"], dict(env, SIGNALWISE_NO_CACHE="1")) for _ in range(rep)]  # the uncached cost
    results["policy"] = {k: stats([p[k] for p in pol]) for k in ("load_s", "check_s", "compile_s",
                                                                  "load_compile_s")}
    results["policy"]["rules"] = pol[0]["rules"]
    results["policy"]["policies"] = pol[0]["policies"]

    results["cli_evaluate"] = {}
    results["inprocess"] = {}
    for n in PROGRAM_SIZES if not quick else PROGRAM_SIZES[:-1]:  # quick: no stress size
        folder = paths[f"programs-{n}"]
        cli_rep = max(2, rep // 2) if n >= 5000 else rep
        log(f"CLI end to end, {n} programs ({cli_rep} runs)")
        lift = n > input_limit()
        launcher = [sys.executable, "-m", "bench.worker", "cli", "--lift-limit"] if lift else sw
        cmd = [*launcher, "evaluate", "--profile", str(folder / "profile.yaml"),
               "--programs", str(folder / "programs.csv")]
        results["cli_evaluate"][str(n)] = timed(cmd, cli_rep, env)
        runs = {50: 10, 200: 10, 1000: 3, 5000: 1} if quick else {50: 30, 200: 20, 1000: 7, 5000: 3}
        inproc_rep = runs[n]
        log(f"in-process evaluation, {n} programs ({inproc_rep} runs) + durable-rules floor")
        extra = ["--lift-limit"] if lift else []
        w = worker(["evaluate", str(folder), "--repeat", str(inproc_rep), *extra], env)
        med = statistics.median
        results["inprocess"][str(n)] = {
            "evaluate": stats(w["evaluate_s"]), "report_render": stats(w["report_render_s"]),
            "durable_floor": stats(w["durable_floor_s"]),
            "durable_core_floor": stats(w["durable_core_floor_s"]),
            "overhead_vs_floor": (round(med(w["evaluate_s"]) / med(w["durable_core_floor_s"]), 2)
                                  if w["evaluate_s"] else None),
            "overhead_vs_public_api_floor": (round(med(w["evaluate_s"]) / med(w["durable_floor_s"]), 2)
                                             if w["evaluate_s"] else None),
            "facts": w["facts"], "facts_asserted": w["facts_asserted"], "firings": w["firings"],
            "peak_rss_mb": round(w["peak_rss_mb"], 1),
            "py_heap_peak_mb": None if w["py_heap_peak_mb"] is None else round(w["py_heap_peak_mb"], 1),
            "above_input_limit": lift, "crashes": w["crashes"], "errors": w["errors"],
            "gave_up": w["gave_up"], "distinct_results": w["distinct_results"],
        }
        results["cli_evaluate"][str(n)]["above_input_limit"] = lift
        if w["errors"]:
            _log(f"ERRORS: {len(w['errors'])} evaluations of valid input failed, e.g. {w['errors'][0]}")
        if len(w["distinct_results"]) > 1:
            _log(f"NONDETERMINISTIC: {n} programs gave {len(w['distinct_results'])} different results "
                 f"(facts, firings): {w['distinct_results']}")

    results["cohorts"] = {}
    for n in COHORT_SIZES if not quick else COHORT_SIZES[:2]:
        folder = paths[f"cohort-{n}"]
        log(f"cohort of {n}: in one process, sequentially")
        c = worker(["cohort", str(folder)], env)
        entry: dict[str, Any] = {"applicants": n, "inprocess_total_s": round(c["total_s"], 2),
                                 "inprocess_first_s": round(c["first_s"], 3),
                                 "inprocess_per_applicant": stats(c["per_applicant_s"]),
                                 "inprocess_cpu_per_applicant": stats(c["per_applicant_cpu_s"]),
                                 "inprocess_peak_rss_mb": round(c["peak_rss_mb"], 1),
                                 "inprocess_errors": c["errors"]}
        if c["errors"]:
            _log(f"ERRORS: {len(c['errors'])} of {n} valid applicants failed, e.g. {c['errors'][0]}")
        if not args.skip_batch:
            workers = args.workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                       else os.cpu_count() or 1)
            log(f"cohort of {n}: signalwise batch --workers {workers}")
            out = WORK / "batch-out" / f"cohort-{n}"
            shutil.rmtree(out, ignore_errors=True)
            first = run_once([*sw, "batch", str(folder), "-o", str(out), "--workers", str(workers)], env,
                             expect=(0, 1, 2, 3))
            entry.update({"batch_wall_s": round(first.wall, 2), "batch_workers": workers,
                          "batch_exit_code": first.code,
                          "batch_throughput_per_s": round(n / first.wall, 2),
                          "batch_cpu_s_per_applicant": round(first.cpu / n, 4),
                          "batch_peak_rss_mb": round(first.rss, 1)})
            with (out / "_summary.csv").open(encoding="utf-8") as fh:
                failed = [row for row in csv.DictReader(fh) if row["status"] != "ok"]
            entry["batch_errors"] = [f"{row['applicant']}: {row['error']}"[:300] for row in failed]
            if failed:
                _log(f"ERRORS: batch reported {len(failed)} failed applicants, "
                     f"e.g. {entry['batch_errors'][0]}")
            fingerprint = policy_state()
            wall2 = run_once([*sw, "batch", str(folder), "-o", str(out), "--workers", str(workers)], env,
                             expect=(0, 1, 2, 3)).wall
            if policy_state() != fingerprint:
                _log("policies changed during the run: the rerun re-evaluated (its time is not recorded)")
                wall2 = float("nan")
            entry["batch_rerun_all_current_s"] = None if wall2 != wall2 else round(wall2, 2)
        results["cohorts"][str(n)] = entry
    results["targets"] = targets(results)
    # What a national-scale run would take, extrapolated by the renderer from the measured batch CPU time
    # per applicant: these are the sizes it extrapolates to.
    results["scaling"] = {"applicants": [10_000, 50_000], "cores": [2, 8, 16]}
    return results


def cold_runs(sw: list[str], paths: dict[str, Path], rounds: int, env: dict[str, str]) -> dict[str, Any]:
    """Every command once per round, in the same order each round, so a burst of load on the machine hits
    them all alike: the floors (bare interpreter, the dependencies' imports, click alone), `--help`, and
    `signalwise evaluate` writing a JSON report at each size, with the policy cache filled (as for every
    run after a user's first) and with it turned off (`SIGNALWISE_NO_CACHE=1`). One warm-up round first."""
    out_dir = WORK / "cold-out"
    out_dir.mkdir(parents=True, exist_ok=True)
    nocache = dict(env, SIGNALWISE_NO_CACHE="1")
    cmds: dict[str, tuple[list[str], dict[str, str]]] = {
        "python_bare": ([sys.executable, "-c", "pass"], env),
        "import_deps": ([sys.executable, "-c", DEPS_IMPORT], env),
        "import_click": ([sys.executable, "-c", CLICK_IMPORT], env),
        "help": ([*sw, "--help"], env),
    }
    for n in COLD_SIZES:
        folder = paths[f"programs-{n}"]
        cmd = [*sw, "evaluate", "--profile", str(folder / "profile.yaml"), "--programs",
               str(folder / "programs.csv"), "--format", "json", "-o", str(out_dir / f"{n}.json")]
        cmds[f"evaluate_{n}"] = (cmd, env)
        cmds[f"evaluate_{n}_no_cache"] = (cmd, nocache)
    for label in GAIN_INPUTS:
        folder = paths[f"{label}-200"]
        cmds[f"evaluate_{label}_200"] = ([*sw, "evaluate", "--profile", str(folder / "profile.yaml"), "--programs",
                                          str(folder / "programs.csv"), "--strategy", "gain", "--format", "json",
                                          "-o", str(out_dir / f"{label}-200.json")], env)
    samples: dict[str, list[float]] = {k: [] for k in cmds}
    failures: list[str] = []
    for round_ in range(rounds + 1):
        for key, (cmd, e) in cmds.items():
            try:
                wall = run_once(cmd, e).wall
            except Crash as exc:
                failures.append(f"{key}: {exc}")
                continue
            if round_:
                samples[key].append(wall)
    res: dict[str, Any] = {k: {"wall": stats(v), "samples_s": [round(x, 5) for x in v]} for k, v in samples.items()}
    res["failed_runs"] = failures
    res["rounds"] = rounds
    floor = statistics.median(samples["import_deps"])
    res["ratios"] = {k: round(statistics.median(v) / floor, 2) for k, v in samples.items() if v}
    click_floor = statistics.median(samples["import_click"])
    res["ratios_vs_click"] = {"help": round(statistics.median(samples["help"]) / click_floor, 2)}
    return res


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and, when missed, by how much."""
    out = []

    def add(name: str, measured: float | None, limit: float, unit: str, detail: str) -> None:
        if measured is None:
            out.append({"target": name, "limit": limit, "measured": None, "unit": unit, "ok": False,
                        "gap": "not measured: every run failed", "detail": detail})
            return
        ok = measured <= limit
        gap = "" if ok else f"missed by {measured / limit:.2f}x ({measured:.2f}{unit} vs {limit:g}{unit})"
        out.append({"target": name, "limit": limit, "measured": round(measured, 3), "unit": unit, "ok": ok,
                    "gap": gap, "detail": detail})

    inproc = r["inprocess"]

    def med(x: dict[str, Any]) -> float | None:
        return x.get("median")

    def ms(v: float | None) -> str:
        return "failed" if v is None else f"{v:.1f} ms"

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a / b

    e200, e1000 = med(inproc["200"]["evaluate"]), med(inproc["1000"]["evaluate"])
    add("in-process evaluation, 200 programs (median)", e200, 50.0, " ms",
        "evaluate() with policies compiled")
    add("growth: 1,000 / 200 programs", ratio(e1000, e200), 6.0, "x", f"{ms(e1000)} / {ms(e200)}")
    floor = med(r["floors"]["import_deps"]["wall"])
    cold = r["cold"]
    cfloor, cclick, chelp = (med(cold[k]["wall"]) for k in ("import_deps", "import_click", "help"))
    add("cold `signalwise --help` vs import floor (same interleaved run)", ratio(chelp, cfloor), 0.6, "x",
        f"{ms(chelp)} / {ms(cfloor)}")
    add("cold `signalwise --help` vs click-only floor (same interleaved run)", ratio(chelp, cclick), 1.5, "x",
        f"{ms(chelp)} / {ms(cclick)}")
    c200, c1000 = med(cold["evaluate_200"]["wall"]), med(cold["evaluate_1000"]["wall"])
    add("cold `signalwise evaluate`, 200 programs, vs import floor (same interleaved run)", ratio(c200, cfloor),
        2.0, "x", f"{ms(c200)} / {ms(cfloor)}")
    add("cold `signalwise evaluate`: 1,000 / 200 programs", ratio(c1000, c200), 5.0, "x",
        f"{ms(c1000)} / {ms(c200)}")
    ev = med(r["startup"]["evaluate"]["wall"])
    add("`signalwise evaluate` start-up vs import floor", ratio(ev, floor), 1.5, "x", f"{ms(ev)} / {ms(floor)}")
    for n in (n for n in PROGRAM_SIZES if str(n) in inproc):
        x = inproc[str(n)]
        asserted = f"{x['facts_asserted']:,}" if x.get("facts_asserted") is not None else "?"
        add(f"evaluation vs durable-rules floor, {n} programs", x["overhead_vs_floor"], 3.0, "x",
            f"{ms(med(x['evaluate']))} / {ms(med(x['durable_core_floor']))} (C-core floor), "
            f"{asserted} asserted facts")
    failures = run_errors(r)
    out.append({"target": "evaluations of valid input that failed (not a speed target: correctness)",
                "limit": 0, "measured": len(failures), "unit": "", "ok": not failures,
                "gap": f"{len(failures)} failed" if failures else "",
                "detail": failures[0][:120] if failures else "none"})
    return out


def meta(quick: bool) -> dict[str, Any]:
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", *a], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, check=False).stdout.strip()
        except OSError:
            return ""
    from importlib.metadata import version

    return {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "quick": quick,
            "commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain")),
            "python": platform.python_version(), "platform": platform.platform(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "durable_rules": version("durable_rules"), "bytecode_cache": "on (private PYTHONPYCACHEPREFIX)",
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
            "sizes": {"cold": list(COLD_SIZES), "programs": list(PROGRAM_SIZES[:-1] if quick else PROGRAM_SIZES),
                      "cohorts": list(COHORT_SIZES[:2] if quick else COHORT_SIZES), "gain": list(GAIN_SIZES)}}


def _log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- reporting

def table(r: dict[str, Any]) -> str:
    m = r["meta"]
    dirty = " (uncommitted changes)" if m["dirty"] else ""
    lines = [f"Measured {m['date']} on commit `{m['commit']}`{dirty}, "
             f"Python {m['python']}, {m['cpus']} cores, durable-rules {m['durable_rules']}"
             + (", quick run" if m["quick"] else "")
             + f"; load average {m['loadavg_start'][0]:.1f} at the start, "
               f"{m.get('loadavg_end', ['?'])[0]} at the end"
             + ". Median (IQR, min–max).", ""]
    fl, st = r["floors"], r["startup"]
    lines += ["| start-up | wall time | vs import floor |", "|---|---|---|"]
    floor = fl["import_deps"]["wall"]["median"]
    lines.append(f"| floor: `python -c pass` | {fmt(fl['python_bare']['wall'])} | |")
    lines.append("| **floor: import durable-rules, PyYAML, jsonschema, click** | "
                 f"{fmt(fl['import_deps']['wall'])} | 1.00x |")
    click_floor = fl["import_click"]["wall"]["median"] if "import_click" in fl else None
    if click_floor:
        lines.append(f"| floor: import click (the floor of `--help`) | {fmt(fl['import_click']['wall'])} | "
                     f"{click_floor / floor:.2f}x |")
    for key, label in (("help", "`signalwise --help`"), ("evaluate", "`signalwise evaluate` start-up"),
                       ("evaluate_no_bytecode_cache", "`signalwise evaluate` start-up, no bytecode cache")):
        w = st[key]["wall"]
        vs_click = f" ({w['median'] / click_floor:.2f}x the click-only floor)" if key == "help" and click_floor else ""
        lines.append(f"| {label} | {fmt(w)} | {w['median'] / floor:.2f}x{vs_click} |")
    cold = r["cold"]
    cfloor = cold["import_deps"]["wall"]["median"]
    lines += ["", f"Cold CLI runs, interleaved ({cold['rounds']} rounds, every command once per round; "
              "`evaluate` writes a JSON report; policy cache filled unless noted):", "",
              "| command | wall time | vs import floor |", "|---|---|---|"]
    labels = {"python_bare": "floor: `python -c pass`",
              "import_deps": "**floor: import durable-rules, PyYAML, jsonschema, click**",
              "import_click": "floor: import click", "help": "`signalwise --help`"}
    for n in COLD_SIZES:
        labels[f"evaluate_{n}"] = f"`signalwise evaluate`, {n:,} programs"
        labels[f"evaluate_{n}_no_cache"] = f"`signalwise evaluate`, {n:,} programs, `SIGNALWISE_NO_CACHE=1`"
    for label_, (specialty, rates) in GAIN_INPUTS.items():
        labels[f"evaluate_{label_}_200"] = (f"`signalwise evaluate --strategy gain`, 200 programs, {specialty}"
                                            + (" with rate columns" if rates else " with its rate model"))
    for key, label in labels.items():
        if key not in cold:
            continue
        w = cold[key]["wall"]
        lines.append(f"| {label} | {fmt(w)} | {w['median'] / cfloor:.2f}x |" if w.get("n") else
                     f"| {label} | failed | |")
    pol = r["policy"]
    lines += ["", f"Policy load + compile ({pol['policies']} policy files, {pol['rules']} rules; fresh "
              f"process): {fmt(pol['load_compile_s'])} (load and validate {pol['load_s']['median']:.1f} ms, "
              f"check {pol['check_s']['median']:.1f} ms, compile into durable-rules "
              f"{pol['compile_s']['median']:.1f} ms).", ""]
    lines += ["| programs | CLI end to end | CLI peak RSS | in-process `evaluate()` | report + render | "
              "floor: durable-rules C core, same facts | floor: durable-rules public API | "
              "evaluate / C-core floor | facts asserted | heap peak |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for n in (n for n in PROGRAM_SIZES if str(n) in r["inprocess"]):
        c, i = r["cli_evaluate"][str(n)], r["inprocess"][str(n)]
        star = " *" if i.get("above_input_limit") else ""
        failed = f" ({plural(len(c['failed_runs']), 'run')} failed)" if c.get("failed_runs") else ""
        errs = f" ({plural(len(i['errors']), 'evaluation')} failed)" if i.get("errors") else ""
        over = "–" if i["overhead_vs_floor"] is None else f"{i['overhead_vs_floor']:.2f}x"
        asserted = "–" if i["facts_asserted"] is None else f"{i['facts_asserted']:,}"
        heap = "–" if i["py_heap_peak_mb"] is None else f"{i['py_heap_peak_mb']:.0f} MiB"
        rss = f"{c['peak_rss_mb']:.0f} MiB" if c["wall"].get("n") else "–"
        lines.append(f"| {n:,}{star} | {fmt(c['wall'])}{failed} | {rss} | "
                     f"{fmt(i['evaluate'])}{errs} | {fmt(i['report_render'])} | {fmt(i['durable_core_floor'])} | "
                     f"{fmt(i['durable_floor'])} | {over} | {asserted} | {heap} |")
    if any(i.get("above_input_limit") for i in r["inprocess"].values()):
        lines += ["", f"\\* above the {input_limit():,}-program input limit of `signalwise evaluate`; "
                  "a stress size, run with the limit lifted."]
    if r.get("cohorts"):
        lines += ["", "| applicants | one process: per applicant | one process: total | `signalwise batch` "
                  "| throughput | batch CPU time per applicant | rerun, all current |",
                  "|---|---|---|---|---|---|---|"]
        for n, c in r["cohorts"].items():
            has = "batch_wall_s" in c
            batch = f"{c['batch_wall_s']:.1f} s (`--workers {c['batch_workers']}`)" if has else "–"
            thr = f"{c['batch_throughput_per_s']:.1f} applicants/s" if has else "–"
            cpu = f"{c['batch_cpu_s_per_applicant'] * 1000:.0f} ms" if has else "–"
            rerun = ("–" if not has or c.get("batch_rerun_all_current_s") is None
                     else f"{c['batch_rerun_all_current_s']:.2f} s")
            per = (fmt(c["inprocess_per_applicant"]) if c["inprocess_per_applicant"].get("n")
                   else f"{c['inprocess_first_s'] * 1000:.0f} ms (incl. policy load)")
            lines.append(f"| {int(n):,} | {per} | {c['inprocess_total_s']:.1f} s | {batch} | {thr} | {cpu} | "
                         f"{rerun} |")
    errors = run_errors(r)
    if errors:
        lines += ["", f"**Evaluations of valid input that failed in this run: {len(errors)}** "
                  f"(e.g. `{errors[0]}`); see \"Known problems\" below."]
    lines += ["", "| target | limit | measured | result |", "|---|---|---|---|"]
    for t in r["targets"]:
        result = "met" if t["ok"] else f"**{t['gap']}**"
        measured = "–" if t["measured"] is None else f"{t['measured']:g}{t['unit']}"
        lines.append(f"| {t['target']} | {t['limit']:g}{t['unit']} | {measured} ({t['detail']}) | {result} |")
    return "\n".join(lines) + "\n"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def run_errors(r: dict[str, Any]) -> list[str]:
    """Every failure of a valid input during the run (in-process, cohort and batch)."""
    out = [e for x in r["inprocess"].values() for e in x.get("errors", [])]
    out += [e for x in r["cli_evaluate"].values() for e in x.get("failed_runs", [])]
    out += [e for x in r["startup"].values() if isinstance(x, dict) for e in x.get("failed_runs", [])]
    out += r.get("cold", {}).get("failed_runs", [])
    for c in r.get("cohorts", {}).values():
        out += c.get("inprocess_errors", []) + c.get("batch_errors", [])
    return out


def write_docs(r: dict[str, Any]) -> None:
    """docs/performance.md and the optimizer table of docs/optimizer.md, rendered from the results files."""
    from .render_docs import write

    write()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs, no 5,000-program stress size, cohorts of 1 and 100 only")
    parser.add_argument("--repeat", type=int, help="runs per CLI measurement (default 7, quick 3)")
    parser.add_argument("--workers", type=int, help="batch workers (default: the cores)")
    parser.add_argument("--skip-batch", action="store_true",
                        help="do not run `signalwise batch` on the cohorts")
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="JSON results file")
    parser.add_argument("--no-docs", action="store_true",
                        help="do not regenerate docs/performance.md and docs/optimizer.md's table")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = run_suite(args)
    results["meta"]["suite_s"] = round(time.perf_counter() - started, 1)
    results["meta"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(table(results))
    print(f"results: {args.out}", file=sys.stderr)
    if not args.no_docs and args.out == RESULTS / "latest.json":
        write_docs(results)
        print(f"docs regenerated from {args.out}: {DOC}, docs/optimizer.md", file=sys.stderr)
    missed = [t for t in results["targets"] if not t["ok"]]
    for t in missed:
        print(f"TARGET MISSED: {t['target']}: {t['gap']}", file=sys.stderr)
    return 0
