"""Reading a JSON report back (`signalwise explain`, `signalwise track --report`) as the untrusted input it is.

A report may have been edited by hand or come from elsewhere. Before anything reads it, it is checked
like every other input (docs/reliability.md, "Reports read back"):

- at most MAX_REPORT_BYTES: the largest report `evaluate` can write (2,000 programs with 200-character
  names and every tie) is about 16 MB;
- JSON as the standard defines it: no NaN or Infinity, no key twice in one object, nesting at most
  MAX_JSON_DEPTH levels (a report has 8), numbers of at most MAX_NUMBER_CHARS characters;
- valid against schemas/report.schema.json, which types every field the readers use.

Every problem is exit 2 with the file and the JSON path (`$.programs[3].division`).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from ..errors import InputError, Problem
from .files import read_text
from .schemas import schema_problems

MAX_REPORT_BYTES = 20 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_NUMBER_CHARS = 32
MAX_SHOWN = 10  # schema problems listed (the rest are counted)
MAKE_ONE = "make one with: signalwise evaluate --profile P --programs F --format json -o report.json"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_LONG_NUMBER = re.compile(rf"[-+0-9.eE]{{{MAX_NUMBER_CHARS + 1},}}")


class _Refused(ValueError):
    pass


def load_report(path: str, *, hint: str = MAKE_ONE) -> dict[str, Any]:
    """The report at `path`, checked (see the module docstring); InputError naming file and JSON path."""
    text = read_text(path, max_bytes=MAX_REPORT_BYTES)
    data = parse_json(text, path, hint)
    if not isinstance(data, dict) or "report_version" not in data or "programs" not in data:
        raise InputError([Problem(path, None, None, "not a signalwise report (a JSON report has report_version "
                                  "and programs)", hint)])
    if data.get("kind") == "tracking":
        raise InputError([Problem(path, None, None, "this is a tracking result (signalwise track), not a plan",
                                  hint)])
    problems = schema_problems("report", data, path, {})
    if problems:
        shown = [Problem(path, None, None, f"not a valid signalwise report: {len(problems):,} schema problem(s)",
                         hint)]
        shown += [Problem(p.file, None, json_path(p.field), p.message, p.hint) for p in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            shown.append(Problem(path, None, None, f"{len(problems) - MAX_SHOWN:,} more problems not shown",
                                 "is this a report written by this version of signalwise?"))
        raise InputError(shown)
    return data


def json_path(field: str | None) -> str:
    """`programs[3].division` -> `$.programs[3].division` (the document itself is `$`)."""
    if not field:
        return "$"
    return "$" + ("" if field.startswith("[") else ".") + field


def parse_json(text: str, path: str, hint: str) -> Any:
    """`json.loads` within limits: refuses NaN/Infinity, duplicate keys, deep nesting and long numbers."""
    skeleton = _STRING.sub('""', text)  # keys and strings out of the way: brackets and numbers remain
    steps = [1 if b in "[{" else -1 for b in _BRACKET.findall(skeleton)]
    depth = max(accumulate(steps), default=0)
    if depth > MAX_JSON_DEPTH:
        raise InputError([Problem(path, None, None, f"JSON nested {depth:,} levels deep; the limit is "
                                  f"{MAX_JSON_DEPTH}", hint)])
    long = _LONG_NUMBER.search(skeleton)
    if long:
        raise InputError([Problem(path, None, None, f"a number of {len(long.group()):,} characters; the limit is "
                                  f"{MAX_NUMBER_CHARS}", hint)])
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise InputError([Problem(path, exc.lineno, None, f"not a JSON report: {exc.msg} (column {exc.colno})",
                                  hint)]) from None
    except _Refused as exc:
        raise InputError([Problem(path, None, None, str(exc), hint)]) from None
    except (ValueError, RecursionError) as exc:  # e.g. a number Python will not convert
        raise InputError([Problem(path, None, None, f"not valid JSON: {type(exc).__name__}", hint)]) from None


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a number JSON allows")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {json.dumps(key)[:80]} appears twice in one object")
        out[key] = value
    return out
