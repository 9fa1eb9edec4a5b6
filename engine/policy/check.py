"""Semantic checks on a policy set, beyond what JSON Schema can say.

Each check returns `Problem`s with file and line: duplicate rule ids, unknown stages, fact types that
nothing produces (unreachable rules), fields no schema defines (with "did you mean"), references to
aliases that are not bound, negation on facts derived in the same or a later stage (the engine does not
re-check negation), unknown sources, engine-version mismatches, and gaps or overlaps in quota tables.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..errors import PolicyError, Problem
from ..load.schemas import load_schema, schema_fields
from ..load.yamlsafe import Path as YPath
from .compiler import all_rules
from .limits import limit_problems
from .loader import positions_of
from .messages import ALLOCATION_ENTRIES, MESSAGE_FIELDS, template_fields
from .model import AnyOf, Assertion, FindingAction, Policy, PolicySet, Rule, SourceRef, Test
from .templates import references
from .values import refs

ENGINE_VERSION = (1, 0, 0)
BASE_TYPES = ("context", "applicant", "program", "geo_pref")
ENGINE_TYPES = {  # produced by the allocate stage
    "signal": {"program", "level", "label", "fit", "rank", "step", "rule"},
    "level_summary": {"level", "label", "available", "assigned", "unused", "rule"},
    "quota_shortfall": {"level", "label", "fit", "minimum", "assigned", "cause", "range_label", "rule"},
    "quota_missing": {"level", "available", "rule"},
}
QUOTA_ROW_FIELDS = {"table", "row", "level", "quota", "shares", "caps", "optional", "fill_order", "overflow",
                    "extension", "rule"}
CONTEXT_FIELDS = {"specialty", "cycle", "match_year", "structure", "levels", "signals_total", "home_rule",
                  "scope", "signal_statement", "step2_reference", "step2_reference_origin", "step2_guide_near_example",
                  "step2_guide_above_example", "step2_guide_below_example",
                  "strategy",
                  "shortlist_has_rates", "cycle_origin", "today", "cycle_status", "cycle_ended_on",
                  "current_cycle", "specialty_rules", "cycle_plan_status"}


def check_policy_set(ps: PolicySet) -> None:
    problems = policy_set_problems(ps)
    if problems:
        raise PolicyError(problems)


def _list_fields(fields: dict[str, dict[str, Any]]) -> set[str]:
    return {name for name, spec in fields.items() if spec.get("type") == "array"}


def base_field_registry(ps: PolicySet) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Known fields per base fact type, and which of them are lists.

    The evaluate pipeline's base facts come from the input schemas; another pipeline (tracking)
    declares its own in `base_facts`, plus a `context` fact holding its parameters.
    """
    params = {n for p in ps.policies for n in p.parameters}
    if ps.base_facts:
        fields = {t: set(f) | {f"{x}.count" for x in lists} for t, (f, lists) in ps.base_facts.items()}
        fields.setdefault("context", set()).update(params)
        return fields, {t: set(lists) for t, (_, lists) in ps.base_facts.items()} | {"context": set()}
    prof = schema_fields("profile")
    applicant = {k.removeprefix("applicant."): v for k, v in prof.items()}
    prog = schema_fields("program")
    fields = {
        "applicant": set(applicant) | {f"{k}.count" for k in _list_fields(applicant)},
        "program": set(prog) | {"division", "region"} | {f"{k}.count" for k in _list_fields(prog)},
        "context": CONTEXT_FIELDS | {n for p in ps.policies for n in p.parameters}
        | {f"signals_{t.level}" for t in ps.quota_tables}
        | {f"signals_{t.name}" for t in _specialty_tiers(ps)},
        "geo_pref": {"list", "area"},
    }
    lists = {"applicant": _list_fields(applicant), "program": _list_fields(prog), "context": {"levels"},
             "geo_pref": set()}
    return fields, lists


def _specialty_tiers(ps: PolicySet) -> tuple[Any, ...]:
    return ps.specialty.specialty.tiers if ps.specialty and ps.specialty.specialty else ()


