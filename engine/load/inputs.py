"""Load the applicant's two files: the profile (YAML) and the program shortlist (CSV or YAML).

Both are typed by their JSON Schema; every problem is reported at once with file, line and field (up
to 50 per file: a CSV stops being read at the 51st). Limits and the spreadsheet-formula rule are listed
in docs/reliability.md.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any

from ..errors import InputError, Problem
from ..records import record
from .files import read_bytes, read_text
from .schemas import load_schema, schema_problems
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
MISSPELLING_CUTOFF = 0.75  # an unknown column this close to a missing known one is a misspelling, not an extra
UNKNOWN_WORDS = ("unknown", "?", "n/a", "na", "not sure", "don't know")  # a cell saying "I don't know"


@record
class Profile:
    data: dict[str, Any]
    file: str
    positions: dict[Path, int]
    text: str


@record
class Shortlist:
    programs: tuple[dict[str, Any], ...]
    file: str
    lines: tuple[int, ...]  # source line of each program (a spreadsheet's row number)
    text: str
    columns: tuple[str, ...] | None = None      # the known columns a spreadsheet gave (None: a YAML list)
    extra_columns: tuple[str, ...] = ()         # columns signalwise does not use, in header order
    extras: tuple[dict[str, str], ...] = ()     # each program's values in those columns (kept, never read)
    digest: str | None = None                   # sha256 of the file's bytes when it is not text (.xlsx)

    @property
    def sha256(self) -> str:
        return self.digest or hashlib.sha256(self.text.encode("utf-8")).hexdigest()


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


def load_profile(path: str | FsPath, known_ids: Callable[[str], list[str]] | None = None) -> Profile:
    """`known_ids(field)` lists the catalogue's ids for `specialty` and `cycle`, for did-you-mean hints; the
    caller passes it because the catalogue is a later stage than loading."""
    name = str(path)
    text = read_text(path)
    data, positions = load_yaml_text(text, name)
    if not isinstance(data, dict):
        raise InputError([Problem(name, 1, None, "a profile must be a mapping of fields",
                                  "start with `specialty:`, `cycle:` and `applicant:`")])
    problems = [_in_applicant_words(p, data, known_ids) for p in schema_problems("profile", data, name, positions)]
    if problems:
        raise InputError(capped(problems, name))
    return Profile(apply_defaults(load_schema("profile"), data), name, positions, text)


def _in_applicant_words(problem: Problem, data: dict[str, Any],
                        known_ids: Callable[[str], list[str]] | None) -> Problem:
    """`specialty: Internal Medicine` -> "did you mean 'internal-medicine'?" instead of a regular expression."""
    if problem.field not in ("specialty", "cycle"):
        return problem
    value = data.get(problem.field)
    options = known_ids(problem.field) if known_ids else []
    if problem.field == "specialty":
        example = "a specialty id such as internal-medicine"
    else:
        example = "a cycle id such as eras-2026 (the application system and the Match year)"
    slug = re.sub(r"[^a-z0-9]+", "-", str(value).lower()).strip("-") if value is not None else ""
    if slug.isdigit() and f"eras-{slug}" in options:  # `cycle: 2023`: most cycles are ERAS ones
        slug = f"eras-{slug}"
    guess = slug if slug in options else next(iter(difflib.get_close_matches(slug, options, n=1, cutoff=0.6)), None)
    shown = f"got {value!r}" if isinstance(value, str) else f"got {value}"
    hint = f"did you mean '{guess}'?" if guess else f"see `signalwise policy list` for the {problem.field} ids"
    return Problem(problem.file, problem.line, problem.field, f"{shown}; expected {example}", hint)


def load_programs(path: str | FsPath) -> Shortlist:
    name = str(path)
    if name.lower().endswith((".xlsx", ".xlsm")):
        return _programs_from_xlsx(read_bytes(path), name)
    if name.lower().endswith(".xls"):
        raise InputError([Problem(name, None, None, "old Excel workbooks (.xls) cannot be read",
                                  "save it as an Excel workbook (.xlsx) or as 'CSV UTF-8'")])
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


def _column_key(header: str) -> str:
    """How a header cell names a column: case, surrounding spaces, inner spaces and dashes do not matter."""
    return re.sub(r"[\s-]+", "_", header.strip().lower())


def _header_problems(name: str, columns: list[str], props: dict[str, Any],
                     required: list[str]) -> tuple[list[Problem], list[str]]:
    """Problems with the header row, and the extra columns (kept, but no rule reads them).

    A column signalwise does not know is an extra column (applicants keep notes, links and dates in their
    shortlist) unless it looks like a misspelling of a column the header lacks: that is a problem with a
    "did you mean"."""
    known = [c for c in columns if c in props]
    if not known:
        for sep, label in ((";", "semicolons"), ("\t", "tabs")):
            if any(sep in c for c in columns) and any(_column_key(part) in props
                                                     for c in columns for part in c.split(sep)):
                return [Problem(name, 1, None, f"the columns are separated by {label}",
                                "expected commas: export as 'CSV (comma delimited)'")], []
        return [Problem(name, 1, None, "the first line is not a header row of known columns",
                        f"expected a header such as: {', '.join(required)}, ... "
                        f"(known columns: {', '.join(props)})")], []
    problems = []
    extra: list[str] = []
    suggested: set[str] = set()
    for i, col in enumerate(columns):
        if col not in props:
            absent = [k for k in props if k not in columns]
            guess = difflib.get_close_matches(col.lower(), absent, n=1, cutoff=MISSPELLING_CUTOFF)
            shown = _short(col)
            if guess:
                suggested.update(guess)
                problems.append(Problem(name, 1, shown or f"column {i + 1}", f"unknown column '{shown}'",
                                        f"did you mean '{guess[0]}'?"))
            elif col and col not in extra:
                extra.append(col)
        if col in columns[:i] and col:
            problems.append(Problem(name, 1, col, "column appears twice in the header"))
    for req in required:
        if req not in columns and req not in suggested:  # a misspelling already says "did you mean"
            problems.append(Problem(name, 1, req, "required column is missing from the header"))
    return problems, extra


def _csv_error(name: str, line: int, exc: csv.Error) -> InputError:
    text = str(exc)
    if "field larger than field limit" in text:
        return InputError([Problem(name, line, None,
                                   f"a value is longer than {csv.field_size_limit():,} characters",
                                   "check for an unclosed quote that swallowed the rest of the file")])
    return InputError([Problem(name, line, None, f"malformed CSV: {text}", "check for an unclosed quote")])


def _csv_rows(text: str, name: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) for each CSV row, header first."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        start = line
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _csv_error(name, start, exc) from None
        line = reader.line_num + 1
        yield start, cells


def _programs_from_csv(text: str, name: str) -> Shortlist:
    return _programs_from_rows(_csv_rows(text, name), name, text)


def _programs_from_xlsx(data: bytes, name: str) -> Shortlist:
    """The first worksheet of an Excel workbook, read like a CSV export of it (row numbers are lines)."""
    from .xlsx import sheet_rows

    digest = hashlib.sha256(data).hexdigest()
    return _programs_from_rows(sheet_rows(data, name), name, "", digest=digest)


def _programs_from_rows(rows: Iterator[tuple[int, list[str]]], name: str, text: str, *,
                        digest: str | None = None) -> Shortlist:
    schema = load_schema("program")
    props: dict[str, Any] = schema["properties"]
    try:
        _, header = next(rows)
    except StopIteration:
        raise InputError([Problem(name, 1, None, "the file has no header row")]) from None
    raw_columns = [h.strip() for h in header]
    padding = 0  # spreadsheets often end every line with a comma: empty trailing columns are padding
    while raw_columns and raw_columns[-1] == "" and len(raw_columns) > 1:
        raw_columns.pop()
        padding += 1
    columns = [_column_key(c) if _column_key(c) in props else c for c in raw_columns]
    header_problems, extra = _header_problems(name, columns, props, list(schema["required"]))
    if header_problems:
        raise InputError(capped(header_problems, name))
    problems = _Problems(name)
    programs: list[dict[str, Any]] = []
    lines: list[int] = []
    extras: list[dict[str, str]] = []
    for start, row_cells in rows:
        cells = row_cells
        if not any(c.strip() for c in cells):
            continue
        if len(programs) >= MAX_PROGRAMS:
            more = sum(1 for _, r in rows if any(c.strip() for c in r))
            raise InputError([_too_many(name, len(programs) + 1 + more)])
        if len(cells) > len(columns) and len(cells) <= len(columns) + padding \
                and not any(c.strip() for c in cells[len(columns):]):
            cells = cells[:len(columns)]
        if len(cells) < len(columns) and digest is not None:  # a sheet's row ends at its last filled cell
            cells = cells + [""] * (len(columns) - len(cells))
        if len(cells) != len(columns):
            values = "value" if len(cells) == 1 else "values"
            problems.add(Problem(name, start, None, f"row has {len(cells)} {values} but the header has "
                                 f"{len(columns)} columns", "check for a missing or extra comma"))
            continue
        row: dict[str, Any] = {}
        kept: dict[str, str] = {}
        unreadable: set[str] = set()
        for col, cell in zip(columns, cells, strict=True):
            if col not in props:
                if col and cell.strip():
                    kept[col] = cell.strip()
                continue
            value, problem = _typed_cell(cell, props[col], col)
            if problem:
                problems.add(Problem(name, start, col, problem[0], problem[1]))
                unreadable.add(col)
            elif value is not None:
                row[col] = value
        programs.append(row)
        lines.append(start)
        extras.append(kept)
        # schema_problems runs the conservative fast check first; jsonschema only explains a problem
        problems.extend([p for p in schema_problems("program", row, name, {}, line_of=lambda _p, ln=start: ln)
                         if not any(p.message.startswith(f"'{col}' is required") for col in unreadable)])
    problems.raise_if_any()
    given = tuple(c for c in columns if c in props)
    return _finish(tuple(programs), name, tuple(lines), text, columns=given, extra_columns=tuple(extra),
                   extras=tuple(extras), digest=digest)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _typed_cell(cell: str, spec: dict[str, Any], column: str = "") -> tuple[Any, tuple[str, str | None] | None]:
    """One spreadsheet cell typed by its column's schema: (value, None) or (None, (message, hint)).

    People type `Yes`, ` community `, `University Affiliated`, `30%` or `0.3`: case, surrounding spaces and
    spaces for dashes do not matter, and a blank or `unknown` cell is an unknown value."""
    raw = cell.strip()
    if raw == "":
        return None, None
    if "\n" in raw or "\r" in raw:
        return None, ("value contains a line break (inside quotes)", "keep each value on one line")
    kind = spec.get("type")
    low = raw.lower()
    if low in UNKNOWN_WORDS and (kind in ("integer", "number", "boolean") or "enum" in spec) \
            and low not in (spec.get("enum") or ()):
        return None, None
    if kind in ("integer", "number"):
        return _number_cell(raw, kind == "integer")
    if kind == "boolean":
        if low in ("yes", "y", "true", "1"):
            return True, None
        if low in ("no", "n", "false", "0"):
            return False, None
        return None, (f"got {_short(raw)!r}; expected yes or no", _formula_hint(raw))
    if "enum" in spec:
        choice = _choice(raw, spec["enum"])
        if choice is not None:
            return choice, None
        if _looks_like_formula(raw):
            return None, _formula_problem(raw)
        return raw, None  # the schema check names the choices
    if kind == "array":
        items = [p.strip() for p in raw.split(";") if p.strip()]
        formula = next((item for item in items if _looks_like_formula(item)), None)
        if formula is not None:
            return None, _formula_problem(formula)
        choices = (spec.get("items") or {}).get("enum")
        if choices:
            items = [_choice(item, choices) or item for item in items]
        return items, None
    if _looks_like_formula(raw):
        return None, _formula_problem(raw)
    if column == "state" and re.fullmatch(r"[A-Za-z]{2}", raw):
        return raw.upper(), None
    return raw, None


def _choice(raw: str, choices: list[Any]) -> Any:
    """The choice a cell names, whatever its case or spacing (`University Affiliated`), else None."""
    try:
        return _choice_in(raw, tuple(choices))
    except TypeError:  # an unhashable choice (not in the bundled schema): look it up uncached
        return _choice_in.__wrapped__(raw, tuple(choices))


@lru_cache(maxsize=4096)
def _choice_in(raw: str, choices: tuple[Any, ...]) -> Any:
    """(Cached: a shortlist repeats the same few cells, `community`, `yes`, in every row.)"""
    key = _column_key(raw).replace("_", "-")
    for choice in choices:
        if isinstance(choice, str) and (choice == raw or choice.lower() == key or choice.lower() == raw.lower()):
            return choice
    return None


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


def _finish(programs: tuple[dict[str, Any], ...], name: str, lines: tuple[int, ...], text: str, *,
            columns: tuple[str, ...] | None = None, extra_columns: tuple[str, ...] = (),
            extras: tuple[dict[str, str], ...] = (), digest: str | None = None) -> Shortlist:
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
    return Shortlist(tuple(typed), name, lines, text, columns, extra_columns, extras, digest)
