"""`policy lint`: valid policies that a reviewer should still look at.

Validation answers "will this run?"; lint answers "can a reader trust it?": every rule says why it
exists and where that comes from (Clancey's lesson: a rule's justification is separate from its
conditions), numbers live in sourced parameters rather than in conditions, assumptions are listed so
reviewers see them, and the catalogue is current and complete for the newest cycle.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import Problem
from ..load.yamlsafe import Path as YPath
from ..policy.catalogue import Catalogue, Season, match_year_of
from ..policy.model import Policy
from ..records import record
from .tree import Finding, PolicyFile, PolicyTree, display, sort_findings

_SYSTEM = re.compile(r"^(.*)-(\d{4})$")


def lint_tree(tree: PolicyTree, today: dt.date) -> list[Finding]:
    out: list[Finding] = []
    for f in tree.targets:
        if f.policy is not None:
            out += lint_policy(f, f.policy)
            out += unreviewed_findings(f, f.policy)
    for root in tree.roots:
        out += lint_catalogue(root, tree, today)
    return sort_findings(out)


def _line(f: PolicyFile, path: YPath) -> int | None:
    while path and path not in f.positions:
        path = path[:-1]
    return f.positions.get(path)


def _numbers(node: Any, path: YPath) -> Iterator[tuple[YPath, float]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, path + (i,))
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield path, node


def lint_policy(f: PolicyFile, p: Policy) -> list[Finding]:
    """Per-file checks: justification of each rule, literal numbers, assumptions, unknown counts."""
    out: list[Finding] = []
    raw_rules = (f.data or {}).get("rules") or []
    for i, r in enumerate(raw_rules):
        where = ("rules", i)
        rid = r.get("id", f"#{i}")
        for key, why in (("source", "where the rule comes from"), ("because", "the sentence a user reads"),
                         ("rationale", "why the rule exists")):
            if not str(r.get(key) or "").strip():
                out.append(Finding("warning", Problem(f.display, _line(f, where), f"rule {rid}",
                                                      f"has no `{key}`", f"add {why}")))
        for section in ("when", "then"):
            for path, value in _numbers(r.get(section), where + (section,)):
                if value not in (0, 1):
                    out.append(Finding("warning", Problem(
                        f.display, _line(f, path), f"rule {rid}.{section}",
                        f"literal number {value:g} in a condition or assertion",
                        "move it to a sourced `parameters:` entry and refer to it as $ctx.<name>")))
    for name, param in sorted(p.parameters.items()):
        src = p.sources.get(param.source.ref)
        if src is not None and src.reliability == "assumption":
            out.append(Finding("info", Problem(
                f.display, _line(f, ("parameters", name)), f"parameters.{name}",
                f"= {param.value} is a signalwise assumption ({src.title})",
                "reviewers: confirm or replace with a sourced figure")))
    out += _source_findings(f, p)
    info = p.specialty
    if info is not None:
        unknown = [t.name for t in info.tiers if t.count is None]
        if unknown and not info.signals_note:
            out.append(Finding("warning", Problem(
                f.display, _line(f, ("signals",)), "signals",
                f"count of {', '.join(unknown)} is unknown and no note says why",
                "add `signals.note` explaining what is and is not known")))
        out += _count_source_findings(f, p)
    return out


INTERNAL = ("guide", "assumption")  # reliabilities of sources that are not public pages


def _source_findings(f: PolicyFile, p: Policy) -> list[Finding]:
    """A public source needs an address, so a reader can check it."""
    return [Finding("warning", Problem(f.display, _line(f, ("sources", key)), f"sources.{key}",
                                       f"'{src.title}' has no URL",
                                       "add the page's address (`url:`), or say in `note:` why there is none"))
            for key, src in sorted(p.sources.items()) if src.reliability not in INTERNAL and not src.url]


# A finding about a source itself, not about the season it names: when a cycle is copied with its sources
# unchanged, a reason accepted for the old file holds for the copy (`newcycle.carry_accepted`).
ONE_SECONDARY_SOURCE = "rests on one secondary [C] source"


def _count_source_findings(f: PolicyFile, p: Policy) -> list[Finding]:
    """Known counts resting on one secondary source, or on a page not recorded as naming the cycle."""
    info = p.specialty
    assert info is not None
    known = [t for t in info.tiers if t.count is not None]
    src = p.sources.get(info.signals_source.ref)
    if not known or src is None:
        return []
    out: list[Finding] = []
    where = _line(f, ("signals", "source"))
    others = [p.sources[k] for k in info.corroborated_by if k in p.sources]
    if src.reliability == "C" and not others:
        out.append(Finding("warning", Problem(
            f.display, where, "signals.source",
            f"the {info.cycle} count {ONE_SECONDARY_SOURCE} ('{src.title}')",
            "find an official or peer-reviewed source, or list a second source in `signals.corroborated_by`")))
    if info.cycle not in src.cycles:
        out.append(Finding("warning", Problem(
            f.display, where, "signals.source",
            f"the {info.cycle} count cites '{src.title}', which is not recorded as naming {info.cycle}",
            f"if the page names the season, add `cycles: [{info.cycle}]` to the source; otherwise find one that "
            "does")))
    return out


def _system_and_year(cycle: str) -> tuple[str, int]:
    m = _SYSTEM.match(cycle)
    return (m.group(1), int(m.group(2))) if m else (cycle, 0)


def lint_catalogue(root: Path, tree: PolicyTree, today: dt.date) -> list[Finding]:
    """Checks of the catalogue as a whole: a current cycle exists, no specialty silently disappears."""
    out: list[Finding] = []
    cat = Catalogue(root)
    cycles = cat.cycles()
    if not cycles:
        return out
    folder = root / "cycles"
    newest = max(cycles, key=lambda c: (match_year_of(c), c))
    if match_year_of(newest) < today.year:
        system = _system_and_year(newest)[0]
        out.append(Finding("warning", Problem(
            display(folder / newest), None, "cycles",
            f"the newest cycle is {newest}, older than {today.year}",
            f"create this year's: `signalwise policy new-cycle --from {newest} --to {system}-{today.year}`")))
    policies = [f for f in tree.files if f.policy and f.policy.specialty and f.root == root]
    newest_by_specialty: dict[str, PolicyFile] = {}
    for f in policies:
        assert f.policy and f.policy.specialty
        key = f.policy.specialty.specialty
        cur = newest_by_specialty.get(key)
        # ordered by the cycle's own year, so a wrong `match_year` never makes another file the newest
        if cur is None or (cur.policy and cur.policy.specialty
                           and match_year_of(f.policy.specialty.cycle) > match_year_of(cur.policy.specialty.cycle)):
            newest_by_specialty[key] = f
    for spec, f in sorted(newest_by_specialty.items()):
        p = f.policy
        if p and p.effective_to and str(p.effective_to) < today.isoformat():
            out.append(Finding("warning", Problem(
                f.display, _line(f, ("effective", "to")), "effective.to",
                f"{p.id} ended on {p.effective_to} and is the newest policy for {spec}",
                "start the next cycle with `signalwise policy new-cycle`")))
    out += _cycle_successor_findings(cat, folder, today)
    out += _model_findings(root)
    by_system: dict[str, list[str]] = defaultdict(list)
    for c in cycles:
        by_system[_system_and_year(c)[0]].append(c)
    by_year: dict[int, set[str]] = defaultdict(set)
    for c in cycles:
        by_year[_system_and_year(c)[1]].update(cat.specialties(c))
    for system_cycles in by_system.values():
        ordered = sorted(system_cycles, key=lambda c: _system_and_year(c)[1])
        for prev, nxt in zip(ordered, ordered[1:], strict=False):
            # a specialty that moved to another application system that year is not missing
            missing = sorted(set(cat.specialties(prev)) - by_year[_system_and_year(nxt)[1]])
            for spec in missing:
                out.append(Finding("warning", Problem(
                    display(folder / nxt), None, "cycles",
                    f"'{spec}' has a policy in {prev} but none in {nxt}",
                    f"copy and update it, or add one with `signals.structure: none` if {spec} stopped "
                    "signaling")))
    return out


def _cycle_successor_findings(cat: Catalogue, folder: Path, today: dt.date) -> list[Finding]:
    """A cycle whose season has ended needs a successor: a later cycle of its system, or (for a specialty
    that moved to another application system) a later cycle elsewhere."""
    out: list[Finding] = []
    all_seasons = cat.seasons()
    by_cycle: dict[str, list[Season]] = defaultdict(list)
    for season in all_seasons:
        by_cycle[season.cycle].append(season)
    for cycle, items in sorted(by_cycle.items()):
        if not all(s.state_on(today) == "ended" for s in items):
            continue
        system, year = _system_and_year(cycle)
        if any(_system_and_year(c)[0] == system and _system_and_year(c)[1] > year for c in by_cycle):
            continue
        moved = all(any(o.specialty == s.specialty and _system_and_year(o.cycle)[1] > year for o in all_seasons)
                    for s in items)
        if moved:
            continue
        ends = sorted({s.end for s in items if s.end})
        when = f"on {ends[-1]}" if ends else f"with the {year} Match"
        out.append(Finding("warning", Problem(
            display(folder / cycle), None, "cycles",
            f"{cycle} ended {when} and has no successor",
            f"start the next one: `signalwise policy new-cycle --from {cycle} --to {system}-{year + 1}`")))
    return out


def _model_findings(root: Path) -> list[Finding]:
    """Interview-rate models (policies/models/): every public source has an address."""
    from ..errors import InputError
    from ..plan.interview_model import load_model_file

    out: list[Finding] = []
    folder = root / "models"
    for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        try:
            model = load_model_file(path, display(path))
        except InputError:
            continue  # `policy validate` reports broken models
        for key, src in sorted(model.sources.items()):
            if src.reliability not in INTERNAL and not src.url:
                out.append(Finding("warning", Problem(model.file, None, f"sources.{key}",
                                                      f"'{src.title}' has no URL",
                                                      "add the page's address (`url:`)")))
    return out


# ---------------------------------------------------------------- review state

def pending_numbers(p: Policy) -> list[str]:
    """The numbers of a `reviewed: false` policy still to check: `review.pending` when `new-cycle` wrote it,
    else every signal count, the home rule and every parameter (a file marked by hand)."""
    if p.raw.get("reviewed", True) is not False:
        return []
    review = p.raw.get("review") or {}
    if "pending" in review:
        return [str(x) for x in review.get("pending") or []]
    return copied_numbers(p.raw)


def copied_numbers(raw: dict[str, Any]) -> list[str]:
    """Dotted names of every count and parameter a copy carries over: what a reviewer must confirm."""
    out = [f"signals.tiers.{t['name']}.count" for t in (raw.get("signals") or {}).get("tiers") or []
           if isinstance(t, dict) and "name" in t]
    if isinstance(raw.get("home_rule"), dict):
        out.append("home_rule.value")
    out += [f"parameters.{name}.value" for name in sorted(raw.get("parameters") or {})]
    return out


def unreviewed_findings(f: PolicyFile, p: Policy) -> list[Finding]:
    """One error per number still copied and unchecked: an unreviewed cycle cannot pass the gate."""
    from ..policy.check import path_for

    review = p.raw.get("review") or {}
    origin = review.get("from") or p.supersedes or "an earlier cycle"
    when = f" on {review['date']}" if review.get("date") else ""
    out = []
    for name in pending_numbers(p):
        path = path_for(f.data, name)
        value = _value_at(f.data, path) if path else None
        shown = "null" if value is None else value
        out.append(Finding("error", Problem(
            f.display, _line(f, path or ("reviewed",)), name,
            f"= {shown} copied from {origin}{when} and not reviewed",
            f"set the {p.specialty.cycle if p.specialty else 'new'} value with its source, or confirm it: "
            f"`signalwise policy review {f.display} --confirm {name}`")))
    return out


def _value_at(data: Any, path: YPath) -> Any:
    for part in path:
        data = data[part]
    return data


# ---------------------------------------------------------------- accepted findings (the baseline)

BASELINE = "lint-baseline.yaml"


@record
class Accepted:
    file: str
    field: str | None
    message: str
    reason: str
    line: int | None

    def matches(self, finding: Finding) -> bool:
        p = finding.problem
        where = p.file.replace("\\", "/")
        return ((where == self.file or where.endswith("/" + self.file))
                and (self.field is None or self.field == p.field) and self.message in p.message)


@record(frozen=False)
class Gate:
    """Lint findings split by the baseline: open ones decide the exit code; accepted ones are counted."""

    open: list[Finding]
    accepted: list[Finding]

    def failing(self, strict: bool) -> list[Finding]:
        levels = ("error", "warning") if strict else ("error",)
        return [f for f in self.open if f.severity in levels]


def load_baseline(path: Path) -> tuple[list[Accepted], list[Finding]]:
    """`<root>/lint-baseline.yaml`: `accepted: [{file, field, message, reason}]`; problems as errors."""
    from ..errors import InputError
    from ..load.files import read_text
    from ..load.yamlsafe import load_yaml_text

    if not path.is_file():
        return [], []
    name = display(path)
    try:
        data, positions = load_yaml_text(read_text(path), name)
    except InputError as exc:
        return [], [Finding("error", x) for x in exc.problems]
    entries = (data or {}).get("accepted") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return [], [Finding("error", Problem(name, 1, "accepted", "expected a list of accepted findings",
                                             "accepted: [{file, field, message, reason}]"))]
    out: list[Accepted] = []
    problems: list[Finding] = []
    for i, e in enumerate(entries):
        line = positions.get(("accepted", i))
        if not isinstance(e, dict):
            problems.append(Finding("error", Problem(name, line, f"accepted[{i}]", "expected a mapping")))
            continue
        unknown = sorted(set(e) - {"file", "field", "message", "reason"})
        missing = [k for k in ("file", "message", "reason") if not str(e.get(k) or "").strip()]
        if unknown or missing:
            what = (f"unknown key(s) {', '.join(unknown)}" if unknown else "") + \
                ("; " if unknown and missing else "") + (f"needs {', '.join(missing)}" if missing else "")
            problems.append(Finding("error", Problem(
                name, line, f"accepted[{i}]", what,
                "every accepted finding names its file, (part of) its message and the reason it is accepted")))
            continue
        out.append(Accepted(str(e["file"]), str(e["field"]) if e.get("field") else None, str(e["message"]),
                            str(e["reason"]), line))
    return out, problems


def apply_baseline(findings: list[Finding], roots: tuple[Path, ...], linted: set[Path] | None = None) -> Gate:
    """Accept the warnings each root's baseline lists with a reason. Errors (unreviewed numbers) are never
    accepted; an entry that matches no finding is itself a warning, so the baseline only shrinks. With
    `linted` (the resolved files linted), only entries about those files can be stale: linting one file (as a
    pre-commit hook does) says nothing about the others' entries."""
    entries: list[tuple[Path, Accepted]] = []
    extra: list[Finding] = []
    for root in roots:
        loaded, problems = load_baseline(root / BASELINE)
        entries += [(root, e) for e in loaded]
        extra += problems
    used: set[int] = set()
    open_: list[Finding] = []
    accepted: list[Finding] = []
    for f in findings:
        hit = next((i for i, (_, e) in enumerate(entries) if e.matches(f)), None)
        if hit is None or f.severity == "info":
            open_.append(f)
            continue
        used.add(hit)
        root, e = entries[hit]
        if f.severity == "error":
            open_.append(f)
            extra.append(Finding("error", Problem(display(root / BASELINE), e.line, "accepted",
                                                  f"accepts an error ({f.problem.field}: {f.problem.message})",
                                                  "errors cannot be accepted: fix them")))
        else:
            accepted.append(f)
    for i, (root, e) in enumerate(entries):
        about = (root / e.file).resolve()
        judged = linted is None or about in linted or (not about.exists() and _whole_root(root, linted))
        if i not in used and judged:
            extra.append(Finding("warning", Problem(display(root / BASELINE), e.line, "accepted",
                                                    f"accepts '{e.message}' in {e.file}, which lint no longer finds",
                                                    "remove the entry")))
    return Gate(sort_findings(open_ + extra), sort_findings(accepted))


def _whole_root(root: Path, linted: set[Path]) -> bool:
    from .tree import root_files

    return {p.resolve() for p in root_files(root)} <= linted
