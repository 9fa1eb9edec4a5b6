"""The specialty registry (policies/reference/specialties.yaml): canonical ids, names and aliases.

A specialty named in a profile, `--specialty` or a test case is resolved here before any policy is looked
up: an id or alias (any case, any punctuation: `IM`, `Internal Medicine`, `peds`, `OB/GYN`) gives the
canonical id; anything else is an input error with suggestions, whether or not `--signals` is given, so a
typo can never silently evaluate without specialty rules.
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import InputError, PolicyError, Problem
from ..load.files import read_text
from ..load.yamlsafe import load_yaml_text
from ..records import record

REGISTRY = ("reference", "specialties.yaml")


def normalize(name: str) -> str:
    """`Internal Medicine` -> `internal-medicine`; `OB/GYN` -> `ob-gyn`; `PM&R` -> `pm-r`."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@record
class Specialty:
    id: str
    name: str
    aliases: tuple[str, ...]


@record
class Registry:
    file: str
    specialties: tuple[Specialty, ...]
    lookup: dict[str, str]  # normalized id or alias -> canonical id

    def get(self, specialty_id: str) -> Specialty | None:
        return next((s for s in self.specialties if s.id == specialty_id), None)

    def resolve(self, name: str) -> str | None:
        return self.lookup.get(normalize(name))

    def require(self, name: str, where: tuple[str, int | None], field: str = "specialty") -> str:
        """The canonical id for `name`, or an InputError (exit 2) with the closest names."""
        found = self.resolve(name)
        if found is not None:
            return found
        guesses = difflib.get_close_matches(normalize(name), list(self.lookup), n=3, cutoff=0.6)
        ids = list(dict.fromkeys(self.lookup[g] for g in guesses))
        hint = (f"did you mean {' or '.join(repr(i) for i in ids)}? " if ids else "") + \
            f"known specialties and aliases are listed in {self.file}"
        raise InputError([Problem(where[0], where[1], field, f"unknown specialty '{name}'", hint)])


_ID = re.compile(r"^[a-z][a-z0-9-]*$")


def load_registry(root: Path) -> Registry | None:
    """The registry of a policy root, or None when the root has none (a test or scratch root)."""
    path = root.joinpath(*REGISTRY)
    if not path.is_file():
        return None
    return _load(str(path), path.stat().st_mtime)


def resolve_specialty(root: Path, name: str, where: tuple[str, int | None], field: str = "specialty") -> str:
    """The canonical id of `name` by the root's registry. A root without a registry takes ids as given, but
    only ids (lowercase letters, digits and hyphens), since the id names a policy file."""
    registry = load_registry(root)
    if registry is not None:
        return registry.require(name, where, field)
    if not _ID.match(name):
        raise InputError([Problem(where[0], where[1], field, f"got {name!r}; expected a specialty id such as "
                                  "internal-medicine", f"{root} has no {'/'.join(REGISTRY)} to resolve names")])
    return name


def _parsed(text: str, display: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    """The registry's YAML with its positions: from the policy cache (keyed by this exact text) or parsed now
    and cached; the checks below always run on it."""
    from . import cache as policy_cache

    cached = policy_cache.lookup(text, "specialty-registry")
    if cached is not None:
        return cached
    data, pos = load_yaml_text(text, display)
    if isinstance(data, dict):
        policy_cache.store(text, data, pos, "specialty-registry")
    return data, pos


@cache
def _load(path: str, mtime: float) -> Registry:
    display = "policies/" + "/".join(REGISTRY) if Path(path).parts[-3:-2] == ("policies",) else path
    data, pos = _parsed(read_text(path), display)
    problems: list[Problem] = []
    items = data.get("specialties") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PolicyError([Problem(display, 1, "specialties", "expected a list of {id, name, aliases}")])
    out: list[Specialty] = []
    lookup: dict[str, str] = {}
    for i, item in enumerate(items):
        line = pos.get(("specialties", i))
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("name"), str):
            problems.append(Problem(display, line, f"specialties[{i}]", "needs an `id` and a `name`"))
            continue
        sid = item["id"]
        if normalize(sid) != sid:
            problems.append(Problem(display, line, f"specialties[{i}].id",
                                    f"'{sid}' is not a lowercase id", f"use '{normalize(sid)}'"))
        aliases = tuple(str(a) for a in item.get("aliases") or ())
        for key in (sid, item["name"], *aliases):
            norm = normalize(key)
            if lookup.get(norm, sid) != sid:
                problems.append(Problem(display, line, f"specialties[{i}]",
                                        f"'{key}' already names '{lookup[norm]}'",
                                        "an id or alias must name one specialty"))
            lookup.setdefault(norm, sid)
        out.append(Specialty(sid, item["name"], aliases))
    if problems:
        raise PolicyError(problems)
    return Registry(display, tuple(out), lookup)
