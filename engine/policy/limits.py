"""Limits that keep an untrusted policy set safe to run.

A policy folder given with `--policies` is input, like a profile: it must not be able to crash, hang or
exhaust signalwise. `policy validate` and every load (`policy.check.check_policy_set`) refuse what
cannot run safely, naming the file, the rule and the limit. Each number is documented, with the
reason, in docs/reliability.md ("Policies are untrusted input"); what the limits cannot rule out
statically (a division by a value that is zero at run time, a join that explodes on real data) is
stopped at run time by `runtime` (exit 3).
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from functools import lru_cache
from typing import Any

from ..errors import Problem
from .capacity import rule_usage
from .compiler import all_rules, rule_definition
from .model import AnyOf, Assertion, FindingAction, Policy, PolicySet, Rule, Test
from .values import MAX_MAGNITUDE, refs

MAX_RULES = 1_000            # rules per policy set, quota-table rows included (bundled: about 110)
MAX_PATTERNS = 6             # patterns per rule, the join width (bundled: at most 5)
MAX_ANY_DEPTH = 3            # `any:` inside `any:` (bundled: 1)
MAX_LIST_ITEMS = 100         # items of one `in`, `not_in` or `contains` list (bundled: at most 6)
MAX_ARITHMETIC_DEPTH = 4     # nested add/sub/mul/div (bundled: 1)
MIN_FRACTION = 1e-9          # smallest magnitude of a non-zero number (bounded precision)
MAX_PARAMETERS = 150         # parameters of a policy set: they all travel in one fact (bundled: 27)
MAX_AGGREGATES = 50          # aggregates of a policy set (bundled: 3)
MAX_GROUPS = 100             # declared `groups` of one aggregate (bundled: at most 4)
MAX_RESOLUTIONS = 50         # resolutions of a policy set (bundled: 3)
MAX_STAGES = 20              # stages (bundled: 8)
MAX_CALENDAR_ITEMS = 500     # `seasons` and `interview_targets` entries of a policy (bundled: about 60)
MAX_PACE_POINTS = 100        # points of the `pace` curve (bundled: 5)
MAX_TIERS = 4  # ERAS has at most two (gold, silver); each tier adds fields to the context fact
MAX_SIGNAL_TIERS = MAX_TIERS  # signal tiers of a specialty, as for --signals (ERAS: at most 2)
MAX_MESSAGE_WIDTH = 40       # width in a message's format spec, e.g. {score:>6}
_MESSAGE_SPEC = re.compile(r"[<>^]?([0-9]{1,12})?")

ARITH = ("add", "sub", "mul", "div")


def limit_problems(ps: PolicySet) -> list[Problem]:
    """Everything in a policy set that exceeds a limit, each naming its file and rule."""
    out: list[Problem] = []
    rules = all_rules(ps)
    first = ps.guidance[0].file if ps.guidance else (ps.specialty.file if ps.specialty else "policies")
    if len(rules) > MAX_RULES:
        by_file = Counter(r.file for r in rules).most_common(3)
        out.append(Problem(first, None, "rules", f"the policy set has {len(rules):,} rules (quota-table rows "
                           f"included); the limit is {MAX_RULES:,}",
                           "most are in " + ", ".join(f"{f} ({n:,})" for f, n in by_file)))
    for kind, items, limit in (("parameters", [n for p in ps.policies for n in p.parameters], MAX_PARAMETERS),
                               ("aggregates", list(ps.aggregates), MAX_AGGREGATES),
                               ("resolutions", list(ps.resolutions), MAX_RESOLUTIONS),
                               ("stages", list(ps.stages), MAX_STAGES)):
        if len(items) > limit:
            out.append(Problem(first, None, kind, f"the policy set has {len(items):,} {kind}; the limit is {limit}"))
    for p in ps.policies:
        out.extend(policy_problems(p))
    for r in rules:
        out.extend(rule_problems(r))
    return out


def policy_problems(p: Policy) -> list[Problem]:
    """Limits on one policy file's parameters, aggregates, messages and calendar data."""
    out: list[Problem] = []
    for name, param in p.parameters.items():
        bad = number_problem(param.value)
        if bad:
            out.append(Problem(p.file, None, f"parameters.{name}.value", bad))
    for agg in p.aggregates:
        if len(agg.groups) > MAX_GROUPS:
            out.append(Problem(p.file, None, f"aggregates.{agg.id}.groups",
                               f"{len(agg.groups):,} groups; the limit is {MAX_GROUPS}",
                               "each group becomes a fact in every evaluation"))
    for key, template in p.messages.items():
        bad = message_problem(template)
        if bad:
            out.append(Problem(p.file, None, f"messages.{key}", bad))
    for field in ("seasons", "interview_targets"):
        items = p.raw.get(field) or []
        if len(items) > MAX_CALENDAR_ITEMS:
            out.append(Problem(p.file, None, field, f"{len(items):,} entries; the limit is {MAX_CALENDAR_ITEMS}"))
    if p.specialty is not None and len(p.specialty.tiers) > MAX_SIGNAL_TIERS:
        out.append(Problem(p.file, None, "signals.tiers", f"{len(p.specialty.tiers)} tiers; the limit is "
                           f"{MAX_SIGNAL_TIERS}"))
    points = (p.raw.get("pace") or {}).get("points") or []
    if len(points) > MAX_PACE_POINTS:
        out.append(Problem(p.file, None, "pace.points", f"{len(points):,} points; the limit is {MAX_PACE_POINTS}"))
    return out


