"""The engine's own sentences (allocation, why-not): which keys it needs and which fields it fills.

The sentences themselves live in policies (`messages:` in policies/guidance/messages.yaml); this
registry lets `policy validate` catch a missing key or a misspelled `{field}` before anyone runs it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from string import Formatter

_PICK = frozenset({"a_level", "level_signal", "fit", "value_text", "count", "range_text", "tie_note"})
_LEFT = frozenset({"level_signal", "fit", "value_text", "range_text"})
MESSAGE_FIELDS: dict[str, frozenset[str]] = {
    "allocation.signaled": _PICK | {"rank", "fit_programs"},
    "allocation.signaled.below-range": _PICK | {"rank", "fit_programs"},
    "allocation.beyond-range": _PICK | {"why"},
    "allocation.beyond.none-left": frozenset({"short"}),
    "allocation.beyond.held": frozenset({"short", "others"}),
    "allocation.beyond.lower-value": frozenset({"short", "others", "value_text"}),
    "allocation.beyond.required": frozenset({"short", "others"}),
    "allocation.beyond.no-short": frozenset(),
    "allocation.spare": _PICK | {"why", "others"},
    "allocation.spare.held": _PICK | {"why", "others"},
    "allocation.spare.required": _PICK | {"why", "others"},
    "allocation.outranked": _LEFT | {"others"},
    "allocation.not-signaled": _LEFT,
    "allocation.held.range-full": _LEFT,
    "allocation.held.other-fits": _LEFT,
    "allocation.held.reserve": _LEFT | {"why"},
    "allocation.held.precedence": _LEFT | {"waiting", "why"},
    "allocation.held.precedence-displaced": _LEFT,
    "allocation.covered": frozenset({"covered_by"}),
    "allocation.no-level": frozenset(),
    "allocation.tie": frozenset({"ties"}),
    "value.score": frozenset({"value"}),
    "value.expected-gain": frozenset({"value"}),
    "range.guide": frozenset({"lo", "hi"}),
    "range.extension": frozenset({"lo", "hi"}),
    "range.guide.exact": frozenset({"lo"}),
    "range.extension.exact": frozenset({"lo"}),
    "range.none": frozenset(),
    "range.owner.guide": frozenset(),
    "range.owner.extension": frozenset(),
    "why-not.status": frozenset({"status"}),
    "why-not.blocked": frozenset({"text"}),
    "why-not.taken": frozenset({"decision"}),
    "input.unknown": frozenset({"column", "how_many", "programs", "decides"}),
    "input.unknown.all": frozenset({"column", "how_many", "programs", "decides"}),
    "input.unknown.find-out": frozenset(),
    "input.assumed": frozenset({"columns"}),
    "input.assumed.advice": frozenset(),
    "input.extra-columns": frozenset({"columns"}),
    "input.extra-columns.advice": frozenset(),
    "notice.unreviewed": frozenset({"cycle", "specialty", "file"}),
    "rates.same-gain": frozenset({"tier", "what"}),
    "rates.unknown-gain": frozenset({"count", "programs"}),
    "rates.institution-shared": frozenset(),
}


# The allocation decisions a report's HOW chain states (`allocate.<key>` entries). Where a quota rule fired,
# the entry cites that rule's source; otherwise the source named in `message_sources:` for the key, so that
# every allocation decision names one (checked by `policy validate`).
ALLOCATION_ENTRIES = (
    "allocation.signaled",
    "allocation.signaled.below-range",
    "allocation.beyond-range",
    "allocation.spare",
    "allocation.spare.held",
    "allocation.spare.required",
    "allocation.covered",
    "allocation.left-out",
)


def tier_label(level: str) -> str:
    """How a tier reads in a sentence: "signal" for single-level signals, else "gold signal"."""
    return "signal" if level == "signal" else f"{level} signal"


def fill_message(template: str, values: dict[str, object]) -> str:
    """`template.format(**values)` without Python's format mini-language: each `{name}` becomes the value's
    text, and a spec may only align and pad it (`{score:>6}`, width at most 40; see policy.limits).
    A policy's sentence can therefore neither fail on a value's type nor ask for a huge width."""
    out = []
    for literal, name, spec in _parsed(template):
        out.append(literal)
        if name is None:
            continue
        text = str(values[name])
        if spec:
            text = format(text, spec)
        out.append(text)
    return "".join(out)


_SPEC = re.compile(r"([<>^]?)([0-9]{1,2})?")


@lru_cache(maxsize=4096)
def _parsed(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """A template's pieces (literal, field name, the padding spec it may use or ""), parsed once: a report
    fills the same few dozen sentences thousands of times."""
    out = []
    for literal, name, spec, _conversion in Formatter().parse(template):
        m = _SPEC.fullmatch(spec or "")
        out.append((literal, name, f"{m.group(1)}{min(int(m.group(2)), 40)}" if m and m.group(2) else ""))
    return tuple(out)


def template_fields(template: str) -> set[str]:
    """The `{names}` a format template uses (raises ValueError on a malformed template)."""
    return {name for _, name, _, _ in Formatter().parse(template) if name}
