"""`policy list`: which specialty x cycle policies exist, with their signal structure and sources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError, Problem
from ..policy.catalogue import Catalogue
from ..policy.model import Policy, SpecialtyInfo
from ..records import record

RELIABILITY = {"A": "official", "B": "peer-reviewed", "C": "secondary", "guide": "the guide",
               "assumption": "signalwise assumption"}


def structure_text(info: SpecialtyInfo | None) -> str:
    """`7`, `3 gold + 12 silver`, `none` or `unknown`: how many signals of which kind."""
    if info is None:
        return "unknown"
    if info.structure == "none":
        return "none"
    if not info.tiers or all(t.count is None for t in info.tiers):
        return "unknown"
    if info.structure == "single" and len(info.tiers) == 1:
        count = info.tiers[0].count
        return str(count) if count is not None else "unknown"
    return " + ".join(f"{t.count if t.count is not None else '?'} {t.name}" for t in info.tiers)


@record
class Entry:
    cycle: str
    specialty: str
    name: str
    policy: str
    version: str
    application_system: str
    structure: str
    home_rule: str
    file: str
    sources: tuple[tuple[str, str, str | None], ...]  # (title, reliability, url)
    status: str | None = None  # announced | assumed: a cycle that has not opened yet

    def as_json(self) -> dict[str, Any]:
        return {"cycle": self.cycle, "specialty": self.specialty, "specialty_name": self.name,
                "policy": self.policy, "version": self.version, "application_system": self.application_system,
                "signals": self.structure, "home_rule": self.home_rule, "file": self.file, "status": self.status,
                "sources": [{"title": t, "reliability": r, "url": u} for t, r, u in self.sources]}


def entry(p: Policy) -> Entry:
    info = p.specialty
    assert info is not None
    sources = tuple((s.title, s.reliability, s.url) for _, s in sorted(p.sources.items()))
    return Entry(info.cycle, info.specialty, info.specialty_name, p.id, p.version, info.application_system,
                 structure_text(info), info.home_rule, p.file, sources, info.status)


def list_policies(root: Path, cycle: str | None = None) -> list[Entry]:
    """Every specialty policy of a root (optionally one cycle), by cycle then specialty."""
    cat = Catalogue(root)
    cycles = cat.cycles()
    if cycle is not None and cycle not in cycles:
        raise InputError([Problem("command line", None, "--cycle", f"no cycle '{cycle}'",
                                  f"cycles available: {', '.join(cycles) or 'none'}")])
    order = {c: i for i, c in enumerate(cycles)}
    policies = [p for p in cat.all_specialty_policies() if p.specialty and cycle in (None, p.specialty.cycle)]
    entries = [entry(p) for p in policies]
    return sorted(entries, key=lambda e: (order.get(e.cycle, len(order)), e.specialty))


def render_text(entries: list[Entry]) -> str:
    lines: list[str] = []
    width = max((len(e.specialty) for e in entries), default=10)
    sys_width = max((len(e.application_system) for e in entries), default=4)
    cycle = None
    for e in entries:
        if e.cycle != cycle:
            cycle = e.cycle
            n = sum(1 for x in entries if x.cycle == cycle)
            statuses = sorted({x.status for x in entries if x.cycle == cycle and x.status})
            marker = f" [planned: {', '.join(statuses)}]" if statuses else ""
            lines.append(f"{cycle} ({n} {'specialty' if n == 1 else 'specialties'}){marker}")
        system = f"{e.application_system:<{sys_width}}"
        status = f"  (status: {e.status})" if e.status else ""
        lines.append(f"  {e.specialty:<{width}}  {e.version:<7}  {system}  {e.structure}{status}")
        for title, rel, _ in e.sources:
            lines.append(f"  {'':<{width}}    source: {title} [{rel}: {RELIABILITY.get(rel, rel)}]")
    cycles = list(dict.fromkeys(e.cycle for e in entries))
    specialties = {e.specialty for e in entries}
    lines.append(f"{len(entries)} policies: {len(specialties)} specialties in {len(cycles)} "
                 f"{'cycle' if len(cycles) == 1 else 'cycles'}")
    return "\n".join(lines) + "\n"