def policy_set_problems(ps: PolicySet) -> list[Problem]:
    """Every semantic problem of a policy set, each on the line of the name it complains about (so that
    evaluate, test and validate name the same line)."""
    by_file = {p.file: p for p in ps.policies}
    out = []
    for problem in _policy_set_problems(ps):
        policy = by_file.get(problem.file)
        out.append(locate_in(problem, policy.raw, positions_of(policy)) if policy else problem)
    return out


def _policy_set_problems(ps: PolicySet) -> list[Problem]:
    problems: list[Problem] = []
    stages = ps.stages
    guidance_files = [p.file for p in ps.guidance]
    if not stages:
        return [Problem(", ".join(guidance_files) or "policies", None, "stages", "no policy declares `stages`",
                        "guidance/core.yaml lists the evaluation stages")]
    order = {s.name: i for i, s in enumerate(stages)}
    rule_stages = {s.name for s in stages if s.kind == "rules"}
    alloc_index = next((i for i, s in enumerate(stages) if s.kind == "allocate"), len(stages))
    for p in ps.policies:
        problems.extend(_engine_problems(p))
        problems.extend(_source_problems(p))
    rules = all_rules(ps)
    # ---- duplicate ids
    seen: dict[str, Rule] = {}
    for r in rules:
        if r.id in seen:
            first = seen[r.id]
            problems.append(Problem(r.file, r.line, f"rule {r.id}",
                                    f"duplicate rule id (also at {first.file}:{first.line})",
                                    "rule ids must be unique across all policies"))
        seen.setdefault(r.id, r)
    # ---- what each fact type is, where it is produced
    fields, lists = base_field_registry(ps)
    produced_at: dict[str, float] = {t: -1 for t in (ps.base_facts or BASE_TYPES)}
    produced_at["context"] = -1
    for t, fs in ENGINE_TYPES.items():
        fields[t] = set(fs)
        lists[t] = set()
        produced_at[t] = alloc_index
    fields["quota_row"] = set(QUOTA_ROW_FIELDS)
    for r in rules:
        if r.phase not in rule_stages:
            problems.append(Problem(r.file, r.line, f"rule {r.id}.phase", f"unknown stage '{r.phase}'",
                                    _suggest(r.phase, sorted(rule_stages))))
            continue
        for a in r.actions:
            if isinstance(a, Assertion):
                fields.setdefault(a.fact, set()).update(k for k, _ in a.values)
                fields[a.fact].add("rule")
                lists.setdefault(a.fact, set())
                produced_at[a.fact] = min(produced_at.get(a.fact, 1e9), order[r.phase])
    for agg in ps.aggregates:
        if agg.after not in order:
            problems.append(Problem(_file_of(ps, agg.policy), None, f"aggregates.{agg.id}.after",
                                    f"unknown stage '{agg.after}'", _suggest(agg.after, sorted(order))))
            continue
        fields.setdefault(agg.produces, set()).update({"count", "rule"} | ({agg.group_by} if agg.group_by else set()))
        lists.setdefault(agg.produces, set())
        produced_at[agg.produces] = min(produced_at.get(agg.produces, 1e9), order[agg.after] + 0.5)
    for res in ps.resolutions:
        if res.after not in order:
            problems.append(Problem(_file_of(ps, res.policy), None, f"resolutions.{res.id}.after",
                                    f"unknown stage '{res.after}'", _suggest(res.after, sorted(order))))
            continue
        fields.setdefault(res.produces, set()).update({res.field, "rule"} | ({res.key} if res.key else set()))
        lists.setdefault(res.produces, set())
        produced_at[res.produces] = min(produced_at.get(res.produces, 1e9), order[res.after] + 0.5)
    for tbl in ps.quota_tables:
        if tbl.phase in order:
            produced_at["quota_row"] = min(produced_at.get("quota_row", 1e9), order[tbl.phase])
    # ---- each rule's patterns against that registry, and its literals against each field's vocabulary
    vocab = field_vocabulary(ps)
    for r in rules:
        if r.phase not in rule_stages:
            continue
        problems.extend(_rule_problems(r, order[r.phase], fields, lists, produced_at))
        problems.extend(literal_problems(r, vocab))
    problems.extend(_quota_problems(ps))
    if any(s.kind == "allocate" for s in stages):
        problems.extend(_message_problems(ps))
    problems.extend(limit_problems(ps))
    unique: list[Problem] = []
    for problem in problems:
        if problem not in unique:
            unique.append(problem)
    return unique


