"""Evaluate a whole cohort: one folder per applicant in, one report per applicant plus a summary out.

`run_batch()` is what `signalwise batch` calls. Each applicant folder holds `profile.yaml` and
`programs.csv` (the layout of `examples/`). Applicants are evaluated in a process pool whose workers
compile the policies once (a pool initializer warms the runtime); every output is written atomically,
so an interrupted run leaves whole reports or none, and a rerun skips every applicant whose report is
newer than its inputs (unless `force`). One applicant's bad input is recorded in the summary and never
stops the others.

Files in OUTDIR:
- `<applicant>.<txt|md|json|html>`: the applicant's report;
- `.batch/<applicant>.json`: the summary row of a finished applicant (its completion marker, written
  after the report), so a resumed run can summarise applicants it skips;
- `_summary.csv` and `_summary.md`: the cohort summary, ordered by folder name, written at the end.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .errors import EngineError, InputError, Problem
from .records import record

EXTENSIONS = {"text": "txt", "md": "md", "json": "json", "html": "html"}
PROFILE_NAME = "profile.yaml"
PROGRAM_NAMES = ("programs.csv", "programs.yaml", "programs.yml")
STATE_DIR = ".batch"
LOCK_NAME = "lock"
SUMMARY_CSV = "_summary.csv"
SUMMARY_MD = "_summary.md"
RECORD_VERSION = 1
FINDING_LEVELS = ("critical", "warning", "info")
TIER_ORDER = ("signal", "gold", "silver")

# Exit codes of a batch run (documented in the CLI help and docs/performance.md).
EXIT_OK = 0            # every applicant has a current report
EXIT_INVALID_INPUT = 2  # some applicants had invalid input (see the summary); the others are done
EXIT_ENGINE = 3        # some applicants' policies misbehaved while running (takes precedence over 2)
EXIT_INTERNAL = 1      # an unexpected error for some applicant: a bug (takes precedence over 2 and 3)


@record
class Applicant:
    """One applicant folder of the cohort."""

    name: str
    folder: Path
    profile: Path | None
    programs: Path | None

    def inputs(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.profile, self.programs) if p is not None)


@record(frozen=False)
class Outcome:
    """What happened to one applicant: the row of the cohort summary."""

    applicant: str
    status: str                      # ok | error
    this_run: str                    # evaluated | reused | failed
    specialty: str | None = None
    cycle: str | None = None
    tier: str | None = None
    signals: list[tuple[str, int, int]] = field(default_factory=list)  # (tier, used, available)
    findings: dict[str, int] = field(default_factory=dict)            # level -> count
    report: str | None = None        # file name inside OUTDIR
    error: str | None = None
    error_kind: str | None = None    # input | engine | internal
    seconds: float = 0.0


@record
class Task:
    """Everything a worker needs to evaluate one applicant (picklable)."""

    applicant: Applicant
    outdir: Path
    fmt: str
    fingerprint: str
    options: tuple[tuple[str, str], ...] = ()   # evaluate's options (specialty, cycle, signals, ...)


@record(frozen=False)
class BatchResult:
    outcomes: list[Outcome]
    evaluated: int
    reused: int
    failed: int
    ignored: list[str]
    seconds: float
    workers: int

    @property
    def exit_code(self) -> int:
        kinds = {o.error_kind for o in self.outcomes if o.status == "error"}
        if "internal" in kinds:
            return EXIT_INTERNAL
        if "engine" in kinds:
            return EXIT_ENGINE
        if "input" in kinds:
            return EXIT_INVALID_INPUT
        return EXIT_OK


# ---------------------------------------------------------------- discovery and freshness

def discover(root: Path) -> tuple[list[Applicant], list[str]]:
    """Applicant folders of `root` sorted by name, and the names of subfolders that are not applicants.

    A subfolder is an applicant if it holds `profile.yaml` or a programs file; one that holds only one
    of them is still an applicant (it will be reported as invalid). Folders whose names start with `.`
    or `_` are never applicants.
    """
    if not root.is_dir():
        raise InputError([Problem(str(root), None, "DIR", "is not a folder",
                                  "give the folder that holds one subfolder per applicant")])
    applicants, ignored = [], []
    for sub in sorted(root.iterdir(), key=lambda p: p.name):
        if not sub.is_dir() or sub.name.startswith((".", "_")):
            continue
        profile = sub / PROFILE_NAME
        programs = next((sub / n for n in PROGRAM_NAMES if (sub / n).is_file()), None)
        if not profile.is_file() and programs is None:
            ignored.append(sub.name)
            continue
        applicants.append(Applicant(sub.name, sub, profile if profile.is_file() else None, programs))
    return applicants, ignored


def report_name(applicant: str, fmt: str) -> str:
    return f"{applicant}.{EXTENSIONS[fmt]}"


def record_path(outdir: Path, applicant: str) -> Path:
    return outdir / STATE_DIR / f"{applicant}.json"


def policy_fingerprint(root: Path | None = None) -> str:
    """Cheap identity of signalwise's version and of the policy files (path, size, mtime): upgrading
    signalwise or updating a policy makes every report stale."""
    from importlib.metadata import PackageNotFoundError, version

    if root is None:
        from .policy.catalogue import bundled_root

        root = bundled_root()
    h = hashlib.sha256()
    with contextlib.suppress(PackageNotFoundError):  # a source tree that is not installed: policies only
        h.update(f"signalwise {version('signalwise')}\n".encode())
    for path in sorted(root.rglob("*.y*ml")):
        st = path.stat()
        h.update(f"{path.relative_to(root).as_posix()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def input_stamps(applicant: Applicant) -> dict[str, list[int]]:
    """(mtime, size) of each input file, taken before it is read."""
    return {p.name: [st.st_mtime_ns, st.st_size] for p in applicant.inputs() for st in (p.stat(),)}


def load_record(outdir: Path, applicant: Applicant, fmt: str, fingerprint: str) -> Outcome | None:
    """The finished applicant's summary row if its report is current, else None.

    Current means: the report and its record exist, the report is newer than both inputs, the inputs
    are the files that were read (same mtime and size: an edit made while the applicant was being
    evaluated is not missed), and it was made in this format with the same signalwise and policies.
    """
    if applicant.profile is None or applicant.programs is None:
        return None
    report = outdir / report_name(applicant.name, fmt)
    record = record_path(outdir, applicant.name)
    try:
        report_mtime = report.stat().st_mtime_ns
        data = json.loads(record.read_text(encoding="utf-8"))
        stamps = input_stamps(applicant)
    except (OSError, ValueError):
        return None
    newest_input = max(mtime for mtime, _ in stamps.values())
    if (not isinstance(data, dict) or data.get("version") != RECORD_VERSION or data.get("format") != fmt
            or data.get("policies") != fingerprint or data.get("inputs") != stamps
            or report_mtime <= newest_input):
        return None
    try:
        row = data["outcome"]
        outcome = Outcome(**{**row, "signals": [tuple(s) for s in row["signals"]]})
    except (KeyError, TypeError):
        return None
    outcome.this_run = "reused"
    outcome.seconds = 0.0
    return outcome


# ---------------------------------------------------------------- one applicant (runs in a worker)

def evaluate_applicant(task: Task) -> Outcome:
    """Evaluate one applicant and write its report and record; never raises for the applicant's faults."""
    from .chain.context import parse_signals_option
    from .explain.report import build_report
    from .load.files import write_atomic
    from .pipeline import Request, evaluate
    from .render import render_report

    app = task.applicant
    start = time.perf_counter()
    try:
        missing = [Problem(str(app.folder / name), None, None, "file not found",
                           "each applicant folder needs profile.yaml and programs.csv")
                   for name, path in ((PROFILE_NAME, app.profile), (PROGRAM_NAMES[0], app.programs))
                   if path is None]
        if missing:
            raise InputError(missing)
        assert app.profile is not None and app.programs is not None
        try:
            stamps = input_stamps(app)
        except OSError:  # vanished since discovery: evaluate() reports it as the input error it is
            stamps = {}
        opts = dict(task.options)
        signals = opts.get("signals")
        req = Request(str(app.profile), str(app.programs), opts.get("specialty"), opts.get("cycle"),
                      parse_signals_option(signals) if signals is not None else None, opts.get("policies"),
                      opts.get("strategy") or "guide")
        report = build_report(evaluate(req))
        text = render_report(report, task.fmt, verbose=bool(opts.get("verbose")), template_dir=opts.get("template"))
        outcome = summarise(app.name, report, report_name(app.name, task.fmt))
        outcome.seconds = time.perf_counter() - start
        write_atomic(task.outdir / report_name(app.name, task.fmt), text, inputs=app.inputs())
        record = {"version": RECORD_VERSION, "format": task.fmt, "policies": task.fingerprint,
                  "inputs": stamps, "outcome": asdict(outcome)}
        write_atomic(record_path(task.outdir, app.name), json.dumps(record, indent=1, sort_keys=True) + "\n")
        return outcome
    except InputError as exc:
        return _failed(task, "input", str(exc), start)
    except EngineError as exc:
        return _failed(task, "engine", str(exc), start)
    except Exception as exc:  # a bug: record it for this applicant and carry on with the others
        return _failed(task, "internal", f"internal error: {type(exc).__name__}: {exc}", start)


