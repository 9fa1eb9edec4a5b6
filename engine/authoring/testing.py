"""`policy test`: data-driven cases kept next to the policies, run through the real pipeline.

A case file (`<root>/tests/*.yaml`, schema `policy-test`) lists inputs and the outcome the policies
must produce. Like Cedar's `reason` and Kyverno's per-rule results, `fired` is a subset ("these must
fire"); `not_fired` guards false positives. A failure says what was missing, what was unexpected, and
for each missing rule the values its conditions saw (`engine.conditions`), so an author sees which
test of which pattern stopped it. Coverage lists the rules no case fires: a rule nobody tests is a
rule nobody knows works (Kyverno #2169).
"""

from __future__ import annotations

import copy
import fnmatch
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml

from ..chain.conditions import best_match
from ..chain.context import parse_signals_option
from ..errors import InputError, PolicyError, Problem, SignalwiseError
from ..load.files import read_text
from ..load.schemas import schema_problems
from ..load.yamlsafe import Path as YPath
from ..load.yamlsafe import load_yaml_text
from ..policy.catalogue import Catalogue, bundled_root
from ..policy.compiler import all_rules
from ..policy.model import PolicySet, Rule
from ..records import record
from .tree import display, find_root

MERGED_INPUTS = ("profile", "specialty_policy")  # merged field by field over `defaults`
INPUT_KEYS = ("profile", "profile_file", "programs", "programs_file", "signals", "specialty", "cycle",
              "specialty_policy")


