"""Policy values: arithmetic (`{add|sub|mul|div: [a, b]}`) and the fact fields a value reads, shared by the
runtime, the condition reader and the checks."""

from __future__ import annotations

from typing import Any

ARITHMETIC = ("add", "sub", "mul", "div")

# Every number a policy writes or computes stays within ±10^15: exact in a double (below 2^53), far from
# the C core's 64-bit integer range (a product of two such numbers is computed as a double), and short
# enough to print without exponent notation. Documented in docs/reliability.md.
MAX_MAGNITUDE = 10**15


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """`left op right`; division by zero gives None (a missing value never matches)."""
    if op == "add":
        return left + right
    if op == "sub":
        return left - right
    if op == "mul":
        return left * right
    return left / right if right else None


def refs(value: Any) -> list[tuple[str, str]]:
    """The (alias, field) pairs a compiled value reads: `("ref", alias, field)`, inside arithmetic too."""
    if isinstance(value, tuple) and value and value[0] == "ref":
        return [(value[1], value[2])]
    if isinstance(value, tuple):
        return [x for v in value for x in refs(v)]
    return []