def _failed(task: Task, kind: str, message: str, start: float) -> Outcome:
    """An applicant that failed has no report: remove a stale one so OUTDIR never shows an old plan."""
    for path in (record_path(task.outdir, task.applicant.name),
                 task.outdir / report_name(task.applicant.name, task.fmt)):
        with contextlib.suppress(OSError):
            path.unlink()
    return Outcome(task.applicant.name, "error", "failed", error=message, error_kind=kind,
                   seconds=time.perf_counter() - start)


def summarise(applicant: str, report: dict[str, Any], report_file: str) -> Outcome:
    findings = {level: 0 for level in FINDING_LEVELS}
    for f in report.get("findings", []):
        findings[f["level"]] = findings.get(f["level"], 0) + 1
    signals = [(s["tier"], int(s["assigned"]), int(s["available"])) for s in report.get("signals", [])]
    return Outcome(applicant, "ok", "evaluated", specialty=report.get("specialty"), cycle=report.get("cycle"),
                   tier=report["applicant"]["tier"], signals=signals, findings=findings, report=report_file)


# ---------------------------------------------------------------- worker pool

_SPEC_LINE = re.compile(r"^(specialty|cycle):\s*([a-z0-9-]+)\s*(?:#.*)?$", re.MULTILINE)


def warm_pairs(applicants: list[Applicant], limit: int = 8) -> list[tuple[str, str]]:
    """The (cycle, specialty) pairs the cohort uses, read cheaply from the profiles' top-level lines.

    Only used to warm the workers: a wrong guess costs one unused compile, never a wrong result.
    """
    seen: dict[tuple[str, str], None] = {}
    for app in applicants:
        if app.profile is None:
            continue
        try:
            text = app.profile.read_text(encoding="utf-8", errors="replace")[:4096]
        except OSError:
            continue
        found = dict((m.group(1), m.group(2)) for m in _SPEC_LINE.finditer(text))
        if "cycle" in found and "specialty" in found:
            seen.setdefault((found["cycle"], found["specialty"]), None)
            if len(seen) >= limit:
                break
    return list(seen)


