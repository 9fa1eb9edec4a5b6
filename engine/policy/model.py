"""The typed policy model: frozen dataclasses built from validated policy files.

Everything downstream (compiler, runtime, explainer) reads these, never raw YAML.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from ..records import record

# A value in a condition or an assertion: a literal, a "$alias.field" reference, or
# ("add"|"sub"|"mul"|"div", left, right).
Value = Any


RELIABILITY_TEXT = {"A": "official", "B": "peer-reviewed", "C": "secondary", "guide": "the guide",
                    "assumption": "signalwise assumption", "shortlist": "your shortlist"}


@record
class Source:
    key: str
    title: str
    reliability: str
    url: str | None = None
    note: str | None = None
    publisher: str | None = None
    cycles: tuple[str, ...] = ()     # the cycles the page itself names

    def describe(self, at: str | None = None) -> str:
        """How a report cites this source: title, section, address and reliability."""
        text = self.title + (f" — “{at}”" if at else "") + (f" <{self.url}>" if self.url else "")
        return f"{text} [{RELIABILITY_TEXT.get(self.reliability, self.reliability)}]"


@record
class SourceRef:
    ref: str
    at: str | None = None


@record
class Parameter:
    name: str
    value: Any
    source: SourceRef
    unit: str | None = None
    note: str | None = None


@record
class Test:
    """One comparison on one field of one fact: `field op value`."""

    field: str
    op: str  # eq ne lt lte gt gte in not_in contains not_contains present
    value: Value


@record
class AnyOf:
    """At least one of several groups of tests holds."""

    groups: tuple[tuple[Test | AnyOf, ...], ...]


@record
class Pattern:
    fact: str
    alias: str
    tests: tuple[Test | AnyOf, ...]
    negated: bool = False


@record
class Assertion:
    fact: str
    values: tuple[tuple[str, Value], ...]


@record
class FindingAction:
    level: str
    program: Value = None


@record
class Rule:
    id: str
    title: str
    phase: str
    priority: int
    patterns: tuple[Pattern, ...]
    actions: tuple[Assertion | FindingAction, ...]
    because: str
    rationale: str | None
    source: SourceRef | None
    advice: str | None
    policy: str  # "id@version"
    file: str
    line: int | None
    would_change: str | None = None


@record
class Stage:
    name: str
    kind: str  # rules | allocate
    title: str | None = None


@record
class Resolution:
    id: str
    after: str
    votes: str
    field: str
    precedence: tuple[str, ...]
    produces: str
    key: str | None
    default: str | None
    default_because: str | None
    default_rationale: str | None
    default_source: SourceRef | None
    policy: str


@record
class Aggregate:
    id: str
    after: str
    count: str
    produces: str
    group_by: str | None
    groups: tuple[str, ...]
    policy: str


@record
class QuotaRow:
    id: str
    key: str
    count_min: int
    count_max: int
    quota: tuple[tuple[str, int, int], ...]  # (fit, min, max)
    shares: tuple[tuple[str, float], ...]
    caps: tuple[tuple[str, int], ...]
    fill_order: tuple[str, ...]
    overflow: tuple[str, ...]
    extension: bool
    because: str
    rationale: str | None
    source: SourceRef
    line: int | None
    optional: tuple[str, ...] = ()   # fits the row allows "if any": their minimum is 0


@record
class QuotaTable:
    id: str
    title: str
    phase: str
    level: str
    structure: str | None
    key_fact: str
    key_field: str
    count_domain: tuple[int, int] | None
    rows: tuple[QuotaRow, ...]
    policy: str
    file: str
    line: int | None


@record
class SignalTier:
    name: str
    count: int | None


@record
class SpecialtyInfo:
    specialty: str
    specialty_name: str
    cycle: str
    application_system: str
    match_year: int
    structure: str
    tiers: tuple[SignalTier, ...]
    scope: str
    signal_statement: bool
    signals_source: SourceRef
    signals_note: str | None
    home_rule: str
    home_rule_source: SourceRef
    home_rule_note: str | None
    status: str | None = None             # announced | assumed: a cycle that has not opened yet
    corroborated_by: tuple[str, ...] = ()  # further sources giving the same counts


@record
class GlossEntry:
    """One glossary entry (`glossary:` in a guidance policy): a term, its plain-words gloss, the source it
    comes from (the guide's passage, or the labelled signalwise-definition source), and when a report
    shows it: always, or when one of `words` occurs (as a whole word) in the report's sentences."""

    term: str
    text: str
    source: SourceRef
    words: tuple[str, ...] = ()
    always: bool = False


@record
class Policy:
    id: str
    kind: str
    version: str
    requires_engine: str
    title: str
    file: str
    sha256: str
    sources: dict[str, Source]
    parameters: dict[str, Parameter]
    rules: tuple[Rule, ...]
    stages: tuple[Stage, ...] = ()
    resolutions: tuple[Resolution, ...] = ()
    aggregates: tuple[Aggregate, ...] = ()
    quota_tables: tuple[QuotaTable, ...] = ()
    specialty: SpecialtyInfo | None = None
    supersedes: str | None = None
    effective_from: str | None = None
    effective_to: str | None = None
    description: str | None = None
    changelog: tuple[dict[str, Any], ...] = ()
    messages: dict[str, str] = field(default_factory=dict)
    glossary: tuple[GlossEntry, ...] = ()
    message_sources: dict[str, SourceRef] = field(default_factory=dict)
    base_facts: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"


@record
class PolicySet:
    """The policies one evaluation uses: all guidance plus one specialty x cycle policy."""

    guidance: tuple[Policy, ...]
    specialty: Policy | None

    @property
    def policies(self) -> tuple[Policy, ...]:
        return self.guidance + ((self.specialty,) if self.specialty else ())

    @property
    def stages(self) -> tuple[Stage, ...]:
        for p in self.guidance:
            if p.stages:
                return p.stages
        return ()

    @property
    def base_facts(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Fact types asserted before the first stage, declared by the stage-declaring policy (if any)."""
        for p in self.guidance:
            if p.stages:
                return p.base_facts
        return {}

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(r for p in self.policies for r in p.rules)

    @property
    def resolutions(self) -> tuple[Resolution, ...]:
        return tuple(r for p in self.policies for r in p.resolutions)

    @property
    def aggregates(self) -> tuple[Aggregate, ...]:
        return tuple(a for p in self.policies for a in p.aggregates)

    @property
    def quota_tables(self) -> tuple[QuotaTable, ...]:
        return tuple(t for p in self.policies for t in p.quota_tables)

    def message(self, key: str, **values: Any) -> str:
        """Fill the engine sentence `key` declared by a guidance policy (`messages:`)."""
        from .messages import fill_message

        for p in self.policies:
            if key in p.messages:
                return fill_message(p.messages[key], values)
        raise KeyError(f"no policy declares the message '{key}'")

    @property
    def glossary(self) -> tuple[tuple[str, GlossEntry], ...]:
        """Every glossary entry with the ref of the policy that declares it (the first declaration wins)."""
        seen: set[str] = set()
        out = []
        for p in self.policies:
            for g in p.glossary:
                if g.term not in seen:
                    seen.add(g.term)
                    out.append((p.ref, g))
        return tuple(out)

    def message_source(self, key: str) -> tuple[str, SourceRef] | None:
        """Where the decision that the engine's sentence `key` reports comes from (`message_sources:`), with
        the ref of the policy that says so; None when no policy names one."""
        return next(((p.ref, p.message_sources[key]) for p in self.policies if key in p.message_sources), None)

    def message_owner(self, key: str) -> str:
        return next((p.ref for p in self.policies if key in p.messages), "engine")

    def source(self, policy_ref: str, ref: SourceRef | None) -> tuple[Source | None, str | None]:
        """Resolve a source reference in the context of the policy that made it."""
        if ref is None:
            return None, None
        for p in self.policies:
            if p.ref == policy_ref:
                return p.sources.get(ref.ref), ref.at
        return None, ref.at
