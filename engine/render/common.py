"""Helpers shared by the human-readable renderers: ordering, labels, the glossary entries a report needs,
and views derived from the report dict (the HOW chain by step, what would change a decision, chart data,
cited sources).

Nothing here invents a sentence: every explanatory sentence and every gloss comes from the report, which
took it from a policy (the glossary: `glossary:` in policies/guidance/messages.yaml, each entry with its
source). The renderers add only headings, labels and table captions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import field
from typing import Any

from ..records import record

DECISION_ORDER = {"gold": 0, "silver": 1, "signal": 2, "exempt": 8, "none": 9, "excluded": 10}
FIT_ORDER = {"reach": 0, "target": 1, "safety": 2, "closed": 3}
LEVEL_ORDER = {"critical": 0, "warning": 1, "info": 2}

# Labels (not sentences) for decisions, steps of the HOW chain, finding levels and preference lists.
DECISION_LABEL = {"signal": "signal", "none": "no signal", "excluded": "excluded", "exempt": "exempt"}
STEP_LABEL = {"fit": "Fit", "status": "Eligibility", "score": "Score", "allocation": "Allocation"}
LEVEL_LABEL = {"critical": "Critical", "warning": "Warnings", "info": "Good to know"}
PREFERENCE_LABEL = {"must_have": "must-have", "preferred": "preferred", "avoid": "avoid"}
PREFERENCE_ORDER = ("must_have", "preferred", "avoid")

# Acronyms wrapped in <abbr title="..."> in HTML (word-bounded, case-sensitive); the title is the acronym's
# gloss in the report's glossary (policies/guidance/messages.yaml), and an acronym without one stays plain.
ABBR_RE = re.compile(r"\b(USCE|IMG|ERAS|NRMP|USMLE|AAIM|QI)(s?)\b")

POINTS_RE = re.compile(r"\(([+-]?\d+(?:\.\d+)?) points?\)\s*$")
_SOURCE_RE = re.compile(
    r"^(?P<title>.*?)(?: — “(?P<at>.*)”)?(?: <(?P<url>[a-z]+://[^>\s]+)>)?(?: \[(?P<tag>[^\]]+)\])?$"
)


# C0 and C1 control characters (but tab and line feed) and the bidirectional overrides: a name or sentence
# from an input, a policy or a report read back must not move the cursor, recolour or hide text in a
# terminal (`\x1b[2J`, `\x9b...`), nor reorder what is shown (U+202E).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Text for a terminal (or a text file someone will `cat`): control characters shown as `\x1b`."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)


def humanize(slug: str) -> str:
    """'internal-medicine' -> 'Internal medicine'; 'eras-2026' -> 'ERAS 2026'."""
    if re.fullmatch(r"[a-z]+-\d{4}", slug or ""):
        name, year = slug.rsplit("-", 1)
        return f"{name.upper()} {year}"
    text = (slug or "").replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


def place_parts(p: dict[str, Any]) -> list[str]:
    """Where a program is and what kind it is: state, division, region, setting (those known)."""
    return [str(x) for x in (p.get("state"), area_label(p.get("division") or "") or None, p.get("region"),
                             p.get("setting")) if x]


def area_label(division: str) -> str:
    """A Census division's name as printed: 'east-north-central' -> 'East North Central'."""
    return " ".join(w.capitalize() for w in (division or "").split("-"))


def score_part_label(rule: str) -> str:
    """A score part's short label from its rule id: 'score.must-have-region' -> 'must-have region'."""
    return rule.split(".", 1)[-1].replace("-", " ").replace("must have", "must-have")


def score_parts(report: dict[str, Any], program: dict[str, Any]) -> list[tuple[str, float]]:
    """(label, points) for each part of a program's score, largest first."""
    parts = [
        (score_part_label(str(b["rule"])), pts)
        for step, b in chain(report, program)
        if step == "score" and (pts := points_of(b)) is not None
    ]
    return sorted(parts, key=lambda x: (-x[1], x[0]))


