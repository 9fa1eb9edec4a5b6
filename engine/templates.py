"""Fill `because` templates with the values a rule matched: `{p.name}`, `{a.exams.step2_ck}`, `{p.img_share:%}`."""

from __future__ import annotations

import re
from typing import Any

from .compiler import flat

_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\.([a-z0-9_.]+)(?::([%a-z]+))?\}")


def fmt_value(value: Any, spec: str | None = None) -> str:
    if value is None:
        return "unknown"
    if spec == "%" and isinstance(value, int | float):
        return f"{round(value * 100)}%"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(fmt_value(v) for v in value) if value else "none"
    return str(value)


def render(template: str, matched: dict[str, dict[str, Any]]) -> str:
    """Replace `{alias.field}` with the matched value; unknown references render as 'unknown'."""
    def sub(m: re.Match[str]) -> str:
        alias, field, spec = m.group(1), m.group(2), m.group(3)
        fact = matched.get(alias) or {}
        return fmt_value(fact.get(flat(field)), spec)
    return _FIELD.sub(sub, template)


def references(template: str) -> list[tuple[str, str]]:
    """The (alias, field) pairs a template uses, for static checks."""
    return [(m.group(1), m.group(2)) for m in _FIELD.finditer(template)]
