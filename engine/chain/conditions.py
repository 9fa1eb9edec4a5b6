"""A pure-Python reading of a rule's `when`, for explaining why a rule did or did not fire.

durable-rules tells us only which rules fired. To answer "why not?" (CLIPS's `(matches)`, Cedar's
"which part of the policy am I missing") we re-evaluate a rule's patterns over the facts of an
evaluation and keep the best partial match: the bindings that satisfied the most patterns, in order,
and for the first pattern that failed, each test with the value it saw.

The semantics mirror `compiler._rule_durable` and the engine's behaviour: a missing field never
matches (not even `ne` or `not_in`), except `present: false` and `not_contains`; a fact joins only
if it has every field that some test reads through `$alias.field` (the compiler's guards); arithmetic
over a missing value is missing; comparisons only hold between two numbers or two strings. A test suite keeps
this in step with durable-rules on the bundled examples (`tests/test_policy_authoring.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import field
from typing import Any

from ..policy.compiler import TYPE_KEY, flat, member_key
from ..policy.model import AnyOf, Pattern, Rule, Test
from ..policy.values import arithmetic
from ..records import record

Fact = Mapping[str, Any]


class _Missing:
    """A value that is not there (distinct from None, false and 0)."""

    def __repr__(self) -> str:
        return "missing"


MISSING: Any = _Missing()
MAX_STEPS = 200_000  # bound on the join search; rules join a handful of facts, shortlists are small


@record
class TestResult:
    """One test of a pattern against one fact: what was asked, what was there."""

    field: str
    op: str
    expected: Any      # the literal, or the value a reference/arithmetic resolved to (MISSING if absent)
    seen: Any          # the fact's value (MISSING if absent); for `any`, a list of group results
    passed: bool

    def describe(self) -> str:
        if self.op == "any":
            groups = "; ".join(" and ".join(t.describe() for t in g) for g in self.seen)
            return f"any of [{groups}]"
        return f"{self.field} {self.op} {_show(self.expected)} (saw {_show(self.seen)})"


@record
class PatternResult:
    """How one pattern fared: the fact it matched (or came closest), and its tests."""

    alias: str
    fact_type: str
    negated: bool
    matched: bool
    fact_id: int | None              # the fact tested (for a negated pattern: the fact that blocked it)
    tests: tuple[TestResult, ...] = ()
    candidates: int = 0              # how many facts of this type existed
    wanted: str = ""                 # the pattern's tests as written (shown when no fact exists)

    @property
    def first_failure(self) -> TestResult | None:
        return next((t for t in self.tests if not t.passed), None)

    def describe(self) -> str:
        name = f"{self.alias} ({self.fact_type})"
        if self.negated:
            if self.matched:
                return f"not {self.fact_type}: holds (no such fact)"
            tests = ", ".join(t.describe() for t in self.tests) or "any"
            return f"not {self.fact_type}: blocked by {self.fact_type}#{self.fact_id} ({tests})"
        if self.matched:
            return f"{name}: matched {self.fact_type}#{self.fact_id}"
        if self.candidates == 0:
            wanted = f" (wanted: {self.wanted})" if self.wanted else ""
            return f"{name}: no '{self.fact_type}' fact exists{wanted}"
        fail = self.first_failure
        why = fail.describe() if fail else "a join with an earlier pattern failed"
        return f"{name}: closest is {self.fact_type}#{self.fact_id} of {self.candidates}, which fails {why}"


@record
class RuleMatch:
    """A rule's best match over a set of facts: `full` if every pattern held."""

    rule: str
    full: bool
    patterns: tuple[PatternResult, ...] = field(default_factory=tuple)

    @property
    def bindings(self) -> dict[str, int]:
        return {p.alias: p.fact_id for p in self.patterns
                if p.matched and not p.negated and p.fact_id is not None}

    @property
    def failed(self) -> PatternResult | None:
        return next((p for p in self.patterns if not p.matched), None)

    def describe(self) -> list[str]:
        return [p.describe() for p in self.patterns]


# ---------------------------------------------------------------- single tests

def resolve(value: Any, own: Fact, own_alias: str, bound: Mapping[str, Fact]) -> Any:
    """A condition value as the engine sees it: literal, `$alias.field` or arithmetic; MISSING if absent."""
    if isinstance(value, tuple) and value and value[0] == "ref":
        _, alias, name = value
        fact = own if alias == own_alias else bound.get(alias)
        if fact is None:
            return MISSING
        return fact.get(flat(name), MISSING)
    if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
        left, right = resolve(value[1], own, own_alias, bound), resolve(value[2], own, own_alias, bound)
        if not (_number(left) and _number(right)):
            return MISSING
        result = arithmetic(value[0], left, right)
        return MISSING if result is None else result
    return value


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _comparable(a: Any, b: Any) -> bool:
    return (_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))


