"""`signalwise policy ...` and `signalwise schema ...`: the policy author's tools.

Exit codes: 0 fine; 1 tests failed, no test ran, or `lint --strict` found warnings; 2 invalid policies,
test files or options. Problems print as `file:line: field: message (hint)`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from .output import AUTHOR_FORMATS, CHECK_FORMATS, DATE, as_date, echo, emit, format_option, output_option

PATHS = click.argument("paths", nargs=-1, type=click.Path())
POLICIES = click.option("--policies", "policies", type=click.Path(file_okay=False),
                        help="Policy root (with guidance/ and cycles/); default: the bundled policies.")
FORMAT = format_option(AUTHOR_FORMATS)
CHECK_FORMAT = format_option(CHECK_FORMATS)
OUTPUT = output_option()
TODAY = click.option("--today", "today", type=DATE, metavar="YYYY-MM-DD",
                     help="Judge dates as of this day (default: today).")


def _root(policies: str | None) -> Path:
    from signalwise.engine.policy.catalogue import bundled_root

    return Path(policies) if policies else bundled_root()


def _today(value: dt.datetime | None) -> dt.date:
    from signalwise.engine.policy.catalogue import today

    return as_date(value) or today()


def _paths(paths: tuple[str, ...], policies: str | None) -> tuple[str, ...]:
    """PATHS, or the --policies root, or (nothing: the bundled policies)."""
    return paths or ((policies,) if policies else ())


def _finding_json(f: Any) -> dict[str, Any]:
    return {"severity": f.severity, **asdict(f.problem)}


def _emit(lines: list[str], data: Any, fmt: str, output: str | None, command: str, junit: str = "") -> None:
    text = (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n" if fmt == "json"
            else junit if fmt == "junit" else "".join(f"{line}\n" for line in lines))
    emit(text, fmt=fmt, output=output, command=command)


@click.group("policy")
def policy_group() -> None:
    """Validate, test, diff, lint, format, copy and list policy files."""


@policy_group.command("validate")
@PATHS
@POLICIES
@CHECK_FORMAT
@OUTPUT
@click.pass_context
def validate_command(ctx: click.Context, paths: tuple[str, ...], policies: str | None, fmt: str,
                     output: str | None) -> None:
    """Check policies against the schema and each other; every problem with file:line.

    PATHS may be policy roots (folders with guidance/ and cycles/), folders of policy files, or files;
    default: the --policies root, else the bundled policies.
    """
    from signalwise.engine.authoring.junit import per_file
    from signalwise.engine.authoring.tree import load_tree
    from signalwise.engine.authoring.validate import errors_in, summarize, validate_tree
    from signalwise.engine.errors import InputError

    tree, missing = load_tree(_paths(paths, policies))
    if missing:
        raise InputError(missing)
    findings = validate_tree(tree)
    lines = [f.render() for f in findings]
    errors = errors_in(findings)
    warnings = len(findings) - len(errors)
    tail = f"; {warnings} warning{'' if warnings == 1 else 's'}" if warnings else ""
    summary = summarize(tree)
    if errors:
        lines.append(f"invalid: {len(errors)} error{'' if len(errors) == 1 else 's'}{tail}")
    else:
        lines.append(f"valid: {summary.render()}{tail}")
    junit = per_file("policy validate", [f.display for f in tree.targets],
                     [(f.problem.file, f.render()) for f in errors],
                     [(f.problem.file, f.render()) for f in findings if f.severity != "error"])
    _emit(lines, {"valid": not errors, "summary": asdict(summary), "findings": [_finding_json(f) for f in findings]},
          fmt, output, "policy-validate", junit)
    if errors:
        ctx.exit(2)


@policy_group.command("test")
@PATHS
@click.option("-k", "match", help="Run only cases whose name contains this text.")
@POLICIES
@CHECK_FORMAT
@OUTPUT
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[str, ...], match: str | None, policies: str | None, fmt: str,
                 output: str | None) -> None:
    """Run the data-driven test cases (tests/*.yaml of a policy root) and report coverage.

    PATHS may be policy roots, tests folders or test files; default: the bundled policies' tests.
    Exits 1 when a case fails or when no case ran.
    """
    from signalwise.engine.authoring.junit import JUnitCase, junit_xml
    from signalwise.engine.authoring.testing import (
        Case,
        case_files,
        load_cases,
        rule_universe,
        run_case,
        uncovered,
    )
    from signalwise.engine.errors import InputError

    files, problems = case_files(_paths(paths, policies))
    if problems:
        raise InputError(problems)
    cases: list[Case] = []
    for path, root in files:
        found, bad = load_cases(path, root)
        problems.extend(bad)
        cases.extend(c for c in found if match is None or match in c.name)
    if problems:
        raise InputError(problems)
    results = []
    lines: list[str] = []
    current = None
    for case in cases:
        if case.display != current:
            current = case.display
            lines.append(current)
        result = run_case(case)
        results.append(result)
        lines.append(f"  {'ok  ' if result.passed else 'FAIL'}  {case.name}  ({case.where})")
        for line in result.failures:
            lines.append(f"        {line}")
    failed = [r for r in results if not r.passed]
    lines.append(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    ran = {path.resolve() for path, _ in files}
    coverage: list[dict[str, Any]] = []
    for root in dict.fromkeys(c.root for c in cases):
        universe = rule_universe(root)
        never = uncovered([r for r in results if r.case.root == root], universe)
        shown = f" (of the cases matching -k {match!r})" if match is not None else ""
        lines.append(f"coverage: {len(universe) - len(never)} of {len(universe)} rules fired in some case{shown}")
        complete = match is None and {p.resolve() for p, _ in case_files([root])[0]} <= ran
        for rule in never if complete else ():
            lines.append(f"  never fired: {rule.file}:{rule.line}: {rule.id}")
        if never and not complete:
            lines.append("  (run every case file of the policies, without -k, to list the rules no case fires)")
        coverage.append({"root": str(root), "rules": len(universe), "fired": len(universe) - len(never),
                         "never_fired": [{"file": r.file, "line": r.line, "id": r.id} for r in never]
                         if complete else None})
    if not results:
        lines.append("no test case ran" + (f" (none matches -k {match!r})" if match else ""))
    data = {"passed": len(results) - len(failed), "failed": len(failed), "coverage": coverage,
            "cases": [{"name": r.case.name, "where": r.case.where, "passed": r.passed, "failures": r.failures}
                      for r in results]}
    junit = junit_xml("policy test", [JUnitCase(r.case.display, r.case.name,
                                                [f"{r.case.where}: {x.strip()}" for x in r.failures])
                                      for r in results])
    _emit(lines, data, fmt, output, "policy-test", junit)
    if not results or failed:
        ctx.exit(1)


@policy_group.command("diff")
@click.argument("old")
@click.argument("new")
@FORMAT
@OUTPUT
@POLICIES
def diff_command(old: str, new: str, fmt: str, output: str | None, policies: str | None) -> None:
    """What changed from OLD to NEW: rules added, removed and changed, and every changed number.

    OLD and NEW are two policy files, two folders, or two cycle ids (e.g. eras-2024 eras-2025) looked
    up in the policy root; folders and cycles pair their files by specialty.
    """
    from signalwise.engine.authoring.diff import diff_paths, render_text

    result = diff_paths(old, new, _root(policies))
    text = (json.dumps(result.as_json(), indent=2, sort_keys=True, default=str) + "\n" if fmt == "json"
            else render_text(result))
    emit(text, fmt=fmt, output=output, command="policy-diff")


@policy_group.command("lint")
@PATHS
@click.option("--strict", is_flag=True,
              help="Exit 1 on warnings too (not only errors), except those the policy root's lint-baseline.yaml "
                   "accepts with a reason.")
@TODAY
@POLICIES
@CHECK_FORMAT
@OUTPUT
@click.pass_context
def lint_command(ctx: click.Context, paths: tuple[str, ...], strict: bool, today: dt.datetime | None,
                 policies: str | None, fmt: str, output: str | None) -> None:
    """Warn about rules without source, because or rationale, literal numbers, assumptions, stale cycles
    and specialties missing from a cycle."""
    from signalwise.engine.authoring.junit import per_file
    from signalwise.engine.authoring.lint import apply_baseline, lint_tree
    from signalwise.engine.authoring.tree import load_tree
    from signalwise.engine.errors import PolicyError

    tree, missing = load_tree(_paths(paths, policies))
    broken = missing + [p for f in tree.targets for p in f.problems]
    if broken:
        raise PolicyError(broken)
    gate = apply_baseline(lint_tree(tree, _today(today)), tree.roots, {f.path.resolve() for f in tree.targets})
    findings = gate.open
    lines = [f.render() for f in findings]
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    plural = {"error": "errors", "warning": "warnings", "info": "info"}
    summary = ", ".join(f"{n} {s if n == 1 else plural[s]}" for s, n in counts.items())
    accepted = f" ({len(gate.accepted)} more accepted by the baseline)" if gate.accepted else ""
    lines.append(f"{summary}{accepted} in {len(tree.targets)} {'policy' if len(tree.targets) == 1 else 'policies'}")
    failing = gate.failing(strict)
    junit = per_file("policy lint", [f.display for f in tree.targets],
                     [(f.problem.file, f.render()) for f in failing],
                     [(f.problem.file, f.render()) for f in findings if f not in failing])
    _emit(lines, {"findings": [_finding_json(f) for f in findings],
                  "accepted": [_finding_json(f) for f in gate.accepted], **counts}, fmt, output, "policy-lint", junit)
    if failing:
        ctx.exit(1)


@policy_group.command("new-cycle")
@click.option("--from", "old", required=True, help="The cycle to copy, e.g. eras-2026.")
@click.option("--to", "new", required=True, help="The cycle to create, e.g. eras-2027.")
@click.option("--policies", "policies", type=click.Path(file_okay=False),
              help="Policy root to copy within; default: copy the bundled policies into ./policies.")
@TODAY
@FORMAT
@OUTPUT
def new_cycle_command(old: str, new: str, policies: str | None, today: dt.datetime | None, fmt: str,
                      output: str | None) -> None:
    """Copy every specialty policy of a cycle into a new cycle folder, ready to edit.

    Without --policies the bundled policies are copied into ./policies under the current folder (never into
    the installed package); evaluate with `--policies ./policies`. Each copy is marked `reviewed: false`, and
    every report on it starts with a warning until `signalwise policy review` has cleared each copied number.
    """
    from signalwise.engine.authoring.newcycle import carry_accepted, plan_new_cycle, seed_root, write_new_cycle
    from signalwise.engine.authoring.tree import display, load_tree
    from signalwise.engine.authoring.validate import errors_in, validate_tree
    from signalwise.engine.errors import PolicyError
    from signalwise.engine.policy.catalogue import bundled_root

    source = Path(policies) if policies else bundled_root()
    target = Path(policies) if policies else Path("policies")
    files = plan_new_cycle(source, old, new, _today(today), target_root=target)
    seeded = [] if policies else seed_root(source, target)
    folder = write_new_cycle(files)
    carried = carry_accepted(target, old, new, [f.target.name for f in files], _today(today))
    lines = [f"seeded {display(p)} from the bundled policies" for p in seeded]
    lines += [f"wrote {display(f.target)} (from {display(f.source)})" for f in files]
    if carried:
        lines.append(f"carried {carried} accepted lint finding{'s' if carried != 1 else ''} about the copied sources "
                     f"(one secondary source) into {display(target / 'lint-baseline.yaml')}")
    tree, _ = load_tree([folder])
    errors = errors_in(validate_tree(tree))
    if errors:
        raise PolicyError([e.problem for e in errors])
    lines.append(f"{len(files)} policies copied to {display(folder)}; they validate. "
                 f"Now check every count, source and date for {new}, then run `signalwise policy review` on each file"
                 + ("." if policies else f"; evaluate with --policies {target}."))
    _emit(lines, {"folder": str(folder), "files": [str(f.target) for f in files],
                  "seeded": [str(p) for p in seeded], "accepted_carried": carried}, fmt, output, "policy-new-cycle")


@policy_group.command("review")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--confirm", "confirm", multiple=True, metavar="NUMBER",
              help="A pending number (e.g. signals.tiers.gold.count) you checked and found unchanged; "
                   "repeatable; `all` confirms every one.")
@FORMAT
@OUTPUT
@click.pass_context
def review_command(ctx: click.Context, files: tuple[str, ...], confirm: tuple[str, ...], fmt: str,
                   output: str | None) -> None:
    """Mark the numbers of a copied policy reviewed: each one clears when its value differs from the policy it
    was copied from, or when you --confirm it. With none left, the file becomes `reviewed: true`.

    Exits 1 while numbers are still pending, 2 for an unknown number."""
    from signalwise.engine.authoring.lint import pending_numbers
    from signalwise.engine.authoring.newcycle import review_policy
    from signalwise.engine.authoring.tree import load_file, load_tree
    from signalwise.engine.errors import InputError, PolicyError, Problem
    from signalwise.engine.load.files import write_atomic
    from signalwise.engine.policy.check import _suggest

    lines: list[str] = []
    report: list[dict[str, Any]] = []
    problems: list[Problem] = []
    pending_any = False
    for name in files:
        tree, _ = load_tree([name])
        f = tree.targets[0]
        if f.problems or f.policy is None or f.text is None:
            raise PolicyError(list(f.problems))
        pending = pending_numbers(f.policy)
        unknown = [c for c in confirm if c != "all" and c not in pending]
        for c in unknown:
            problems.append(Problem(f.display, None, "--confirm", f"'{c}' is not a pending number of this file",
                                    _suggest(c, pending) if pending else "nothing is pending here"))
        if unknown:
            continue
        if not pending and f.policy.raw.get("reviewed", True) is not False:
            lines.append(f"{f.display}: already reviewed")
            report.append({"file": f.display, "cleared": [], "pending": []})
            continue
        review = f.policy.raw.get("review") or {}
        origin_ref = str(review.get("from") or f.policy.supersedes or "")
        origin = tree.known().get(origin_ref.partition("@")[0])
        result = review_policy(f.text, f.policy.raw, origin.raw if origin else None, set(confirm), pending, review)
        write_atomic(f.path, result.text)
        check = load_file(f.path, f.root)
        if check.problems:
            raise PolicyError(list(check.problems))
        for number, why in result.cleared:
            lines.append(f"{f.display}: {number}: reviewed ({why})")
        for number in result.pending:
            lines.append(f"{f.display}: {number}: still pending (unchanged from {origin_ref}; change it, or "
                         f"--confirm {number})")
        lines.append(f"{f.display}: " + ("reviewed: true" if not result.pending
                                         else f"{len(result.pending)} number(s) still pending"))
        pending_any = pending_any or bool(result.pending)
        report.append({"file": f.display, "cleared": [{"number": n, "why": w} for n, w in result.cleared],
                       "pending": result.pending})
    if problems:
        raise InputError(problems)
    _emit(lines, report, fmt, output, "policy-review")
    if pending_any:
        ctx.exit(1)


@policy_group.command("fmt")
@click.argument("files", nargs=-1, type=click.Path())
@click.option("--check", is_flag=True, help="Write nothing; exit 1 listing the files that would change.")
@click.option("--diff", "show_diff", is_flag=True, help="Print a unified diff of each change (with --check too).")
@POLICIES
@FORMAT
@OUTPUT
@click.pass_context
def fmt_command(ctx: click.Context, files: tuple[str, ...], check: bool, show_diff: bool, policies: str | None,
                fmt: str, output: str | None) -> None:
    """Rewrite policy, test-case and model files in the canonical layout: keys in their schema's order,
    two-space indentation, comments kept.

    FILES may be policy roots, folders or files; default: the --policies root, else the bundled policies.
    Exits 1 with --check when a file would change; 2 for YAML that does not parse (file:line).
    """
    from signalwise.engine.authoring.fmt import fmt_files, fmt_targets
    from signalwise.engine.errors import InputError
    from signalwise.engine.load.files import write_atomic
    from signalwise.engine.policy.catalogue import bundled_root

    targets, problems = fmt_targets(_paths(files, policies) or (bundled_root(),))
    if problems:
        raise InputError(problems)
    results = fmt_files(targets)
    changed = [r for r in results if r.changed]
    lines: list[str] = []
    for r in changed:
        lines.append(f"{r.display}: {'would reformat' if check else 'reformatted'}")
        if show_diff or check:
            lines.extend(line.rstrip("\n") for line in r.diff())
        if not check:
            write_atomic(r.path, r.new)
    verb = "would be reformatted" if check else "reformatted"
    lines.append(f"{len(changed)} of {len(results)} files {verb}" if changed
                 else f"{len(results)} files already formatted")
    _emit(lines, {"checked": check, "files": len(results),
                  "changed": [{"file": r.display, "diff": "".join(r.diff())} for r in changed]},
          fmt, output, "policy-fmt")
    if check and changed:
        ctx.exit(1)


@policy_group.command("list")
@FORMAT
@OUTPUT
@click.option("--cycle", help="Only this cycle, e.g. eras-2026.")
@POLICIES
def list_command(fmt: str, output: str | None, cycle: str | None, policies: str | None) -> None:
    """Specialties x cycles: version, application system, signal structure and sources."""
    from signalwise.engine.authoring.listing import list_policies, render_text

    entries = list_policies(_root(policies), cycle)
    text = json.dumps([e.as_json() for e in entries], indent=2) + "\n" if fmt == "json" else render_text(entries)
    emit(text, fmt=fmt, output=output, command="policy-list")


@click.group("schema")
def schema_group() -> None:
    """JSON Schemas for editors."""


@schema_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
def schema_export_command(directory: str) -> None:
    """Write every JSON Schema (profile, programs, policy, policy tests, ...) into DIRECTORY."""
    from importlib.resources import files

    from signalwise.engine.errors import input_error
    from signalwise.engine.load.files import write_atomic

    target = Path(directory)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise input_error(str(target), f"cannot create the folder: {exc.strerror or exc}",
                          hint="give a folder you can write to") from None
    if not target.is_dir():
        raise input_error(str(target), "is not a folder", hint="give a folder for the schema files")
    names = sorted(p.name for p in files("signalwise.schemas").iterdir() if p.name.endswith(".schema.json"))
    for name in names:
        write_atomic(target / name, files("signalwise.schemas").joinpath(name).read_text(encoding="utf-8"))
        echo(f"wrote {target / name}")
    echo(f"{len(names)} schemas in {target}")
