"""`signalwise policy ...` and `signalwise schema ...`: the policy author's tools.

Exit codes: 0 fine; 1 tests failed, no test ran, or `lint --strict` found warnings; 2 invalid policies,
test files or options. Problems print as `file:line: field: message (hint)`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from .output import echo

PATHS = click.argument("paths", nargs=-1, type=click.Path())
POLICIES = click.option("--policies", "policies", type=click.Path(file_okay=False),
                        help="Policy root (with guidance/ and cycles/); default: the bundled policies.")
FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                      show_default=True)


def _root(policies: str | None) -> Path:
    from signalwise.engine.catalogue import bundled_root

    return Path(policies) if policies else bundled_root()


def _today(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-06-01", param_hint="--today") from None


@click.group("policy")
def policy_group() -> None:
    """Validate, test, diff, lint, copy and list policy files."""


@policy_group.command("validate")
@PATHS
@click.pass_context
def validate_command(ctx: click.Context, paths: tuple[str, ...]) -> None:
    """Check policies against the schema and each other; every problem with file:line.

    PATHS may be policy roots (folders with guidance/ and cycles/), folders of policy files, or files;
    default: the bundled policies.
    """
    from signalwise.engine.authoring.tree import load_tree
    from signalwise.engine.authoring.validate import errors_in, summarize, validate_tree
    from signalwise.engine.errors import InputError

    tree, missing = load_tree(paths)
    if missing:
        raise InputError(missing)
    findings = validate_tree(tree)
    for f in findings:
        echo(f.render())
    errors = errors_in(findings)
    warnings = len(findings) - len(errors)
    tail = f"; {warnings} warning(s)" if warnings else ""
    if errors:
        echo(f"invalid: {len(errors)} error(s){tail}")
        ctx.exit(2)
    echo(f"valid: {summarize(tree).render()}{tail}")


@policy_group.command("test")
@PATHS
@click.option("-k", "match", help="Run only cases whose name contains this text.")
@click.pass_context
def test_command(ctx: click.Context, paths: tuple[str, ...], match: str | None) -> None:
    """Run the data-driven test cases (tests/*.yaml of a policy root) and report coverage.

    PATHS may be policy roots, tests folders or test files; default: the bundled policies' tests.
    Exits 1 when a case fails or when no case ran.
    """
    from signalwise.engine.authoring.testing import (
        Case,
        case_files,
        load_cases,
        rule_universe,
        run_case,
        uncovered,
    )
    from signalwise.engine.errors import InputError

    files, problems = case_files(paths)
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
    current = None
    for case in cases:
        if case.display != current:
            current = case.display
            echo(current)
        result = run_case(case)
        results.append(result)
        echo(f"  {'ok  ' if result.passed else 'FAIL'}  {case.name}  ({case.where})")
        for line in result.failures:
            echo(f"        {line}")
    failed = [r for r in results if not r.passed]
    echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    ran = {path.resolve() for path, _ in files}
    for root in dict.fromkeys(c.root for c in cases) if match is None else ():
        universe = rule_universe(root)
        never = uncovered([r for r in results if r.case.root == root], universe)
        echo(f"coverage: {len(universe) - len(never)} of {len(universe)} rules fired in some case")
        complete = {p.resolve() for p, _ in case_files([root])[0]} <= ran
        for rule in never if complete else ():
            echo(f"  never fired: {rule.file}:{rule.line}: {rule.id}")
        if never and not complete:
            echo("  (run every case file of the policies to list the rules no case fires)")
    if not results:
        echo("no test case ran" + (f" (none matches -k {match!r})" if match else ""))
        ctx.exit(1)
    if failed:
        ctx.exit(1)


@policy_group.command("diff")
@click.argument("old")
@click.argument("new")
@FORMAT
@POLICIES
def diff_command(old: str, new: str, fmt: str, policies: str | None) -> None:
    """What changed from OLD to NEW: rules added, removed and changed, and every changed number.

    OLD and NEW are two policy files, two folders, or two cycle ids (e.g. eras-2024 eras-2025) looked
    up in the policy root; folders and cycles pair their files by specialty.
    """
    from signalwise.engine.authoring.diff import diff_paths, render_text

    result = diff_paths(old, new, _root(policies))
    if fmt == "json":
        echo(json.dumps(result.as_json(), indent=2, sort_keys=True, default=str), fmt="json")
    else:
        echo(render_text(result), nl=False)


@policy_group.command("lint")
@PATHS
@click.option("--strict", is_flag=True, help="Exit 1 when there are warnings.")
@click.option("--today", "today", metavar="DATE", help="Judge staleness as of this date (default: today).")
@click.pass_context
def lint_command(ctx: click.Context, paths: tuple[str, ...], strict: bool, today: str | None) -> None:
    """Warn about rules without source, because or rationale, literal numbers, assumptions, stale cycles
    and specialties missing from a cycle."""
    from signalwise.engine.authoring.lint import lint_tree
    from signalwise.engine.authoring.tree import load_tree
    from signalwise.engine.errors import PolicyError

    tree, missing = load_tree(paths)
    broken = missing + [p for f in tree.targets for p in f.problems]
    if broken:
        raise PolicyError(broken)
    findings = lint_tree(tree, _today(today))
    for f in findings:
        echo(f.render())
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("warning", "info")}
    echo(f"{counts['warning']} warning(s), {counts['info']} info in {len(tree.targets)} policies")
    if strict and counts["warning"]:
        ctx.exit(1)


@policy_group.command("new-cycle")
@click.option("--from", "old", required=True, help="The cycle to copy, e.g. eras-2026.")
@click.option("--to", "new", required=True, help="The cycle to create, e.g. eras-2027.")
@POLICIES
@click.option("--today", "today", metavar="DATE", hidden=True, help="Date for the changelog entry.")
def new_cycle_command(old: str, new: str, policies: str | None, today: str | None) -> None:
    """Copy every specialty policy of a cycle into a new cycle folder, ready to edit."""
    from signalwise.engine.authoring.newcycle import plan_new_cycle, write_new_cycle
    from signalwise.engine.authoring.tree import display, load_tree
    from signalwise.engine.authoring.validate import errors_in, validate_tree
    from signalwise.engine.errors import PolicyError

    files = plan_new_cycle(_root(policies), old, new, _today(today))
    folder = write_new_cycle(files)
    for f in files:
        echo(f"wrote {display(f.target)} (from {display(f.source)})")
    tree, _ = load_tree([folder])
    errors = errors_in(validate_tree(tree))
    if errors:
        raise PolicyError([e.problem for e in errors])
    echo(f"{len(files)} policies copied to {display(folder)}; they validate. "
               f"Now check every count, source and date for {new}.")


@policy_group.command("list")
@FORMAT
@click.option("--cycle", help="Only this cycle, e.g. eras-2026.")
@POLICIES
def list_command(fmt: str, cycle: str | None, policies: str | None) -> None:
    """Specialties x cycles: version, application system, signal structure and sources."""
    from signalwise.engine.authoring.listing import list_policies, render_text

    entries = list_policies(_root(policies), cycle)
    if fmt == "json":
        echo(json.dumps([e.as_json() for e in entries], indent=2), fmt="json")
    else:
        echo(render_text(entries), nl=False)


@click.group("schema")
def schema_group() -> None:
    """JSON Schemas for editors."""


@schema_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False))
def schema_export_command(directory: str) -> None:
    """Write every JSON Schema (profile, programs, policy, policy tests, ...) into DIRECTORY."""
    from importlib.resources import files

    from signalwise.engine.errors import input_error
    from signalwise.engine.files import write_atomic

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
