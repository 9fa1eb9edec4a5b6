"""Load the applicant's two files: the profile (YAML) and the program shortlist (CSV or YAML).

Both are typed by their JSON Schema; every problem is reported at once with file, line and field (up
to 50 per file: a CSV stops being read at the 51st). Limits and the spreadsheet-formula rule are listed
in docs/reliability.md.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from .errors import InputError, Problem
from .files import read_text
from .schemas import ecma_pattern, load_schema, schema_problems
from .yamlsafe import Path, load_yaml_text

# A text cell starting with one of these is a spreadsheet formula, not a value (OWASP "CSV injection").
# `-` counts only when something follows it (`-2+3`, `-A1`): no id, name or institution starts with a dash.
# Number cells accept a leading `+` or `-` sign: they are parsed strictly and range-checked instead.
FORMULA_PREFIXES = ("=", "+", "@")
MAX_PROGRAMS = 2_000   # more than any specialty has; keeps one evaluation under a few seconds
MAX_PROBLEMS = 50      # per file: the first ones are listed, the rest counted
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_INTEGER = re.compile(r"^[+-]?\d+\Z")
_MAX_NUMBER_CHARS = 30


@dataclass(frozen=True)
class Profile:
    data: dict[str, Any]
    file: str
    positions: dict[Path, int]
    text: str


@dataclass(frozen=True)
class Shortlist:
    programs: tuple[dict[str, Any], ...]
    file: str
    lines: tuple[int, ...]  # source line of each program
    text: str


def apply_defaults(schema: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
    """Fill schema defaults, creating nested objects whose fields have defaults."""
    out = dict(instance)
    for key, sub in (schema.get("properties") or {}).items():
        if key in out:
            if isinstance(out[key], dict) and sub.get("type") == "object":
                out[key] = apply_defaults(sub, out[key])
            continue
        if "default" in sub:
            default = sub["default"]
            out[key] = type(default)() if isinstance(default, list | dict) else default
        elif sub.get("type") == "object" and any("default" in s
                                                 for s in (sub.get("properties") or {}).values()):
            out[key] = apply_defaults(sub, {})
    return out


def load_profile(path: str | FsPath) -> Profile:
    name = str(path)
    text = read_text(path)
    data, positions = load_yaml_text(text, name)
    if not isinstance(data, dict):
        raise InputError([Problem(name, 1, None, "a profile must be a mapping of fields",
                                  "start with `specialty:`, `cycle:` and `applicant:`")])
    problems = schema_problems("profile", data, name, positions)
    if problems:
        raise InputError(capped(problems, name))
    return Profile(apply_defaults(load_schema("profile"), data), name, positions, text)


def load_programs(path: str | FsPath) -> Shortlist:
    name = str(path)
    text = read_text(path)
    if name.lower().endswith((".yaml", ".yml")):
        return _programs_from_yaml(text, name)
    return _programs_from_csv(text, name)


def _programs_from_yaml(text: str, name: str) -> Shortlist:
    data, positions = load_yaml_text(text, name)
    if isinstance(data, dict) and "programs" in data and len(data) == 1:
        data = data["programs"]
        positions = {k[1:]: v for k, v in positions.items() if k and k[0] == "programs"}
    if not isinstance(data, list):
        raise InputError([Problem(name, 1, None, "a YAML shortlist must be a list of programs",
                                  "each item a mapping with id, name, state, setting, ...")])
    if len(data) > MAX_PROGRAMS:
        raise InputError([_too_many(name, len(data))])
    problems = schema_problems("programs", data, name, positions)
    if problems:
        raise InputError(capped(problems, name))
    lines = tuple(positions.get((i,), 0) for i in range(len(data)))
    return _finish(tuple(data), name, lines, text)


def capped(problems: list[Problem], name: str, total: int | None = None) -> list[Problem]:
    """At most MAX_PROBLEMS problems (in reading order), plus one line saying how many were left out."""
    total = len(problems) if total is None else total
    if total <= MAX_PROBLEMS:
        return problems
    shown = sorted(problems, key=lambda p: (p.line or 0, p.field or "", p.message))[:MAX_PROBLEMS]
    return shown + [Problem(name, None, None, f"{total - MAX_PROBLEMS:,} more problems not shown "
                            f"(the first {MAX_PROBLEMS} of {total:,} are listed)",
                            "fix these and run again; a shifted column or a wrong file often causes many")]


class _Problems:
    """Collects problems for one file, keeping only the first MAX_PROBLEMS but counting all."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[Problem] = []
        self.total = 0

    def add(self, problem: Problem) -> None:
        """Keep a problem; past MAX_PROBLEMS stop reading (a shifted file would list every row)."""
        self.total += 1
        if self.total > MAX_PROBLEMS:
            where = f" at line {problem.line:,}" if problem.line else ""
            raise InputError(self.items + [Problem(
                self.name, None, None, f"stopped reading{where} after {MAX_PROBLEMS} problems",
                "fix these and run again; a shifted column or a wrong file often causes many")])
        self.items.append(problem)

    def extend(self, problems: list[Problem]) -> None:
        for p in problems:
            self.add(p)

    def raise_if_any(self) -> None:
        if self.total:
            raise InputError(capped(self.items, self.name, self.total))


