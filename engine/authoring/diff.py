"""`policy diff`: what changed between two versions of policies, rule by rule and number by number.

A reviewer approving next year's policy wants the semantic change ("7 equal signals became 3 gold +
12 silver", "the reach cap went from 2 to 1"), not a text diff with moved lines. So both sides are
normalised (lists of rules, rows, tiers and stages become mappings keyed by their id or name) and
compared leaf by leaf; rules are summarised by id with the fields that changed.
"""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..policy.model import Policy
from ..records import record
from .lint import copied_numbers
from .listing import structure_text
from .tree import PolicyFile, load_file

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()
KEYED_LISTS = {"rules": "id", "quota_tables": "id", "rows": "id", "resolutions": "id", "aggregates": "id",
               "stages": "name", "tiers": "name", "changelog": "version"}
HEADER_KEYS = ("id", "version")  # shown in the pair's header, not as changes
SPLIT_ADDED = 2  # added/removed mappings with at most this many fields are shown field by field
_CYCLE = re.compile(r"^[a-z][a-z0-9]*-[0-9]{4}\Z")


@record
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


@record(frozen=False)
class PolicyDiff:
    old: Policy
    new: Policy
    changes: list[Change]
    rules_added: list[str] = field(default_factory=list)
    rules_removed: list[str] = field(default_factory=list)
    rules_changed: dict[str, list[str]] = field(default_factory=dict)
    boilerplate: set[tuple[str, ...]] = field(default_factory=set)  # paths of changes collapsed per cycle

    @property
    def group(self) -> str:
        """What the pair is about: its specialty, or the guidance policy's id."""
        return _pair_key(self.new)

    @property
    def numbers(self) -> list[Change]:
        """Changed counts, home rule and parameters: what a reviewer checks against a source first."""
        names = set(copied_numbers(self.old.raw)) | set(copied_numbers(self.new.raw))
        return [c for c in self.changes if c.dotted in names]

    @property
    def others(self) -> list[Change]:
        """The changes that are neither numbers nor collapsed boilerplate."""
        numbers = {c.path for c in self.numbers}
        return [c for c in self.changes if c.path not in numbers and c.path not in self.boilerplate]

    @property
    def substantive(self) -> bool:
        return bool(self.numbers or self.others or self.rules_added or self.rules_removed or self.rules_changed
                    or self.signals)

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
            "group": self.group,
            "numbers": [c.dotted for c in self.numbers],
            "boilerplate": sorted(".".join(p) for p in self.boilerplate),
        }


@record
class Boilerplate:
    """One kind of repeated change, collapsed: the path, what it does, and in how many pairs."""

    path: str
    what: str
    pairs: int


@record(frozen=False)
class TreeDiff:
    pairs: list[PolicyDiff]
    added: list[Policy]
    removed: list[Policy]
    boilerplate: list[Boilerplate] = field(default_factory=list)
    label: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"pairs": [p.as_json() for p in self.pairs],
                "policies_added": [{"file": p.file, "policy": p.ref} for p in self.added],
                "policies_removed": [{"file": p.file, "policy": p.ref} for p in self.removed],
                "boilerplate": [{"path": b.path, "what": b.what, "pairs": b.pairs} for b in self.boilerplate]}


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
    """Pair policies by specialty (specialty policies) or id (guidance), diff each pair, and collapse the
    changes every copied policy carries (version bump, dates moved by a year, the copy's changelog note)."""
    a = {_pair_key(p): p for p in old}
    b = {_pair_key(p): p for p in new}
    pairs = [diff_policies(a[k], b[k]) for k in sorted(a) if k in b]
    tree = TreeDiff(pairs, [b[k] for k in sorted(b) if k not in a], [a[k] for k in sorted(a) if k not in b])
    collapse_boilerplate(tree)
    return tree


# ---------------------------------------------------------------- boilerplate

_YEAR = re.compile(r"(?<![0-9])(20[0-9]{2})(?![0-9])|(?<=[0-9]{4}-)([0-9]{2})(?![0-9-])")


def _shift(value: Any, years: int) -> Any:
    """A value with every year moved by `years` (2026 -> 2027, and '2025-26' -> '2026-27')."""
    if isinstance(value, bool) or years == 0:
        return value
    if isinstance(value, int) and 1900 < value < 2200:
        return value + years
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1):
                return str(int(m.group(1)) + years)
            return f"{(int(m.group(2)) + years) % 100:02d}"
        return _YEAR.sub(sub, value)
    if isinstance(value, list):
        return [_shift(v, years) for v in value]
    if isinstance(value, dict):
        return {k: _shift(v, years) for k, v in value.items()}
    return value


def _years(pair: PolicyDiff) -> int:
    old, new = pair.old.specialty, pair.new.specialty
    return new.match_year - old.match_year if old and new else 0


def _anonymous(value: Any, pair: PolicyDiff) -> str:
    """A value with the pair's own names (specialty id and name, policy ids) blanked, to compare across pairs."""
    text = repr(value)
    names = {pair.old.id, pair.new.id, pair.group}
    for p in (pair.old, pair.new):
        if p.specialty:
            names |= {p.specialty.specialty_name, p.specialty.specialty_name.split(" (")[0]}
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "<specialty>")
    return text


_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
BOOKKEEPING = ("changelog", "review", "reviewed")  # top-level fields that record the copy, not a decision