Vocabulary = dict[str, dict[str, dict[str, Any]]]  # fact -> field -> schema of its values
_ARITH = ("ref", "add", "sub", "mul", "div")
_JSON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "number": (int, float), "integer": (int,),
                                            "boolean": (bool,)}


# Context fields copied from the specialty policy (engine/chain/context.py): their values are the policy schema's.
CONTEXT_FROM_POLICY = {"home_rule": ("home_rule", "value"), "structure": ("signals", "structure"),
                       "scope": ("signals", "scope")}


def _policy_field(path: tuple[str, ...]) -> dict[str, Any] | None:
    """The policy schema's definition of a field (e.g. home_rule.value), `$ref`s followed."""
    root = load_schema("policy")
    node: Any = root
    for part in path:
        while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/"):
            target: Any = root
            for step in node["$ref"][2:].split("/"):
                target = target.get(step, {})
            node = target
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
    return node if isinstance(node, dict) and "enum" in node else None


def field_vocabulary(ps: PolicySet) -> Vocabulary:
    """What each field may hold, where the policies or schemas say: the input schemas' enums, types and
    ranges for applicant and program facts, the policy schema's enums for context fields copied from the
    specialty policy (`home_rule`: signal-regardless, ...), and a resolution's precedence (plus its default)
    for the field its votes and its result carry (`program_fit.fit`: closed, reach, safety, target)."""
    out: Vocabulary = defaultdict(dict)
    if not ps.base_facts:
        for name, spec in schema_fields("profile").items():
            if name.startswith("applicant."):
                out["applicant"][name.removeprefix("applicant.")] = spec
        for name, spec in schema_fields("program").items():
            out["program"][name] = spec
        for name, path in CONTEXT_FROM_POLICY.items():
            field_spec = _policy_field(path)
            if field_spec:
                out["context"][name] = field_spec
    for res in ps.resolutions:
        values = list(res.precedence) + ([res.default] if res.default and res.default not in res.precedence else [])
        for fact in (res.votes, res.produces):
            out[fact][res.field] = {"type": "string", "enum": values}
    return dict(out)


def _literals(value: Any) -> list[Any]:
    if isinstance(value, tuple) and value and value[0] in _ARITH and isinstance(value[0], str):
        return []
    if isinstance(value, tuple):
        return [x for v in value for x in _literals(v)]
    return [value]


def _value_problem(spec: dict[str, Any], value: Any, fact: str, field: str) -> tuple[str, str | None] | None:
    """Why `value` cannot be a value of `fact.field` (message, hint), or None."""
    if value is None:
        return None
    enum = spec.get("enum")
    if enum is not None:
        if value not in enum:
            options = [str(x) for x in enum]
            return (f"'{fact}.{field}' is one of {', '.join(options)}; it is never '{value}'",
                    _suggest(str(value), options))
        return None
    kinds = spec.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    allowed = tuple(t for k in kinds for t in _JSON_TYPES.get(k, ()))
    if kinds and allowed and "null" not in kinds and (
            not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)):
        return (f"'{fact}.{field}' is {' or '.join(kinds)}; '{value}' is not", None)
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"{low if low is not None else '-inf'} to {high if high is not None else 'inf'}"
            return (f"'{fact}.{field}' ranges over {span}; '{value}' is outside it", None)
    return None


