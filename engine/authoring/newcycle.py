"""`policy new-cycle`: start next year's specialty policies as edited copies of this year's.

The copy is made on the text, not by dumping parsed YAML, so authors keep their comments, key order
and flow style. Only the fields that identify the cycle change (id, cycle, match_year, years in the
title, effective dates); the version gets a minor bump, `supersedes` points at the policy copied, and
a changelog entry tells the next reader that every count still has to be checked.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ..errors import InputError, PolicyError, Problem
from ..load.files import read_text, write_atomic
from ..policy.catalogue import Catalogue, match_year_of
from ..policy.loader import parse_policy
from ..records import record
from .lint import BASELINE, ONE_SECONDARY_SOURCE, copied_numbers, load_baseline

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_YEARS = re.compile(r"\b((?:19|20)\d{2})(?:-(\d{2})\b)?")


@record
class NewFile:
    source: Path
    target: Path
    text: str


def bump_minor(version: str) -> str:
    major, minor, _ = (int(x) for x in version.split("."))
    return f"{major}.{minor + 1}.0"


def shift_date(text: str, years: int) -> str:
    def sub(m: re.Match[str]) -> str:
        y, mo, d = int(m.group(1)) + years, int(m.group(2)), int(m.group(3))
        if (mo, d) == (2, 29):
            try:
                dt.date(y, 2, 29)
            except ValueError:
                d = 28
        return f"{y:04d}-{mo:02d}-{d:02d}"
    return _DATE.sub(sub, text)


def shift_years(text: str, years: int) -> str:
    """'ERAS 2026 (2025-26 season)' -> 'ERAS 2027 (2026-27 season)' for years=1."""
    def sub(m: re.Match[str]) -> str:
        year = int(m.group(1))
        out = str(year + years)
        if m.group(2) is not None:
            out += f"-{(int(m.group(2)) + years) % 100:02d}"
        return out
    return _YEARS.sub(sub, text)


def _top_level(text: str, key: str) -> re.Match[str] | None:
    return re.search(rf"^{re.escape(key)}:[ \t]*(.*)$", text, flags=re.MULTILINE)


def set_scalar(text: str, key: str, value: str, *, after: tuple[str, ...] = ()) -> str:
    """Replace a top-level `key: value` (keeping quotes and a trailing comment), or insert it."""
    m = _top_level(text, key)
    if m:
        rest = m.group(1)
        vm = re.match(r"""^(["']?)([^"'#]*?)(["']?)([ \t]*(#.*)?)$""", rest)
        new = f"{vm.group(1)}{value}{vm.group(3)}{vm.group(4)}" if vm else value
        return text[: m.start(1)] + new + text[m.end(1):]
    for anchor in after:
        a = _top_level(text, anchor)
        if a:
            return _insert(text, _block_end(text, a.start()), [f"{key}: {value}"])
    return text.rstrip("\n") + f"\n{key}: {value}\n"


def _block_end(text: str, start: int) -> int:
    """Offset just after the last non-blank line of the top-level entry that starts at `start`."""
    lines = text[start:].splitlines(keepends=True)
    end = pos = start + len(lines[0])
    for line in lines[1:]:
        if line.strip() and not line[0].isspace():
            break
        pos += len(line)
        if line.strip():
            end = pos
    return end


def _insert(text: str, at: int, lines: list[str]) -> str:
    head = text[:at] if text[:at].endswith("\n") or not at else text[:at] + "\n"
    return head + "".join(f"{x}\n" for x in lines) + text[at:]


def shift_block(text: str, key: str, years: int) -> str:
    """Shift every date in a top-level entry (flow or block style)."""
    m = _top_level(text, key)
    if not m:
        return text
    end = _block_end(text, m.start())
    return text[: m.start()] + shift_date(text[m.start(): end], years) + text[end:]


def add_changelog(text: str, version: str, date: str, change: str) -> str:
    """Append an entry to the changelog block list, in the indentation the file already uses."""
    entry = [f"- version: {version}", f"  date: {date}", f"  changes: [{_quote(change)}]"]
    m = _top_level(text, "changelog")
    if m is None:
        body = text.rstrip("\n") + "\n"
        return _insert(body, len(body), ["changelog:"] + [f"  {x}" for x in entry])
    value = m.group(1).strip()
    if value not in ("", "[]"):
        raise InputError([Problem("changelog", None, None, "a flow-style changelog cannot be extended",
                                  "write the changelog as a block list")])
    if value == "[]":
        text = text[: m.start(1)] + text[m.end(1):]
    end = _block_end(text, m.start())
    indent = _item_indent(text[m.start(): end])
    return _insert(text, end, [f"{indent}{x}" for x in entry])


def _item_indent(block: str) -> str:
    for line in block.splitlines()[1:]:
        if line.lstrip().startswith("- "):
            return line[: len(line) - len(line.lstrip())]
    return "  "


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def copy_policy_text(text: str, *, old_id: str, old_version: str, specialty: str, old_cycle: str,
                     new_cycle: str, today: dt.date) -> str:
    """The text of next cycle's policy, made from this cycle's."""
    years = match_year_of(new_cycle) - match_year_of(old_cycle)
    version = bump_minor(old_version)
    text = set_scalar(text, "id", f"{new_cycle}.{specialty}")
    text = set_scalar(text, "version", version)
    text = set_scalar(text, "cycle", new_cycle)
    m = _top_level(text, "match_year")
    if m:
        year = re.match(r"\d+", m.group(1).strip())
        if year:
            text = set_scalar(text, "match_year", str(int(year.group(0)) + years))
    t = _top_level(text, "title")
    if t:
        text = text[: t.start(1)] + shift_years(t.group(1), years) + text[t.end(1):]
    text = shift_block(text, "effective", years)
    text = set_scalar(text, "supersedes", f"{old_id}@{old_version}",
                      after=("effective", "match_year", "application_system", "cycle"))
    text = set_scalar(text, "reviewed", "false  # set to true once every count, source and date is checked",
                      after=("supersedes",))
    text = set_review(text, f"{old_id}@{old_version}", today, copied_numbers(_raw(text)))
    return add_changelog(text, version, today.isoformat(),
                         f"Copied from {old_id}@{old_version}; verify every count for {new_cycle} before use")


def _raw(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    return data if isinstance(data, dict) else {}


def set_review(text: str, origin: str, today: dt.date, pending: list[str]) -> str:
    """Insert the per-number review state after `reviewed:` (replacing an earlier one)."""
    text = drop_top_level(text, "review")
    lines = ["review:", f"  from: {origin}", f"  date: {today.isoformat()}", "  pending:"]
    lines += [f"    - {name}" for name in pending] if pending else []
    if not pending:
        lines[-1] = "  pending: []"
    anchor = _top_level(text, "reviewed")
    if anchor is None:
        return text.rstrip("\n") + "\n" + "".join(f"{x}\n" for x in lines)
    return _insert(text, _block_end(text, anchor.start()), lines)


def drop_top_level(text: str, key: str) -> str:
    """Remove a top-level entry (its key line and its indented block)."""
    m = _top_level(text, key)
    if not m:
        return text
    end = _block_end(text, m.start())
    if end < len(text) and text[end - 1] != "\n":
        end += 1
    return text[: m.start()] + text[end:]


def plan_new_cycle(root: Path, old_cycle: str, new_cycle: str, today: dt.date,
                   target_root: Path | None = None) -> list[NewFile]:
    """Every file of the new cycle, in memory and schema-checked; raises if anything is wrong.

    The copy is read from `root` and goes under `target_root` (default: `root` itself)."""
    cat = Catalogue(root)
    cycles = cat.cycles()
    if old_cycle not in cycles:
        raise InputError([Problem("command line", None, "--from", f"no cycle '{old_cycle}' in {root}",
                                  f"cycles available: {', '.join(cycles) or 'none'}")])
    if not re.fullmatch(r"[a-z][a-z0-9]*-[0-9]{4}", new_cycle):
        raise InputError([Problem("command line", None, "--to", f"'{new_cycle}' is not a cycle name",
                                  "write <system>-<match year>, e.g. eras-2027")])
    if match_year_of(new_cycle) <= match_year_of(old_cycle):
        raise InputError([Problem("command line", None, "--to", f"{new_cycle} is not later than {old_cycle}",
                                  "new-cycle copies a cycle forward in time")])
    target_dir = (target_root or root) / "cycles" / new_cycle
    seeded_from = root / "cycles" / new_cycle if target_root is not None and not (target_root / "guidance").is_dir() \
        else None  # the target will be seeded from `root`: its copy of the new cycle would be there already
    if target_dir.exists() or (seeded_from is not None and seeded_from.exists()):
        raise InputError([Problem(str(target_dir), None, "--to", f"cycle folder {new_cycle} already exists",
                                  "new-cycle never overwrites: edit the files there, or remove the folder "
                                  "first")])
    out: list[NewFile] = []
    problems: list[Problem] = []
    for specialty in cat.specialties(old_cycle):
        source = cat.specialty_path(old_cycle, specialty)
        old = cat.specialty_policy(old_cycle, specialty)
        assert old is not None
        text = copy_policy_text(read_text(source), old_id=old.id, old_version=old.version,
                                specialty=specialty, old_cycle=old_cycle, new_cycle=new_cycle, today=today)
        target = target_dir / source.name
        try:
            parse_policy(text, f"policies/cycles/{new_cycle}/{source.name}")
        except InputError as exc:
            problems.extend(exc.problems)
        out.append(NewFile(source, target, text))
    if problems:
        raise PolicyError(problems)
    if not out:
        raise InputError([Problem("command line", None, "--from", f"cycle {old_cycle} has no policies")])
    return out


def write_new_cycle(files: list[NewFile]) -> Path:
    """Write the whole folder or nothing: files go to a hidden folder that is renamed into place."""
    target_dir = files[0].target.parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.", dir=target_dir.parent))
    except OSError as exc:
        raise InputError([Problem(str(target_dir.parent), None, None, f"cannot write the new cycle folder here: "
                                  f"{exc.strerror or exc}", "check the policy folder exists and is writable")]
                         ) from None
    try:
        for f in files:
            write_atomic(staging / f.target.name, f.text)
        os.rename(staging, target_dir)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError([Problem(str(target_dir), None, None, f"cannot write the new cycle folder: "
                                  f"{exc.strerror or exc}")]) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target_dir


SEEDED = ("guidance", "tracking", "reference", "models", "tests", "cycles")


def seed_root(source: Path, target: Path) -> list[Path]:
    """Make `target` a complete policy root (a copy of `source`'s folders) unless it already has guidance.

    `policy new-cycle` writes into ./policies by default: seeding it makes `--policies ./policies` usable
    at once, for the new cycle and every other. Returns the folders copied."""
    if (target / "guidance").is_dir():
        return []
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in SEEDED:
        if (source / name).is_dir() and not (target / name).exists():
            shutil.copytree(source / name, target / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__init__.py"))
            copied.append(target / name)
    baseline = source / "lint-baseline.yaml"  # the accepted lint findings travel with the policies they accept
    if baseline.is_file() and not (target / baseline.name).exists():
        shutil.copy2(baseline, target / baseline.name)
        copied.append(target / baseline.name)
    return copied


def carry_accepted(root: Path, old_cycle: str, new_cycle: str, names: list[str], today: dt.date) -> int:
    """Append to `root`'s lint baseline, for each copied file, the accepted findings of its original that are
    about a source itself (one secondary source), not about the season a source names: the copy cites the
    same source, so the same reason holds until an author changes the source (then the entry no longer
    matches, is reported stale, and goes). Season findings are never carried: a reviewer must see them.
    Returns the number of entries added."""
    path = root / BASELINE
    accepted, problems = load_baseline(path)
    if problems or not accepted:
        return 0
    lines: list[str] = []
    for name in names:
        old_file, new_file = f"cycles/{old_cycle}/{name}", f"cycles/{new_cycle}/{name}"
        for a in accepted:
            if a.file == old_file and ONE_SECONDARY_SOURCE in a.message:
                reason = f"Carried from {old_file} by new-cycle on {today} (same source): {a.reason}"
                lines += [f"  - file: {new_file}",
                          *([f"    field: {a.field}"] if a.field else []),
                          f"    message: {_quote(a.message.replace(old_cycle, new_cycle))}",
                          f"    reason: {_quote(reason)}"]
    if lines:
        text = read_text(path)
        write_atomic(path, text.rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    return sum(1 for line in lines if line.startswith("  - "))


@record
class ReviewResult:
    cleared: list[tuple[str, str]]   # (number, why: changed | confirmed)
    pending: list[str]
    text: str


def review_policy(text: str, current: dict[str, Any], origin: dict[str, Any] | None, confirm: set[str],
                  pending: list[str], review: dict[str, Any]) -> ReviewResult:
    """Clear each pending number whose value differs from the copied policy's, or that the author confirms;
    once none is left, drop the `review:` block and write `reviewed: true`."""
    from ..policy.check import path_for

    def value(data: dict[str, Any] | None, name: str) -> Any:
        if data is None:
            return _MISSING
        path = path_for(data, name)
        if len(path) != len(name.split(".")):  # tier and parameter names hold no dots
            return _MISSING
        node: Any = data
        for part in path:
            node = node[part]
        return node

    cleared: list[tuple[str, str]] = []
    left: list[str] = []
    for name in pending:
        if "all" in confirm or name in confirm:
            cleared.append((name, "confirmed"))
        elif origin is not None and value(current, name) != value(origin, name):
            cleared.append((name, "changed"))
        else:
            left.append(name)
    if left:
        today = dt.date.fromisoformat(str(review["date"])) if review.get("date") else dt.date.today()
        text = set_review(text, str(review.get("from") or ""), today, left)
    else:
        text = drop_top_level(text, "review")
        m = _top_level(text, "reviewed")
        if m:
            text = text[: m.start(1)] + "true" + text[m.end(1):]
    return ReviewResult(cleared, left, text)


_MISSING: Any = object()

