"""`policy fmt`: one layout for every policy file, so a review diff shows content, not style.

The canonical key order is the property order of the file's JSON Schema (`schemas/*.json`), so it is data:
reorder a schema's `properties` and `fmt` follows. Keys a schema does not list keep their relative order
after the listed ones. Lists are never reordered (rule order is the author's). The text is round-tripped
through ruamel.yaml, which keeps comments, quoting and flow style; indentation becomes two spaces for
mappings and `  - ` for sequence items. Files are first read by the same safe loader evaluation uses, so
invalid YAML is refused with its file:line before ruamel sees it.
"""

from __future__ import annotations

import difflib
import io
import json
import re
from collections.abc import Iterator, Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..load.files import read_text
from ..load.yamlsafe import load_yaml_text
from ..policy.loader import MAX_POLICY_BYTES, MAX_POLICY_NODES
from ..records import record
from .tree import display, expand, find_root, is_root

# Which schema describes a file, by the folder it sits in under a policy root (anything else in a root's
# policy folders is a policy). Files outside these folders are not formatted.
SCHEMA_BY_FOLDER = {"tests": "policy-test", "models": "interview-model"}
POLICY_SCHEMA = "policy"
NOT_POLICIES = ("reference",)  # folders of a root that hold reference data, not policies: left alone
BASELINE = "lint-baseline.yaml"
WIDTH = 4096  # never re-wrap a line: long `because` texts stay one line


@cache
def _schema(name: str) -> dict[str, Any]:
    text = files("signalwise.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _resolve(node: Any, root: dict[str, Any]) -> Any:
    """Follow local `$ref`s (`#/$defs/...`, `#/properties/...`)."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
        if seen > 20:
            break
    return node


def _branches(node: Any, root: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A schema node and every alternative it combines (allOf/anyOf/oneOf, then/else), refs resolved."""
    node = _resolve(node, root)
    if not isinstance(node, dict):
        return
    yield node
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or ():
            yield from _branches(sub, root)
    for key in ("then", "else"):
        if key in node:
            yield from _branches(node[key], root)


def key_order(node: Any, root: dict[str, Any]) -> list[str]:
    """The properties a schema node names, in schema order (alternatives merged, first mention wins)."""
    out: dict[str, None] = {}
    for branch in _branches(node, root):
        for key in branch.get("properties") or {}:
            out.setdefault(key, None)
    return list(out)


def child(node: Any, key: str | int, root: dict[str, Any]) -> Any:
    """The schema of `key` (a mapping key, or an index into a list) under `node`, or None."""
    for branch in _branches(node, root):
        if isinstance(key, int):
            if isinstance(branch.get("items"), dict):
                return branch["items"]
            continue
        if key in (branch.get("properties") or {}):
            return branch["properties"][key]
    for branch in _branches(node, root):
        if isinstance(key, str) and isinstance(branch.get("additionalProperties"), dict):
            return branch["additionalProperties"]
        for pattern, sub in (branch.get("patternProperties") or {}).items():
            if isinstance(key, str) and re.search(pattern, key):
                return sub
    return None


def _reorder(data: Any, node: Any, root: dict[str, Any]) -> None:
    """Put every mapping's keys in its schema's order, in place (ruamel keeps each key's comments)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(data, CommentedMap):
        order = key_order(node, root) if node is not None else []
        rank = {k: i for i, k in enumerate(order)}
        keys = list(data.keys())
        wanted = sorted(keys, key=lambda k: (rank.get(k, len(order)), keys.index(k)))
        if wanted != keys:
            _move_keys(data, wanted)
        for k in data:
            _reorder(data[k], child(node, k, root) if node is not None else None, root)
    elif isinstance(data, CommentedSeq):
        for i, item in enumerate(data):
            _reorder(item, child(node, i, root) if node is not None else None, root)


def _move_keys(data: Any, wanted: list[Any]) -> None:
    """Reorder a CommentedMap's keys (ruamel stores a key's comments with the key, so they move with it)."""
    for k in wanted:
        data.move_to_end(k)


def _yaml() -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = WIDTH
    y.indent(mapping=2, sequence=4, offset=2)
    y.representer.add_representer(type(None), _null)
    return y


def _null(representer: Any, _: None) -> Any:
    """`null` stays `null` (ruamel writes an empty value, which readers take for a forgotten one)."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def schema_for(path: Path) -> str | None:
    """The schema a file follows, by its folder (tests/, models/, else a policy); None for the files of a
    root that are not policies (reference data, the lint baseline), which fmt leaves alone."""
    root = find_root(path)
    parts = path.relative_to(root).parts if root else path.parts[-3:]  # judged inside the policy root only
    for folder, schema in SCHEMA_BY_FOLDER.items():
        if folder in parts[:-1]:
            return schema
    if path.name == BASELINE or any(folder in parts[:-1] for folder in NOT_POLICIES):
        return None
    return POLICY_SCHEMA


def format_text(text: str, name: str, schema: str) -> str:
    """The canonical form of one file's text. Raises InputError (file:line) for YAML the loader refuses."""
    load_yaml_text(text, name, max_nodes=MAX_POLICY_NODES)  # refuse what evaluation would refuse, with a line
    y = _yaml()
    try:
        data = y.load(text)
    except Exception as exc:  # ruamel accepts less than the safe loader in rare corners: name the line
        mark = getattr(exc, "problem_mark", None)
        raise InputError([Problem(name, mark.line + 1 if mark else None, None,
                                  f"cannot round-trip this YAML: {getattr(exc, 'problem', exc)}")]) from None
    root = _schema(schema)
    _reorder(data, root, root)
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()


@record
class FmtResult:
    path: Path
    display: str
    old: str
    new: str

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> list[str]:
        return list(difflib.unified_diff(self.old.splitlines(keepends=True), self.new.splitlines(keepends=True),
                                         f"a/{self.display}", f"b/{self.display}"))


def fmt_targets(paths: Sequence[str | Path]) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """The files to format with their schema: roots give their policies, tests and models; other folders
    and files are formatted by their location (`schema_for`)."""
    out: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir() and is_root(p):
            found, bad = expand([p])
            problems.extend(bad)
            out.extend((f, POLICY_SCHEMA) for f in found)
            for folder, schema in SCHEMA_BY_FOLDER.items():
                out.extend((f, schema) for f in sorted((p / folder).glob("*.y*ml")) if f.suffix in (".yaml", ".yml"))
        elif p.is_dir():
            found = sorted(x for x in p.rglob("*") if x.is_file() and x.suffix in (".yaml", ".yml"))
            out.extend((f, s) for f in found if (s := schema_for(f.resolve())))
        elif p.is_file():
            named = schema_for(p.resolve())
            if named:  # pre-commit passes every changed YAML file: the baseline and reference data are not ours
                out.append((p, named))
        else:
            problems.append(Problem(str(raw), None, None, "no such file or folder",
                                    "give a policy root, a folder of policy files or a policy file"))
    seen: set[Path] = set()
    unique = []
    for f, schema in out:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append((f, schema))
    return unique, problems


def fmt_files(targets: list[tuple[Path, str]]) -> list[FmtResult]:
    """Format each file in memory; every unreadable or invalid file is reported at once (InputError)."""
    results: list[FmtResult] = []
    problems: list[Problem] = []
    for path, schema in targets:
        name = display(path)
        try:
            text = read_text(path, max_bytes=MAX_POLICY_BYTES)
            results.append(FmtResult(path, name, text, format_text(text, name, schema)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return results