def literal_problems(r: Rule, vocab: Vocabulary) -> list[Problem]:
    """Every literal a rule compares with or asserts is a value its field can hold (enum, type, range)."""
    out: list[Problem] = []
    for p in r.patterns:
        for t in _tests(p.tests):
            spec = vocab.get(p.fact, {}).get(t.field)
            if spec is None or t.op == "present":
                continue
            if t.op in ("contains", "not_contains"):
                spec = spec.get("items") or {}
            for value in _literals(t.value):
                why = _value_problem(spec, value, p.fact, t.field)
                if why:
                    out.append(Problem(r.file, r.line, f"rule {r.id}.when", why[0], why[1]))
    for a in r.actions:
        if not isinstance(a, Assertion):
            continue
        for key, v in a.values:
            spec = vocab.get(a.fact, {}).get(key)
            for value in _literals(v) if spec else []:
                why = _value_problem(spec or {}, value, a.fact, key)
                if why:
                    out.append(Problem(r.file, r.line, f"rule {r.id}.then", why[0], why[1]))
    return out


def _message_problems(ps: PolicySet) -> list[Problem]:
    """Every sentence the engine needs exists, and uses only fields the engine fills."""
    out = []
    declared = {key: (p, text) for p in ps.policies for key, text in p.messages.items()}
    where = next((p.file for p in ps.guidance if p.messages), ps.guidance[0].file if ps.guidance else "policies")
    for key, allowed in sorted(MESSAGE_FIELDS.items()):
        if key not in declared:
            out.append(Problem(where, None, f"messages.{key}", "missing: the engine needs this sentence",
                               f"fields available: {', '.join(sorted(allowed))}"))
            continue
        policy, text = declared[key]
        try:
            used = template_fields(text)
        except ValueError as exc:
            out.append(Problem(policy.file, None, f"messages.{key}", f"malformed template: {exc}"))
            continue
        for name in sorted(used - allowed):
            out.append(Problem(policy.file, None, f"messages.{key}", f"unknown field '{{{name}}}'",
                               _suggest(name, sorted(allowed))))
    for key in ALLOCATION_ENTRIES:
        if ps.message_source(key) is None:
            out.append(Problem(where, None, f"message_sources.{key}",
                               "missing: every allocation decision names its source",
                               "cite the guide's passage this decision follows, or a source of reliability "
                               "`assumption` for a signalwise choice"))
    return out


def _file_of(ps: PolicySet, ref: str) -> str:
    return next((p.file for p in ps.policies if p.ref == ref), ref)


def _suggest(name: str, options: list[str]) -> str:
    guess = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"did you mean '{guess[0]}'?" if guess else f"expected one of: {', '.join(options)}"


def _rule_problems(r: Rule, stage: int, fields: dict[str, set[str]], lists: dict[str, set[str]],
                   produced_at: dict[str, float]) -> list[Problem]:
    out: list[Problem] = []
    where = f"rule {r.id}"
    bound: dict[str, str] = {}
    for p in r.patterns:
        if p.fact not in fields:
            out.append(Problem(r.file, r.line, f"{where}.when", f"unreachable: nothing produces fact '{p.fact}'",
                               _suggest(p.fact, sorted(fields))))
            continue
        at = produced_at.get(p.fact, 1e9)
        if p.negated and at >= stage and at != -1:
            out.append(Problem(r.file, r.line, f"{where}.when",
                               f"`not` on '{p.fact}', which is derived in this or a later stage",
                               "the engine does not re-check negation: test facts from earlier stages only"))
        elif not p.negated and at > stage:
            out.append(Problem(r.file, r.line, f"{where}.when",
                               f"unreachable: '{p.fact}' is only derived after this rule's stage", None))
        for t in _tests(p.tests):
            out.extend(_field_problem(r, p.fact, t.field, fields, lists, t.op))
            for alias, field in refs(t.value):
                out.extend(_ref_problem(r, alias, field, bound, fields, own=(p.alias, p.fact)))
        if not p.negated:
            if p.alias in bound:
                out.append(Problem(r.file, r.line, f"{where}.when", f"alias '{p.alias}' is bound twice",
                                   "give each pattern its own `as:`"))
            bound[p.alias] = p.fact
    for a in r.actions:
        values = a.values if isinstance(a, Assertion) else (("program", a.program),)
        for _, v in values:
            for alias, field in refs(v):
                out.extend(_ref_problem(r, alias, field, bound, fields))
    if not any(not p.negated for p in r.patterns):
        out.append(Problem(r.file, r.line, f"{where}.when", "a rule needs at least one pattern without `not`",
                           "durable-rules never fires (or loops on) rules made only of negations"))
    for part, template in (("because", r.because), ("would_change", r.would_change or ""),
                           ("advice", r.advice or "")):
        for alias, field in references(template):
            if alias not in bound:
                out.append(Problem(r.file, r.line, f"{where}.{part}", f"template uses '{{{alias}.{field}}}' but no "
                                   f"pattern is bound to '{alias}'", _suggest(alias, sorted(bound))))
            else:
                out.extend(_field_problem(r, bound[alias], field, fields, lists, "eq", part=part))
    if not any(isinstance(a, Assertion | FindingAction) for a in r.actions):
        out.append(Problem(r.file, r.line, f"{where}.then", "rule has no action"))
    return out