def warm_worker(pairs: list[tuple[str, str]], watch_parent: int | None = None) -> None:
    """Pool initializer: import the engine and compile the policies each pair needs, once per worker."""
    if watch_parent is not None:
        _exit_with_parent(watch_parent)
    from .chain.runtime import runtime_for
    from .policy.catalogue import Catalogue, bundled_root
    from .policy.check import check_policy_set

    catalogue = Catalogue(bundled_root())
    for cycle, specialty in pairs:
        try:
            ps = catalogue.policy_set(cycle, specialty, allow_missing_specialty=False,
                                      where=("warm-up", None))
            check_policy_set(ps)
            runtime_for(ps)
        except Exception:  # noqa: S112 - a pair that does not resolve is reported when its applicant runs
            continue


def _exit_with_parent(parent: int) -> None:
    """If the batch process is killed, its workers must not linger: poll the parent and exit with it."""
    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.5)

    threading.Thread(target=watch, name="signalwise-parent-watch", daemon=True).start()


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_pool(tasks: list[Task], workers: int, pairs: list[tuple[str, str]]) -> Iterator[Outcome]:
    """Outcomes in completion order. A worker that dies (a crash in the rules engine's C core) breaks the
    pool: the applicants that were queued or running are then evaluated one at a time, each in a fresh
    worker, so only the one that crashes is reported (as an internal error); the rest go on in a new pool.
    """
    remaining = list(tasks)
    while remaining:
        finished: set[str] = set()
        in_flight: list[Task] = []
        try:
            yield from _pool_pass(remaining, workers, pairs, finished, in_flight)
            return
        except BrokenProcessPool:
            suspects = [t for t in in_flight if t.applicant.name not in finished]
        settled = finished | {t.applicant.name for t in suspects}
        remaining = [t for t in remaining if t.applicant.name not in settled]
        for task in suspects:
            try:
                yield from _pool_pass([task], 1, pairs, set(), [])
            except BrokenProcessPool:
                yield _failed(task, "internal", "internal error: the worker process crashed while evaluating "
                              "this applicant", time.perf_counter())


