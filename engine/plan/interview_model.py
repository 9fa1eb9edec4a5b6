"""Interview-rate models declared in policy: P(interview) by signal tier per specialty and cycle.

A model lives in `policies/models/<cycle>.<specialty>.yaml` (schema: schemas/interview-model.schema.json).
Every rate names its source and reliability; unknown rates are declared unknown and stay absent here.
Per-program rates from the applicant's shortlist (`interview_rate_*` columns) take precedence.

API (used by `signalwise compare` and by `evaluate --strategy`):

- `load_model(specialty, cycle, root=None) -> InterviewModel | None`
- `program_rates(model, program, fit, levels, *, graduate_type=None, shortlist_file=...)`
  -> `{tier: Rate | None}`
- `gain_inputs(...) -> GainInputs`: candidates, quotas, rates and institution scope for one evaluation
  (the pipeline passes plain values, so this module never imports the pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError, PolicyError, Problem
from ..load.files import read_text
from ..load.schemas import schema_problems
from ..load.yamlsafe import load_yaml_text
from ..policy.catalogue import bundled_root
from ..policy.model import Source
from ..records import record
from .outcome import NONE, Rate, gain_of
from .quotas import Candidate, LevelQuota

SCHEMA = "interview-model"
TIERS_OF = {"single": ("signal",), "tiered": ("gold", "silver")}
# shortlist column for each tier name; other tier names (e.g. from --signals a=3) have no column
SHORTLIST_COLUMNS = {"gold": "interview_rate_gold", "silver": "interview_rate_silver",
                     "signal": "interview_rate_signaled", NONE: "interview_rate_unsignaled"}
_STRENGTH = {"A": 0, "B": 1, "C": 2, "shortlist": 2, "assumption": 3}


@record
class Adjustment:
    id: str
    fits: tuple[str, ...] | None
    graduate_types: tuple[str, ...] | None
    tiers: tuple[str, ...]
    multiply: float
    source: Source
    note: str

    def applies(self, tier: str, fit: str | None, graduate_type: str | None) -> bool:
        if tier not in self.tiers:
            return False
        if self.fits is not None and fit not in self.fits:
            return False
        return self.graduate_types is None or graduate_type in self.graduate_types


@record
class InterviewModel:
    id: str
    version: str
    title: str
    specialty: str
    cycle: str
    structure: str
    applicant_types: tuple[str, ...]
    population: str
    rates: dict[str, Rate]            # known tiers only (incl. "none" when known)
    unknown: dict[str, str]           # tier -> note saying what is known instead
    adjustments: tuple[Adjustment, ...]
    notes: tuple[str, ...]
    sources: dict[str, Source]
    file: str

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def knows_gain(self, tier: str) -> bool:
        return tier in self.rates and NONE in self.rates

    def population_note(self, graduate_type: str | None) -> str | None:
        """A caveat when the model's population is not the applicant's type."""
        if graduate_type is None or graduate_type in self.applicant_types:
            return None
        return (f"These rates describe {self.population}; they are not specific to {graduate_type} "
                "applicants, whose rates may differ a lot.")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "file": self.file, "specialty": self.specialty,
                "cycle": self.cycle, "population": self.population,
                "rates": {t: r.to_json() for t, r in sorted(self.rates.items())},
                "unknown": dict(sorted(self.unknown.items())), "notes": list(self.notes),
                "adjustments": [{"id": a.id, "tiers": list(a.tiers), "multiply": a.multiply,
                                 "fits": list(a.fits or []), "graduate_types": list(a.graduate_types or []),
                                 "source": source_text(a.source), "note": a.note} for a in self.adjustments]}


def source_text(src: Source, at: str | None = None) -> str:
    return src.describe(at)


def models_root(root: Path | str | None = None) -> Path:
    """`<policy root>/models`; the bundled policies when no root is given."""
    return (Path(root) if root is not None else bundled_root()) / "models"


def model_path(specialty: str, cycle: str, root: Path | str | None = None) -> Path:
    return models_root(root) / f"{cycle}.{specialty}.yaml"


def load_model(specialty: str, cycle: str, root: Path | str | None = None) -> InterviewModel | None:
    """The interview model for one specialty and cycle, or None when no file exists."""
    path = model_path(specialty, cycle, root)
    try:
        if not path.is_file():
            return None
        mtime = path.stat().st_mtime
    except OSError:
        return None
    return _load_cached(str(path), mtime)


@lru_cache(maxsize=256)
def _load_cached(path: str, mtime: float) -> InterviewModel:
    """Models are read once per process (and again only when the file changes)."""
    return load_model_file(path)


def available_models(root: Path | str | None = None) -> list[str]:
    folder = models_root(root)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.iterdir() if p.suffix == ".yaml")


def _parsed(text: str, name: str) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    """The parsed, schema-valid document: from the policy cache (keyed by this exact text) or parsed and
    validated now, and then cached. The semantic checks below always run."""
    from ..policy import cache as policy_cache

    cached = policy_cache.lookup(text, SCHEMA)
    if cached is not None:
        return cached
    try:
        data, positions = load_yaml_text(text, name)
    except InputError as exc:
        raise PolicyError(exc.problems) from None
    if not isinstance(data, dict):
        raise PolicyError([Problem(name, 1, None, "an interview model must be a mapping of fields")])
    problems = schema_problems(SCHEMA, data, name, positions)
    if problems:
        raise PolicyError(problems)
    policy_cache.store(text, data, positions, SCHEMA)
    return data, positions


def load_model_file(path: Path | str, display: str | None = None) -> InterviewModel:
    """Read, validate (schema + semantic checks) and type one model file; PolicyError lists every problem."""
    path = Path(path)
    name = display or _display(path)
    text = read_text(path)
    data, positions = _parsed(text, name)
    problems: list[Problem] = []

    def at(*keys: str | int) -> int | None:
        p: tuple[str | int, ...] = tuple(keys)
        while p and p not in positions:
            p = p[:-1]
        return positions.get(p)

    sources = {k: Source(k, v["title"], v["reliability"], url=v.get("url"), publisher=v.get("publisher"),
                          note=v.get("note"))
               for k, v in data["sources"].items()}
    expected_stem = f"{data['cycle']}.{data['specialty']}"
    if path.stem != expected_stem:
        problems.append(Problem(name, at("cycle"), "cycle", f"file is named {path.name} but declares "
                                f"{expected_stem}", f"name the file {expected_stem}.yaml"))
    if data["id"] != f"{expected_stem}.interview-model":
        problems.append(Problem(name, at("id"), "id", f"got {data['id']}",
                                f"expected {expected_stem}.interview-model"))
    required = (*TIERS_OF[data["structure"]], NONE)
    for tier in required:
        if tier not in data["rates"]:
            problems.append(Problem(name, at("rates"), f"rates.{tier}", "missing",
                                    f"a {data['structure']} model lists {', '.join(required)}; "
                                    "write `value: unknown` with a note where no figure was found"))
    for tier in data["rates"]:
        if tier not in required:
            problems.append(Problem(name, at("rates", tier), f"rates.{tier}", "not a tier of this structure",
                                    f"expected {', '.join(required)}"))
    rates: dict[str, Rate] = {}
    unknown: dict[str, str] = {}
    for tier, raw in data["rates"].items():
        where = ("rates", tier)
        for key in ("source", "range_source"):
            if key in raw and raw[key] not in sources:
                problems.append(Problem(name, at(*where, key), f"rates.{tier}.{key}",
                                        f"'{raw[key]}' is not a key of sources",
                                        f"sources: {', '.join(sorted(sources))}"))
        if raw["value"] == "unknown":
            for key in ("low", "high", "range_source"):
                if key in raw:
                    problems.append(Problem(name, at(*where, key), f"rates.{tier}.{key}",
                                            "an unknown rate has no range", f"remove {key}"))
            unknown[tier] = " ".join(str(raw["note"]).split())
            continue
        low, high, value = raw.get("low"), raw.get("high"), float(raw["value"])
        if (low is None) != (high is None):
            problems.append(Problem(name, at(*where), f"rates.{tier}", "give both low and high, or neither"))
        elif low is not None and high is not None and not low <= value <= high:
            problems.append(Problem(name, at(*where), f"rates.{tier}",
                                    f"expected low <= value <= high, got {low} / {value} / {high}"))
        src = sources.get(raw["source"])
        if src is None:
            continue
        range_src = sources.get(raw.get("range_source", raw["source"]), src)
        range_note = raw.get("range_note")
        if low is not None and range_src is not src:
            range_note = (range_note + " " if range_note else "") + f"(range: {source_text(range_src)})"
        rates[tier] = Rate(value, None if low is None else float(low), None if high is None else float(high),
                           "model", source_text(src, raw.get("at")), src.reliability,
                           _clean(raw.get("note")), _clean(range_note))
    adjustments = []
    for i, raw in enumerate(data.get("adjustments") or []):
        src = sources.get(raw["source"])
        if src is None:
            problems.append(Problem(name, at("adjustments", i, "source"), f"adjustments[{i}].source",
                                    f"'{raw['source']}' is not a key of sources"))
            continue
        for tier in raw["tiers"]:
            if tier not in required:
                problems.append(Problem(name, at("adjustments", i, "tiers"), f"adjustments[{i}].tiers",
                                        f"'{tier}' is not a tier of this model",
                                        f"expected {', '.join(required)}"))
        when = raw["when"]
        adjustments.append(Adjustment(raw["id"], tuple(when["fit"]) if "fit" in when else None,
                                      tuple(when["graduate_type"]) if "graduate_type" in when else None,
                                      tuple(raw["tiers"]), float(raw["multiply"]), src,
                                      _clean(raw["note"]) or ""))
    if problems:
        raise PolicyError(problems)
    pop = data["population"]
    return InterviewModel(data["id"], data["version"], data["title"], data["specialty"], data["cycle"],
                          data["structure"], tuple(pop["applicant_types"]), _clean(pop["description"]) or "",
                          rates, unknown, tuple(adjustments),
                          tuple(_clean(n) or "" for n in data.get("notes") or []), sources, name)


def _clean(text: str | None) -> str | None:
    return " ".join(text.split()) if text else None


def _display(path: Path) -> str:
    parts = path.resolve().parts
    if "policies" in parts:
        i = len(parts) - 1 - parts[::-1].index("policies")
        return "/".join(parts[i:])
    return str(path)


# ----------------------------------------------------------------------------------------------------
# Rates for one program.


def program_rates(model: InterviewModel | None, program: Mapping[str, Any], fit: str | None,
                  levels: Sequence[str], *, graduate_type: str | None = None,
                  shortlist_file: str = "your shortlist") -> dict[str, Rate | None]:
    """P(interview) for each tier in `levels` plus "none": the shortlist's column first, else the model
    (with its adjustments), else None (unknown)."""
    out: dict[str, Rate | None] = {}
    for tier in (*levels, NONE):
        column = SHORTLIST_COLUMNS.get(tier)
        if column is not None and program.get(column) is not None:
            out[tier] = Rate(float(program[column]), None, None, "shortlist",
                             f"your shortlist ({shortlist_file}), column {column}", "shortlist")
            continue
        base = model.rates.get(tier) if model is not None else None
        if base is None or model is None:
            out[tier] = None
            continue
        out[tier] = _adjusted(base, model, tier, fit, graduate_type)
    return out


def _adjusted(base: Rate, model: InterviewModel, tier: str, fit: str | None,
              graduate_type: str | None) -> Rate:
    factor = 1.0
    notes = []
    reliability = base.reliability
    for adj in model.adjustments:
        if adj.applies(tier, fit, graduate_type):
            factor *= adj.multiply
            notes.append(f"x{adj.multiply:g} ({adj.id}: {adj.note}; {source_text(adj.source)})")
            if _STRENGTH.get(adj.source.reliability, 3) > _STRENGTH.get(reliability, 3):
                reliability = adj.source.reliability
    if not notes:
        return base

    def scale(v: float | None) -> float | None:
        return None if v is None else min(1.0, v * factor)
    note = "; ".join(filter(None, [base.note, "adjusted " + ", ".join(notes)]))
    return Rate(min(1.0, base.value * factor), scale(base.low), scale(base.high), base.origin, base.source,
                reliability, note, base.range_note)


# ----------------------------------------------------------------------------------------------------
# Everything the optimizer needs, from one evaluation.


class NoRateData(InputError):
    """No interview-rate data for any program: neither the model nor the shortlist has a gain."""


@record(frozen=False)
class GainInputs:
    candidates: list[Candidate]
    quotas: list[LevelQuota]
    rates: dict[str, dict[str, Rate | None]]   # program -> tier (incl. "none") -> rate
    institution_scope: bool
    model: InterviewModel | None
    specialty: str
    cycle: str
    graduate_type: str | None
    covered: dict[str, str] = field(default_factory=dict)

    @property
    def levels(self) -> list[str]:
        return [q.level for q in self.quotas]

    def programs_with_gain(self) -> list[str]:
        """Eligible programs with a known gain for at least one tier."""
        return sorted(c.program for c in self.candidates if c.eligible
                      and any(gain_of(self.rates, c.program, t) is not None for t in self.levels))

    def programs_without_gain(self) -> list[str]:
        known = set(self.programs_with_gain())
        return sorted(c.program for c in self.candidates if c.eligible and c.program not in known)

    def uses_model(self) -> bool:
        """True when at least one rate comes from the model (not the shortlist)."""
        return any(r is not None and r.origin == "model" for row in self.rates.values() for r in row.values())

    def has_data(self) -> bool:
        """Does any eligible program have a known gain? (`programs_with_gain` without building the list:
        the report asks twice per evaluation, and the first program usually answers.)"""
        levels = self.levels
        rates = self.rates
        return any(c.eligible and any(gain_of(rates, c.program, t) is not None for t in levels)
                   for c in self.candidates)

    def missing_message(self) -> str:
        what = (f"the interview model {self.model.file} says the rates are unknown"
                if self.model is not None else f"signalwise has no interview model for {self.specialty} "
                f"{self.cycle}")
        return (f"no interview-rate data for {self.specialty} {self.cycle}: {what}, and your shortlist "
                "has no interview_rate_* columns")

    def require_data(self, file: str) -> None:
        """Raise NoRateData (exit 2) when no program has a known gain."""
        if not self.has_data():
            cols = ", ".join(sorted({SHORTLIST_COLUMNS[t] for t in (*self.levels, NONE)
                                     if t in SHORTLIST_COLUMNS}))
            raise NoRateData([Problem(file, None, None, self.missing_message(),
                                      f"add {cols} (0..1, e.g. from each program's Residency Explorer page) "
                                      "to your shortlist")])

    def notes(self, say: Callable[..., str]) -> list[str]:
        """Caveats a report should print next to any number computed from these rates. The model's own notes
        come from its file; signalwise's caveats are sentences from the policies (`say(key, **fields)`,
        i.e. `PolicySet.message`: the `rates.*` keys of policies/guidance/messages.yaml)."""
        out: list[str] = []
        if self.model is not None and self.uses_model():
            pop = self.model.population_note(self.graduate_type)
            if pop:
                out.append(pop)
            out.extend(self.model.notes)
        # Each eligible program's gain per tier, looked up once: the same answers `programs_with_gain`,
        # `programs_without_gain` and `has_data` give, without asking them per tier.
        levels = self.levels
        eligible = [c.program for c in self.candidates if c.eligible]
        gain = {tier: [gain_of(self.rates, p, tier) for p in eligible] for tier in levels}
        with_gain = [p for k, p in enumerate(eligible) if any(gain[t][k] is not None for t in levels)]
        for tier in levels:
            gains = {round(g, 9) for g in gain[tier] if g is not None}
            if len(gains) == 1 and len(with_gain) > 1:
                what = "signal" if tier == "signal" else f"{tier} signal"
                out.append(say("rates.same-gain", tier=tier, what=what))
        known = set(with_gain)
        missing = sorted(p for p in eligible if p not in known)
        if missing and with_gain:
            out.append(say("rates.unknown-gain", count=len(missing),
                           programs=", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")))
        if self.covered:
            out.append(say("rates.institution-shared"))
        return out


def has_rate_columns(programs: Sequence[Mapping[str, Any]]) -> bool:
    """Does any program of the shortlist carry an `interview_rate_*` value?"""
    columns = set(SHORTLIST_COLUMNS.values())
    return any(p.get(col) is not None for p in programs for col in columns)


def gain_inputs(*, specialty: str, cycle: str, programs: Sequence[Mapping[str, Any]], shortlist_file: str,
                graduate_type: str | None, candidates: list[Candidate], quotas: list[LevelQuota],
                institution_scope: bool, covered: Mapping[str, str] | None = None,
                root: Path | str | None = None) -> GainInputs:
    """Candidates, quotas, rates and scope for the gain strategy and the outcome, from one evaluation.

    `root` is the policy root (default: the bundled policies)."""
    model = load_model(specialty, cycle, root)
    levels = [q.level for q in quotas]
    fit = {c.program: c.fit for c in candidates}
    rates = {p["id"]: program_rates(model, p, fit.get(p["id"]), levels, graduate_type=graduate_type,
                                    shortlist_file=shortlist_file)
             for p in programs}
    return GainInputs(candidates, list(quotas), rates, institution_scope, model, specialty, cycle,
                      graduate_type, dict(covered or {}))
