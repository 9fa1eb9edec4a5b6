"""Arithmetic in policy values (`{add|sub|mul|div: [a, b]}`), shared by the runtime and the condition reader."""

from __future__ import annotations

from typing import Any

ARITHMETIC = ("add", "sub", "mul", "div")


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """`left op right`; division by zero gives None (a missing value never matches)."""
    if op == "add":
        return left + right
    if op == "sub":
        return left - right
    if op == "mul":
        return left * right
    return left / right if right else None
