"""JSON Schema access and readable validation errors (file:line, field, expected, did-you-mean)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from ..errors import Problem
from .files import package_dir
from .yamlsafe import Path, dotted

if TYPE_CHECKING:  # jsonschema is imported only when something must be validated the slow way
    import jsonschema
    from jsonschema import Draft202012Validator
    from referencing import Registry

SCHEMA_NAMES = ("profile", "program", "programs", "policy", "report", "policy-test", "interview-log")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Return a bundled JSON Schema by short name (e.g. `profile`)."""
    text = (package_dir("signalwise.schemas") / f"{name}.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_DOLLAR = re.compile(r"(?<!\\)\$")


def ecma_pattern(pattern: str) -> str:
    r"""A JSON Schema pattern as Python must read it: in ECMA-262 (the language of JSON Schema) `$` matches
    only at the very end of the text, while Python's `$` also matches before a final line break, so
    `"SIM-01
"` would pass `^[A-Z0-9-]+$`. `\Z` is ECMA's `$`."""
    return _DOLLAR.sub(r"\\Z", pattern)


def _for_python(node: Any) -> Any:
    """A copy of a schema with every `pattern` and `patternProperties` key read the ECMA way."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                out[key] = ecma_pattern(value)
            elif key == "patternProperties" and isinstance(value, dict):
                out[key] = {ecma_pattern(k): _for_python(v) for k, v in value.items()}
            else:
                out[key] = _for_python(value)
        return out
    if isinstance(node, list):
        return [_for_python(v) for v in node]
    return node


@cache
def _validation_schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = _for_python(load_schema(name))
    return schema


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources = []
    for name in SCHEMA_NAMES:
        try:
            schema = _validation_schema(name)
        except FileNotFoundError:
            continue
        resources.append((schema["$id"], Resource.from_contents(schema)))
        resources.append((f"{name}.schema.json", Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator(name: str) -> Draft202012Validator:
    """A cached validator for one bundled schema, with format checks on."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(_validation_schema(name), registry=_registry(),
                                format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problems(name: str, instance: Any, filename: str, positions: dict[Path, int],
                    *, path_prefix: Path = (), line_of: Any = None) -> list[Problem]:
    """Validate `instance`; turn every error into a located, readable `Problem`.

    An instance that the conservative checker below accepts has no problem to report; jsonschema (slow to
    import and to run) only runs to find and explain a problem."""
    if obviously_valid(instance, _validation_schema(name)):
        return []
    problems: list[Problem] = []
    errors = sorted(validator(name).iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
    misspelled = _misspelled_required(errors)
    for error in errors:
        if error.validator == "required" and (tuple(error.absolute_path), _missing_name(error)) in misspelled:
            continue  # the unknown field's "did you mean" already says it
        problems.extend(_describe(error, filename, positions, path_prefix, line_of))
    return problems


_JSON_TYPES: dict[str, Any] = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
                               "array": list, "object": dict}
# Keywords the fast check understands; annotations that never fail; anything else sends the instance to jsonschema.
_FAST_KEYWORDS = frozenset({"type", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern",
                            "uniqueItems", "items", "minItems", "maxItems", "properties", "required",
                            "additionalProperties"})
_ANNOTATIONS = frozenset({"description", "default", "title", "$schema", "$id", "x-blank", "examples"})


def obviously_valid(value: Any, schema: Any) -> bool:
    """A conservative check of a value against a simple schema: True only when jsonschema would find no error
    (never looser); False for anything it does not fully understand (a `$ref`, `oneOf`, `format`, ...)."""
    return _fast_check(schema)(value)


_Check = Callable[[Any], bool]
_FAST_CHECKS: dict[int, tuple[Any, _Check]] = {}


def _fast_check(schema: Any) -> _Check:
    """The check of one schema, compiled once per process into nested closures: every row of a shortlist
    runs it, and walking the schema's keywords afresh for each of its cells was most of the load time."""
    found = _FAST_CHECKS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    if len(_FAST_CHECKS) > 512:  # schemas built on the fly (tests): keep the table small
        _FAST_CHECKS.clear()
    check = _compile_check(schema)
    _FAST_CHECKS[id(schema)] = (schema, check)  # the schema is kept alive, so its id is not reused
    return check


def _never(value: Any) -> bool:
    return False


_SCALAR_KINDS = frozenset({"string", "integer", "number", "boolean"})
_CONTAINER_KEYWORDS = ("items", "minItems", "maxItems", "uniqueItems", "properties", "required",
                       "additionalProperties")


def _scalar_check(kind: str, choices: set[tuple[type, Any]] | None, bounds: tuple[Any, bool, Any, bool],
                  lengths: tuple[int, int | None, Any]) -> _Check:
    """The general check below specialised to one scalar type (most of a shortlist's cells): the same
    answers without the branches for other types. As there, a number must be exactly an int (or a
    float), a string may be a str subclass, and an enum matches on the (type, value) pair."""
    low, has_low, high, has_high = bounds
    min_len, max_len, pattern = lengths
    if kind == "string":
        def check_str(value: Any) -> bool:
            if not isinstance(value, str) or (choices is not None and (type(value), value) not in choices):
                return False
            if len(value) < min_len or (max_len is not None and len(value) > max_len):
                return False
            return pattern is None or pattern(value) is not None
        return check_str
    if kind == "boolean":
        def check_bool(value: Any) -> bool:
            return type(value) is bool and (choices is None or (bool, value) in choices)
        return check_bool
    floats = kind == "number"

    def check_number(value: Any) -> bool:
        t = type(value)
        if not (t is int or (floats and t is float)) or (choices is not None and (t, value) not in choices):
            return False
        return not ((has_low and not value >= low) or (has_high and not value <= high))
    return check_number


def _compile_check(schema: Any) -> _Check:
    if not isinstance(schema, dict):
        return _never
    for key in schema:
        if key not in _FAST_KEYWORDS and key not in _ANNOTATIONS and not key.startswith("x-"):
            return _never
    kind = schema.get("type")
    expected: Any = None
    if kind is not None:
        expected = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
        if expected is None:
            return _never
    is_boolean = kind == "boolean"
    has_enum = "enum" in schema
    # Enum members as (type, value): 1 and 1.0 and True stay distinct, as in the check this replaces.
    choices = {(type(c), c) for c in schema["enum"] if isinstance(c, str | int | float | bool)} if has_enum else set()
    low, high = schema.get("minimum"), schema.get("maximum")
    has_low, has_high = "minimum" in schema, "maximum" in schema
    min_len, max_len = schema.get("minLength", 0), schema.get("maxLength")
    pattern = _pattern(schema["pattern"]).search if "pattern" in schema else None
    min_items, max_items = schema.get("minItems", 0), schema.get("maxItems")
    unique = bool(schema.get("uniqueItems"))
    items = _compile_check(schema["items"]) if "items" in schema else None
    props = {k: _compile_check(v) for k, v in (schema.get("properties") or {}).items()}
    required = tuple(schema.get("required", ()))
    open_ended = schema.get("additionalProperties", True) is True
    if kind in _SCALAR_KINDS and not any(k in schema for k in _CONTAINER_KEYWORDS):
        return _scalar_check(kind, choices if has_enum else None, (low, has_low, high, has_high),
                             (min_len, max_len, pattern))

    def check(value: Any) -> bool:
        if expected is not None and (not isinstance(value, expected) or isinstance(value, bool) != is_boolean):
            return False
        if has_enum and not (isinstance(value, str | int | float | bool) and (type(value), value) in choices):
            return False
        t = type(value)
        if t is int or t is float:
            return not ((has_low and not value >= low) or (has_high and not value <= high))
        if isinstance(value, str):
            if len(value) < min_len or (max_len is not None and len(value) > max_len):
                return False
            return pattern is None or pattern(value) is not None
        if isinstance(value, list):
            if len(value) < min_items or (max_items is not None and len(value) > max_items):
                return False
            if unique and not _plainly_unique(value):
                return False
            return items is None or all(items(v) for v in value)
        if isinstance(value, dict):
            for name in required:
                if name not in value:
                    return False
            for key, item in value.items():
                if not isinstance(key, str):
                    return False
                sub = props.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif not open_ended:
                    return False
            return True
        return value is None or isinstance(value, bool)

    return check


def _plainly_unique(items: list[Any]) -> bool:
    """Distinct scalars (1 and 1.0 count as equal, as in JSON Schema); a list holding anything else is
    left to jsonschema."""
    seen = set()
    for v in items:
        if isinstance(v, bool):
            key: Any = ("bool", v)
        elif isinstance(v, str | int | float):
            key = v
        else:
            return False
        if key in seen:
            return False
        seen.add(key)
    return True


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _missing_name(error: jsonschema.ValidationError) -> str:
    text = str(error.message)
    return text.split("'")[1] if text.count("'") >= 2 else ""


def _misspelled_required(errors: list[jsonschema.ValidationError]) -> set[tuple[Any, str]]:
    """(object path, required name) pairs where an unknown key in that object looks like the name."""
    out: set[tuple[Any, str]] = set()
    for error in errors:
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = list((_schema_of(error).get("properties") or {}).keys())
            for key in set(error.instance) - set(allowed):
                for guess in difflib.get_close_matches(key, allowed, n=1, cutoff=0.6):
                    out.add((tuple(error.absolute_path), guess))
    return out


def _line(positions: dict[Path, int], path: Path) -> int | None:
    while True:
        if path in positions:
            return positions[path]
        if not path:
            return None
        path = path[:-1]


def _describe(error: jsonschema.ValidationError, filename: str, positions: dict[Path, int],
              prefix: Path, line_of: Any) -> list[Problem]:
    path: Path = prefix + tuple(error.absolute_path)
    line = line_of(path) if line_of else _line(positions, path)
    field = dotted(path)
    if error.validator == "additionalProperties":
        allowed = sorted((_schema_of(error).get("properties") or {}).keys())
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        out = []
        for key in extra:
            key_path = path + (key,)
            guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            hint = f"did you mean '{guess[0]}'?" if guess else f"expected one of: {', '.join(allowed)}"
            out.append(Problem(filename, line_of(key_path) if line_of else _line(positions, key_path),
                               dotted(key_path), f"unknown field '{key}'", hint))
        if out:
            return out
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        best = best_match(_closest_branch(error))
        return _describe(best, filename, positions, prefix, line_of) if best is not None else []
    return [Problem(filename, line, field, _message(error))]


def _closest_branch(error: jsonschema.ValidationError) -> list[jsonschema.ValidationError]:
    """Errors of the oneOf/anyOf branch that best fits the instance's keys (not jsonschema's guess)."""
    branches: dict[int, list[jsonschema.ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.schema_path[0]), []).append(sub)
    inst = error.instance
    options = error.validator_value

    def fit(index: int) -> tuple[int, int]:
        schema = options[index] if isinstance(options, list) and index < len(options) else {}
        if "$ref" in schema:
            schema = _resolve(schema["$ref"])
        props = set((schema.get("properties") or {}).keys())
        overlap = len(props & set(inst)) if isinstance(inst, dict) else 0
        kind = schema.get("type")
        type_ok = 1 if kind is None or isinstance(inst, dict) == (kind == "object") else 0
        return (type_ok, overlap)
    best = max(sorted(branches), key=fit)
    return branches[best]


def _resolve(ref: str) -> dict[str, Any]:
    if ref.startswith("#/$defs/"):
        return dict(load_schema("policy")["$defs"].get(ref.split("/")[-1], {}))
    return {}


MAX_SHOWN_CHARS = 60


def shown_value(inst: Any) -> str:
    """A value as a message shows it: short, and never a whole mapping or list (privacy, readability)."""
    if isinstance(inst, dict):
        return "a mapping"
    if isinstance(inst, list):
        return "a list"
    if inst is None:
        return "nothing (an empty value)"
    text = json.dumps(inst, default=str, ensure_ascii=False)
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 2] + "…" + text[-1]


