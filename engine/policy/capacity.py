"""What durable-rules' C core can hold, so no ruleset we build can hang or overflow it.

durable-rules 2.0.28 builds one alpha network per ruleset (src/rules/rete.c). Each alpha node keeps its
children in fixed-size tables that are never grown:

- a 512-slot open-addressing hash set (`NEXT_BUCKET_LENGTH`) for tests on a field. Lookups probe
  `(entry + 1) % 512` until they find an empty slot, and insertion happily fills the last one. A node
  with 512 children therefore has no empty slot: every later lookup loops forever, both when the
  ruleset is built (`findAlpha`, a 513th child) and when a fact is matched (`handleAlpha` in events.c).
  This is the hang at about 612 rules: the bundled rules plus 500 one-test rules on `program` put more
  than 511 children under the single `t = program` node.
- a 128-slot list for "field is absent" tests and `any`/`in` branches (`NEXT_LIST_LENGTH`; error 107,
  and a read past the end when it is full);
- a 256-slot list of joins (`BETA_LIST_LENGTH`; error 108);
- matching walks the network with a 64-entry stack (`MAX_STACK_SIZE`; error 303 while asserting);
- each pattern's conditions that join or group (`$and`, `$or`, `$alias.field`) take entries of a
  32-entry sequence (`MAX_SEQUENCE_EXPRESSIONS`; error 113 while building).

This module models that construction exactly enough to count children per node, and signalwise keeps
every count well below the C limits (`SAFE_*`): the compiler splits a stage's rules over as many
rulesets as needed (`partition`), and `policy.check` refuses a single rule that cannot fit even alone
(`rule_problems`), naming it. Facts are asserted into every part of a stage, so a split changes nothing
but which session a rule fires in.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..records import record

# The C core's own limits (src/rules/rules.h, rete.h, events.c of durable-rules 2.0.28).
C_HASH_SLOTS = 512
C_ABSENT_SLOTS = 128
C_JOIN_SLOTS = 256
C_STACK = 64
C_SEQUENCE = 32

# What signalwise allows: at most half of each table, so a probe always finds empty slots quickly.
SAFE_HASH_CHILDREN = 256
SAFE_ABSENT_CHILDREN = 64
SAFE_JOINS = 128
SAFE_STACK = 48
SAFE_SEQUENCE = C_SEQUENCE - 1  # the 32nd entry is the error

_OPS = {"$neq": "neq", "$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte", "$ex": "ex", "$nex": "nex"}


@dataclass(eq=False)
class _Node:
    hashed: dict[tuple[str, str, str], _Node] = field(default_factory=dict)
    absent: list[_Node] = field(default_factory=list)
    absent_keys: dict[tuple[str, str, str], _Node] = field(default_factory=dict)
    joins: int = 0
    eq_fields: set[str] = field(default_factory=set)  # fields tested for equality with a literal
    others: int = 0                                    # other hashed tests (ranges, joins, presence)
    depth: int = 1                                     # stack entries matching below this node may need
    dirty: bool = True


@record(frozen=False)
class Usage:
    """The largest counts in one ruleset: children of one node, joins on one node, stack, sequence."""

    hashed: int = 0
    absent: int = 0
    joins: int = 0
    stack: int = 0
    sequence: int = 0

    def exceeds(self) -> list[str]:
        out = []
        if self.hashed > SAFE_HASH_CHILDREN:
            out.append(f"{self.hashed} different tests on one fact at one point (limit {SAFE_HASH_CHILDREN})")
        if self.absent > SAFE_ABSENT_CHILDREN:
            out.append(f"{self.absent} alternatives or absence tests at one point (limit {SAFE_ABSENT_CHILDREN})")
        if self.joins > SAFE_JOINS:
            out.append(f"{self.joins} patterns ending on the same conditions (limit {SAFE_JOINS})")
        if self.stack > SAFE_STACK:
            out.append(f"a fact could match {self.stack} tests at once (limit {SAFE_STACK})")
        if self.sequence > SAFE_SEQUENCE:
            out.append(f"one pattern needs {self.sequence} engine expressions for its `any`, `in`, "
                       f"`not_in`, `contains` groups and `$alias.field` joins (limit {SAFE_SEQUENCE})")
        return out


class AlphaNetwork:
    """The alpha network one durable-rules ruleset would build from the rules added so far.

    Counts are kept as rules are added; the stack bound is recomputed only below nodes a new rule
    touched, so adding a rule costs about its own size, not the network's.
    """

    def __init__(self) -> None:
        self.root = _Node()
        self._usage = Usage()
        self._touched: list[_Node] = []

    def add_rule(self, definition: dict[str, Any]) -> None:
        for pattern in definition.get("all", []):
            ((_alias, expr),) = pattern.items()
            seq = [0]
            self._touched.append(self.root)
            end = self._create(expr, self.root, seq)
            end.joins += 1
            self._usage.joins = max(self._usage.joins, end.joins)
            self._usage.sequence = max(self._usage.sequence, seq[0])

    def _create(self, expr: dict[str, Any], parent: _Node, seq: list[int]) -> _Node:
        ((name, value),) = expr.items()
        if name == "$and":
            seq[0] += 2  # OP_AND ... OP_END
            node = parent
            for child in value:
                node = self._create(child, node, seq)
            return node
        if name == "$or":
            seq[0] += 2  # OP_OR ... OP_END
            forward = _Node()  # never shared; linked from the end of every branch as an "absent" child
            self._touched.append(forward)
            for child in value:
                end = self._create(child, parent, seq)
                end.absent.append(forward)
                self._usage.absent = max(self._usage.absent, len(end.absent))
                self._touched.append(end)
            return forward
        if name in _OPS:
            ((fld, operand),) = value.items()
            op = _OPS[name]
        else:
            fld, operand, op = name, value, "eq"
        join = _is_join(operand)
        key = (op, fld, json.dumps(operand, sort_keys=True))
        if join:
            seq[0] += 1
        table = parent.absent_keys if op == "nex" else parent.hashed
        found = table.get(key)
        if found is not None:
            node = found
        else:
            node = _Node()
            table[key] = node
            if op == "nex":
                parent.absent.append(node)
                self._usage.absent = max(self._usage.absent, len(parent.absent))
            elif op == "eq" and not join:
                parent.eq_fields.add(fld)
            else:
                parent.others += 1
            self._usage.hashed = max(self._usage.hashed, len(parent.hashed))
        self._touched.append(parent)
        self._touched.append(node)
        return node

    def usage(self) -> Usage:
        for n in self._touched:
            n.dirty = True
        self._touched.clear()
        self._usage.stack = _depth(self.root)
        return Usage(**vars(self._usage))


def _depth(n: _Node) -> int:
    """Stack entries the C core's depth-first match may hold below `n` (an upper bound): every child
    that can match a fact is pushed at once (equality tests on one field count once), then the last
    one is explored while the others wait."""
    if not n.dirty:
        return n.depth
    n.dirty = False  # set first: a forward node reached twice counts once
    pushed = len(n.absent) + n.others + len(n.eq_fields)
    deepest = max((_depth(c) for c in [*n.absent, *n.hashed.values()]), default=1)
    n.depth = max(1, pushed - 1 + deepest) if pushed else 1
    return n.depth


def _is_join(operand: Any) -> bool:
    """A value read from another fact (`{alias: field}`) or computed from one (`{"$add": ...}`)."""
    # The fact's own field (`$m`) is compared in the alpha node: no sequence entry.
    return isinstance(operand, dict) and set(operand) != {"$m"}


def rule_usage(definition: dict[str, Any]) -> Usage:
    """What one rule needs on its own."""
    net = AlphaNetwork()
    net.add_rule(definition)
    return net.usage()


def partition(rules: Iterable[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    """Split rules (id, durable definition) into groups that each fit one ruleset, keeping their order.

    Greedy: a rule goes into the current group unless that would exceed a safe limit; then a new group
    starts. A rule that does not fit even alone gets a group of its own (policy.check refuses it first).
    """
    groups: list[list[str]] = []
    current: list[str] = []
    net = AlphaNetwork()
    for rid, definition in rules:
        net.add_rule(definition)
        if current and net.usage().exceeds():
            groups.append(current)
            current, net = [], AlphaNetwork()
            net.add_rule(definition)
        current.append(rid)
    if current:
        groups.append(current)
    return groups