def _too_many(name: str, count: int) -> Problem:
    return Problem(name, None, None, f"the shortlist has {count:,} programs; the limit is {MAX_PROGRAMS:,}",
                   "no specialty has that many programs: check you exported the right sheet")


def _header_problems(name: str, columns: list[str], props: dict[str, Any],
                     required: list[str]) -> list[Problem]:
    known = [c for c in columns if c in props]
    if not known:
        for sep, label in ((";", "semicolons"), ("\t", "tabs")):
            if any(sep in c for c in columns) and any(part.strip() in props
                                                     for c in columns for part in c.split(sep)):
                return [Problem(name, 1, None, f"the columns are separated by {label}",
                                "expected commas: export as 'CSV (comma delimited)'")]
        return [Problem(name, 1, None, "the first line is not a header row of known columns",
                        f"expected a header such as: {', '.join(required)}, ... "
                        f"(known columns: {', '.join(props)})")]
    problems = []
    suggested: set[str] = set()
    for i, col in enumerate(columns):
        if col not in props:
            guess = difflib.get_close_matches(col.lower(), list(props), n=1, cutoff=0.6)
            hint = f"did you mean '{guess[0]}'?" if guess else f"expected columns: {', '.join(props)}"
            suggested.update(guess)
            shown = _short(col)
            problems.append(Problem(name, 1, shown or f"column {i + 1}", f"unknown column '{shown}'", hint))
        if col in columns[:i]:
            problems.append(Problem(name, 1, col, "column appears twice in the header"))
    for req in required:
        if req not in columns and req not in suggested:  # a misspelling already says "did you mean"
            problems.append(Problem(name, 1, req, "required column is missing from the header"))
    return problems


def _csv_error(name: str, line: int, exc: csv.Error) -> InputError:
    text = str(exc)
    if "field larger than field limit" in text:
        return InputError([Problem(name, line, None,
                                   f"a value is longer than {csv.field_size_limit():,} characters",
                                   "check for an unclosed quote that swallowed the rest of the file")])
    return InputError([Problem(name, line, None, f"malformed CSV: {text}", "check for an unclosed quote")])


def _programs_from_csv(text: str, name: str) -> Shortlist:
    schema = load_schema("program")
    props: dict[str, Any] = schema["properties"]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError([Problem(name, 1, None, "the file has no header row")]) from None
    except csv.Error as exc:
        raise _csv_error(name, 1, exc) from None
    columns = [h.strip() for h in header]
    padding = 0  # spreadsheets often end every line with a comma: empty trailing columns are padding
    while columns and columns[-1] == "" and len(columns) > 1:
        columns.pop()
        padding += 1
    header_problems = _header_problems(name, columns, props, list(schema["required"]))
    if header_problems:
        raise InputError(capped(header_problems, name))
    problems = _Problems(name)
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    line = reader.line_num + 1
    while True:
        start = line
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _csv_error(name, start, exc) from None
        line = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(rows) >= MAX_PROGRAMS:
            more = sum(1 for r in reader if any(c.strip() for c in r))
            raise InputError([_too_many(name, len(rows) + 1 + more)])
        if len(cells) > len(columns) and len(cells) <= len(columns) + padding \
                and not any(c.strip() for c in cells[len(columns):]):
            cells = cells[:len(columns)]
        if len(cells) != len(columns):
            values = "value" if len(cells) == 1 else "values"
            problems.add(Problem(name, start, None, f"row has {len(cells)} {values} but the header has "
                                 f"{len(columns)} columns", "check for a missing or extra comma"))
            continue
        row: dict[str, Any] = {}
        unreadable: set[str] = set()
        for col, cell in zip(columns, cells, strict=True):
            value, problem = _typed_cell(cell, props[col])
            if problem:
                problems.add(Problem(name, start, col, problem[0], problem[1]))
                unreadable.add(col)
            elif value is not None:
                row[col] = value
        rows.append(row)
        lines.append(start)
        if not unreadable and _row_obviously_valid(row, props, schema["required"]):
            continue  # the full (slow) validator would find nothing; it runs only to explain a problem
        problems.extend([p for p in schema_problems("program", row, name, {}, line_of=lambda _p, ln=start: ln)
                         if not any(p.message.startswith(f"'{col}' is required") for col in unreadable)])
    problems.raise_if_any()
    return _finish(tuple(rows), name, tuple(lines), text)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                               "array": list}