def _tests(tests: tuple[Test | AnyOf, ...]) -> list[Test]:
    out: list[Test] = []
    for t in tests:
        if isinstance(t, AnyOf):
            for g in t.groups:
                out.extend(_tests(g))
        else:
            out.append(t)
    return out


def _field_problem(r: Rule, fact: str, field: str, fields: dict[str, set[str]], lists: dict[str, set[str]],
                   op: str, part: str = "when") -> list[Problem]:
    known = fields.get(fact, set())
    if field not in known:
        return [Problem(r.file, r.line, f"rule {r.id}.{part}", f"'{fact}' has no field '{field}'",
                        _suggest(field, sorted(known)))]
    if op in ("contains", "not_contains") and field not in lists.get(fact, set()):
        return [Problem(r.file, r.line, f"rule {r.id}.{part}",
                        f"'{op}' needs a list field; '{fact}.{field}' is not one")]
    return []


def _ref_problem(r: Rule, alias: str, field: str, bound: dict[str, str], fields: dict[str, set[str]],
                 own: tuple[str, str] | None = None) -> list[Problem]:
    if own and alias == own[0]:
        fact = own[1]
    elif alias in bound:
        fact = bound[alias]
    else:
        return [Problem(r.file, r.line, f"rule {r.id}", f"'${alias}.{field}' refers to an alias bound by no "
                        "earlier pattern", _suggest(alias, sorted(bound)))]
    if field not in fields.get(fact, set()):
        return [Problem(r.file, r.line, f"rule {r.id}", f"'${alias}.{field}': '{fact}' has no field '{field}'",
                        _suggest(field, sorted(fields.get(fact, set()))))]
    return []


def _engine_problems(p: Policy) -> list[Problem]:
    if satisfies(ENGINE_VERSION, p.requires_engine):
        return []
    have = ".".join(map(str, ENGINE_VERSION))
    return [Problem(p.file, None, "requires_engine", f"needs engine {p.requires_engine}; this is {have}",
                    "upgrade signalwise, or use a policy written for this engine")]


def satisfies(version: tuple[int, ...], spec: str) -> bool:
    """Does `version` meet a spec like '>=1.0,<2'?"""
    for part in spec.split(","):
        m = re.match(r"\s*(>=|>|<=|<|==)\s*([0-9.]+)\s*$", part)
        if not m:
            return False
        want = tuple(int(x) for x in m.group(2).split("."))
        want = want + (0,) * (3 - len(want))
        op = m.group(1)
        ok = {">=": version >= want, ">": version > want, "<=": version <= want, "<": version < want,
              "==": version == want}[op]
        if not ok:
            return False
    return True


def _source_problems(p: Policy) -> list[Problem]:
    out = []

    def check(ref: SourceRef | None, field: str) -> None:
        if ref is not None and ref.ref not in p.sources:
            out.append(Problem(p.file, None, field, f"unknown source '{ref.ref}'",
                               _suggest(ref.ref, sorted(p.sources))))
    for r in p.rules:
        check(r.source, f"rule {r.id}.source")
    for name, param in p.parameters.items():
        check(param.source, f"parameters.{name}.source")
    for t in p.quota_tables:
        for row in t.rows:
            check(row.source, f"quota_tables.{t.id}.rows.{row.id}.source")
    for res in p.resolutions:
        check(res.default_source, f"resolutions.{res.id}.default.source")
    for key, ref in sorted(p.message_sources.items()):
        check(ref, f"message_sources.{key}")
    if p.specialty:
        check(p.specialty.signals_source, "signals.source")
        check(p.specialty.home_rule_source, "home_rule.source")
    out.extend(_glossary_problems(p))
    return out


