"""Find and load the policy files an author names, keeping each file's text and YAML positions.

An author may name a policy root (a folder with `guidance/` and `cycles/`), any folder of policy YAML,
or single files. Semantic checks need the whole evaluation context, so files outside a root borrow the
guidance of the root they sit in (or of the bundled policies); the files named are the *targets*, the
rest is *context* that is loaded but only reported on when it is broken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field
from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..load.files import read_text
from ..load.yamlsafe import Path as YPath
from ..load.yamlsafe import load_yaml_text
from ..policy.catalogue import Catalogue, bundled_root, display_name
from ..policy.loader import MAX_POLICY_BYTES, MAX_POLICY_NODES, parse_policy
from ..policy.model import Policy
from ..records import record

SEVERITIES = ("error", "warning", "info")
SUITES = ("guidance", "tracking")  # folders of guidance policies that form one policy set each


@record(order=True)
class Finding:
    """A problem with a severity: errors make a policy invalid, warnings and infos inform reviewers."""

    severity: str
    problem: Problem

    def render(self) -> str:
        p = self.problem
        if self.severity == "error":
            return p.render()
        where = p.file if p.line is None else f"{p.file}:{p.line}"
        what = f"{p.field}: {p.message}" if p.field else p.message
        return f"{where}: {self.severity}: {what}" + (f" ({p.hint})" if p.hint else "")


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.problem.file, f.problem.line or 0, SEVERITIES.index(f.severity),
                                         f.problem.field or "", f.problem.message))


@record
class PolicyFile:
    path: Path
    display: str
    text: str | None
    data: Any
    positions: dict[YPath, int]
    policy: Policy | None
    problems: tuple[Problem, ...]
    root: Path | None

    @property
    def cycle_folder(self) -> str | None:
        """The `<cycle>` of a file at `<root>/cycles/<cycle>/<name>.yaml`."""
        parent = self.path.parent
        return parent.name if parent.parent.name == "cycles" else None

    @property
    def suite(self) -> str | None:
        """`guidance` (the evaluate pipeline) or `tracking` (signalwise track), by folder."""
        return self.path.parent.name if self.path.parent.name in SUITES else None


@record
class PolicyTree:
    targets: tuple[PolicyFile, ...]
    context: tuple[PolicyFile, ...] = ()
    roots: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def files(self) -> tuple[PolicyFile, ...]:
        return self.targets + self.context

    def guidance(self, suite: str = "guidance") -> tuple[Policy, ...]:
        """One suite's guidance for semantic checks: the targets', completed by their roots' (targets win
        by id). Guidance files outside a suite folder count as `guidance`."""
        chosen: dict[str, Policy] = {}
        for f in self.context + self.targets:
            if f.policy and f.policy.kind == "guidance" and (f.suite or "guidance") == suite:
                chosen[f.policy.id] = f.policy
        return tuple(sorted(chosen.values(), key=lambda p: p.file))

    def has_suite(self, suite: str) -> bool:
        return any(f.suite == suite for f in self.targets)

    def target_policies(self) -> tuple[Policy, ...]:
        return tuple(f.policy for f in self.targets if f.policy)

    def specialties(self) -> tuple[Policy, ...]:
        return tuple(p for p in self.target_policies() if p.kind == "specialty")

    def known(self) -> dict[str, Policy]:
        """Every loaded policy by id (targets win)."""
        out: dict[str, Policy] = {}
        for f in self.context + self.targets:
            if f.policy:
                out[f.policy.id] = f.policy
        return out

    def by_display(self) -> dict[str, PolicyFile]:
        return {f.display: f for f in self.files}


def is_root(folder: Path) -> bool:
    return (folder / "guidance").is_dir() or (folder / "cycles").is_dir()


def find_root(path: Path) -> Path | None:
    """The policy root a path belongs to: itself or the nearest ancestor with a `guidance/` folder."""
    for folder in [path, *path.parents] if path.is_dir() else list(path.parents):
        if (folder / "guidance").is_dir():
            return folder
    return None


def _yaml_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def root_files(root: Path) -> list[Path]:
    """Policy files of a root: `guidance/`, `tracking/` and `cycles/<cycle>/`, cycles in year order."""
    out = [p for suite in SUITES for p in _yaml_in(root / suite)]
    for cycle in Catalogue(root).cycles():
        out.extend(_yaml_in(root / "cycles" / cycle))
    return out


def display(path: Path) -> str:
    """How messages name a file (`catalogue.display_name`: the same name evaluate uses)."""
    return display_name(path)


def load_file(path: Path, root: Path | None) -> PolicyFile:
    """Read, parse and type one policy file; problems become values, never exceptions."""
    name = display(path)
    try:
        text = read_text(path, max_bytes=MAX_POLICY_BYTES)
        data, positions = load_yaml_text(text, name, max_nodes=MAX_POLICY_NODES)
    except InputError as exc:
        return PolicyFile(path, name, None, None, {}, None, tuple(exc.problems), root)
    try:
        policy = parse_policy(text, name)
    except InputError as exc:
        return PolicyFile(path, name, text, data, positions, None, tuple(exc.problems), root)
    return PolicyFile(path, name, text, data, positions, policy, (), root)


def expand(paths: Sequence[str | Path]) -> tuple[list[Path], list[Problem]]:
    """The policy files named by `paths` (roots, folders or files)."""
    files: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            if is_root(p):
                files.extend(root_files(p))
            else:
                files.extend(sorted(x for x in p.rglob("*") if x.is_file() and x.suffix in (".yaml", ".yml")
                                    and "tests" not in x.relative_to(p).parts[:-1]))
        elif p.is_file():
            files.append(p)
        else:
            problems.append(Problem(str(raw), None, None, "no such file or folder",
                                    "give a policy root, a folder of policy files or a policy file"))
    seen: set[Path] = set()
    unique = []
    for f in files:
        if f.resolve() not in seen:
            seen.add(f.resolve())
            unique.append(f)
    return unique, problems


# What `policy validate`, `lint` and `test` read at once (the bundled root: about 100 files, 400 KB).
MAX_TREE_FILES = 1_000
MAX_TREE_BYTES = 8 * 1024 * 1024


def load_tree(paths: Sequence[str | Path] = ()) -> tuple[PolicyTree, list[Problem]]:
    """Load the named files (default: the bundled policies) plus the roots they belong to."""
    targets_paths, problems = expand(list(paths) or [bundled_root()])
    roots: list[Path] = []
    placed = []
    for p in targets_paths:
        root = find_root(p.resolve()) or bundled_root().resolve()
        if root not in roots:
            roots.append(root)
        placed.append((p, root))
    named = {p.resolve() for p in targets_paths}
    others = [(p, r) for r in roots for p in root_files(r) if p.resolve() not in named]
    too_big = _too_big([p for p, _ in placed + others], paths)
    if too_big:
        return PolicyTree((), (), tuple(roots)), problems + [too_big]
    targets = [load_file(p, root) for p, root in placed]
    context = [load_file(p, r) for p, r in others]
    return PolicyTree(tuple(targets), tuple(context), tuple(roots)), problems


def _too_big(files: list[Path], paths: Sequence[str | Path]) -> Problem | None:
    """Refuse, before reading, more policy files than a policy tree can reasonably hold."""
    where = ", ".join(str(p) for p in paths) or "the bundled policies"
    if len(files) > MAX_TREE_FILES:
        return Problem(where, None, None, f"{len(files):,} policy files; the limit is {MAX_TREE_FILES:,}",
                       "validate one root or cycle at a time")
    total = 0
    for f in files:
        try:
            total += f.stat().st_size
        except OSError:
            continue
    if total > MAX_TREE_BYTES:
        return Problem(where, None, None, f"the policy files hold {total:,} bytes; the limit is "
                       f"{MAX_TREE_BYTES:,}", "validate one root or cycle at a time")
    return None
