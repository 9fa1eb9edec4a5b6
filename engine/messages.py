"""The engine's own sentences (allocation, why-not): which keys it needs and which fields it fills.

The sentences themselves live in policies (`messages:` in policies/guidance/messages.yaml); this
registry lets `policy validate` catch a missing key or a misspelled `{field}` before anyone runs it.
"""

from __future__ import annotations

import re
from string import Formatter

MESSAGE_FIELDS: dict[str, frozenset[str]] = {
    "allocation.pick.minimum": frozenset({"a_level", "score", "fit", "lo", "hi", "rank", "available"}),
    "allocation.pick.fill": frozenset({"a_level", "score", "fit", "lo", "hi", "rank", "available"}),
    "allocation.pick.overflow": frozenset({"a_level", "score", "fit", "lo", "hi", "rank", "available"}),
    "allocation.pick.optimal": frozenset({"a_level", "gain", "rate", "rate_none", "rate_source", "strategy", "fit",
                                          "rank", "available", "detail"}),
    "allocation.near-miss": frozenset({"a_level", "fit", "score", "last_pick", "last_score", "lo", "hi", "tie_note"}),
    "allocation.near-miss.other-fits": frozenset({"a_level", "fit", "score", "last_pick", "last_score", "lo", "hi",
                                                  "tie_note"}),
    "allocation.outranked.other-fits": frozenset({"level_signal", "fit", "lo", "hi", "taken", "score"}),
    "allocation.outranked": frozenset({"level_signal", "fit", "lo", "hi", "taken", "score"}),
    "allocation.no-room": frozenset({"level_signal", "fit"}),
    "allocation.covered": frozenset({"covered_by"}),
    "why-not.status": frozenset({"status"}),
    "why-not.blocked": frozenset({"text"}),
    "why-not.no-quota": frozenset({"level_signal", "fit"}),
    "why-not.not-reached": frozenset({"level_signal", "fit", "lo", "hi"}),
    "why-not.outranked": frozenset({"level_signal", "fit", "last_pick", "last_score", "score", "tie_note"}),
    "why-not.full": frozenset({"level_signal", "fit", "lo", "hi", "taken", "score"}),
    "why-not.taken": frozenset({"decision"}),
}


def tier_label(level: str) -> str:
    """How a tier reads in a sentence: "signal" for single-level signals, else "gold signal"."""
    return "signal" if level == "signal" else f"{level} signal"


def fill_message(template: str, values: dict[str, object]) -> str:
    """`template.format(**values)` without Python's format mini-language: each `{name}` becomes the value's
    text, and a spec may only align and pad it (`{score:>6}`, width at most 40; see policy_limits).
    A policy's sentence can therefore neither fail on a value's type nor ask for a huge width."""
    out = []
    for literal, name, spec, _conversion in Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        text = str(values[name])
        m = re.fullmatch(r"([<>^]?)([0-9]{1,2})?", spec or "")
        if m and m.group(2):
            text = format(text, f"{m.group(1)}{min(int(m.group(2)), 40)}")
        out.append(text)
    return "".join(out)


def template_fields(template: str) -> set[str]:
    """The `{names}` a format template uses (raises ValueError on a malformed template)."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}