def _value_ok(value: Any, spec: dict[str, Any]) -> bool:
    """A conservative check of one value against a simple property schema (never looser than jsonschema)."""
    kind = spec.get("type")
    if kind is not None and (not isinstance(value, _JSON_TYPES.get(kind, object))
                             or (kind in ("integer", "number") and isinstance(value, bool))):
        return False
    if "enum" in spec and value not in spec["enum"]:
        return False
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and (("minimum" in spec and value < spec["minimum"]) or ("maximum" in spec and value > spec["maximum"])):
        return False
    if isinstance(value, str):
        if len(value) < spec.get("minLength", 0) or len(value) > spec.get("maxLength", len(value)):
            return False
        if "pattern" in spec and not re.search(ecma_pattern(spec["pattern"]), value):
            return False
    if isinstance(value, list):
        if spec.get("uniqueItems") and len(set(map(str, value))) != len(value):
            return False
        return all(_value_ok(v, spec.get("items", {})) for v in value)
    known = {"type", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "uniqueItems", "items",
             "description", "default"}
    return set(spec) <= known


def _row_obviously_valid(row: dict[str, Any], props: dict[str, Any], required: list[str]) -> bool:
    return all(k in row for k in required) and all(k in props and _value_ok(v, props[k]) for k, v in row.items())


def _typed_cell(cell: str, spec: dict[str, Any]) -> tuple[Any, tuple[str, str | None] | None]:
    """One CSV cell typed by its column's schema: (value, None) or (None, (message, hint))."""
    raw = cell.strip()
    if raw == "":
        return None, None
    if "\n" in raw or "\r" in raw:
        return None, ("value contains a line break (inside quotes)", "keep each value on one line")
    kind = spec.get("type")
    if kind in ("integer", "number"):
        return _number_cell(raw, kind == "integer")
    if kind == "boolean":
        low = raw.lower()
        if low in ("yes", "y", "true", "1"):
            return True, None
        if low in ("no", "n", "false", "0"):
            return False, None
        return None, (f"got {_short(raw)!r}; expected yes or no", _formula_hint(raw))
    if kind == "array":
        items = [p.strip() for p in raw.split(";") if p.strip()]
        formula = next((item for item in items if _looks_like_formula(item)), None)
        if formula is not None:
            return None, _formula_problem(formula)
        return items, None
    if _looks_like_formula(raw):
        return None, _formula_problem(raw)
    return raw, None


def _number_cell(raw: str, integer: bool) -> tuple[Any, tuple[str, str | None] | None]:
    text = raw[:-1].strip() if raw.endswith("%") else raw
    expected = "a whole number" if integer else "a number such as 0.25"
    if len(text) > _MAX_NUMBER_CHARS or not (_INTEGER if integer else _NUMBER).match(text):
        if _number_formula(raw):
            return None, _formula_problem(raw)
        return None, (f"got {_short(raw)!r}; expected {expected}", None)
    if integer:
        if raw.endswith("%"):
            return None, (f"got {_short(raw)!r}; expected {expected}", None)
        return int(text), None
    value = float(text) / (100 if raw.endswith("%") else 1)
    if not math.isfinite(value):
        return None, (f"got {_short(raw)!r}; expected a finite number", None)
    return value, None


def _looks_like_formula(raw: str) -> bool:
    return raw.startswith(FORMULA_PREFIXES) or (raw.startswith("-") and len(raw) > 1 and not raw[1].isspace())


def _number_formula(raw: str) -> bool:
    """In a number cell a leading sign is a sign: `-0.2` is a (range-checked) number, `-B2` a formula."""
    if raw.startswith(("=", "@")):
        return True
    rest = raw[1:].lower()
    return raw.startswith(("+", "-")) and bool(rest) and not (rest[0].isdigit() or rest[0] == ".") \
        and rest not in ("inf", "infinity", "nan")


def _formula_problem(raw: str) -> tuple[str, str]:
    return (f"got {_short(raw)!r}, which looks like a spreadsheet formula",
            "export values, not formulas, from your spreadsheet")


def _formula_hint(raw: str) -> str | None:
    return "export values, not formulas, from your spreadsheet" if _looks_like_formula(raw) else None


def _finish(programs: tuple[dict[str, Any], ...], name: str, lines: tuple[int, ...], text: str) -> Shortlist:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    schema = load_schema("program")
    typed = []
    for prog, line in zip(programs, lines, strict=True):
        pid = prog["id"]
        if pid in seen:
            problems.append(Problem(name, line, "id",
                                    f"duplicate program id '{pid}' (first on line {seen[pid]})",
                                    "give every program its own id"))
        seen.setdefault(pid, line)
        if "img_share" in prog and "us_img_share" in prog and prog["us_img_share"] > prog["img_share"]:
            problems.append(Problem(name, line, "us_img_share",
                                    f"US-IMG share {prog['us_img_share']} is larger than the IMG share "
                                    f"{prog['img_share']}", "US-citizen IMGs are a subset of all IMGs"))
        typed.append(apply_defaults(schema, prog))
    if not programs:
        problems.append(Problem(name, None, None, "the shortlist has no programs (only a header, or nothing)",
                                "add at least one program below the header"))
    if problems:
        raise InputError(capped(problems, name))
    return Shortlist(tuple(typed), name, lines, text)
