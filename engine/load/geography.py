"""US census regions and divisions for a state code (reference data in policies/reference/)."""

from __future__ import annotations

from functools import cache

from .files import package_dir
from .yamlsafe import load_yaml_text


@cache
def _table() -> dict[str, tuple[str, str]]:
    text = (package_dir("signalwise.policies") / "reference" / "us-census.yaml").read_text(encoding="utf-8")
    data, _ = load_yaml_text(text, "policies/reference/us-census.yaml")
    out: dict[str, tuple[str, str]] = {}
    for division, info in data["divisions"].items():
        for state in info["states"]:
            out[state] = (division, info["region"])
    return out


def locate(state: str) -> tuple[str | None, str | None]:
    """(division, region) of a state code, or (None, None) for territories and unknown codes."""
    return _table().get(state, (None, None))


def known_states() -> frozenset[str]:
    return frozenset(_table())
