"""Canonical JSON: sorted keys, two-space indent, UTF-8, trailing newline (byte-identical reruns).

The text is exactly `json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)`; with an indent the
standard library encodes in pure Python through nested generators, so a one-pass writer below produces the
same bytes at a fraction of the cost (strings are escaped by the library's C function). Anything it does
not handle exactly (another type, a non-finite float) falls back to `json.dumps`.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any


class _Fallback(Exception):
    """A value the one-pass writer does not reproduce exactly: let `json.dumps` do it."""


def render(report: dict[str, Any], verbose: bool = False) -> str:
    try:
        parts: list[str] = []
        _write(report, "\n", parts)
        return "".join(parts) + "\n"
    except (_Fallback, RecursionError):
        return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _key(key: Any) -> str:
    """A mapping key as json.dumps writes it (it converts before sorting only for the text, not the order)."""
    kind = type(key)
    if kind is str:
        return encode_basestring(key)
    if kind is bool or key is None:
        return '"true"' if key is True else '"false"' if key is False else '"null"'
    if kind is int:
        return f'"{int.__repr__(key)}"'
    raise _Fallback


def _write(value: Any, nl: str, out: list[str]) -> None:
    """Append the indented JSON of `value`; `nl` is a line break plus the current indentation."""
    kind = type(value)
    if kind is str:
        out.append(encode_basestring(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = nl + "  "
        sep = "{" + inner
        for key, item in sorted(value.items()):
            # Strings, small ints and null inline (most values in a report), the rest through _write.
            kind = type(key)
            head = sep + (encode_basestring(key) if kind is str else _key(key)) + ": "
            sep = "," + inner
            kind = type(item)
            if kind is str:
                out.append(head + encode_basestring(item))
            elif item is None:
                out.append(head + "null")
            elif kind is int:
                out.append(head + int.__repr__(item))
            else:
                out.append(head)
                _write(item, inner, out)
        out.append(nl + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for item in value:
            if type(item) is str:
                out.append(sep + encode_basestring(item))
            else:
                out.append(sep)
                _write(item, inner, out)
            sep = "," + inner
        out.append(nl + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in (float("inf"), float("-inf")):
        out.append(float.__repr__(value))
    else:
        raise _Fallback