def _glossary_problems(p: Policy) -> list[Problem]:
    """A gloss is a sentence an applicant reads: it cites the passage it comes from (`at`), or a source of
    reliability `assumption` that labels it a signalwise definition. One entry per term."""
    out = []
    seen: set[str] = set()
    for i, g in enumerate(p.glossary):
        where = f"glossary[{i}]"
        if g.term in seen:
            out.append(Problem(p.file, None, f"{where}.term", f"'{g.term}' is glossed twice"))
        seen.add(g.term)
        src = p.sources.get(g.source.ref)
        if src is None:
            out.append(Problem(p.file, None, f"{where}.source", f"unknown source '{g.source.ref}'",
                               _suggest(g.source.ref, sorted(p.sources))))
        elif src.reliability != "assumption" and not (g.source.at or "").strip():
            out.append(Problem(p.file, None, f"{where}.source",
                               f"'{g.term}' cites {g.source.ref} without saying where (`at`)",
                               "give the passage, or cite a source of reliability `assumption` "
                               "(a signalwise definition)"))
        if not g.always and not g.words:
            out.append(Problem(p.file, None, where, f"'{g.term}' is never shown",
                               "give `words` that bring it into a report, or `always: true`"))
    return out


def _quota_problems(ps: PolicySet) -> list[Problem]:
    out: list[Problem] = []
    domains = {r.produces: (r.field, r.precedence) for r in ps.resolutions}
    fit_domain = set(domains.get("program_fit", ("fit", ()))[1])
    for t in ps.quota_tables:
        where = f"quota_tables.{t.id}"
        dom = domains.get(t.key_fact)
        values = list(dom[1]) if dom and dom[0] == t.key_field else sorted({r.key for r in t.rows} - {"any"})
        by_key: dict[str, list[Any]] = defaultdict(list)
        for row in t.rows:
            if row.key != "any" and row.key not in values:
                out.append(Problem(t.file, row.line, f"{where}.rows.{row.id}.key", f"unknown key '{row.key}'",
                                   _suggest(row.key, values)))
            if row.count_min > row.count_max:
                out.append(Problem(t.file, row.line, f"{where}.rows.{row.id}.count",
                                   f"min {row.count_min} is greater than max {row.count_max}"))
            fits = {f for f, _, _ in row.quota} | {f for f, _ in row.shares}
            for fit, lo, hi in row.quota:
                if lo > hi:
                    out.append(Problem(t.file, row.line, f"{where}.rows.{row.id}.quota.{fit}",
                                       f"min {lo} is greater than max {hi}"))
            for name in row.fill_order:
                if name not in fits:
                    out.append(Problem(t.file, row.line, f"{where}.rows.{row.id}.fill_order",
                                       f"names '{name}', which has no quota or share in this row",
                                       _suggest(name, sorted(fits))))
            for name in (fits | set(row.overflow)) - fit_domain if fit_domain else set():
                out.append(Problem(t.file, row.line, f"{where}.rows.{row.id}",
                                   f"'{name}' is not a program fit", _suggest(name, sorted(fit_domain))))
            if row.quota and sum(lo for _, lo, _ in row.quota) > row.count_max:
                out.append(Problem(t.file, row.line, f"{where}.rows.{row.id}.quota",
                                   f"minimums add up to {sum(lo for _, lo, _ in row.quota)}, more than the "
                                   f"{row.count_max} signals the row covers"))
            keys = values if row.key == "any" else [row.key]
            for k in keys:
                by_key[k].append(row)
        lo_dom, hi_dom = t.count_domain or (None, None)
        for key in values:
            rows = sorted(by_key.get(key, []), key=lambda r: (r.count_min, r.count_max))
            if not rows:
                out.append(Problem(t.file, t.line, where, f"no row covers key '{key}'", "add a row for it"))
                continue
            for a, b in zip(rows, rows[1:], strict=False):
                if b.count_min <= a.count_max:
                    out.append(Problem(t.file, b.line, f"{where}.rows.{b.id}.count",
                                       f"overlaps row '{a.id}' for key '{key}' ({b.count_min}-{b.count_max} vs "
                                       f"{a.count_min}-{a.count_max})"))
                elif b.count_min > a.count_max + 1:
                    out.append(Problem(t.file, b.line, f"{where}.rows.{b.id}.count",
                                       f"gap for key '{key}': no row covers {a.count_max + 1}-{b.count_min - 1} "
                                       "signals"))
            if lo_dom is not None and rows[0].count_min > lo_dom:
                out.append(Problem(t.file, rows[0].line, f"{where}.rows.{rows[0].id}.count",
                                   f"gap for key '{key}': no row covers {lo_dom}-{rows[0].count_min - 1} signals"))
            if hi_dom is not None and rows[-1].count_max < hi_dom:
                out.append(Problem(t.file, rows[-1].line, f"{where}.rows.{rows[-1].id}.count",
                                   f"gap for key '{key}': no row covers {rows[-1].count_max + 1}-{hi_dom} signals"))
    return out