def tier_names(report: dict[str, Any]) -> list[str]:
    return [s["tier"] for s in report.get("signals", [])]


def decision_label(decision: str) -> str:
    if decision in ("gold", "silver") or decision not in DECISION_LABEL:
        return f"{decision} signal"
    return DECISION_LABEL[decision]


def is_signaled(report: dict[str, Any], program: dict[str, Any]) -> bool:
    return program["decision"] in tier_names(report)


def decision_rank(report: dict[str, Any], decision: str) -> int:
    levels = tier_names(report)
    if decision in levels:
        return levels.index(decision)
    return DECISION_ORDER.get(decision, 20)


def sorted_programs(report: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(
        report["programs"],
        key=lambda p: (
            decision_rank(report, p["decision"]),
            FIT_ORDER.get(p["fit"], 9),
            -(p.get("score") or 0),
            p["id"],
        ),
    )


def step_of(entry: dict[str, Any], rules: dict[str, Any] | None = None) -> str:
    """Which step of the HOW chain an entry belongs to: fit, status, score or allocation.

    Uses the rule's stage from the report's `rules` table where it has one, else the rule id's prefix."""
    rule = str(entry.get("rule", ""))
    stage = (rules or {}).get(rule, {}).get("stage")
    if rule.startswith("allocate.") or stage == "quota":
        return "allocation"
    if rule.startswith("score."):
        return "score"
    if stage == "program" or rule.startswith(("fit.", "program-fit.")):
        return "fit"
    return "status"


def chain(report: dict[str, Any], program: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The HOW chain as (step, entry) pairs, in the report's order: fit, status, score, allocation."""
    rules = report.get("rules", {})
    return [(step_of(b, rules), b) for b in program.get("because", [])]


def points_of(entry: dict[str, Any]) -> float | None:
    m = POINTS_RE.search(str(entry.get("text", "")))
    return float(m.group(1)) if m else None


def one_line_reason(program: dict[str, Any]) -> str:
    """The most decisive sentence: the exclusion for excluded/exempt programs, the allocation sentence for
    eligible ones (why it got its signal, or why none was left), else the last reason given."""
    because = program.get("because", [])
    if program["decision"] in ("excluded", "exempt"):
        for b in because:
            if str(b["rule"]).startswith(("exclude.", "exempt.")):
                return str(b["text"])
        decisive = [b for b in because if step_of(b) == "status" and not str(b["rule"]).endswith(".default")]
        if decisive:
            return str(decisive[0]["text"])
    # For an eligible program (it has a score) the allocation sentence closes the chain.
    return str(because[-1]["text"]) if because else ""


def would_change(program: dict[str, Any]) -> list[str]:
    """Every distinct 'what would change this' sentence from the program's HOW chain and losing votes."""
    out: list[str] = []
    for b in list(program.get("because", [])) + list(program.get("considered", [])):
        text = b.get("would_change")
        if text and text not in out:
            out.append(str(text))
    return out


def program_index(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in report.get("programs", [])}


def wanted_without_signal(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Programs the policies gave show-interest advice to (wanted, but no signal), in plan order."""
    return [p for p in sorted_programs(report) if p.get("advice") and not is_signaled(report, p)]


def findings_by_level(report: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in report.get("findings", []):
        groups.setdefault(f["level"], []).append(f)
    return sorted(groups.items(), key=lambda kv: LEVEL_ORDER.get(kv[0], 9))


def facts_summary(entry: dict[str, Any]) -> list[tuple[str, str]]:
    """The values a rule's conditions saw, as (field, value) pairs; bookkeeping fields left out."""
    out: list[tuple[str, str]] = []
    for _alias, fact in sorted((entry.get("facts") or {}).items()):
        for key, value in sorted(fact.items()):
            if key in ("fact", "id", "name", "program") or value is None:
                continue
            out.append((key, fmt(value)))
    return out


def fmt(value: Any) -> str:
    """A value as a person reads it: yes/no, 0.1 not 0.1000, lists and mappings joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return "—" if value is None else str(value)


def fmt_range(lo: Any, hi: Any) -> str:
    return str(lo) if lo == hi else f"{lo}–{hi}"


# ---------------------------------------------------------------------------------------------- sources


@record
class Source:
    """A parsed source string: 'Title — “section” <url> [tag]'."""

    title: str
    at: str | None
    url: str | None
    tag: str | None

    @property
    def citation(self) -> tuple[str, str | None, str | None]:
        return (self.title, self.url, self.tag)


def parse_source(text: str | None) -> Source | None:
    if not text:
        return None
    m = _SOURCE_RE.match(text)
    if not m:
        return Source(text, None, None, None)
    return Source(m.group("title") or text, m.group("at"), m.group("url"), m.group("tag"))


@record(frozen=False)
class SourceIndex:
    """Every distinct citation in a report, numbered S1, S2 ... in sorted order, with who cites it."""

    numbers: dict[tuple[str, str | None, str | None], int] = field(default_factory=dict)
    cited_by: dict[int, list[str]] = field(default_factory=dict)

    def number(self, src: Source) -> int:
        if src.citation not in self.numbers:  # a source the index did not see: number it next
            self.numbers[src.citation] = len(self.numbers) + 1
        return self.numbers[src.citation]

    def entries(self) -> list[tuple[int, tuple[str, str | None, str | None], list[str]]]:
        return [
            (n, cit, self.cited_by.get(n, []))
            for cit, n in sorted(self.numbers.items(), key=lambda kv: kv[1])
        ]


def _all_entries(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    a = report.get("applicant", {})
    yield from a.get("because", [])
    yield from a.get("indicators", [])
    for s in report.get("signals", []):
        yield from s.get("because", [])
    for p in report.get("programs", []):
        yield from p.get("because", [])
        yield from p.get("considered", [])
        yield from p.get("advice", [])
    yield from report.get("findings", [])


def firing_entries(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every rule firing the report shows, as (where, entry): applicant, signals, programs, findings."""
    out: list[tuple[str, dict[str, Any]]] = []
    a = report.get("applicant", {})
    out += [("applicant", b) for b in a.get("because", []) + a.get("indicators", [])]
    for s in report.get("signals", []):
        out += [(f"signals.{s['tier']}", b) for b in s.get("because", [])]
    for p in report.get("programs", []):
        out += [(f"program {p['id']}", b) for b in p.get("because", []) + p.get("considered", [])]
        out += [(f"program {p['id']} advice", b) for b in p.get("advice", [])]
    out += [("findings", f) for f in report.get("findings", [])]
    return out


def source_index(report: dict[str, Any]) -> SourceIndex:
    texts: dict[tuple[str, str | None, str | None], set[str]] = {}

    def add(text: str | None, policy: str | None) -> None:
        src = parse_source(text)
        if src is not None:
            texts.setdefault(src.citation, set())
            if policy:
                texts[src.citation].add(policy)

    for entry in _all_entries(report):
        add(entry.get("source"), entry.get("policy"))
    for rule in report.get("rules", {}).values():
        add(rule.get("source"), rule.get("policy"))
    for item in report.get("context", {}).values():
        add(item.get("source"), item.get("policy"))
    idx = SourceIndex()
    for n, cit in enumerate(sorted(texts, key=lambda c: (c[0].lower(), c[1] or "", c[2] or "")), start=1):
        idx.numbers[cit] = n
        idx.cited_by[n] = sorted(texts[cit])
    return idx


def short_source(src: Source) -> str:
    """How a step names its source inline: the guide by name, else the title (the full citation is listed)."""
    return "the guide" if src.tag == "the guide" else src.title


# ---------------------------------------------------------------------------------------------- glossary


def glossary_for(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The glossary entries a report needs, from the report's own glossary (taken from the policies): those
    marked `always`, plus those one of whose words occurs in the report's sentences or tier names."""
    blob = "\n".join(report_texts(report))
    out = []
    for entry in report.get("glossary") or []:
        words = [str(w) for w in entry.get("words") or []]
        if entry.get("always") or any(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", blob) for w in words):
            out.append((str(entry["term"]), str(entry["text"])))
    return out


# The glosses of the report being rendered, for markup that sees only a sentence (HTML's <abbr title>).
_GLOSSES: ContextVar[dict[str, str] | None] = ContextVar("signalwise_glosses", default=None)


def use_glossary(report: dict[str, Any]) -> None:
    """Make `report`'s glossary the one `gloss()` reads while it is rendered."""
    _GLOSSES.set({str(g["term"]): str(g["text"]) for g in report.get("glossary") or []})


def gloss(term: str) -> str | None:
    """The gloss of `term` in the report being rendered (see `use_glossary`), or None when it has none."""
    return (_GLOSSES.get() or {}).get(term)


def report_texts(report: dict[str, Any]) -> list[str]:
    """Every sentence a report shows, for finding which glossary terms it needs."""
    out = [str(e.get("text", "")) for e in _all_entries(report)]
    out += [str(e.get("advice", "")) for e in _all_entries(report)]
    out += [str(e.get("would_change", "")) for e in _all_entries(report)]
    out += [str(w.get("text", "")) for p in report.get("programs", []) for w in p.get("why_not", [])]
    out += [
        str(v.get("note") or "") + " " + str(v.get("unit") or "") for v in report.get("context", {}).values()
    ]
    out += tier_names(report)
    return out


# ---------------------------------------------------------------------------------------------- chart data


@record
class FitRow:
    tier: str
    fit: str
    assigned: int
    lo: int | None
    hi: int | None

    @property
    def position(self) -> str:
        """'in', 'below' or 'above' the guide's range, or 'none' when the guide gives no range."""
        if self.lo is None or self.hi is None:
            return "none"
        if self.assigned < self.lo:
            return "below"
        if self.assigned > self.hi:
            return "above"
        return "in"


POSITION_LABEL = {
    "in": "within the guide's range",
    "below": "below the guide's range",
    "above": "above the guide's range",
    "none": "no range given",
}


def fit_rows(report: dict[str, Any]) -> list[FitRow]:
    """Signals by fit for each tier, next to the guide's quota range for that fit."""
    rows = []
    for s in report.get("signals", []):
        by_fit = s.get("by_fit") or {}
        quota = s.get("quota") or {}
        fits = sorted(set(by_fit) | set(quota), key=lambda f: (FIT_ORDER.get(f, 9), f))
        for fit in fits:
            q = quota.get(fit) or {}
            rows.append(FitRow(s["tier"], fit, int(by_fit.get(fit, 0)), q.get("min"), q.get("max")))
    return rows


@record(frozen=False)
class AreaRow:
    division: str
    region: str
    states: list[str]
    preference: str | None = None  # must_have | preferred | avoid, the first that applies
    preference_detail: list[str] = field(default_factory=list)  # e.g. ["must-have: NY"] for state-level
    signaled: list[tuple[str, str]] = field(default_factory=list)  # (program id, decision)
    listed: int = 0


def _census() -> dict[str, tuple[str, list[str]]]:
    """division -> (region, states), from the bundled Census reference data."""
    from signalwise.engine.load.geography import known_states, locate

    out: dict[str, tuple[str, list[str]]] = {}
    for state in sorted(known_states()):
        division, region = locate(state)
        if division and region:
            out.setdefault(division, (region, []))[1].append(state)
    return out


def area_rows(report: dict[str, Any]) -> tuple[list[AreaRow], list[dict[str, Any]]]:
    """Each Census division with the applicant's preference for it and the programs (signaled or listed) in
    it; plus the programs that sit in no division (territories, unknown states)."""
    census = _census()
    rows = {d: AreaRow(d, region, states) for d, (region, states) in census.items()}
    geo = report.get("applicant", {}).get("geography") or {}
    for pref in PREFERENCE_ORDER:
        for area in geo.get(pref) or []:
            for row in rows.values():
                whole = area in (row.division, row.region)
                part = area in row.states
                if not (whole or part):
                    continue
                label = PREFERENCE_LABEL[pref]
                row.preference_detail.append(label if whole else f"{label}: {area}")
                if row.preference is None:
                    row.preference = pref
    outside: list[dict[str, Any]] = []
    for p in sorted_programs(report):
        found = rows.get(p.get("division") or "")
        if found is None:
            outside.append(p)
            continue
        found.listed += 1
        if is_signaled(report, p):
            found.signaled.append((p["id"], p["decision"]))
    order = [
        "pacific",
        "mountain",
        "west-north-central",
        "west-south-central",
        "east-north-central",
        "east-south-central",
        "new-england",
        "middle-atlantic",
        "south-atlantic",
    ]
    ordered = sorted(
        rows.values(), key=lambda r: (order.index(r.division) if r.division in order else 99, r.division)
    )
    return ordered, outside


def tier_counts(report: dict[str, Any], signaled: list[tuple[str, str]]) -> list[tuple[str, int]]:
    return [(t, n) for t in tier_names(report) if (n := sum(1 for _pid, d in signaled if d == t))]


def count_label(report: dict[str, Any], signaled: list[tuple[str, str]]) -> str:
    """'3 gold, 10 silver' or '2 signals' (a label for a list of signaled programs); '' when none."""
    return ", ".join(
        f"{n} {t}" if t != "signal" else f"{n} signal{'s' if n != 1 else ''}"
        for t, n in tier_counts(report, signaled)
    )


def signaled_label(report: dict[str, Any], pid: str, decision: str) -> str:
    """'GSI-01 (gold)' in a tiered plan, plain 'RIM-09' where every signal is the same."""
    return pid if len(tier_names(report)) <= 1 else f"{pid} ({decision})"


def value_label(p: dict[str, Any]) -> str:
    """What a program competed with in the plan, in the plan's own metric ("score 13", "expected gain +0.12")."""
    a = p.get("allocation") or {}
    v = a.get("value")
    if v is None:
        return "no value"
    if a.get("metric") == "expected-gain":
        return f"expected gain {float(v):+.2f}"
    return f"score {fmt(v)}"


# ---------------------------------------------------------------------------------------------- plain words

DECISION_HEADING = {"signal": "Programs that get a signal", "none": "No signal",
                    "excluded": "Cannot take a signal", "exempt": "Needs no signal"}
LEVEL_SINGULAR = {"critical": "Critical", "warning": "Warning", "info": "Good to know"}


def plural(count: int, singular: str, many: str | None = None) -> str:
    """'1 program', '2 programs' (or the given plural)."""
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def level_heading(level: str, count: int) -> str:
    """How a finding level reads: 'Warning' for one, 'Warnings' for several; 'Good to know' either way."""
    if count == 1:
        return LEVEL_SINGULAR.get(level, level)
    return LEVEL_LABEL.get(level, level)


def level_counts(report: dict[str, Any]) -> str:
    """'1 warning, 3 good to know' (never '1 warnings')."""
    return ", ".join(plural(len(items), level_heading(level, 1).lower(), level_heading(level, 2).lower())
                     for level, items in findings_by_level(report))


def decision_heading(report: dict[str, Any], decision: str) -> str:
    """The heading a group of programs goes under: 'Gold signal', 'Programs that get a signal', 'No signal'."""
    if decision in DECISION_HEADING:
        return DECISION_HEADING[decision]
    return f"{humanize(decision)} signal"


def signal_summary(s: dict[str, Any]) -> str:
    """'7 of 7 signals used: 1 reach, 2 target, 4 safety' or '3 of 3 gold signals used: 3 target'."""
    noun = "signal" if s["tier"] == "signal" else f"{s['tier']} signal"
    split = ", ".join(f"{n} {fit}" for fit, n in sorted((s.get("by_fit") or {}).items(),
                                                       key=lambda kv: FIT_ORDER.get(kv[0], 9)) if n)
    used = f"{s['assigned']} of {plural(s['available'], noun)} used"
    return used + (f": {split}" if split else "")
