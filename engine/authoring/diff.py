"""`policy diff`: what changed between two versions of policies, rule by rule and number by number.

A reviewer approving next year's policy wants the semantic change ("7 equal signals became 3 gold +
12 silver", "the reach cap went from 2 to 1"), not a text diff with moved lines. So both sides are
normalised (lists of rules, rows, tiers and stages become mappings keyed by their id or name) and
compared leaf by leaf; rules are summarised by id with the fields that changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..model import Policy
from .listing import structure_text
from .tree import PolicyFile, load_file

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()
KEYED_LISTS = {"rules": "id", "quota_tables": "id", "rows": "id", "resolutions": "id", "aggregates": "id",
               "stages": "name", "tiers": "name", "changelog": "version"}
HEADER_KEYS = ("id", "version")  # shown in the pair's header, not as changes
SPLIT_ADDED = 2  # added/removed mappings with at most this many fields are shown field by field
_CYCLE = re.compile(r"^[a-z][a-z0-9]*-[0-9]{4}\Z")


@dataclass(frozen=True)
class Change:
    path: tuple[str, ...]
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        return "added" if self.old is ABSENT else "removed" if self.new is ABSENT else "changed"

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.dotted, "kind": self.kind}
        if self.old is not ABSENT:
            out["old"] = self.old
        if self.new is not ABSENT:
            out["new"] = self.new
        return out


@dataclass
class PolicyDiff:
    old: Policy
    new: Policy
    changes: list[Change]
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)
    rules_changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def signals(self) -> tuple[str, str] | None:
        if self.old.kind != "specialty" or self.new.kind != "specialty":
            return None
        before, after = structure_text(self.old.specialty), structure_text(self.new.specialty)
        return (before, after) if before != after else None

    @property
    def empty(self) -> bool:
        return not (self.changes or self.rules_added or self.rules_removed or self.rules_changed)

    def as_json(self) -> dict[str, Any]:
        sig = self.signals
        return {
            "old": {"file": self.old.file, "policy": self.old.ref},
            "new": {"file": self.new.file, "policy": self.new.ref},
            "signals": {"old": sig[0], "new": sig[1]} if sig else None,
            "rules": {"added": self.rules_added, "removed": self.rules_removed,
                      "changed": self.rules_changed},
            "changes": [c.as_json() for c in self.changes],
        }


@dataclass
class TreeDiff:
    pairs: list[PolicyDiff]
    added: list[Policy]
    removed: list[Policy]

    def as_json(self) -> dict[str, Any]:
        return {"pairs": [p.as_json() for p in self.pairs],
                "policies_added": [{"file": p.file, "policy": p.ref} for p in self.added],
                "policies_removed": [{"file": p.file, "policy": p.ref} for p in self.removed]}


# ---------------------------------------------------------------- pure comparison

def normalise(value: Any, key: str | None = None) -> Any:
    """Keyed lists become mappings so that a reordered or inserted rule is not 'everything changed'."""
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list) and key in KEYED_LISTS and all(isinstance(x, dict) and KEYED_LISTS[key] in x
                                                              for x in value):
        name = KEYED_LISTS[key]
        return {str(x[name]): normalise({k: v for k, v in x.items() if k != name}) for x in value}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def leaf_changes(old: Any, new: Any, path: tuple[str, ...] = ()) -> list[Change]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[Change] = []
        for k in list(old) + [k for k in new if k not in old]:
            out += leaf_changes(old.get(k, ABSENT), new.get(k, ABSENT), path + (str(k),))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [c for i, (a, b) in enumerate(zip(old, new, strict=True))
                for c in leaf_changes(a, b, path + (str(i),))]
    whole = new if old is ABSENT else old if new is ABSENT else None
    if isinstance(whole, dict) and len(whole) <= SPLIT_ADDED:
        # a small added or removed item reads best as its fields ("signals.tiers.gold.count: added 3")
        return [c for k, v in whole.items()
                for c in leaf_changes(ABSENT if old is ABSENT else v, v if old is ABSENT else ABSENT,
                                      path + (str(k),))]
    if old == new and type(old) is type(new):
        return []
    return [Change(path, old, new)]


def diff_policies(old: Policy, new: Policy) -> PolicyDiff:
    a, b = normalise(old.raw), normalise(new.raw)
    rules_a, rules_b = a.pop("rules", {}) or {}, b.pop("rules", {}) or {}
    for key in HEADER_KEYS:
        a.pop(key, None)
        b.pop(key, None)
    changes = leaf_changes(a, b)
    changed: dict[str, list[str]] = {}
    for rid in rules_a:
        if rid in rules_b and rules_a[rid] != rules_b[rid]:
            fields = [k for k in list(rules_a[rid]) + [k for k in rules_b[rid] if k not in rules_a[rid]]
                      if rules_a[rid].get(k, ABSENT) != rules_b[rid].get(k, ABSENT)]
            changed[rid] = fields
            changes += leaf_changes(rules_a[rid], rules_b[rid], ("rules", rid))
    return PolicyDiff(old, new, changes, [r for r in rules_b if r not in rules_a],
                      [r for r in rules_a if r not in rules_b], changed)


def _pair_key(p: Policy) -> str:
    return p.specialty.specialty if p.specialty else p.id


def diff_sets(old: list[Policy], new: list[Policy]) -> TreeDiff:
    """Pair policies by specialty (specialty policies) or id (guidance) and diff each pair."""
    a = {_pair_key(p): p for p in old}
    b = {_pair_key(p): p for p in new}
    pairs = [diff_policies(a[k], b[k]) for k in sorted(a) if k in b]
    return TreeDiff(pairs, [b[k] for k in sorted(b) if k not in a], [a[k] for k in sorted(a) if k not in b])


# ---------------------------------------------------------------- resolving OLD and NEW

def _load(paths: list[Path]) -> list[Policy]:
    files: list[PolicyFile] = [load_file(p, None) for p in paths]
    problems = [x for f in files for x in f.problems]
    if problems:
        raise InputError(problems)
    return [f.policy for f in files if f.policy]


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")
                  and "tests" not in p.relative_to(folder).parts[:-1])


def resolve(arg: str, root: Path) -> Path:
    """A file or folder as given, else a cycle id looked up under `<root>/cycles/`."""
    p = Path(arg)
    if p.exists():
        if not (p.is_file() or p.is_dir()):
            raise InputError([Problem(arg, None, None, "is not a regular file or folder (a device, pipe or socket)",
                                      "give two policy files, two folders or two cycle ids")])
        return p
    if _CYCLE.match(arg) and (root / "cycles" / arg).is_dir():
        return root / "cycles" / arg
    folder = root / "cycles"
    cycles = sorted(x.name for x in folder.iterdir() if x.is_dir()) if folder.is_dir() else []
    raise InputError([Problem(arg, None, None, "no such file, folder or cycle",
                              f"cycles in {root}: {', '.join(cycles) or 'none'}")])


def diff_paths(old_arg: str, new_arg: str, root: Path) -> TreeDiff:
    old, new = resolve(old_arg, root), resolve(new_arg, root)
    if old.is_file() != new.is_file():
        kind = "file" if old.is_file() else "folder"
        raise InputError([Problem(new_arg, None, None, "compare a file with a file, or a folder with "
                                  "a folder", f"'{old_arg}' is a {kind}")])
    if old.is_file():
        a, b = _load([old]), _load([new])
        return TreeDiff([diff_policies(a[0], b[0])], [], [])
    return diff_sets(_load(_yaml_files(old)), _load(_yaml_files(new)))


# ---------------------------------------------------------------- text

def _show(value: Any, limit: int = 70) -> str:
    if value is ABSENT:
        return "(absent)"
    if isinstance(value, str):
        text = " ".join(value.split())
        return repr(text if len(text) <= limit else text[: limit - 1] + "…")
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v, 40)}" for k, v in value.items()) + "}"
    return str(value)


def render_text(d: TreeDiff) -> str:
    lines: list[str] = []
    for pair in d.pairs:
        lines.append(f"{pair.old.file} -> {pair.new.file}")
        lines.append(f"  policy: {pair.old.ref} -> {pair.new.ref}")
        if pair.empty:
            lines.append("  no changes")
        if pair.signals:
            lines.append(f"  signals: {pair.signals[0]} -> {pair.signals[1]}")
        for label, ids in (("rules added", pair.rules_added), ("rules removed", pair.rules_removed)):
            if ids:
                lines.append(f"  {label}: {', '.join(ids)}")
        if pair.rules_changed:
            lines.append("  rules changed:")
            lines += [f"    {rid} ({', '.join(fields)})" for rid, fields in pair.rules_changed.items()]
        if pair.changes:
            lines.append("  changes:")
            for c in pair.changes:
                if c.kind == "changed":
                    lines.append(f"    {c.dotted}: {_show(c.old)} -> {_show(c.new)}")
                else:
                    lines.append(f"    {c.dotted}: {c.kind} {_show(c.new if c.kind == 'added' else c.old)}")
    for label, ps in (("policies added", d.added), ("policies removed", d.removed)):
        if ps:
            lines.append(f"{label}:")
            lines += [f"  {p.file} ({p.ref})" for p in ps]
    if not lines:
        lines.append("no policies to compare")
    return "\n".join(lines) + "\n"
