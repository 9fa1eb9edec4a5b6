"""Load the applicant's two files: the profile (YAML) and the program shortlist (CSV or YAML).

Both are typed by their JSON Schema; every problem is reported at once with file, line and field.
"""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path as FsPath
from typing import Any

from .errors import InputError, Problem
from .files import read_text
from .schemas import load_schema, schema_problems
from .yamlsafe import Path, load_yaml_text

FORMULA_PREFIXES = ("=", "+", "@")


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
            out[key] = sub["default"] if not isinstance(sub["default"], list | dict) else type(sub["default"])()
        elif sub.get("type") == "object" and any("default" in s for s in (sub.get("properties") or {}).values()):
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
        raise InputError(problems)
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
    problems = schema_problems("programs", data, name, positions)
    if problems:
        raise InputError(problems)
    lines = tuple(positions.get((i,), 0) for i in range(len(data)))
    return _finish(tuple(data), name, lines, text)


def _programs_from_csv(text: str, name: str) -> Shortlist:
    schema = load_schema("program")
    props: dict[str, Any] = schema["properties"]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InputError([Problem(name, 1, None, f"cannot read the CSV header: {exc}")]) from None
    columns = [h.strip() for h in header]
    for i, col in enumerate(columns):
        if col not in props:
            guess = difflib.get_close_matches(col.lower(), list(props), n=1, cutoff=0.6)
            hint = f"did you mean '{guess[0]}'?" if guess else f"expected columns: {', '.join(props)}"
            problems.append(Problem(name, 1, col or f"column {i + 1}", f"unknown column '{col}'", hint))
        if col in columns[:i]:
            problems.append(Problem(name, 1, col, "column appears twice in the header"))
    for req in schema["required"]:
        if req not in columns:
            problems.append(Problem(name, 1, req, "required column is missing from the header"))
    if problems:
        raise InputError(problems)
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
            raise InputError([Problem(name, reader.line_num, None, f"malformed CSV: {exc}",
                                      "check for an unclosed quote")]) from None
        line = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            problems.append(Problem(name, start, None, f"row has {len(cells)} values but the header has "
                                    f"{len(columns)} columns", "check for a missing or extra comma"))
            continue
        row: dict[str, Any] = {}
        for col, cell in zip(columns, cells, strict=True):
            value, problem = _typed_cell(cell, props[col])
            if problem:
                problems.append(Problem(name, start, col, problem[0], problem[1]))
            elif value is not None:
                row[col] = value
        rows.append(row)
        lines.append(start)
    for i, row in enumerate(rows):
        ln = lines[i]
        problems.extend(schema_problems("program", row, name, {}, line_of=lambda _p, ln=ln: ln))
    if problems:
        raise InputError(problems)
    return _finish(tuple(rows), name, tuple(lines), text)


def _typed_cell(cell: str, spec: dict[str, Any]) -> tuple[Any, tuple[str, str | None] | None]:
    raw = cell.strip()
    if raw == "":
        return None, None
    if "\n" in raw or "\r" in raw:
        return None, ("value contains a line break", "keep each value on one line")
    kind = spec.get("type")
    if kind == "integer":
        try:
            return int(raw), None
        except ValueError:
            return None, (f"got {raw!r}; expected a whole number", None)
    if kind == "number":
        try:
            value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
            return value, None
        except ValueError:
            return None, (f"got {raw!r}; expected a number such as 0.25", None)
    if kind == "boolean":
        low = raw.lower()
        if low in ("yes", "y", "true", "1"):
            return True, None
        if low in ("no", "n", "false", "0"):
            return False, None
        return None, (f"got {raw!r}; expected yes or no", None)
    if kind == "array":
        return [p.strip() for p in raw.split(";") if p.strip()], None
    if raw.startswith(FORMULA_PREFIXES):
        return None, (f"got {raw!r}, which looks like a spreadsheet formula",
                      "export values, not formulas, from your spreadsheet")
    return raw, None


def _finish(programs: tuple[dict[str, Any], ...], name: str, lines: tuple[int, ...], text: str) -> Shortlist:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    schema = load_schema("program")
    typed = []
    for prog, line in zip(programs, lines, strict=True):
        pid = prog["id"]
        if pid in seen:
            problems.append(Problem(name, line, "id", f"duplicate program id '{pid}' (first on line {seen[pid]})",
                                    "give every program its own id"))
        seen.setdefault(pid, line)
        if "img_share" in prog and "us_img_share" in prog and prog["us_img_share"] > prog["img_share"]:
            problems.append(Problem(name, line, "us_img_share",
                                    f"US-IMG share {prog['us_img_share']} is larger than the IMG share "
                                    f"{prog['img_share']}", "US-citizen IMGs are a subset of all IMGs"))
        typed.append(apply_defaults(schema, prog))
    if not programs:
        problems.append(Problem(name, None, None, "the shortlist has no programs", "add at least one program"))
    if problems:
        raise InputError(problems)
    return Shortlist(tuple(typed), name, lines, text)
