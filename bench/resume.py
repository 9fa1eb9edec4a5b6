"""Interrupt `signalwise batch` on a generated cohort, rerun it, and check that nothing is lost.

    python -m bench.resume [--applicants 1000] [--workers N]

1. run the batch and kill its main process with SIGKILL once ~40% of the applicants are done;
   check that the workers exit too and that every report on disk is whole (JSON that parses);
2. rerun and interrupt it with Ctrl-C (SIGINT to the process group) at ~70%;
3. rerun to completion: every applicant must be `ok`, and the ones finished before are reused;
4. a clean uninterrupted run into another folder must produce byte-identical reports and summary.

Timings go to bench/results/resume.json and between the `resume:begin`/`resume:end` markers of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .generate import write_cohort
from .run import RESULTS, WORK, child_env, policy_state, signalwise_cmd


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], stdout=subprocess.PIPE, text=True,
                         check=False)
    return [int(x) for x in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not running
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def _default_sigint() -> None:
    """A background shell starts its jobs with SIGINT ignored, and Python keeps it ignored: restore it,
    so the batch sees Ctrl-C as an interactive user's would."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def done_count(out: Path) -> int:
    state = out / ".batch"
    return len(list(state.glob("*.json"))) if state.is_dir() else 0


def interrupted_run(cmd: list[str], env: dict[str, str], out: Path, stop_at: int, sig: signal.Signals,
                    group: bool) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=_default_sigint)
    while done_count(out) < stop_at and proc.poll() is None:
        time.sleep(0.05)
    workers = children(proc.pid)
    done_before = done_count(out)
    if group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    code = proc.wait()
    elapsed = time.perf_counter() - start
    deadline = time.time() + 15
    while any(alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    lingering = [w for w in workers if alive(w)]
    for w in lingering:  # never leave strays behind, even if the check fails
        os.kill(w, signal.SIGKILL)
    return {"signal": sig.name, "to": "process group" if group else "main process", "exit_code": code,
            "wall_s": round(elapsed, 2), "finished_when_interrupted": done_before,
            "finished_after": done_count(out), "workers": len(workers), "lingering_workers": len(lingering)}


def check_whole(out: Path) -> dict[str, int]:
    """Every report on disk parses (no partial file); temporaries may remain only from the kill."""
    reports = list(out.glob("*.json"))
    broken = 0
    for path in reports:
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            broken += 1
    return {"reports": len(reports), "unparseable_reports": broken,
            "records": done_count(out), "temporaries": len(list(out.glob(".*.tmp")))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resume", description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    n = args.applicants
    workers = args.workers or len(os.sched_getaffinity(0))
    env = child_env()
    cohort = WORK / "inputs" / f"cohort-{n}"
    if not (cohort / f"applicant-{n:05d}" / "programs.csv").is_file():
        shutil.rmtree(cohort, ignore_errors=True)
        write_cohort(cohort, n)
    out, ref = WORK / "resume-out", WORK / "resume-reference"
    for folder in (out, ref):
        shutil.rmtree(folder, ignore_errors=True)
    base = [*signalwise_cmd(), "batch", str(cohort), "--format", "json", "--workers", str(workers)]
    policies_at_start = policy_state()
    res: dict[str, Any] = {"applicants": n, "workers": workers,
                           "loadavg_start": [round(x, 2) for x in os.getloadavg()]}

    print(f"[resume] run 1: SIGKILL the main process at ~40% of {n}", file=sys.stderr)
    res["run1"] = interrupted_run([*base, "-o", str(out)], env, out, int(n * 0.4), signal.SIGKILL,
                                  group=False)
    res["run1"]["on_disk"] = check_whole(out)
    print(f"[resume] {res['run1']}", file=sys.stderr)

    print("[resume] run 2: Ctrl-C (SIGINT to the process group) at ~70%", file=sys.stderr)
    res["run2"] = interrupted_run([*base, "-o", str(out)], env, out, int(n * 0.7), signal.SIGINT, group=True)
    res["run2"]["on_disk"] = check_whole(out)
    print(f"[resume] {res['run2']}", file=sys.stderr)

    print("[resume] run 3: to completion", file=sys.stderr)
    before = done_count(out)
    start = time.perf_counter()
    code = subprocess.run([*base, "-o", str(out)], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode
    wall = time.perf_counter() - start
    rows = list(csv.DictReader((out / "_summary.csv").open(encoding="utf-8")))
    res["run3"] = {"exit_code": code, "wall_s": round(wall, 2), "rows": len(rows),
                   "ok": sum(r["status"] == "ok" for r in rows),
                   "reused": sum(r["this_run"] == "reused" for r in rows),
                   "evaluated": sum(r["this_run"] == "evaluated" for r in rows),
                   "records_before": before, "on_disk": check_whole(out)}
    print(f"[resume] {res['run3']}", file=sys.stderr)

    print("[resume] reference: one uninterrupted run into another folder", file=sys.stderr)
    start = time.perf_counter()
    subprocess.run([*base, "-o", str(ref)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False)
    ref_wall = time.perf_counter() - start
    differ = [p.name for p in sorted(ref.glob("*.json"))
              if (out / p.name).is_file() and (out / p.name).read_bytes() != p.read_bytes()]
    missing = [p.name for p in sorted(ref.glob("*.json")) if not (out / p.name).is_file()]
    ref_summary = [{k: v for k, v in r.items() if k != "this_run"}
                   for r in csv.DictReader((ref / "_summary.csv").open(encoding="utf-8"))]
    same_summary = ref_summary == [{k: v for k, v in r.items() if k != "this_run"} for r in rows]
    res["reference"] = {"wall_s": round(ref_wall, 2), "throughput_per_s": round(n / ref_wall, 2),
                        "reports_differing": len(differ), "reports_missing": len(missing),
                        "summary_identical_except_this_run": same_summary}
    print(f"[resume] {res['reference']}", file=sys.stderr)
    r1, r2, r3 = res["run1"], res["run2"], res["run3"]
    # Nothing lost: every applicant finished before an interruption is reused, every report on disk is
    # whole and identical to an uninterrupted run's, every applicant is in the summary (ok, or with its
    # error), and no worker outlives its batch. Applicants whose evaluation failed (the engine bug in
    # docs/performance.md) are not lost, they are reported: they count against "all ok" instead.
    failed = sorted(r["applicant"] for r in rows if r["status"] != "ok")
    ref_failed = sorted(r["applicant"] for r in ref_summary if r["status"] != "ok")
    res["failed_applicants"] = {"resumed_run": failed, "reference_run": ref_failed}
    res["verdict_nothing_lost"] = bool(
        r3["reused"] == r3["records_before"] and not differ and r3["rows"] == n
        and same_summary_of_ok(rows, ref_summary)
        and r1["lingering_workers"] == 0 and r2["lingering_workers"] == 0
        and r1["on_disk"]["unparseable_reports"] == 0 and r2["on_disk"]["unparseable_reports"] == 0)
    if policy_state() != policies_at_start:  # someone edited a policy: every report became stale
        res["policies_changed_during_test"] = True
        print("[resume] policy files changed during the test: reports were redone; rerun the test",
              file=sys.stderr)
        res["verdict_nothing_lost"] = False
    res["verdict_all_ok"] = bool(r3["exit_code"] == 0 and r3["ok"] == n and not missing and same_summary)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "resume.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    text = resume_table(res)
    print(text)
    if not args.no_docs and (RESULTS / "latest.json").is_file():
        from .render_docs import write

        write()  # docs/performance.md is rendered from the results files, this one included
    return 0 if res["verdict_nothing_lost"] else 1


def same_summary_of_ok(rows: list[dict[str, str]], ref: list[dict[str, str]]) -> bool:
    """Applicants ok in both runs have identical summary rows (apart from `this_run`)."""
    ref_ok = {r["applicant"]: {k: v for k, v in r.items() if k != "this_run"}
              for r in ref if r["status"] == "ok"}
    return all({k: v for k, v in r.items() if k != "this_run"} == ref_ok[r["applicant"]]
               for r in rows if r["status"] == "ok" and r["applicant"] in ref_ok)


def resume_table(res: dict[str, Any]) -> str:
    r1, r2, r3, ref = res["run1"], res["run2"], res["run3"], res["reference"]

    def interrupted(r: dict[str, Any], label: str) -> str:
        return (f"{label} to the {r['to']} (exit {r['exit_code']}); child processes still running "
                f"afterwards: {r['lingering_workers']} of {r['workers']}; unparseable reports: "
                f"{r['on_disk']['unparseable_reports']} | {r['wall_s']:.1f} s | {r['finished_after']:,} |")

    lines = [f"{res['applicants']:,} generated applicants, `signalwise batch --format json --workers "
             f"{res['workers']}`; load average {res['loadavg_start'][0]:.1f} at the start:", "",
             "| run | what happened | wall time | applicants finished |", "|---|---|---|---|",
             "| 1 | " + interrupted(r1, f"{r1['signal']} after {r1['finished_when_interrupted']:,} applicants"),
             "| 2 | " + interrupted(r2, f"{r2['signal']} (Ctrl-C) after {r2['finished_when_interrupted']:,} "
                                         "applicants"),
             f"| 3 | rerun to completion (exit {r3['exit_code']}): {r3['reused']:,} reused, "
             f"{r3['evaluated']:,} evaluated, {r3['ok']:,} of {r3['rows']:,} ok | {r3['wall_s']:.1f} s | "
             f"{r3['rows']:,} |",
             f"| reference | one uninterrupted run into another folder | {ref['wall_s']:.1f} s "
             f"({ref['throughput_per_s']:.1f} applicants/s) | {res['applicants']:,} |", "",
             f"Reports differing from the uninterrupted run: {ref['reports_differing']}; missing: "
             f"{ref['reports_missing']}; summary identical (apart from the `this_run` column): "
             f"{'yes' if ref['summary_identical_except_this_run'] else 'no'}. "
             f"**Nothing lost: {'yes' if res['verdict_nothing_lost'] else 'NO'}.** "
             f"All applicants ok: {'yes' if res['verdict_all_ok'] else 'no'}"
             + (f" (failed: {', '.join(res['failed_applicants']['resumed_run'][:5]) or 'none'} in the resumed run, "
                f"{', '.join(res['failed_applicants']['reference_run'][:5]) or 'none'} in the reference run)"
                if not res["verdict_all_ok"] else "") + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