# ---------------------------------------------------------------- putting problems on the right line

_QUOTED = re.compile(r"'([^']+)'")


def line_of(positions: dict[YPath, int], path: YPath) -> int | None:
    """The line of `path`, else of its nearest ancestor that has one."""
    while path:
        if path in positions:
            return positions[path]
        path = path[:-1]
    return positions.get(path, 1 if positions else None)


def locate_in(problem: Problem, data: Any, positions: dict[YPath, int]) -> Problem:
    """Point a problem at the line of the name it complains about, when we can find it in the file's data:
    a check that knows only the rule reports its first line, an author wants the line of the typo."""
    if not isinstance(data, dict) or not positions or not problem.field:
        return problem
    field = problem.field
    if field.startswith("rule "):
        field = "rules." + field[5:]
    path = path_for(data, field)
    if not path:
        return problem
    names = _QUOTED.findall(problem.message)
    if names and path[0] == "rules" and len(path) >= 2:
        hit = _find_name(data, path[:2], names[-1].lstrip("$"))
        if hit is not None and hit in positions:
            return replace(problem, line=positions[hit])
    if problem.line is None or len(path) > 2:
        return replace(problem, line=line_of(positions, path))
    return problem


def path_for(data: Any, dotted: str) -> YPath:
    """Follow `rules.<id>.when`-style names (ids may contain dots) through mappings and keyed lists."""
    parts = dotted.split(".")
    node: Any = data
    path: YPath = ()
    i = 0
    while i < len(parts):
        if isinstance(node, dict) and parts[i] in node:
            node, path, i = node[parts[i]], path + (parts[i],), i + 1
            continue
        if isinstance(node, list):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                idx = next((k for k, item in enumerate(node) if isinstance(item, dict)
                            and key in (item.get("id"), item.get("name"))), None)
                if idx is not None:
                    node, path, i = node[idx], path + (idx,), j
                    break
            else:
                break
            continue
        break
    return path


def _walk(node: Any, path: YPath) -> Iterator[tuple[YPath, Any, Any]]:
    """(path, key, value) for every entry under `node`."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path + (k,), k, v
            yield from _walk(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield path + (i,), i, v
            yield from _walk(v, path + (i,))


def _find_name(data: Any, base: YPath, name: str) -> YPath | None:
    """The first key or value under a rule's `when`/`then` that is `name` (or `$alias.name`)."""
    node = data
    for part in base:
        node = node[part]
    for section in ("when", "then"):
        if section not in node:
            continue
        for path, key, value in _walk(node[section], base + (section,)):
            if key == name or value == name:
                return path
            ref = isinstance(value, str) and value.startswith("$")
            if ref and (value[1:] == name or value.endswith(f".{name}")):
                return path
    return None