def _pool_pass(tasks: list[Task], workers: int, pairs: list[tuple[str, str]], finished: set[str],
               in_flight: list[Task]) -> Iterator[Outcome]:
    ctx = get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=warm_worker,
                             initargs=(pairs, os.getpid())) as pool:
        pending: dict[Future[Outcome], Task] = {}
        queue = iter(tasks)

        def submit() -> None:
            task = next(queue, None)
            if task is not None:
                pending[pool.submit(evaluate_applicant, task)] = task

        try:
            # A bounded number of tasks in flight, so an interrupt leaves little queued work behind.
            for _ in range(workers * 4):
                submit()
            while pending:
                in_flight[:] = list(pending.values())
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    task = pending.pop(fut)
                    outcome = fut.result()
                    finished.add(task.applicant.name)
                    yield outcome
                    submit()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def run_batch(root: Path, outdir: Path, *, fmt: str = "text", workers: int | None = None, force: bool = False,
              progress: Callable[[int], Any] | None = None,
              on_plan: Callable[[int, int], Any] | None = None,
              options: dict[str, str | None] | None = None) -> BatchResult:
    """Evaluate every applicant folder of `root` into `outdir`; return the outcomes sorted by folder name.

    `on_plan(to_evaluate, reused)` is called once before work starts; `progress(n)` after each
    applicant finishes.
    """
    start = time.perf_counter()
    if fmt not in EXTENSIONS:
        raise InputError([Problem("command line", None, "--format", f"unknown format {fmt!r}",
                                  f"expected one of: {', '.join(EXTENSIONS)}")])
    applicants, ignored = discover(root)
    if not applicants:
        raise InputError([Problem(str(root), None, "DIR", "no applicant folders found",
                                  f"expected subfolders holding {PROFILE_NAME} and {PROGRAM_NAMES[0]}")])
    try:
        (outdir / STATE_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError([Problem(str(outdir), None, "-o",
                                  f"cannot create the output folder: {exc.strerror}")]) from None
    with output_lock(outdir):
        return _run_locked(root, outdir, applicants, ignored, fmt=fmt, workers=workers, force=force,
                           progress=progress, on_plan=on_plan, start=start, options=options)


@contextlib.contextmanager
def output_lock(outdir: Path) -> Iterator[None]:
    """One batch run per output folder: `OUTDIR/.batch/lock`, locked with `flock` and holding the owner's pid.

    A second run on the same folder exits 2 naming the first one's pid, instead of deleting its
    temporary files as stale. The lock goes with the process (a killed run leaves no stale lock).
    """
    path = outdir / STATE_DIR / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise InputError([Problem(str(path), None, "-o", f"cannot create the lock file: {exc.strerror}")]) from None
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - not POSIX: no lock, as before
            pass
        except OSError:
            owner = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            raise InputError([Problem(str(outdir), None, "-o",
                                      f"another `signalwise batch` (pid {owner}) is writing to this folder",
                                      "wait for it to finish, or give another output folder")]) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)