def _items(value: Any) -> list[Any]:
    return list(value) if isinstance(value, tuple | list) else [value]


def check(test: Test | AnyOf, fact: Fact, own_alias: str, bound: Mapping[str, Fact]) -> TestResult:
    """Evaluate one test (or `any` group) against `fact`, with earlier patterns' facts in `bound`."""
    if isinstance(test, AnyOf):
        groups = [[check(t, fact, own_alias, bound) for t in g] for g in test.groups]
        ok = any(all(t.passed for t in g) for g in groups)
        return TestResult("any", "any", None, [tuple(g) for g in groups], ok)
    op, key = test.op, flat(test.field)
    seen = fact.get(key, MISSING)
    if op in ("contains", "not_contains"):
        items = _items(test.value)
        present = [bool(fact.get(member_key(test.field, x))) for x in items]
        ok = all(present) if op == "contains" else not any(present)
        return TestResult(test.field, op, test.value, seen, ok)
    if op == "present":
        return TestResult(test.field, op, test.value, seen, (seen is not MISSING) == bool(test.value))
    if op in ("in", "not_in"):
        items = [resolve(x, fact, own_alias, bound) for x in _items(test.value)]
        if seen is MISSING:
            return TestResult(test.field, op, tuple(items), seen, False)
        hit = any(x is not MISSING and seen == x for x in items)
        return TestResult(test.field, op, tuple(items), seen, hit if op == "in" else not hit)
    expected = resolve(test.value, fact, own_alias, bound)
    if seen is MISSING or expected is MISSING:
        return TestResult(test.field, op, expected, seen, False)
    if op == "eq":
        ok = seen == expected
    elif op == "ne":
        ok = seen != expected
    elif not _comparable(seen, expected):
        ok = False
    elif op == "lt":
        ok = seen < expected
    elif op == "lte":
        ok = seen <= expected
    elif op == "gt":
        ok = seen > expected
    elif op == "gte":
        ok = seen >= expected
    else:  # pragma: no cover - the schema allows no other operator
        raise ValueError(f"unknown operator {op!r}")
    return TestResult(test.field, op, expected, seen, ok)


def referenced_fields(rule: Rule) -> dict[str, frozenset[str]]:
    """Fields each alias must have because some test reads them as `$alias.field` (the compiler's guards)."""
    out: dict[str, set[str]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, tuple) and value and value[0] == "ref":
            out.setdefault(value[1], set()).add(value[2])
        elif isinstance(value, tuple):
            for v in value:
                walk(v)

    def tests(ts: tuple[Test | AnyOf, ...]) -> None:
        for t in ts:
            if isinstance(t, AnyOf):
                for g in t.groups:
                    tests(g)
            else:
                walk(t.value)
    for p in rule.patterns:
        tests(p.tests)
    return {alias: frozenset(fields) for alias, fields in out.items()}


def pattern_tests(pattern: Pattern, fact: Fact, bound: Mapping[str, Fact],
                  guards: frozenset[str] = frozenset()) -> tuple[TestResult, ...]:
    """The guards (fields other tests read from this fact) first, then the pattern's own tests."""
    guard_results = tuple(TestResult(g, "present", True, fact.get(flat(g), MISSING), flat(g) in fact)
                          for g in sorted(guards))
    return guard_results + tuple(check(t, fact, pattern.alias, bound) for t in pattern.tests)


# ---------------------------------------------------------------- whole rules