def number_problem(value: Any) -> str | None:
    """Why a number in a policy cannot be used, or None. Text, booleans and null are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"got {value}; expected a finite number"
    if abs(value) > MAX_MAGNITUDE:
        return f"got {value:.6g}; numbers in policies must be within ±10^15"
    if value and abs(value) < MIN_FRACTION:
        return f"got {value:.6g}; non-zero numbers in policies must be at least 10^-9 in size (at most 9 decimals)"
    return None


def message_problem(template: str) -> str | None:
    """Engine sentences are filled with `{field}`; a format spec may only align and pad (width ≤ 40)."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"malformed template: {exc}"
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            return f"'{{{name}}}': a field is a plain name (no attributes, indexes or positions)"
        if conversion:
            return f"'{{{name}!{conversion}}}': conversions (!r, !s, !a) are not allowed"
        if spec:
            m = _MESSAGE_SPEC.fullmatch(spec)
            if m is None or "{" in spec:
                return (f"'{{{name}:{spec}}}': only an alignment and a width are allowed after ':', "
                        f"e.g. {{{name}:>6}}")
            if m.group(1) and int(m.group(1)) > MAX_MESSAGE_WIDTH:
                return f"'{{{name}:{spec}}}': the width is at most {MAX_MESSAGE_WIDTH}"
    return None


def rule_problems(r: Rule) -> list[Problem]:
    """A rule's join width, nesting, list sizes, numbers, arithmetic, and whether the engine can hold it."""
    return list(_rule_problems(r))


@lru_cache(maxsize=8192)
def _rule_problems(r: Rule) -> tuple[Problem, ...]:
    """(Cached: a guidance rule is checked with every specialty of a tree; a Rule is an immutable value.)"""
    out: list[Problem] = []
    where = f"rule {r.id}"

    def add(field: str, message: str, hint: str | None = None) -> None:
        out.append(Problem(r.file, r.line, field, message, hint))

    if len(r.patterns) > MAX_PATTERNS:
        add(f"{where}.when", f"{len(r.patterns)} patterns; the limit is {MAX_PATTERNS}",
            "every pattern multiplies the combinations the engine tries: split the rule over stages")
    for p in r.patterns:
        for message in _tests_problems(p.tests, p.alias, depth=0):
            add(f"{where}.when", message)
    for act in r.actions:
        values = act.values if isinstance(act, Assertion) else (("program", act.program),) \
            if isinstance(act, FindingAction) else ()
        for name, value in values:
            for message in _value_problems(value, depth=0):
                add(f"{where}.then", f"{name}: {message}")
    if not out:
        usage = rule_usage(rule_definition(r)).exceeds()
        if usage:
            add(f"{where}.when", "too complex for the rules engine: " + "; ".join(usage),
                "split the rule, or shorten its `in`, `any` and `contains` lists")
    return tuple(out)


def _tests_problems(tests: tuple[Test | AnyOf, ...], alias: str, depth: int) -> list[str]:
    out: list[str] = []
    for t in tests:
        if isinstance(t, AnyOf):
            if depth + 1 > MAX_ANY_DEPTH:
                out.append(f"`any` nested {depth + 1} deep; the limit is {MAX_ANY_DEPTH}")
                continue
            if len(t.groups) > MAX_LIST_ITEMS:
                out.append(f"`any` with {len(t.groups)} groups; the limit is {MAX_LIST_ITEMS}")
            for g in t.groups:
                out.extend(_tests_problems(g, alias, depth + 1))
            continue
        if t.op in ("in", "not_in", "contains", "not_contains"):  # literal items, never arithmetic
            items = list(t.value) if isinstance(t.value, tuple | list) else [t.value]
            if len(items) > MAX_LIST_ITEMS:
                out.append(f"{t.field}: `{t.op}` lists {len(items)} items; the limit is {MAX_LIST_ITEMS}")
            out.extend(f"{t.field}: {m}" for x in items if (m := number_problem(x)))
            continue
        out.extend(f"{t.field}: {m}" for m in _value_problems(t.value, depth=0))
    return out


def _value_problems(value: Any, depth: int) -> list[str]:
    if isinstance(value, tuple) and value and value[0] == "ref":
        return []
    if isinstance(value, tuple) and value and value[0] in ARITH:
        op, left, right = value
        if depth + 1 > MAX_ARITHMETIC_DEPTH:
            return [f"arithmetic nested {depth + 1} deep; the limit is {MAX_ARITHMETIC_DEPTH}"]
        out: list[str] = []
        for operand in (left, right):
            if isinstance(operand, str | bool) or operand is None:
                out.append(f"'{op}' needs numbers; got {operand!r}")
        if op == "div":
            if isinstance(right, int | float) and not isinstance(right, bool) and right == 0:
                out.append("divides by zero")
            aliases = sorted({a for a, _ in refs(right)})
            if len(aliases) > 1:
                out.append(f"the divisor reads {', '.join('$' + a for a in aliases)}; a divisor may read one "
                           "fact only, so a zero can be caught before the engine divides")
        return out + _value_problems(left, depth + 1) + _value_problems(right, depth + 1)
    if isinstance(value, tuple):
        return [m for v in value for m in _value_problems(v, depth)]
    bad = number_problem(value)
    return [bad] if bad else []