def _schema_of(error: jsonschema.ValidationError) -> dict[str, Any]:
    """The (sub)schema that failed, as a mapping (jsonschema types it as mapping, bool or unset)."""
    return dict(error.schema) if isinstance(error.schema, Mapping) else {}


def _message(error: jsonschema.ValidationError) -> str:
    v, inst, s = error.validator, error.instance, _schema_of(error)
    shown = shown_value(inst)
    if v == "enum":
        choices = error.validator_value if isinstance(error.validator_value, list) else []
        return f"got {shown}; expected one of: {', '.join(map(str, choices))}"
    if v == "type":
        return f"got {shown}; expected {_type_name(error.validator_value)}"
    if v == "required":
        return str(error.message).replace("is a required property", "is required but missing")
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        lo, hi = s.get("minimum"), s.get("maximum")
        rng = (f"between {lo} and {hi}" if lo is not None and hi is not None
               else f"{v} {error.validator_value}")
        return f"got {shown}; expected a value {rng}"
    if v == "pattern":
        desc = s.get("description")
        pattern = str(error.validator_value).replace("\\Z", "$")  # as the schema writes it
        return f"got {shown}; expected text matching {pattern}" + (f" ({desc})" if desc else "")
    if v == "uniqueItems":
        return "list has repeated items; each item may appear once"
    if v == "minLength":
        return f"got {shown}; expected at least {error.validator_value} character(s)"
    if v == "maxLength":
        return f"got {len(inst) if isinstance(inst, str) else shown} characters; expected at most " \
               f"{error.validator_value}"
    if v in ("minItems", "maxItems"):
        bound = "at least" if v == "minItems" else "at most"
        return f"got {len(inst) if isinstance(inst, list) else shown} item(s); expected {bound} " \
               f"{error.validator_value}"
    if v == "const":
        return f"got {shown}; expected {shown_value(error.validator_value)}"
    if v == "format":
        return f"got {shown}; expected a {error.validator_value} value"
    return _short_message(str(error.message))


def _short_message(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_name(t: Any) -> str:
    names = {"integer": "a whole number", "number": "a number", "string": "text",
             "boolean": "true or false", "array": "a list", "object": "a mapping of fields",
             "null": "nothing"}
    if isinstance(t, list):
        return " or ".join(names.get(x, str(x)) for x in t)
    return names.get(t, str(t))


def schema_fields(name: str) -> dict[str, dict[str, Any]]:
    """Flatten a bundled object schema into dotted field name -> property schema (for rule checking)."""
    out: dict[str, dict[str, Any]] = {}

    def walk(schema: dict[str, Any], prefix: str) -> None:
        for key, sub in (schema.get("properties") or {}).items():
            name_ = f"{prefix}{key}"
            if sub.get("type") == "object" and "properties" in sub:
                walk(sub, name_ + ".")
            else:
                out[name_] = sub
    walk(load_schema(name), "")
    return out