@record(frozen=False)
class _Search:
    rule: Rule
    by_type: dict[str, list[Fact]]
    guards: dict[str, frozenset[str]] = field(default_factory=dict)
    steps: int = 0
    best: tuple[PatternResult, ...] = ()
    best_key: tuple[int, int] = (-1, -1)
    full: list[tuple[PatternResult, ...]] = field(default_factory=list)
    want_all: bool = False

    def run(self, i: int, bound: dict[str, Fact], done: tuple[PatternResult, ...]) -> None:
        if self.steps > MAX_STEPS or (self.full and not self.want_all):
            return
        self.steps += 1
        patterns = self.rule.patterns
        if i == len(patterns):
            self.full.append(done)
            return
        p = patterns[i]
        facts = self.by_type.get(p.fact, [])
        if p.negated:
            for f in facts:
                tests = pattern_tests(p, f, bound)
                if all(t.passed for t in tests):
                    blocked = PatternResult(p.alias, p.fact, True, False, _fid(f), tests, len(facts))
                    self._near(i, done + (blocked,), len(tests))
                    return
            self.run(i + 1, bound, done + (PatternResult(p.alias, p.fact, True, True, None, (), len(facts)),))
            return
        if not facts:
            none = PatternResult(p.alias, p.fact, False, False, None, (), 0, spec(p.tests))
            self._near(i, done + (none,), 0)
            return
        for f in facts:
            tests = pattern_tests(p, f, bound, self.guards.get(p.alias, frozenset()))
            passed = sum(t.passed for t in tests)
            if passed == len(tests):
                result = PatternResult(p.alias, p.fact, False, True, _fid(f), tests, len(facts))
                self.run(i + 1, {**bound, p.alias: f}, done + (result,))
                if self.full and not self.want_all:
                    return
            else:
                failed = PatternResult(p.alias, p.fact, False, False, _fid(f), tests, len(facts))
                self._near(i, done + (failed,), passed)

    def _near(self, depth: int, result: tuple[PatternResult, ...], passed: int) -> None:
        key = (depth, passed)
        if key > self.best_key:
            self.best_key, self.best = key, result


def _fid(f: Fact) -> int | None:
    v = f.get("_id")
    return int(v) if v is not None else None


def _index(facts: Sequence[Fact]) -> dict[str, list[Fact]]:
    out: dict[str, list[Fact]] = {}
    for f in facts:
        out.setdefault(str(f.get(TYPE_KEY)), []).append(f)
    return out


def best_match(rule: Rule, facts: Sequence[Fact]) -> RuleMatch:
    """The first full match if there is one, else the partial match that got furthest."""
    search = _Search(rule, _index(facts), referenced_fields(rule))
    search.run(0, {}, ())
    if search.full:
        return RuleMatch(rule.id, True, search.full[0])
    return RuleMatch(rule.id, False, search.best)


def all_matches(rule: Rule, facts: Sequence[Fact]) -> list[dict[str, int]]:
    """Every combination of facts that satisfies the rule (alias -> fact id), as the engine would fire it."""
    search = _Search(rule, _index(facts), referenced_fields(rule), want_all=True)
    search.run(0, {}, ())
    return [{p.alias: p.fact_id for p in m if not p.negated and p.fact_id is not None} for m in search.full]


def holds_for(rule: Rule, facts_by_alias: Mapping[str, Fact], all_facts: Sequence[Fact]) -> list[str]:
    """Check a recorded firing: the tests that do not hold for the facts it matched (empty: all hold)."""
    by_type = _index(all_facts)
    guards = referenced_fields(rule)
    bound: dict[str, Fact] = {}
    failures: list[str] = []
    for p in rule.patterns:
        if p.negated:
            for f in by_type.get(p.fact, []):
                if all(t.passed for t in pattern_tests(p, f, bound)):
                    failures.append(f"not {p.fact}: {p.fact}#{_fid(f)} matches")
            continue
        fact = facts_by_alias.get(p.alias)
        if fact is None:
            failures.append(f"{p.alias}: no fact recorded")
            continue
        tests = pattern_tests(p, fact, bound, guards.get(p.alias, frozenset()))
        failures.extend(f"{p.alias}: {t.describe()}" for t in tests if not t.passed)
        bound[p.alias] = fact
    return failures


def spec(tests: tuple[Test | AnyOf, ...]) -> str:
    """A pattern's tests as an author wrote them: `code eq step2-above, count gte $ctx.min`."""
    def one(t: Test | AnyOf) -> str:
        if isinstance(t, AnyOf):
            return "any of [" + "; ".join(" and ".join(one(x) for x in g) for g in t.groups) + "]"
        return f"{t.field} {t.op} {_value(t.value)}"
    return ", ".join(one(t) for t in tests)


def _value(v: Any) -> str:
    if isinstance(v, tuple) and v and v[0] == "ref":
        return f"${v[1]}.{v[2]}"
    if isinstance(v, tuple) and v and v[0] in ("add", "sub", "mul", "div"):
        return f"({_value(v[1])} {v[0]} {_value(v[2])})"
    return _show(v)


def _show(value: Any) -> str:
    if value is MISSING:
        return "missing"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