def _bookkeeping(c: Change) -> bool:
    """A change that may be collapsed when several pairs repeat it: the changelog and review records, a note,
    or a date. A source, a rule or a count repeated across specialties is still a decision, shown per pair."""
    return (c.path[0] in BOOKKEEPING or c.path[-1] in ("note", "date")
            or all(v is ABSENT or (isinstance(v, str) and bool(_DATE.match(v))) for v in (c.old, c.new)))


def collapse_boilerplate(tree: TreeDiff) -> None:
    """Mark, in each pair, the changes that are a copy's bookkeeping rather than a decision: a value only moved
    by the years between the cycles (cycle, match_year, title, effective dates, supersedes), and bookkeeping
    made the same way in several pairs (the copy's changelog entry, a shared note, a date). Numbers are
    never collapsed.
    Only when two or more policies are compared: one pair's diff shows everything."""
    if len(tree.pairs) < 2:
        return
    seen: dict[tuple[str, str, str], int] = {}
    for pair in tree.pairs:
        for c in pair.changes:
            key = (c.dotted, _anonymous(c.old, pair), _anonymous(c.new, pair))
            seen[key] = seen.get(key, 0) + 1
    kinds: dict[tuple[str, str], set[str]] = {}
    for pair in tree.pairs:
        numbers = {c.path for c in pair.numbers}
        years = _years(pair)
        for c in pair.changes:
            if c.path in numbers:
                continue
            what = _collapsed(c, pair, years, seen)
            if what:
                pair.boilerplate.add(c.path)
                path = c.dotted if c.path[0] not in BOOKKEEPING else f"{c.path[0]} (the copy's record)"
                kinds.setdefault((path, what), set()).add(pair.group)
    versions: dict[str, int] = {}
    for pair in tree.pairs:
        if pair.old.version != pair.new.version:
            bump = f"{pair.old.version} -> {pair.new.version}"
            versions[bump] = versions.get(bump, 0) + 1
    tree.boilerplate = [Boilerplate("version", bump, n) for bump, n in sorted(versions.items())]
    tree.boilerplate += [Boilerplate(path, what, len(groups)) for (path, what), groups in sorted(kinds.items())]


def _collapsed(c: Change, pair: PolicyDiff, years: int, seen: dict[tuple[str, str, str], int]) -> str | None:
    """How a change is bookkeeping ('moved by 1 year', 'added', ...), or None when it is a decision to show."""
    if c.path[0] in ("review", "reviewed"):
        return c.kind
    if c.dotted == "supersedes" and c.new == pair.old.ref:
        return "names the policy compared with"
    if c.kind == "changed" and years and _shift(c.old, years) == c.new:
        return f"moved by {years} year{'' if abs(years) == 1 else 's'}"
    if _bookkeeping(c) and seen[(c.dotted, _anonymous(c.old, pair), _anonymous(c.new, pair))] > 1:
        return c.kind if c.kind != "changed" else "the same edit"
    return None


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


def _change_line(c: Change) -> str:
    if c.kind == "changed":
        return f"{c.dotted}: {_show(c.old)} -> {_show(c.new)}"
    return f"{c.dotted}: {c.kind} {_show(c.new if c.kind == 'added' else c.old)}"


def _cycles(d: TreeDiff) -> str:
    olds = sorted({p.old.specialty.cycle for p in d.pairs if p.old.specialty})
    news = sorted({p.new.specialty.cycle for p in d.pairs if p.new.specialty})
    return f"{', '.join(olds)} -> {', '.join(news)}" if olds and news else "old -> new"


def render_text(d: TreeDiff) -> str:
    """Specialty by specialty, those with changed numbers first; inside each, numbers, then signals and
    rules, then the other changes. Bookkeeping every copy repeats is one line per cycle at the top."""
    lines: list[str] = []
    if d.boilerplate:
        parts = [f"{b.path} {b.what} ({b.pairs})" for b in d.boilerplate]
        lines.append(f"{_cycles(d)}, in every copied policy (collapsed; count of policies): " + "; ".join(parts))
    quiet = [p for p in d.pairs if d.boilerplate and not p.substantive]
    shown = [p for p in d.pairs if p not in quiet]
    shown.sort(key=lambda p: (not p.numbers, not p.substantive, p.group))
    for pair in shown:
        lines.append(f"{pair.group}: {pair.old.file} -> {pair.new.file}")
        lines.append(f"  policy: {pair.old.ref} -> {pair.new.ref}")
        if pair.signals:
            lines.append(f"  signals: {pair.signals[0]} -> {pair.signals[1]}")
        if pair.empty:
            lines.append("  no changes")
        if pair.numbers:
            lines.append("  numbers:")
            lines += [f"    {_change_line(c)}" for c in pair.numbers]
        for label, ids in (("rules added", pair.rules_added), ("rules removed", pair.rules_removed)):
            if ids:
                lines.append(f"  {label}: {', '.join(ids)}")
        if pair.rules_changed:
            lines.append("  rules changed:")
            lines += [f"    {rid} ({', '.join(fields)})" for rid, fields in pair.rules_changed.items()]
        numbers = {c.path for c in pair.numbers}
        rest = [c for c in pair.changes if c.path not in numbers and c.path not in pair.boilerplate]
        if rest:
            lines.append("  changes:")
            lines += [f"    {_change_line(c)}" for c in rest]
    if quiet:
        lines.append(f"only the collapsed bookkeeping ({len(quiet)}): {', '.join(p.group for p in quiet)}")
    for label, ps in (("policies added", d.added), ("policies removed", d.removed)):
        if ps:
            lines.append(f"{label}:")
            lines += [f"  {p.file} ({p.ref})" for p in ps]
    if not lines:
        lines.append("no policies to compare")
    return "\n".join(lines) + "\n"
