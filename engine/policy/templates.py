"""Fill `because` templates with the values a rule matched: `{p.name}`, `{a.exams.step2_ck}`, `{p.img_share:%}`,
and `{n.count:s}`: the plural ending for a count (`program{n.count:s}` reads "1 program", "2 programs")."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from .compiler import flat

_FIELD = re.compile(r"\{([a-z_][a-z0-9_]*)\.([a-z0-9_.]+)(?::([%a-z]+))?\}")


def fmt_value(value: Any, spec: str | None = None) -> str:
    if spec == "s":  # plural ending for the number it follows: "{n.count} program{n.count:s}"
        return "" if isinstance(value, int | float) and not isinstance(value, bool) and value == 1 else "s"
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


@lru_cache(maxsize=4096)
def _compiled(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    """A template split once into (literal, alias, flat field, format spec) parts."""
    parts: list[tuple[str, str | None, str | None, str | None]] = []
    pos = 0
    for m in _FIELD.finditer(template):
        parts.append((template[pos:m.start()], m.group(1), flat(m.group(2)), m.group(3)))
        pos = m.end()
    parts.append((template[pos:], None, None, None))
    return tuple(parts)


def render(template: str, matched: dict[str, dict[str, Any]]) -> str:
    """Replace `{alias.field}` with the matched value; unknown references render as 'unknown'."""
    parts = _compiled(template)
    if len(parts) == 1:
        return parts[0][0]
    out = []
    for literal, alias, key, spec in parts:
        out.append(literal)
        if alias is not None:
            value = (matched.get(alias) or {}).get(key or "")
            # Text and whole numbers without a format read as themselves (most references): `fmt_value`'s
            # answer without the call (a rule's sentence is rendered at every firing).
            kind = type(value)
            out.append(str(value) if spec is None and (kind is str or kind is int) else fmt_value(value, spec))
    return "".join(out)


def references(template: str) -> list[tuple[str, str]]:
    """The (alias, field) pairs a template uses, for static checks."""
    return [(m.group(1), m.group(2)) for m in _FIELD.finditer(template)]
