"""Safe YAML loading with source positions, duplicate-key rejection and hostile-input limits.

We compose the node graph with PyYAML's safe composer and build plain Python values ourselves, so we
can (a) remember the line of every key and list item for error messages, (b) reject duplicate keys,
(c) resolve scalars the YAML 1.2 way (only `true`/`false` are booleans, so `NO` or `yes` stay strings),
and (d) bound alias expansion and nesting depth.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from .errors import InputError, Problem

Path = tuple[str | int, ...]

MAX_NODES = 200_000      # values after alias expansion ("billion laughs" stops here)
MAX_DEPTH = 64           # nesting levels of mappings and lists
MAX_SCALAR_CHARS = 10_000  # one value; a long number would also exceed Python's int-conversion limit


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and nulls."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.2 core schema: dates stay text (a policy's `2025-06-04` is checked by JSON Schema's format).
_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in _Yaml12Loader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.positions: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.loader = _Yaml12Loader("")

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(node.start_mark.line + 1, f"document expands to more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1, f"document is nested deeper than {MAX_DEPTH} levels")
        self.positions.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):  # never expand a list or alias used as a key
                    self.problems.append(Problem(self.filename, key_line, _dotted(path),
                                                 "mapping keys must be plain text"))
                    continue
                key = self.scalar(key_node, path)
                if not isinstance(key, str | int | float) or isinstance(key, bool):
                    self.problems.append(Problem(self.filename, key_line, _dotted(path),
                                                 "mapping keys must be plain text"))
                    continue
                skey = str(key)
                if skey in out:
                    self.problems.append(Problem(
                        self.filename, key_line, _dotted(path + (skey,)),
                        f"duplicate key '{_short(skey)}' (first given on line {self.positions.get(path + (skey,))})",
                        "remove one of the two",
                    ))
                    continue
                self.positions[path + (skey,)] = key_line
                out[skey] = self.build(value_node, path + (skey,), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        return self.scalar(node, path)

    def scalar(self, node: yaml.Node, path: Path) -> Any:
        """Construct one scalar; refuse what is too long to be a real value, and non-finite numbers."""
        line = node.start_mark.line + 1
        if len(str(node.value)) > MAX_SCALAR_CHARS:
            self.problems.append(Problem(self.filename, line, _dotted(path),
                                         f"value is {len(str(node.value)):,} characters long; "
                                         f"the limit is {MAX_SCALAR_CHARS:,}"))
            return None
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self.problems.append(Problem(self.filename, line, _dotted(path),
                                         f"not valid YAML: {exc.problem or exc.context}",
                                         "remove the `!tag` before the value"
                                         if "constructor" in str(exc.problem) else None))
            return None
        except (ValueError, OverflowError, TypeError) as exc:
            reason = ("the number has too many digits" if "digits" in str(exc)
                      else f"cannot read this value: {_short(str(exc))}")
            self.problems.append(Problem(self.filename, line, _dotted(path), reason))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.problems.append(Problem(self.filename, line, _dotted(path),
                                         f"got {value!r}; expected a finite number"))
            return None
        return value


def _short(text: str, limit: int = 60) -> str:
    """Shorten a value for a message: errors name the field, they do not copy the file."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _TooBig(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line, self.message = line, message


def _dotted(path: Path) -> str | None:
    if not path:
        return None
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def dotted(path: Path) -> str | None:
    """Render a value path as `a.b[2].c` for messages."""
    return _dotted(path)


def load_yaml_text(text: str, filename: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the value and a map of value path -> line number."""
    try:
        node = yaml.compose(text, Loader=_Yaml12Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = str(exc.problem or exc.context)
        if "another document" in problem:
            raise InputError([Problem(filename, line, None, "found a second YAML document (a `---` line)",
                                      "expected a single document; remove the `---` and what follows")]) from None
        raise InputError([Problem(filename, line, None, f"not valid YAML: {problem}",
                                  "check indentation, colons and quotes on this line")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(filename, None, None, f"not valid YAML: {_short(str(exc))}")]) from None
    except RecursionError:
        raise InputError([Problem(filename, None, None, "document is nested too deeply to read",
                                  f"expected at most {MAX_DEPTH} levels of nesting")]) from None
    if node is None:
        raise InputError([Problem(filename, None, None, "file is empty", "expected a YAML document")])
    builder = _Builder(filename)
    try:
        value = builder.build(node, (), 0)
    except _TooBig as exc:
        raise InputError([Problem(filename, exc.line, None, exc.message,
                                  "aliases that expand hugely or very deep nesting are refused")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(filename, None, None, f"not valid YAML: {_short(str(exc))}")]) from None
    if builder.problems:
        raise InputError(builder.problems)
    return value, builder.positions