def _run_locked(root: Path, outdir: Path, applicants: list[Applicant], ignored: list[str], *, fmt: str,
                workers: int | None, force: bool, progress: Callable[[int], Any] | None,
                on_plan: Callable[[int, int], Any] | None, start: float,
                options: dict[str, str | None] | None) -> BatchResult:
    _remove_stale_temporaries(outdir)
    opts = tuple(sorted((k, v) for k, v in (options or {}).items() if v is not None))
    if opts:
        from .chain.context import parse_signals_option

        if dict(opts).get("signals") is not None:
            parse_signals_option(dict(opts)["signals"])  # a bad --signals is one error, not one per applicant
    policies = dict(opts).get("policies")
    fingerprint = policy_fingerprint(Path(policies) if policies else None)
    if opts:  # other options, other reports: an earlier run's report is not up to date
        fingerprint = hashlib.sha256(f"{fingerprint} {opts}".encode()).hexdigest()[:16]
    template = dict(opts).get("template")
    if template:  # an edited --template file makes the HTML reports stale, like an edited policy
        files = sorted(f"{p.relative_to(template).as_posix()}:{st.st_size}:{st.st_mtime_ns}"
                       for p in Path(template).rglob("*") if p.is_file() for st in (p.stat(),))
        fingerprint = hashlib.sha256(f"{fingerprint} {files}".encode()).hexdigest()[:16]
    outcomes: dict[str, Outcome] = {}
    tasks = []
    for app in applicants:
        reused = None if force else load_record(outdir, app, fmt, fingerprint)
        if reused is not None:
            outcomes[app.name] = reused
        else:
            tasks.append(Task(app, outdir, fmt, fingerprint, opts))
    if on_plan is not None:
        on_plan(len(tasks), len(outcomes))
    n_workers = max(1, min(workers or default_workers(), len(tasks) or 1))
    if tasks:
        results: Iterator[Outcome]
        if n_workers == 1:
            warm_worker(warm_pairs([t.applicant for t in tasks]))
            results = (evaluate_applicant(t) for t in tasks)
        else:
            results = _run_pool(tasks, n_workers, warm_pairs([t.applicant for t in tasks]))
        for outcome in results:
            outcomes[outcome.applicant] = outcome
            if progress is not None:
                progress(1)
    ordered = [outcomes[a.name] for a in applicants]
    write_summary(outdir, ordered)
    return BatchResult(ordered, evaluated=sum(o.this_run == "evaluated" for o in ordered),
                       reused=sum(o.this_run == "reused" for o in ordered),
                       failed=sum(o.status == "error" for o in ordered), ignored=ignored,
                       seconds=time.perf_counter() - start, workers=n_workers if tasks else 0)


def _remove_stale_temporaries(outdir: Path) -> None:
    """Temporary files of a write that was killed mid-way (never a report: writes are atomic)."""
    for folder in (outdir, outdir / STATE_DIR):
        for tmp in folder.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()


