"""Facts: the flat records the rules engine matches, and a store that remembers who derived what.

A fact is a dict with a type key `t`, a unique `_id`, and flat field keys (see `compiler.flat`). List
fields also get companion membership keys so rules can test `contains` / `not_contains`.
"""

from __future__ import annotations

import time
from dataclasses import field
from typing import Any

from ..policy.compiler import RESERVED, TYPE_KEY, flat, member_key
from ..records import record

Fact = dict[str, Any]
ID_KEY = RESERVED["id"]  # where a fact keeps its `id` field (e.g. a program's id)
INTERNAL = ("_id", "_salt", "sid")


def make_fact(ftype: str, values: dict[str, Any]) -> Fact:
    """Flatten nested values into a fact of type `ftype`; drop absent (None) values."""
    out: Fact = {TYPE_KEY: ftype}
    _put(out, "", values)
    return out


def _put(out: Fact, prefix: str, values: dict[str, Any]) -> None:
    # One call per nested mapping, not per value: a shortlist's program facts are built at every run.
    for k, value in values.items():
        if value is None:
            continue
        path = f"{prefix}.{k}" if prefix else k
        if isinstance(value, dict):
            _put(out, path, value)
            continue
        key = flat(path)
        if isinstance(value, list):
            out[key] = list(value)
            out[f"{key}__count"] = len(value)
            for item in value:
                out[member_key(path, item)] = True
            continue
        out[key] = value


def content_key(fact: Fact) -> tuple[tuple[str, Any], ...]:
    """Hashable identity of a fact's content (lists become tuples; bookkeeping keys ignored)."""
    items = [(k, tuple(v) if isinstance(v, list) else v) for k, v in fact.items() if k not in INTERNAL]
    items.sort()  # keys are unique: only they are compared
    return tuple(items)


@record(frozen=False)
class FactStore:
    """All facts of one evaluation, in assertion order, with de-duplication of identical content."""

    facts: list[Fact] = field(default_factory=list)
    by_key: dict[tuple[tuple[str, Any], ...], int] = field(default_factory=dict)
    by_type: dict[str, list[Fact]] = field(default_factory=dict)
    # When the evaluation began (wall clock and this process's CPU: the engine budgets count from here),
    # and the token under which an engine process (runtime._Worker) holds a copy of these facts, if any.
    started: float = field(default_factory=time.monotonic, compare=False, repr=False)
    started_cpu: float = field(default_factory=time.process_time, compare=False, repr=False)
    engine: str | None = field(default=None, compare=False, repr=False)
    # Each fact's JSON for the rules engine, written once: a fact is asserted into every ruleset that
    # consumes it (a program fact four times), and stored facts never change (`runtime._payload`).
    encoded: dict[tuple[str, int], str] = field(default_factory=dict, compare=False, repr=False)

    def add(self, fact: Fact) -> tuple[int, bool]:
        """Store a fact; return (id, is_new). Identical content returns the existing id."""
        key = content_key(fact)
        known = self.by_key.get(key)
        if known is not None:
            return known, False
        fid = len(self.facts)
        stored = {**fact, "_id": fid}
        self.facts.append(stored)
        self.by_type.setdefault(stored[TYPE_KEY], []).append(stored)
        self.by_key[key] = fid
        return fid, True

    def of_type(self, ftype: str) -> list[Fact]:
        return list(self.by_type.get(ftype, ()))

    def get(self, fid: int) -> Fact:
        return self.facts[fid]