@record
class Case:
    file: Path
    display: str
    index: int
    line: int | None
    name: str
    inputs: dict[str, Any]
    expect: dict[str, Any]
    root: Path
    positions: dict[YPath, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def where(self) -> str:
        return f"{self.display}:{self.line}" if self.line else self.display

    @property
    def id(self) -> str:
        return f"{self.file.stem}: {self.name}"

    def line_of(self, section: str, path: YPath = ()) -> int | None:
        """The line of `section` + `path` in this case, else in the file's defaults, else the case's."""
        for prefix in (("cases", self.index, section), ("defaults", section)):
            p = prefix + path
            while len(p) >= len(prefix):
                if p in self.positions:
                    return self.positions[p]
                p = p[:-1]
        return self.line


@record(frozen=False)
class CaseResult:
    case: Case
    failures: list[str] = field(default_factory=list)
    fired: frozenset[str] = frozenset()

    @property
    def passed(self) -> bool:
        return not self.failures


def deep_merge(base: Any, over: Any) -> Any:
    """`over` on top of `base`: mappings merge key by key, a null removes a key, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = deep_merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    return copy.deepcopy(over)


# ---------------------------------------------------------------- finding and loading cases

def case_files(paths: Sequence[str | Path]) -> tuple[list[tuple[Path, Path]], list[Problem]]:
    """(test file, policy root) for every case file named: a root, a tests folder, or files."""
    out: list[tuple[Path, Path]] = []
    problems: list[Problem] = []
    for raw in list(paths) or [bundled_root()]:
        p = Path(raw)
        if p.is_dir():
            folder = p / "tests" if (p / "tests").is_dir() and (p / "guidance").is_dir() else p
            files = sorted(x for x in folder.iterdir() if x.is_file() and x.suffix in (".yaml", ".yml"))
            out.extend((f, _root_for(f)) for f in files)
        elif p.is_file():
            out.append((p, _root_for(p)))
        else:
            problems.append(Problem(str(raw), None, None, "no such file or folder",
                                    "give a policy root, its tests/ folder or a test file"))
    return out, problems


def _root_for(test_file: Path) -> Path:
    return find_root(test_file.resolve()) or bundled_root()


def load_cases(path: Path, root: Path) -> tuple[list[Case], list[Problem]]:
    """Read one case file; schema problems come back with file:line."""
    name = display(path)
    try:
        text = read_text(path)
        data, positions = load_yaml_text(text, name)
    except InputError as exc:
        return [], list(exc.problems)
    problems = schema_problems("policy-test", data, name, positions)
    if problems:
        return [], problems
    defaults = data.get("defaults") or {}
    cases = []
    for i, raw in enumerate(data["cases"]):
        inputs: dict[str, Any] = {}
        for key in INPUT_KEYS:
            if key in raw and key in MERGED_INPUTS:
                inputs[key] = deep_merge(defaults.get(key) or {}, raw[key])
            elif key in raw:
                if raw[key] is not None:  # null drops the file's default
                    inputs[key] = copy.deepcopy(raw[key])
            elif key in defaults:
                inputs[key] = copy.deepcopy(defaults[key])
        for a, b in (("profile", "profile_file"), ("programs", "programs_file")):
            if a in raw and b in raw:
                problems.append(Problem(name, positions.get(("cases", i, b)), f"cases[{i}].{b}",
                                        f"give either `{a}` or `{b}`, not both"))
            if a in raw:
                inputs.pop(b, None)
            elif b in raw:
                inputs.pop(a, None)
            if a not in inputs and b not in inputs:
                problems.append(Problem(name, positions.get(("cases", i)), f"cases[{i}]",
                                        f"no `{a}` or `{b}`", "give one in the case or in `defaults`"))
        cases.append(Case(path, name, i, positions.get(("cases", i)), raw["name"], inputs, raw["expect"],
                          root, positions))
    names = [c.name for c in cases]
    for c in cases:
        if names.count(c.name) > 1 and names.index(c.name) != c.index:
            problems.append(Problem(name, c.line, f"cases[{c.index}].name",
                                    f"case name '{c.name}' is used twice", "give each case its own name"))
    return cases, problems


# ---------------------------------------------------------------- running one case

def evaluate_case(case: Case) -> tuple[Any, dict[str, Any]]:
    """The case's evaluation and report; problems in its inputs come back at the case's lines."""
    from ..explain.report import build_report
    from ..pipeline import evaluate

    with tempfile.TemporaryDirectory(prefix="signalwise-case-") as tmp:
        try:
            ev = evaluate(_request(case, Path(tmp)))
        except PolicyError:
            raise
        except InputError as exc:
            raise InputError(_relocate(exc.problems, case, Path(tmp))) from None
        return ev, build_report(ev)


def run_case(case: Case) -> CaseResult:
    """Evaluate a case's inputs with the real pipeline and compare the outcome with `expect`."""
    try:
        ev, report = evaluate_case(case)
    except PolicyError:
        raise  # invalid policies: no case can run (exit 2, like `policy validate`)
    except InputError as exc:
        lines = [f"  {p.render()}" for p in exc.problems]
        return CaseResult(case, ["inputs could not be evaluated:", *lines])
    except SignalwiseError as exc:
        return CaseResult(case, [f"the evaluation failed: {exc}"])
    fired = frozenset(f.rule.id for f in ev.firings)
    rules = {r.id: r for r in all_rules(ev.policy_set)}
    failures = compare(case.expect, fired, report, rules,
                       why_not=lambda rid: _why_not_fired(rules[rid], ev.store.facts),
                       why=lambda rid: _what_fired(rid, ev))
    return CaseResult(case, failures, fired)


def _request(case: Case, tmp: Path) -> Any:
    from ..pipeline import Request

    inputs = case.inputs
    problems: list[Problem] = []
    root = case.root
    specialty, cycle = inputs.get("specialty"), inputs.get("cycle")
    if "specialty_policy" in inputs:
        pol = inputs["specialty_policy"]
        problems += schema_problems("policy", pol, case.display, {},
                                    line_of=lambda p: case.line_of("specialty_policy", p))
        if not problems:
            root = tmp / "policies"
            shutil.copytree(case.root / "guidance", root / "guidance")
            target = root / "cycles" / str(pol["cycle"]) / f"{pol['specialty']}.yaml"
            target.parent.mkdir(parents=True)
            target.write_text(yaml.safe_dump(pol, sort_keys=False), encoding="utf-8")
            specialty, cycle = specialty or pol["specialty"], cycle or pol["cycle"]
    if "profile" in inputs:
        problems += schema_problems("profile", inputs["profile"], case.display, {},
                                    line_of=lambda p: case.line_of("profile", p))
        profile = tmp / "profile.yaml"
        profile.write_text(yaml.safe_dump(inputs["profile"], sort_keys=False), encoding="utf-8")
    else:
        profile = case.file.parent / inputs["profile_file"]
    if "programs" in inputs:
        problems += schema_problems("programs", inputs["programs"], case.display, {},
                                    line_of=lambda p: case.line_of("programs", p))
        programs = tmp / "programs.yaml"
        programs.write_text(yaml.safe_dump(inputs["programs"], sort_keys=False), encoding="utf-8")
    else:
        programs = case.file.parent / inputs["programs_file"]
    signals = None
    if "signals" in inputs:
        try:
            signals = parse_signals_option(str(inputs["signals"]))
        except InputError as exc:
            problems += [Problem(case.display, case.line_of("signals"), "signals", p.message, p.hint)
                         for p in exc.problems]
    if problems:
        raise InputError(problems)
    return Request(str(profile), str(programs), specialty, cycle, signals, str(root))


def _relocate(problems: list[Problem], case: Case, tmp: Path) -> list[Problem]:
    """Problems found in the temporary copies of inline inputs belong to the case's lines."""
    out = []
    sections = {"profile.yaml": "profile", "programs.yaml": "programs"}
    for p in problems:
        name = Path(p.file).name
        if p.file.startswith(str(tmp)) and name in sections:
            message = p.message
            for other, section in sections.items():
                message = message.replace(str(tmp / other), f"the case's {section}")
            out.append(Problem(case.display, case.line_of(sections[name]), f"{sections[name]}: {p.field}"
                               if p.field else sections[name], message, p.hint))
        elif p.file.startswith("policies/cycles/") and "specialty_policy" in case.inputs:
            field_ = f"specialty_policy: {p.field}" if p.field else "specialty_policy"
            out.append(Problem(case.display, case.line_of("specialty_policy"), field_, p.message, p.hint))
        else:
            out.append(p)
    return out


# ---------------------------------------------------------------- comparing outcomes (pure)

def _matching(pattern: str, ids: Any) -> list[str]:
    return sorted(i for i in ids if fnmatch.fnmatchcase(i, pattern))


def compare(expect: dict[str, Any], fired: frozenset[str], report: dict[str, Any], rules: dict[str, Rule],
            why_not: Callable[[str], list[str]] = lambda _: [],
            why: Callable[[str], list[str]] = lambda _: []) -> list[str]:
    """Failure lines for every expectation the outcome does not meet (empty: the case passes).

    `why_not(rule_id)` and `why(rule_id)` add the detail for a missing or an unexpected rule.
    """
    out: list[str] = []
    for key in ("fired", "not_fired", "findings"):
        for pattern in expect.get(key, []):
            if not _matching(pattern, rules):
                out.append(f"unknown rule '{pattern}' in expect.{key}: no rule of this policy set has "
                           "that id")
    missing = [p for p in expect.get("fired", []) if _matching(p, rules) and not _matching(p, fired)]
    if missing:
        out.append(f"missing (expected to fire, did not): {', '.join(missing)}")
        for pattern in missing:
            for rid in _matching(pattern, rules)[:3]:
                out += why_not(rid)
    unexpected = sorted({i for p in expect.get("not_fired", []) for i in _matching(p, fired)})
    if unexpected:
        out.append(f"unexpected (expected not to fire, fired): {', '.join(unexpected)}")
        for rid in unexpected:
            out += why(rid)
    tier = report["applicant"]["tier"]
    if "tier" in expect and expect["tier"] != tier:
        out.append(f"tier: expected {expect['tier']}, got {tier}")
        out += [f"    because: {b['text']} [{b['rule']}]" for b in report["applicant"]["because"]]
    programs = {p["id"]: p for p in report["programs"]}
    for pid, want in sorted((expect.get("decisions") or {}).items()):
        prog = programs.get(pid)
        if prog is None:
            out.append(f"decision for {pid}: no program '{pid}' in this case's programs")
        elif prog["decision"] != want:
            out.append(f"decision for {pid}: expected {want}, got {prog['decision']} (fit: {prog['fit']})")
            out += [f"    because: {b['text']} [{b['rule']}]" for b in prog["because"]]
            out += [f"    why not {w['tier']}: {w['text']}" for w in prog.get("why_not", [])]
    for pid, want in sorted((expect.get("fits") or {}).items()):
        prog = programs.get(pid)
        if prog is not None and prog["fit"] != want:
            out.append(f"fit of {pid}: expected {want}, got {prog['fit']}")
            out += [f"    because: {b['text']} [{b['rule']}]" for b in prog["because"]
                    if b["rule"].startswith(("fit.", "program-fit"))]
            out += [f"    also considered: {b['text']} [{b['rule']}]" for b in prog.get("considered", [])]
        elif prog is None and pid not in (expect.get("decisions") or {}):
            out.append(f"fit of {pid}: no program '{pid}' in this case's programs")
    levels = {s["tier"]: s for s in report["signals"]}
    for level, fits in sorted((expect.get("counts") or {}).items()):
        got = levels.get(level)
        if got is None:
            known = ", ".join(levels) or "none"
            out.append(f"counts.{level}: no '{level}' signals in this evaluation (levels: {known})")
            continue
        for fit, n in sorted(fits.items()):
            have = got["by_fit"].get(fit, 0)
            if have != n:
                out.append(f"counts.{level}.{fit}: expected {n}, got {have} "
                           f"(all {level}: {_fits(got['by_fit'])})")
    for level, n in sorted((expect.get("assigned") or {}).items()):
        level_result = levels.get(level)
        assigned = level_result["assigned"] if level_result else None
        if assigned != n:
            shown = assigned if assigned is not None else "no such level"
            out.append(f"assigned.{level}: expected {n}, got {shown}")
    present = {f["rule"] for f in report["findings"]}
    absent = [p for p in expect.get("findings", []) if _matching(p, rules) and not _matching(p, present)]
    if absent:
        out.append(f"findings missing: {', '.join(absent)} (present: {', '.join(sorted(present)) or 'none'})")
    return out


def _fits(by_fit: dict[str, int]) -> str:
    return ", ".join(f"{n} {fit}" for fit, n in sorted(by_fit.items())) or "none"


def _why_not_fired(rule: Rule, facts: Sequence[dict[str, Any]]) -> list[str]:
    """What the rule's conditions saw: its best partial match over the evaluation's facts."""
    return [f"    {rule.id} saw:"] + [f"      {line}" for line in best_match(rule, facts).describe()]


def _what_fired(rule_id: str, ev: Any) -> list[str]:
    """The first firing of a rule that should not have fired: the facts it matched and its sentence."""
    for f in ev.firings:
        if f.rule.id == rule_id:
            facts = ", ".join(f"{a}={ev.store.get(i)['t']}#{i}" for a, i in sorted(f.matched.items()))
            return [f"    {rule_id} matched {facts}: {' '.join(f.text.split())}"]
    return []


# ---------------------------------------------------------------- coverage

def rule_universe(root: Path) -> list[Rule]:
    """Every rule an evaluation from this root can fire: guidance, quota rows, specialty rules."""
    cat = Catalogue(root)
    guidance = cat.guidance()
    rules = {r.id: r for r in all_rules(PolicySet(guidance, None))}
    for spec in cat.all_specialty_policies():
        for r in all_rules(PolicySet((), spec)):
            rules.setdefault(r.id, r)
    return sorted(rules.values(), key=lambda r: (r.file, r.line or 0, r.id))


def uncovered(results: Sequence[CaseResult], universe: Sequence[Rule]) -> list[Rule]:
    fired = set().union(*(r.fired for r in results)) if results else set()
    return [r for r in universe if r.id not in fired]
