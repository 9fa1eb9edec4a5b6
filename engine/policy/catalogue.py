"""Find policy files: all guidance, plus one specialty x cycle policy per evaluation.

Layout under a policy root: `guidance/*.yaml` and `cycles/<cycle>/<specialty>.yaml`. The bundled root is
package data, so an installed copy works outside the repository.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
from collections import Counter
from dataclasses import astuple
from functools import cache
from pathlib import Path

from ..errors import InputError, PolicyError, Problem
from ..load.files import package_dir
from ..records import record
from .loader import load_policy_file
from .model import Policy, PolicySet

# The guidance (or tracking) policies of one evaluation are loaded, parsed and checked on every run; these
# bound that work whatever a --policies folder holds (bundled: 7 files, 85 KB). docs/reliability.md.
MAX_SUITE_FILES = 50
MAX_SUITE_BYTES = 1024 * 1024


@cache
def bundled_root() -> Path:
    """Filesystem path of the bundled policies (package data); asked for by every name a report gives a
    policy file, so looked up once per process."""
    return package_dir("signalwise.policies")


@cache
def _bundled_real() -> str:
    return os.path.realpath(bundled_root())


@cache
def bundled_hashes() -> frozenset[str]:
    """SHA-256 of every bundled policy file: a policy with one of these is the bundled policy, unchanged."""
    import hashlib

    root = bundled_root()
    return frozenset(hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*.y*ml")) if p.is_file())


def _yaml_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def display_name(path: Path, root: Path | None = None) -> str:
    """How every message and report names a policy file: `policies/...` inside the bundled policies (wherever
    they are installed), else the real file under the `--policies` root in use, relative to the working
    folder when inside it, else absolute. `policy validate`, `test`, `lint` and evaluate all name files so
    (`root` is not needed for that; it stays for the callers that pass it)."""
    real = os.path.realpath(path)  # os.path, not pathlib: this runs for every policy file a run lists
    bundled = _bundled_real()
    if real.startswith(bundled + os.sep):
        return "policies/" + Path(real[len(bundled) + 1:]).as_posix()
    resolved = Path(real)
    try:
        rel = os.path.relpath(resolved)
    except ValueError:  # another drive (Windows)
        return resolved.as_posix()
    return Path(rel).as_posix() if not rel.startswith("..") else resolved.as_posix()


@cache
def _load_cached(path: str, display: str, mtime: float) -> Policy:
    return load_policy_file(path, display)


def load_policy(path: Path, root: Path) -> Policy:
    return _load_cached(str(path), display_name(path, root), path.stat().st_mtime)


@record
class Catalogue:
    root: Path

    def guidance(self) -> tuple[Policy, ...]:
        files_ = _yaml_files(self.root / "guidance")
        if not files_:
            raise PolicyError([Problem(str(self.root / "guidance"), None, None, "no guidance policies found")])
        _check_suite(self.root / "guidance", files_)
        return self._load_all(files_)

    def tracking(self) -> tuple[Policy, ...]:
        """Policies for `signalwise track` (after submission): tracking/*.yaml."""
        files_ = _yaml_files(self.root / "tracking")
        if not files_:
            raise PolicyError([Problem(str(self.root / "tracking"), None, None, "no tracking policies found")])
        _check_suite(self.root / "tracking", files_)
        return self._load_all(files_)

    def cycles(self) -> list[str]:
        folder = self.root / "cycles"
        if not folder.is_dir():
            return []
        return sorted((p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))),
                      key=_cycle_sort_key)

    def specialties(self, cycle: str) -> list[str]:
        return [p.stem for p in _yaml_files(self.root / "cycles" / cycle)]

    def ids(self, field: str) -> list[str]:
        """The known ids of a profile field (`specialty` or `cycle`), for did-you-mean hints."""
        if field == "cycle":
            return self.cycles()
        return sorted({s for c in self.cycles() for s in self.specialties(c)}) if field == "specialty" else []

    def specialty_path(self, cycle: str, specialty: str) -> Path:
        return self.root / "cycles" / cycle / f"{specialty}.yaml"

    def specialty_policy(self, cycle: str, specialty: str) -> Policy | None:
        path = self.specialty_path(cycle, specialty)
        try:
            exists = path.is_file()
        except OSError:  # e.g. a name too long for the file system: no such policy
            return None
        return load_policy(path, self.root) if exists else None

    def all_specialty_policies(self) -> tuple[Policy, ...]:
        paths = [p for c in self.cycles() for p in _yaml_files(self.root / "cycles" / c)]
        return self._load_all(paths)

    def seasons(self) -> list[Season]:
        """Every specialty policy's effective window.

        Choosing a season reads the header of every specialty policy (over a hundred files); the windows
        are kept in the policy cache, keyed by every file's place under the root and exact bytes (a season
        holds nothing of the file's display name), so a warm run reads and hashes the files but types none
        of them. Any unreadable file takes the full path (and its error)."""
        from . import cache as policy_cache

        cycles = self.cycles()
        paths = [p for c in cycles for p in _yaml_files(self.root / "cycles" / c)]
        try:
            material = b"".join(f"{p.parent.name}/{p.name}".encode() + b"\0" + p.read_bytes() + b"\0"
                                for p in paths)
        except OSError:
            material = None
        if material is not None:
            cached = policy_cache.lookup_derived("seasons", material)
            if isinstance(cached, list):
                try:
                    return [Season(*row) for row in cached]
                except TypeError:
                    pass
        found = seasons(self._load_all(paths))
        if material is not None:
            policy_cache.store_derived("seasons", material, [list(astuple(s)) for s in found])
        return found

    def _load_all(self, paths: list[Path]) -> tuple[Policy, ...]:
        out, problems = [], []
        for path in paths:
            try:
                out.append(load_policy(path, self.root))
            except InputError as exc:
                problems.extend(exc.problems)
        if problems:
            raise PolicyError(problems)
        return tuple(out)

    def policy_set(self, cycle: str, specialty: str, *, allow_missing_specialty: bool,
                   where: tuple[str, int | None], specialty_line: int | None = None) -> PolicySet:
        """The policies for one evaluation, or an error naming what exists."""
        file, line = where
        cycles = self.cycles()
        spec = None
        if cycle in cycles:
            spec = self.specialty_policy(cycle, specialty)
        if spec is None and not allow_missing_specialty:
            if cycle not in cycles:
                raise InputError([Problem(file, line, "cycle", f"no policies for cycle '{cycle}'",
                                          f"{_did_you_mean(cycle, cycles)}cycles available: "
                                          f"{', '.join(cycles) or 'none'}; "
                                          "or pass --signals to evaluate without a specialty policy")])
            names = self.specialties(cycle)
            raise InputError([Problem(file, specialty_line if specialty_line is not None else line, "specialty",
                                      f"no policy for specialty '{specialty}' in {cycle}",
                                      f"{_did_you_mean(specialty, names)}specialties in {cycle}: "
                                      f"{', '.join(names) or 'none'}; "
                                      "or pass --signals to evaluate with your own signal counts")])
        if spec is None:
            _refuse_likely_misspelling(file, line, cycle, specialty, cycles, self.specialties(cycle)
                                       if cycle in cycles else [])
        return PolicySet(self.guidance(), spec)


TODAY_ENV = "SIGNALWISE_TODAY"


def today() -> dt.date:
    """The date seasons are judged by: $SIGNALWISE_TODAY (YYYY-MM-DD, for reproducible reports and tests)
    or the system date."""
    fixed = os.environ.get(TODAY_ENV)
    if fixed:
        try:
            return dt.date.fromisoformat(fixed)
        except ValueError:
            raise InputError([Problem("environment", None, TODAY_ENV, f"got {fixed!r}; expected a date YYYY-MM-DD",
                                      f"unset {TODAY_ENV} to use the system date")]) from None
    return dt.date.today()


@record
class Season:
    """A specialty x cycle policy's effective window, as `policy list`, the default cycle and lint see it."""

    cycle: str
    specialty: str
    policy: str           # id@version
    start: str | None     # effective.from (ISO date)
    end: str | None       # effective.to
    status: str | None    # announced | assumed | None (a past or current cycle)
    match_year: int = 0

    def state_on(self, day: dt.date) -> str:
        """`open`, `upcoming`, `ended` or `undated` on a day. A policy without effective dates has ended once
        the year of its Match is over (signaling happens before the Match); otherwise it is undated."""
        iso = day.isoformat()
        if self.start is None or self.end is None:
            return "ended" if 0 < self.match_year < day.year else "undated"
        if iso < self.start:
            return "upcoming"
        return "ended" if iso > self.end else "open"


def ended_text(season: Season) -> str:
    """How a report says when an ended season ended."""
    if season.end:
        return f"on {season.end} (the end of its policy's effective dates)"
    return f"with the {season.match_year} Match (its policy has no effective dates)"


@record
class CycleChoice:
    """The season chosen for an evaluation when neither --cycle nor the profile names one."""

    season: Season
    state: str            # open | upcoming | ended
    today: dt.date

    def describe(self) -> str:
        s = self.season
        when = {"open": "the season open", "upcoming": "the next season to open",
                "ended": "the most recent season"}[self.state]
        return (f"cycle {s.cycle} chosen from today's date ({self.today.isoformat()}): {when} by the effective "
                f"dates of {s.policy} ({s.start} to {s.end})")


def seasons(policies: tuple[Policy, ...]) -> list[Season]:
    return sorted((Season(p.specialty.cycle, p.specialty.specialty, p.ref, _iso(p.effective_from),
                          _iso(p.effective_to), p.specialty.status, p.specialty.match_year)
                   for p in policies if p.specialty is not None),
                  key=lambda s: (s.start or "", s.cycle, s.specialty))


def choose_season(all_seasons: list[Season], specialty: str, day: dt.date) -> CycleChoice | None:
    """The season for `specialty` open on `day` (else the next to open, else the latest ended), judged by the
    policies' effective dates. A specialty without policies uses the catalogue's most common open cycle."""
    own = [s for s in all_seasons if s.specialty == specialty]
    pool = own or all_seasons
    dated = [s for s in pool if s.start and s.end]
    if not dated:
        return None
    counts = Counter(s.cycle for s in dated)
    for state in ("open", "upcoming", "ended"):
        found = [s for s in dated if s.state_on(day) == state]
        if not found:
            continue
        if state == "ended":
            best = max(found, key=lambda s: (s.end or "", counts[s.cycle], s.cycle))
        elif state == "upcoming":
            best = min(found, key=lambda s: (s.start or "", -counts[s.cycle], s.cycle))
        else:
            best = max(found, key=lambda s: (counts[s.cycle], s.start or "", s.cycle))
        if not own:  # a specialty without policies: name the chosen cycle, not another specialty's policy
            best = Season(best.cycle, specialty, f"the {best.cycle} policies", best.start, best.end, best.status,
                          best.match_year)
        return CycleChoice(best, state, day)
    return None


def _iso(value: object) -> str | None:
    return None if value is None else str(value)


def _refuse_likely_misspelling(file: str, line: int | None, cycle: str, specialty: str, cycles: list[str],
                               names: list[str]) -> None:
    """With --signals an evaluation may go ahead without a specialty policy (a specialty signalwise does not
    know), but not when the cycle has a policy for a near miss of the name (`internal-medicne`): that is a
    typo, and evaluating it would silently drop the specialty's own rules."""
    if cycle not in cycles:
        return
    guess = difflib.get_close_matches(specialty, names, n=1, cutoff=0.85)
    if guess:
        raise InputError([Problem(file, line, "specialty", f"no policy for specialty '{specialty}' in {cycle}",
                                  f"did you mean '{guess[0]}'? With --signals an unknown specialty is evaluated "
                                  "with the guidance alone; fix the name to use its policy")])


def _check_suite(folder: Path, files_: list[Path]) -> None:
    """Refuse a guidance or tracking folder too large to load on every run, before reading it."""
    if len(files_) > MAX_SUITE_FILES:
        raise PolicyError([Problem(str(folder), None, None, f"holds {len(files_):,} policy files; the limit is "
                                   f"{MAX_SUITE_FILES}", "merge related rules into fewer files")])
    total = 0
    for path in files_:
        try:
            total += path.stat().st_size
        except OSError:
            continue  # reported when the file is read
    if total > MAX_SUITE_BYTES:
        raise PolicyError([Problem(str(folder), None, None, f"its policy files hold {total:,} bytes; the limit is "
                                   f"{MAX_SUITE_BYTES:,}", "keep data out of policies")])


def _did_you_mean(name: str, options: list[str]) -> str:
    guess = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"did you mean '{guess[0]}'? " if guess else ""


def _cycle_sort_key(name: str) -> tuple[str, int]:
    m = re.match(r"^(.*)-(\d{4})$", name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


def match_year_of(cycle: str) -> int:
    m = re.search(r"(\d{4})$", cycle)
    return int(m.group(1)) if m else 0
