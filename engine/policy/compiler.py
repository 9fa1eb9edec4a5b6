"""Compile a `PolicySet` into an engine-neutral IR, then into durable-rules JSON rulesets.

Both steps are pure functions of the policies, so tests can snapshot them. Field paths such as
`exams.step2_ck` become flat keys (`exams__step2_ck`) because the engine matches top-level keys only;
list membership becomes a test on a companion key (`ties__has__rotation`) that the fact builder adds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..records import record
from .capacity import partition
from .model import AnyOf, Assertion, Pattern, PolicySet, QuotaTable, Rule, Test

TYPE_KEY = "t"
SESSION_RULE = "__session__"
SESSION_FACT = "__session__"


RESERVED = {"id": "id__", "sid": "sid__"}  # durable-rules gives `id` and `sid` a meaning of its own


def flat(field: str) -> str:
    """`exams.step2_ck` -> `exams__step2_ck` (the key the engine sees); reserved names are renamed."""
    return RESERVED.get(field, field.replace(".", "__"))


def member_key(field: str, item: Any) -> str:
    """Companion key marking that list `field` contains `item`."""
    token = "".join(ch if ch.isalnum() else "_" for ch in str(item).lower())
    return f"{flat(field)}__has__{token}"


@record
class CompiledPart:
    """One durable-rules ruleset: all of a stage's rules, or a share of them (see `capacity`)."""

    ruleset: str
    rules: tuple[Rule, ...]
    definition: dict[str, Any]  # durable-rules JSON, "run" holds the rule id
    consumes: frozenset[str]    # fact types some pattern matches
    negated: frozenset[str]     # fact types tested under `not`


@record
class CompiledStage:
    name: str
    ruleset: str
    rules: tuple[Rule, ...]
    definition: dict[str, Any]  # durable-rules JSON of the whole stage, "run" holds the rule id
    consumes: frozenset[str]    # fact types some pattern matches
    negated: frozenset[str]     # fact types tested under `not`
    parts: tuple[CompiledPart, ...] = ()  # the rulesets the engine runs: one unless the stage is large


