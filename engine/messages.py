"""The engine's own sentences (allocation, why-not): which keys it needs and which fields it fills.

The sentences themselves live in policies (`messages:` in policies/guidance/messages.yaml); this
registry lets `policy validate` catch a missing key or a misspelled `{field}` before anyone runs it.
"""

from __future__ import annotations

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


def template_fields(template: str) -> set[str]:
    """The `{names}` a format template uses (raises ValueError on a malformed template)."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}