# ---------------------------------------------------------------- summary

def tier_names(outcomes: list[Outcome]) -> list[str]:
    names = {t for o in outcomes for t, _, _ in o.signals}
    return sorted(names, key=lambda t: (TIER_ORDER.index(t) if t in TIER_ORDER else len(TIER_ORDER), t))


def summary_rows(outcomes: list[Outcome]) -> tuple[list[str], list[list[str]]]:
    tiers = tier_names(outcomes)
    header = ["applicant", "status", "this_run", "specialty", "cycle", "tier"]
    for t in tiers:
        header += [f"{t}_used", f"{t}_available"]
    header += [f"findings_{level}" for level in FINDING_LEVELS] + ["report", "error"]
    rows = []
    for o in outcomes:
        sig = {t: (used, avail) for t, used, avail in o.signals}
        row = [o.applicant, o.status, o.this_run, o.specialty or "", o.cycle or "", o.tier or ""]
        for t in tiers:
            used, avail = sig.get(t, (None, None))
            row += ["" if used is None else str(used), "" if avail is None else str(avail)]
        row += ["" if o.status != "ok" else str(o.findings.get(level, 0)) for level in FINDING_LEVELS]
        row += [o.report or "", _one_line(o.error or "")]
        rows.append(row)
    return header, rows


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def summary_csv(outcomes: list[Outcome]) -> str:
    header, rows = summary_rows(outcomes)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return buf.getvalue()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: one that starts like a formula (= + - @, or a tab or line break
    before one, OWASP's list) gets a leading apostrophe."""
    return f"'{text}" if text[:1] in FORMULA_STARTS else text


def summary_markdown(outcomes: list[Outcome]) -> str:
    from urllib.parse import quote

    from .render.markdown import cell, md

    ok = [o for o in outcomes if o.status == "ok"]
    failed = [o for o in outcomes if o.status != "ok"]
    tiers = tier_names(outcomes)
    counts = f"{len(outcomes)} applicants: {len(ok)} with a plan, {len(failed)} with invalid input or errors."
    lines = ["# Cohort summary", "", counts, ""]
    by_tier: dict[str, int] = {}
    for o in ok:
        by_tier[o.tier or "?"] = by_tier.get(o.tier or "?", 0) + 1
    if by_tier:
        lines += ["Applicant tiers: " + ", ".join(f"{n} {t}" for t, n in sorted(by_tier.items())) + ".", ""]
    head = ["applicant", "status", "specialty", "cycle", "tier", *[f"{t} used/available" for t in tiers],
            *FINDING_LEVELS, "report"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for o in outcomes:
        sig = {t: f"{used}/{avail}" for t, used, avail in o.signals}
        cells = [o.applicant, o.status, o.specialty or "", o.cycle or "", o.tier or "",
                 *[sig.get(t, "") for t in tiers],
                 *[str(o.findings.get(level, 0)) if o.status == "ok" else "" for level in FINDING_LEVELS],
                 ""]
        row = [cell(c) for c in cells]
        if o.report:  # a link to the report: the name escaped as text, the file name percent-encoded
            row[-1] = f"[{cell(o.report)}]({quote(o.report)})"
        lines.append("| " + " | ".join(row) + " |")
    if failed:
        lines += ["", "## Errors", ""]
        for o in failed:
            message = "; ".join(line.strip() for line in (o.error or "").splitlines() if line.strip())
            lines.append(f"- **{md(o.applicant)}** ({md(o.error_kind)} error): {md(message)}")
    return "\n".join(lines) + "\n"


def write_summary(outdir: Path, outcomes: list[Outcome]) -> None:
    from .load.files import write_atomic

    write_atomic(outdir / SUMMARY_CSV, summary_csv(outcomes))
    write_atomic(outdir / SUMMARY_MD, summary_markdown(outcomes))