def policy_set_key(ps: PolicySet) -> str:
    """Content hash of the policies in a set: compiled rulesets are cached and named by it."""
    h = hashlib.sha256()
    for p in ps.policies:
        h.update(f"{p.ref}:{p.sha256}\n".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- quota tables -> rules

def quota_table_rules(table: QuotaTable) -> tuple[Rule, ...]:
    """Each row of a quota table becomes one rule asserting a `quota_row` fact.

    The row's numbers travel in the fact; the allocator turns shares into counts for the actual
    number of signals. Rows match on the key fact (e.g. applicant_tier.tier) and on the count of
    signals of the table's level in the context fact.
    """
    out = []
    count_field = f"signals_{table.level}"
    for row in table.rows:
        ctx_tests: list[Test | AnyOf] = [Test(count_field, "gte", row.count_min),
                                         Test(count_field, "lte", row.count_max)]
        if table.structure:
            ctx_tests.append(Test("structure", "eq", table.structure))
        key_tests: tuple[Test | AnyOf, ...] = () if row.key == "any" else (Test(table.key_field, "eq", row.key),)
        payload = {
            "table": table.id, "row": row.id, "level": table.level,
            "quota": json.dumps([list(q) for q in row.quota]), "shares": json.dumps([list(s) for s in row.shares]),
            "caps": json.dumps([list(c) for c in row.caps]), "optional": json.dumps(list(row.optional)),
            "fill_order": json.dumps(list(row.fill_order)), "overflow": json.dumps(list(row.overflow)),
            "extension": row.extension,
        }
        out.append(Rule(
            id=f"{table.id}.{row.id}", title=f"{table.title}: {row.id}", phase=table.phase, priority=50,
            patterns=(Pattern("context", "ctx", tuple(ctx_tests)), Pattern(table.key_fact, "key", key_tests)),
            actions=(Assertion("quota_row", tuple(sorted(payload.items()))),),
            because=row.because.replace("{q.count}", f"{{ctx.{count_field}}}"), rationale=row.rationale,
            source=row.source, advice=None, policy=table.policy, file=table.file, line=row.line,
        ))
    return tuple(out)


def all_rules(ps: PolicySet) -> tuple[Rule, ...]:
    """Authored rules plus the rules generated from quota tables, sorted for stable output."""
    generated = tuple(r for t in ps.quota_tables for r in quota_table_rules(t))
    return tuple(sorted(ps.rules + generated, key=lambda r: (r.priority, r.id)))


# ---------------------------------------------------------------- IR

def to_ir(ps: PolicySet) -> dict[str, Any]:
    """Engine-neutral form: stages with their rules, conditions and actions as plain data."""
    rules = all_rules(ps)
    stages = []
    for stage in ps.stages:
        stage_rules = [r for r in rules if r.phase == stage.name]
        stages.append({
            "stage": stage.name, "kind": stage.kind,
            "rules": [_rule_ir(r) for r in stage_rules],
        })
    return {
        "policies": [p.ref for p in ps.policies],
        "stages": stages,
        "resolutions": [{"id": r.id, "after": r.after, "votes": r.votes, "key": r.key, "field": r.field,
                         "precedence": list(r.precedence), "default": r.default, "produces": r.produces}
                        for r in ps.resolutions],
        "aggregates": [{"id": a.id, "after": a.after, "count": a.count, "group_by": a.group_by,
                        "groups": list(a.groups), "produces": a.produces} for a in ps.aggregates],
    }


def _rule_ir(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id, "policy": rule.policy, "priority": rule.priority,
        "when": [{"fact": p.fact, "as": p.alias, "not": p.negated, "tests": [_test_ir(t) for t in p.tests]}
                 for p in rule.patterns],
        "then": [{"assert": a.fact, "set": {k: _val_ir(v) for k, v in a.values}} if isinstance(a, Assertion)
                 else {"finding": a.level, "program": _val_ir(a.program)} for a in rule.actions],
    }


def _test_ir(t: Test | AnyOf) -> Any:
    if isinstance(t, AnyOf):
        return {"any": [[_test_ir(x) for x in g] for g in t.groups]}
    return [t.field, t.op, _val_ir(t.value)]


def _val_ir(v: Any) -> Any:
    if isinstance(v, tuple) and v and v[0] == "ref":
        return f"${v[1]}.{v[2]}"
    if isinstance(v, tuple) and v and v[0] in ("add", "sub", "mul", "div"):
        return {v[0]: [_val_ir(v[1]), _val_ir(v[2])]}
    if isinstance(v, tuple):
        return [_val_ir(x) for x in v]
    return v


# ---------------------------------------------------------------- durable-rules JSON

def compile_stages(ps: PolicySet) -> tuple[CompiledStage, ...]:
    """One durable-rules ruleset per rules-stage, named by the policy-set hash."""
    key = policy_set_key(ps)
    rules = all_rules(ps)
    staged = []
    for stage in ps.stages:
        if stage.kind != "rules":
            continue
        stage_rules = tuple(r for r in rules if r.phase == stage.name)
        staged.append((stage.name, stage_rules, {r.id: _rule_durable(r) for r in stage_rules}))
    splits = _partitions([[(r.id, compiled[r.id]) for r in stage_rules] for _, stage_rules, compiled in staged])
    out = []
    for (stage_name, stage_rules, compiled), groups in zip(staged, splits, strict=True):
        definition = {**compiled, SESSION_RULE: _SESSION_DEFINITION}
        by_id = {r.id: r for r in stage_rules}
        name = f"signalwise-{key}-{stage_name}"
        parts = tuple(_part(f"{name}-{i + 1}" if len(groups) > 1 else name,
                            tuple(by_id[rid] for rid in group), compiled)
                      for i, group in enumerate(groups))
        out.append(CompiledStage(
            name=stage_name, ruleset=name, rules=stage_rules, definition=definition,
            consumes=frozenset(p.fact for r in stage_rules for p in r.patterns),
            negated=frozenset(p.fact for r in stage_rules for p in r.patterns if p.negated),
            parts=parts,
        ))
    return tuple(out)


def _partitions(stages: list[list[tuple[str, dict[str, Any]]]]) -> list[list[list[str]]]:
    """`capacity.partition` of each stage's rules, kept in the policy cache across runs.

    The split is a pure function of the rules' durable-rules JSON (and the code, part of every cache key),
    so the entry is keyed by exactly that JSON; modelling the alpha networks is most of a cold compile.
    An entry is used only if it splits each stage's very rule ids, in order, into non-empty groups;
    anything else is ignored and the split is computed again."""
    from . import cache as policy_cache

    try:
        material: bytes | None = json.dumps(stages, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):
        material = None
    if material is not None:
        cached = policy_cache.lookup_derived("partitions", material)
        if _splits(cached, stages):
            return cached
    out = [partition(rules) for rules in stages]
    if material is not None:
        policy_cache.store_derived("partitions", material, out)
    return out


def _splits(groups: Any, stages: list[list[tuple[str, dict[str, Any]]]]) -> bool:
    """Does `groups` split every stage's rule ids, in their order, into non-empty groups?"""
    if not isinstance(groups, list) or len(groups) != len(stages):
        return False
    for split, rules in zip(groups, stages, strict=True):
        if not isinstance(split, list) or not all(isinstance(g, list) and g for g in split):
            return False
        if [rid for g in split for rid in g] != [rid for rid, _ in rules]:
            return False
    return True


# durable-rules crashes (segfault) deleting a session in which no action ever fired, so every session
# opens with a fact that this no-op rule consumes.
_SESSION_DEFINITION: dict[str, Any] = {"all": [{"m": {TYPE_KEY: SESSION_FACT}}], "pri": 0, "run": SESSION_RULE}


def _part(ruleset: str, rules: tuple[Rule, ...], compiled: dict[str, Any]) -> CompiledPart:
    return CompiledPart(
        ruleset=ruleset, rules=rules,
        definition={**{r.id: compiled[r.id] for r in rules}, SESSION_RULE: _SESSION_DEFINITION},
        consumes=frozenset(p.fact for r in rules for p in r.patterns),
        negated=frozenset(p.fact for r in rules for p in r.patterns if p.negated),
    )


def rule_definition(rule: Rule) -> dict[str, Any]:
    """One rule's durable-rules JSON (what `compile_stages` puts in the ruleset), for capacity checks."""
    return _rule_durable(rule)


def _referenced_fields(rule: Rule) -> dict[str, set[str]]:
    """Fields each alias must have because some test reads them through `$alias.field`."""
    out: dict[str, set[str]] = {}

    def walk(value: Any, own: str) -> None:
        if isinstance(value, tuple) and value and value[0] == "ref":
            out.setdefault(value[1], set()).add(value[2])
        elif isinstance(value, tuple):
            for v in value:
                walk(v, own)

    def tests(ts: tuple[Test | AnyOf, ...], own: str) -> None:
        for t in ts:
            if isinstance(t, AnyOf):
                for g in t.groups:
                    tests(g, own)
            else:
                walk(t.value, own)
    for p in rule.patterns:
        tests(p.tests, p.alias)
    return out


def _rule_durable(rule: Rule) -> dict[str, Any]:
    # The C core fails an assertion (error 311) when a join reads a field the other fact lacks, so a
    # fact enters a join only when it has every field the join reads: a missing field never matches.
    needed = _referenced_fields(rule)
    patterns = []
    for p in rule.patterns:
        guards = [{"$ex": {flat(f): 1}} for f in sorted(needed.get(p.alias, ()))] if not p.negated else []
        expr = {"$and": [{TYPE_KEY: p.fact}, *guards, *[_test_durable(t, p.alias) for t in p.tests]]}
        patterns.append({f"{p.alias}$not" if p.negated else p.alias: expr})
    return {"all": patterns, "pri": rule.priority, "run": rule.id}


def _rhs(value: Any, own_alias: str) -> Any:
    if isinstance(value, tuple) and value and value[0] == "ref":
        _, alias, field = value
        return {"$m": flat(field)} if alias == own_alias else {alias: flat(field)}
    if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
        left, right = _rhs(value[1], own_alias), _rhs(value[2], own_alias)
        if value[0] in ("mul", "div"):
            # The C core multiplies and divides two whole numbers as C `long long`: a zero divisor kills
            # the process (SIGFPE), a large product overflows, and 7 / 2 is 3. Making the left operand
            # a double gives IEEE arithmetic (no trap, no overflow) and true division, as in Python.
            left = float(left) if isinstance(left, int) and not isinstance(left, bool) else \
                {"$mul": {"$l": left, "$r": 1.0}}
        return {f"${value[0]}": {"$l": left, "$r": right}}
    return value


def _test_durable(t: Test | AnyOf, alias: str) -> dict[str, Any]:
    if isinstance(t, AnyOf):
        return {"$or": [{"$and": [_test_durable(x, alias) for x in g]} if len(g) > 1 else _test_durable(g[0], alias)
                        for g in t.groups]}
    f = flat(t.field)
    op, v = t.op, t.value
    if op == "eq":
        return {f: _rhs(v, alias)}
    if op == "ne":
        return {"$neq": {f: _rhs(v, alias)}}
    if op in ("lt", "lte", "gt", "gte"):
        return {f"${op}": {f: _rhs(v, alias)}}
    if op == "in":
        items = list(v)
        return {f: items[0]} if len(items) == 1 else {"$or": [{f: x} for x in items]}
    if op == "not_in":
        items = list(v)
        return {"$neq": {f: items[0]}} if len(items) == 1 else {"$and": [{"$neq": {f: x}} for x in items]}
    if op in ("contains", "not_contains"):
        items = list(v) if isinstance(v, tuple | list) else [v]
        check = "$ex" if op == "contains" else "$nex"
        parts = [{check: {member_key(t.field, x): 1}} for x in items]
        return parts[0] if len(parts) == 1 else {"$and": parts}
    if op == "present":
        return {"$ex": {f: 1}} if v else {"$nex": {f: 1}}
    raise ValueError(f"unknown operator {op!r}")  # schema prevents this
