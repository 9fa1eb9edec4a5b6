"""`policy validate`: schema and semantic checks over policy files, every problem at its line.

Schema checks run when a file is loaded (`policy.loader`); semantic checks are `policy.check`'s, run on
every policy set an evaluation could use (all guidance alone, and all guidance with each specialty
policy). This module adds what only a view of the whole tree can see: file locations that disagree
with a file's `id`/`cycle`/`specialty`, effective dates in the wrong order, `supersedes` naming a
policy that does not exist, policy ids and parameters defined twice. It also moves problems reported
without a line (or at a rule's first line) to the line that holds the offending name.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError, Problem
from ..load.yamlsafe import Path as YPath
from ..policy.check import line_of, locate_in, policy_set_problems
from ..policy.model import Policy, PolicySet
from ..records import record
from .tree import Finding, PolicyFile, PolicyTree, sort_findings


@record
class Summary:
    policies: int
    rules: int
    quota_rows: int

    def render(self) -> str:
        return (f"{self.policies} {'policy' if self.policies == 1 else 'policies'}, "
                f"{self.rules + self.quota_rows} rules "
                f"({self.rules} authored, {self.quota_rows} from quota-table rows)")


def summarize(tree: PolicyTree) -> Summary:
    ps = tree.target_policies()
    return Summary(len(ps), sum(len(p.rules) for p in ps),
                   sum(len(t.rows) for p in ps for t in p.quota_tables))


def validate_tree(tree: PolicyTree) -> list[Finding]:
    """Every problem in the named files (and in the guidance they are checked with), sorted by file:line."""
    problems: list[Problem] = []
    for f in tree.targets:
        problems.extend(f.problems)
    for f in tree.context:
        if f.policy is None and f.suite == "guidance":
            problems.extend(f.problems)
    guidance = tree.guidance()
    targets = tree.target_policies()
    if targets or guidance:
        sets = [PolicySet(guidance, None)] + [PolicySet(guidance, s) for s in tree.specialties()]
        if tree.has_suite("tracking"):
            sets.append(PolicySet(tree.guidance("tracking"), None))
        for ps in sets:
            problems.extend(policy_set_problems(ps))
            problems.extend(_parameter_problems(ps))
    findings = [Finding("error", p) for p in problems]
    for f in tree.targets:
        if f.policy is not None:
            findings.extend(_tier_findings(f, f.policy, guidance))
            findings.extend(_location_findings(f, f.policy))
            findings.extend(_effective_findings(f, f.policy))
            findings.extend(_supersedes_findings(f, f.policy, tree.known()))
            findings.extend(_specialty_findings(f, f.policy))
    findings.extend(_duplicate_policy_ids(tree))
    findings.extend(cycle_findings(tree))
    files = tree.by_display()
    return sort_findings([Finding(x.severity, locate(x.problem, files)) for x in findings])


def errors_in(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


# ---------------------------------------------------------------- checks of the whole tree

def _line(f: PolicyFile, path: YPath) -> int | None:
    return line_of(f.positions, path)


def _location_findings(f: PolicyFile, p: Policy) -> list[Finding]:
    out: list[Finding] = []
    folder = f.cycle_folder
    if f.suite and p.kind != "guidance":
        out.append(Finding("error", Problem(f.display, _line(f, ("kind",)), "kind",
                                            f"a {p.kind} policy in {f.suite}/",
                                            "specialty policies live in cycles/<cycle>/<specialty>.yaml")))
    if folder and p.kind != "specialty":
        out.append(Finding("error", Problem(f.display, _line(f, ("kind",)), "kind",
                                            f"a {p.kind} policy in cycles/{folder}/",
                                            "guidance policies live in guidance/")))
    info = p.specialty
    if info is None:
        return out
    cycle = folder or info.cycle
    specialty = f.path.stem if folder else info.specialty
    if folder and info.cycle != folder:
        out.append(Finding("error", Problem(f.display, _line(f, ("cycle",)), "cycle",
                                            f"says '{info.cycle}' but the file is in cycles/{folder}/",
                                            f"set `cycle: {folder}` or move the file")))
    if folder and info.specialty != f.path.stem:
        out.append(Finding("error", Problem(f.display, _line(f, ("specialty",)), "specialty",
                                            f"says '{info.specialty}' but the file is named {f.path.name}",
                                            f"set `specialty: {f.path.stem}` or rename the file")))
    expected = f"{cycle}.{specialty}"
    if p.id != expected:
        out.append(Finding("error", Problem(f.display, _line(f, ("id",)), "id",
                                            f"'{p.id}' does not match the file's cycle and specialty",
                                            f"expected '{expected}'")))
    return out


def _specialty_findings(f: PolicyFile, p: Policy) -> list[Finding]:
    """The specialty is in the registry; corroborating sources exist; an `assumed` cycle states no count."""
    from ..policy.catalogue import bundled_root
    from ..policy.specialties import load_registry

    info = p.specialty
    if info is None:
        return []
    out: list[Finding] = []
    try:
        registry = load_registry(f.root or bundled_root())
    except InputError as exc:
        return [Finding("error", x) for x in exc.problems]
    if registry is not None and registry.get(info.specialty) is None:
        hint = (f"did you mean '{registry.resolve(info.specialty)}'? " if registry.resolve(info.specialty) else "")
        out.append(Finding("error", Problem(f.display, _line(f, ("specialty",)), "specialty",
                                            f"'{info.specialty}' is not an id in {registry.file}",
                                            hint + "add it there (with its aliases) or use a listed id")))
    for i, key in enumerate(info.corroborated_by):
        if key not in p.sources:
            out.append(Finding("error", Problem(f.display, _line(f, ("signals", "corroborated_by", i)),
                                                f"signals.corroborated_by[{i}]", f"unknown source '{key}'",
                                                f"sources: {', '.join(sorted(p.sources))}")))
    if info.status == "assumed":
        for i, t in enumerate(info.tiers):
            if t.count is not None:
                out.append(Finding("error", Problem(
                    f.display, _line(f, ("signals", "tiers", i, "count")), f"signals.tiers[{i}].count",
                    f"{p.id} has `status: assumed` but states {t.count} {t.name} signals",
                    "an assumed (unannounced) cycle has no counts: write `count: null` and say in signals.note "
                    "what was searched, or set `status: announced` with the announcement as the source")))
    return out


def _tier_findings(f: PolicyFile, p: Policy, guidance: tuple[Policy, ...]) -> list[Finding]:
    """Every signal tier needs a quota table for its level, or the allocator has no ratios for it."""
    info = p.specialty
    if info is None or info.structure == "none" or not guidance:
        return []
    tables = [t for g in guidance for t in g.quota_tables]
    out = []
    for i, tier in enumerate(info.tiers):
        if not any(t.level == tier.name and t.structure in (None, info.structure) for t in tables):
            known = sorted({t.level for t in tables if t.structure in (None, info.structure)})
            out.append(Finding("error", Problem(
                f.display, _line(f, ("signals", "tiers", i)), f"signals.tiers[{i}].name",
                f"no quota table allocates '{tier.name}' signals for a {info.structure} structure",
                f"tier names the guidance knows for {info.structure}: {', '.join(known) or 'none'}")))
    return out


def _effective_findings(f: PolicyFile, p: Policy) -> list[Finding]:
    if p.effective_from and p.effective_to and str(p.effective_from) > str(p.effective_to):
        return [Finding("error", Problem(f.display, _line(f, ("effective", "from")), "effective",
                                         f"from {p.effective_from} is after to {p.effective_to}",
                                         "swap the dates"))]
    return []


def _supersedes_findings(f: PolicyFile, p: Policy, known: dict[str, Policy]) -> list[Finding]:
    if not p.supersedes:
        return []
    old_id, _, old_version = p.supersedes.partition("@")
    line = _line(f, ("supersedes",))
    if old_id == p.id:
        return [Finding("error", Problem(f.display, line, "supersedes", "a policy cannot supersede itself"))]
    old = known.get(old_id)
    if old is None:
        return [Finding("error", Problem(f.display, line, "supersedes",
                                         f"names '{p.supersedes}', but no policy '{old_id}' was found",
                                           "check the id, or remove `supersedes` if there was no earlier "
                                           "policy"))]
    if old.version != old_version:
        return [Finding("warning", Problem(f.display, line, "supersedes",
                                           f"names version {old_version} of '{old_id}', which is at "
                                           f"{old.version} ({old.file})", f"write `{old_id}@{old.version}`"))]
    return []


def _system_year(cycle: str) -> tuple[str, int]:
    m = re.match(r"^(.*)-(\d{4})$", cycle)
    return (m.group(1), int(m.group(2))) if m else (cycle, 0)


def cycle_findings(tree: PolicyTree) -> list[Finding]:
    """Cycles checked against each other: `match_year` agrees with the cycle's year, and one system's
    cycles of a specialty have effective windows that follow each other without overlapping. The later
    policy is blamed, at its own `effective.from` line, when either file is one the author named."""
    out: list[Finding] = []
    targets = {f.path.resolve() for f in tree.targets}
    for f in tree.targets:
        info = f.policy.specialty if f.policy else None
        if info is None:
            continue
        year = _system_year(info.cycle)[1]
        if year and info.match_year != year:
            out.append(Finding("error", Problem(
                f.display, _line(f, ("match_year",)), "match_year",
                f"{info.match_year} disagrees with cycle '{info.cycle}'",
                f"a {info.cycle} policy is for the {year} Match: write `match_year: {year}`")))
    chains: dict[tuple[Any, str, str], list[PolicyFile]] = {}
    for f in tree.files:
        info = f.policy.specialty if f.policy else None
        if info is None or f.policy is None or not (f.policy.effective_from and f.policy.effective_to):
            continue
        chains.setdefault((f.root, _system_year(info.cycle)[0], info.specialty), []).append(f)
    for files in chains.values():
        ordered = sorted(files, key=lambda x: (_system_year(x.policy.specialty.cycle)[1]
                                               if x.policy and x.policy.specialty else 0, x.display))
        for prev, nxt in zip(ordered, ordered[1:], strict=False):
            if not ({prev.path.resolve(), nxt.path.resolve()} & targets):
                continue
            a, b = prev.policy, nxt.policy
            assert a is not None and b is not None
            if str(b.effective_from) <= str(a.effective_to):
                out.append(Finding("error", Problem(
                    nxt.display, _line(nxt, ("effective", "from")), "effective",
                    f"{b.id} opens on {b.effective_from}, before {a.id} ends on {a.effective_to} "
                    f"({prev.display}): the windows overlap",
                    f"a cycle starts after the previous one ends: set `effective.from` after {a.effective_to}, "
                    f"or correct {prev.display}")))
    return out


def _duplicate_policy_ids(tree: PolicyTree) -> list[Finding]:
    first: dict[str, PolicyFile] = {}
    out = []
    for f in tree.context + tree.targets:
        if f.policy is None:
            continue
        other = first.setdefault(f.policy.id, f)
        if other is not f and f in tree.targets:
            out.append(Finding("error", Problem(f.display, _line(f, ("id",)), "id",
                                                f"policy id '{f.policy.id}' is also used by {other.display}",
                                                "policy ids must be unique")))
    return out


def _parameter_problems(ps: PolicySet) -> list[Problem]:
    owners: dict[str, Policy] = {}
    out = []
    for p in ps.policies:
        for name in p.parameters:
            if name in owners:
                out.append(Problem(p.file, None, f"parameters.{name}",
                                   f"parameter also defined in {owners[name].file}",
                                   "parameters share one namespace across policies: rename one of them"))
            owners.setdefault(name, p)
    return out


def locate(problem: Problem, files: dict[str, PolicyFile]) -> Problem:
    """Point a problem at the line of the name it complains about (`policy.check.locate_in`)."""
    f = files.get(problem.file)
    if f is None:
        return problem
    return locate_in(problem, f.data, f.positions)
