"""Safe YAML loading with source positions, duplicate-key rejection and hostile-input limits.

We compose the node graph ourselves (libyaml's parser when available, PyYAML's composer on top, with a
node counter and a depth bound) and build plain Python values ourselves, so we can (a) remember the
line of every key and list item for error messages, (b) reject duplicate keys, (c) resolve scalars the
YAML 1.2 core-schema way (only `true`/`false` are booleans, so `NO` or `yes` stay strings; `012` is
twelve, `4:02` is text, not 242), and (d) bound the number of nodes, alias expansion, nesting depth
and the length of one value, so a hostile file is refused in well under a second.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from ..errors import InputError, Problem

Path = tuple[str | int, ...]

MAX_NODES = 100_000        # nodes parsed, and values after alias expansion ("billion laughs" stops here)
MAX_DEPTH = 64             # nesting levels of mappings and lists
MAX_SCALAR_CHARS = 10_000  # one value; a long number would also exceed Python's int-conversion limit

_PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}"
                        for t in ("str", "int", "float", "bool", "null", "seq", "map"))
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"


class _Yaml12Resolver(Resolver):
    """YAML 1.2 core schema: booleans, nulls, decimal/0o/0x integers, floats; dates stay text."""


_Yaml12Resolver.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers
          if tag not in (_BOOL, _INT, _FLOAT, "tag:yaml.org,2002:timestamp")]
    for key, resolvers in Resolver.yaml_implicit_resolvers.items()
}
_Yaml12Resolver.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Resolver.add_implicit_resolver(
    _INT, re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_Yaml12Resolver.add_implicit_resolver(
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+.0123456789"))


class _Yaml12Constructor(SafeConstructor):
    """Scalars as the YAML 1.2 core schema reads them (PyYAML's int constructor is YAML 1.1's)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith("0o"):
            return int(text[2:], 8)
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text, 10)

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        text = str(self.construct_scalar(node)).lower()
        if text.lstrip("+-") == ".inf":
            return -math.inf if text.startswith("-") else math.inf
        if text == ".nan":
            return math.nan
        return float(text)


_Yaml12Constructor.yaml_constructors = {
    **SafeConstructor.yaml_constructors,
    _INT: _Yaml12Constructor.construct_yaml_int,
    _FLOAT: _Yaml12Constructor.construct_yaml_float,
}


class _Composer(Composer):
    """PyYAML's composer with a node budget and a depth bound, checked before anything is built."""

    peek_event: Callable[[], Any]  # provided by the parser half of the loader

    def __init__(self) -> None:
        super().__init__()
        self.node_count = 0
        self.depth = 0
        self.max_nodes = MAX_NODES

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.node_count += 1
        if self.node_count > self.max_nodes:
            event = self.peek_event()
            raise _TooBig(event.start_mark.line + 1, f"document has more than {self.max_nodes:,} values",
                          _HINT_COUNT)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH + 1:
                event = self.peek_event()
                raise _TooBig(event.start_mark.line + 1, f"document is nested deeper than {MAX_DEPTH} levels",
                              _HINT_DEPTH)
            node: yaml.Node = super().compose_node(parent, index)  # type: ignore[assignment]
            return node
        finally:
            self.depth -= 1


try:  # libyaml's C parser: ten times faster, and it bounds nesting itself
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]

    class _Loader(_Parser, _Composer, _Yaml12Constructor, _Yaml12Resolver):
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _Composer.__init__(self)
            _Yaml12Constructor.__init__(self)
            _Yaml12Resolver.__init__(self)

        # CParser has its own (unbounded) composer; use ours on top of its events.
        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        check_node = Composer.check_node
        get_node = Composer.get_node
        compose_node = _Composer.compose_node

except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser, _Composer, _Yaml12Constructor, _Yaml12Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            _Composer.__init__(self)
            _Yaml12Constructor.__init__(self)
            _Yaml12Resolver.__init__(self)


def _compose(text: str, max_nodes: int = MAX_NODES) -> yaml.Node | None:
    loader = _Loader(text)
    loader.max_nodes = max_nodes
    try:
        node: yaml.Node | None = loader.get_single_node()
        return node
    finally:
        loader.dispose()


class _Builder:
    def __init__(self, filename: str, max_nodes: int = MAX_NODES) -> None:
        self.filename = filename
        self.max_nodes = max_nodes
        self.positions: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self.loader = _Yaml12Constructor()

    def build(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.count += 1
        if self.count > self.max_nodes:
            raise _TooBig(node.start_mark.line + 1, f"document expands to more than {self.max_nodes:,} values",
                          _HINT_ALIAS)
        if depth > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1, f"document is nested deeper than {MAX_DEPTH} levels",
                          "an alias that contains itself, or nesting this deep, is refused")
        self.positions.setdefault(path, node.start_mark.line + 1)
        if node.tag not in _PLAIN_TAGS:
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            self.problems.append(Problem(self.filename, node.start_mark.line + 1, _dotted(path),
                                         f"unsupported YAML tag '{_short(tag)}'",
                                         "remove the `!tag` before the value: only plain text, numbers, "
                                         "true/false, lists and mappings are read"))
            return None
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
                    first = self.positions.get(path + (skey,))
                    self.problems.append(Problem(
                        self.filename, key_line, _dotted(path + (skey,)),
                        f"duplicate key '{_short(skey)}' (first given on line {first})",
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
    def __init__(self, line: int, message: str, hint: str) -> None:
        self.line, self.message, self.hint = line, message, hint


_HINT_COUNT = "inputs and policies have far fewer values: check this is the right file, or split it"
_HINT_ALIAS = "aliases (*name) that expand to a huge document are refused"
_HINT_DEPTH = "nesting this deep is refused: no profile, shortlist or policy needs it"


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


def load_yaml_text(text: str, filename: str, *, max_nodes: int = MAX_NODES) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the value and a map of value path -> line number."""
    try:
        node = _compose(text, max_nodes)
    except _TooBig as exc:
        raise InputError([Problem(filename, exc.line, None, exc.message, exc.hint)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = str(exc.problem or exc.context)
        if "maximum nesting depth" in problem:
            raise InputError([Problem(filename, line, None,
                                      f"document is nested deeper than {MAX_DEPTH} levels", _HINT_DEPTH)]
                             ) from None
        if "another document" in problem:
            raise InputError([Problem(filename, line, None, "found a second YAML document (a `---` line)",
                                      "expected a single document; remove the `---` and what follows")]
                             ) from None
        if exc.problem and exc.context and exc.context_mark and exc.context_mark.line + 1 != line:
            problem += f" ({exc.context} that starts on line {exc.context_mark.line + 1})"
        raise InputError([Problem(filename, line, None, f"not valid YAML: {problem}",
                                  "check indentation, colons and quotes on this line")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(filename, None, None, f"not valid YAML: {_short(str(exc))}")]) from None
    except RecursionError:
        raise InputError([Problem(filename, None, None, "document is nested too deeply to read",
                                  f"expected at most {MAX_DEPTH} levels of nesting")]) from None
    if node is None:
        raise InputError([Problem(filename, None, None, "file is empty", "expected a YAML document")])
    builder = _Builder(filename, max_nodes)
    try:
        value = builder.build(node, (), 0)
    except _TooBig as exc:
        raise InputError([Problem(filename, exc.line, None, exc.message, exc.hint)]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(filename, None, None, f"not valid YAML: {_short(str(exc))}")]) from None
    if builder.problems:
        raise InputError(builder.problems)
    return value, builder.positions
