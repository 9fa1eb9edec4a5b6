"""Canonical JSON: sorted keys, two-space indent, UTF-8, trailing newline (byte-identical reruns).

The text is exactly `json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False)`; with an indent the
standard library (CPython 3.11-3.13) encodes in pure Python through nested generators, so a one-pass writer
below produces the same bytes at a fraction of the cost (strings are escaped by the library's C function).
Anything it does not handle exactly (another type, a non-finite float, nesting deeper than its table of
indentations) falls back to `json.dumps`, which then writes the same text or raises the same error.

Where the time goes, and so the shape of the writer: a report is thousands of small containers (a few items
each) whose keys repeat ("policy", "rule", "text"...). So keys are sorted alone (sorting the (key, value)
pairs compares tuples, several times slower, and gives the same order since a dict's keys are distinct),
each key's `,\\n<indent>"key": ` is built once per render and depth, a list of strings is written by one
`join` over the C escaping function, and every item starts with the `,` separator, the container's first
one having it replaced by the opening bracket. (Giving each container to the C encoder built with that
depth's separators was measured too: its per-call cost is higher than the Python loop's for containers this
small, and its dict path sorts (key, value) pairs.)
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import Any


class _Fallback(Exception):
    """A value the one-pass writer does not reproduce exactly: let `json.dumps` do it."""


_DEPTHS = 100
# By depth of a container: the line break and indentation of its items, and of its closing bracket.
_INNER = ["\n" + "  " * (depth + 1) for depth in range(_DEPTHS)]
_OUTER = ["\n" + "  " * depth for depth in range(_DEPTHS)]
_INFINITIES = (float("inf"), float("-inf"))


class _Heads(dict[Any, str]):
    """`,<line break><indent>"key": ` by key, for one depth; only `str` keys are kept (no other key type
    equals a `str`, so `True` and `1`, equal as keys, never share an entry)."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.comma = "," + _INNER[depth]

    def __missing__(self, key: Any) -> str:
        head = self.comma + _key(key) + ": "
        if type(key) is str:
            self[key] = head
        return head


def render(report: dict[str, Any], verbose: bool = False) -> str:
    """The report's canonical JSON text. The key-head caches live for one render, so they hold only this
    report's keys; nesting deeper than `_DEPTHS` (an IndexError) goes to `json.dumps` like any other case
    the writer does not take."""
    try:
        parts: list[str] = []
        _write(report, 0, parts, [_Heads(depth) for depth in range(_DEPTHS)])
        parts.append("\n")
        return "".join(parts)
    except (_Fallback, RecursionError, IndexError):
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


def _write(value: Any, depth: int, out: list[str], heads_by_depth: list[_Heads]) -> None:
    """Append the indented JSON of `value`, a container whose items are at `depth` + 1 (or a scalar the
    loops below do not write inline). `heads_by_depth` is this render's cache of item heads."""
    kind = type(value)
    if kind is dict:
        if not value:
            out.append("{}")
            return
        heads = heads_by_depth[depth]
        first = len(out)
        for key in sorted(value):
            item = value[key]
            kind = type(item)
            # Strings, numbers and null inline (most values in a report), containers through _write.
            if kind is str:
                out.append(heads[key] + encode_basestring(item))
            elif kind is int:
                out.append(heads[key] + int.__repr__(item))
            elif kind is float and item == item and item not in _INFINITIES:
                out.append(heads[key] + float.__repr__(item))
            elif item is None:
                out.append(heads[key] + "null")
            else:
                out.append(heads[key])
                _write(item, depth + 1, out, heads_by_depth)
        out[first] = "{" + out[first][1:]
        out.append(_OUTER[depth] + "}")
    elif kind is list or kind is tuple:
        if not value:
            out.append("[]")
            return
        inner = _INNER[depth]
        if type(value[0]) is str:
            try:  # a list of strings (common): one join over the C escaping function
                out.append("[" + inner + ("," + inner).join(map(encode_basestring, value)) + _OUTER[depth] + "]")
                return
            except TypeError:  # another item is not a string
                pass
        comma = "," + inner
        first = len(out)
        for item in value:
            if type(item) is str:
                out.append(comma + encode_basestring(item))
            else:
                out.append(comma)
                _write(item, depth + 1, out, heads_by_depth)
        out[first] = "[" + out[first][1:]
        out.append(_OUTER[depth] + "]")
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and value == value and value not in _INFINITIES:
        out.append(float.__repr__(value))
    else:
        raise _Fallback
