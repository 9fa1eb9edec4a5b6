"""What the shortlist left unknown, and which decisions that could touch.

A program's value is unknown when its cell is blank (or says `unknown`) or its column is missing, and the
column has no default. A rule that tests that field cannot match that program, so the decision the rule
feeds (fit, eligibility, score, ...) was made without it. This module finds those (field, decision) pairs
from the rules themselves; the sentences come from policies (`input.*` and `column.*` messages in
policies/guidance/messages.yaml).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..load.inputs import Shortlist
from ..load.schemas import load_schema
from ..policy.model import AnyOf, Assertion, FindingAction, PolicySet, Rule, Test

# What a rule's output decides, in the order reports list decisions.
DECIDES = ("fit", "eligibility", "signal-tier", "score", "order", "checks", "advice")
_OUTPUT_DECIDES = {"fit_vote": "fit", "program_area": "fit", "status_vote": "eligibility",
                   "level_block": "signal-tier", "score": "score", "precedence_member": "order",
                   "advice": "advice", "home_program": "eligibility"}


def _fields(tests: tuple[Test | AnyOf, ...]) -> set[str]:
    out: set[str] = set()
    for t in tests:
        if isinstance(t, AnyOf):
            for g in t.groups:
                out |= _fields(g)
        else:
            out.add(t.field.removesuffix(".count").split(".")[0])
    return out


def _decides(rule: Rule) -> set[str]:
    out = set()
    for action in rule.actions:
        if isinstance(action, FindingAction):
            out.add("checks")
        elif isinstance(action, Assertion) and action.fact in _OUTPUT_DECIDES:
            out.add(_OUTPUT_DECIDES[action.fact])
    return out


def field_decisions(ps: PolicySet) -> dict[str, list[str]]:
    """Program field -> the decisions some rule reading it feeds (only fields some rule reads)."""
    out: dict[str, set[str]] = defaultdict(set)
    for policy in ps.policies:
        for rule in policy.rules:
            decides = _decides(rule)
            if not decides:
                continue
            for pattern in rule.patterns:
                if pattern.fact == "program" and not pattern.negated:
                    for field in _fields(pattern.tests):
                        out[field] |= decides
    return {f: sorted(d, key=DECIDES.index) for f, d in sorted(out.items()) if d}


def unknown_fields(shortlist: Shortlist) -> dict[str, list[str]]:
    """Program id -> the fields it leaves unknown (no value and no default), in schema order.

    A blank cell in a column whose blank has a meaning (`x-blank` in the program schema: a blank
    `step2_min` is "no minimum stated") is not unknown; a missing column still is."""
    props = load_schema("program")["properties"]
    optional = [f for f, spec in props.items() if "default" not in spec and f not in ("id", "name", "state")
                and not f.startswith("interview_rate_")]
    given = set(shortlist.columns) if shortlist.columns is not None else None
    # Whether a field without a value is unknown depends on the field alone: decided once, not per program.
    can_be_unknown = [f for f in optional if "x-blank" not in props[f] or (given is not None and f not in given)]
    return {p["id"]: [f for f in can_be_unknown if p.get(f) is None] for p in shortlist.programs}


def assumed_columns(shortlist: Shortlist) -> list[str]:
    """Columns a spreadsheet left out whose default signalwise used (`rotated` -> no)."""
    if shortlist.columns is None:
        return []
    props = load_schema("program")["properties"]
    return [f for f, spec in props.items() if "default" in spec and f not in shortlist.columns]


def default_text(field: str) -> str:
    value = load_schema("program")["properties"][field]["default"]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "none"
    return str(value)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def listed(items: list[str], limit: int = 4) -> str:
    """'A, B and C' or 'A, B, C, D and 3 more'."""
    shown = items[:limit]
    more = len(items) - len(shown)
    if more > 0:
        return ", ".join(shown) + f" and {more} more"
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def input_findings(ps: PolicySet, shortlist: Shortlist) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Findings about the shortlist itself, and each program's unknowns with the decisions they touch."""
    owner = ps.message_owner("input.unknown")
    touched = field_decisions(ps)
    per_program: dict[str, list[dict[str, Any]]] = {}
    by_field: dict[str, list[str]] = defaultdict(list)
    for pid, fields in unknown_fields(shortlist).items():
        read = [f for f in fields if f in touched]
        if read:
            per_program[pid] = [{"field": f, "decides": touched[f]} for f in read]
            for f in read:
                by_field[f].append(pid)
    findings: list[dict[str, Any]] = []

    def msg(key: str, **values: Any) -> str:
        return " ".join(ps.message(key, **values).split())

    def has(key: str) -> bool:
        return any(key in p.messages for p in ps.policies)

    for field, pids in by_field.items():
        decides = listed([msg(f"decides.{d}") if has(f"decides.{d}") else d for d in touched[field]], limit=9)
        everyone = len(pids) == len(shortlist.programs)
        text = msg("input.unknown.all" if everyone else "input.unknown", column=field,
                   programs=listed(sorted(pids)), how_many=plural(len(pids), "program"), decides=decides)
        key = "column." + field.replace("_", "-")
        where = msg(key) if has(key) else msg("input.unknown.find-out")
        findings.append({"level": "info", "rule": f"input.unknown.{field}", "policy": owner, "text": text,
                         "advice": where, "program": None, "source": None})
    assumed = [f for f in assumed_columns(shortlist)
               if f in touched and f not in ("home", "interest")]
    if assumed:
        findings.append({"level": "info", "rule": "input.assumed", "policy": owner,
                         "text": msg("input.assumed", columns=", ".join(f"{f} ({default_text(f)})" for f in assumed)),
                         "advice": msg("input.assumed.advice"), "program": None, "source": None})
    if shortlist.extra_columns:
        findings.append({"level": "info", "rule": "input.extra-columns", "policy": owner,
                         "text": msg("input.extra-columns", columns=", ".join(shortlist.extra_columns)),
                         "advice": msg("input.extra-columns.advice"), "program": None, "source": None})
    return findings, per_program
