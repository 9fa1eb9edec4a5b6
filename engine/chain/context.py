"""The `context` fact: this evaluation's specialty rules, signal counts and policy parameters.

Rules compare the applicant and programs against context fields (e.g. `$ctx.step2_reference`), so one
compiled ruleset serves every specialty, cycle and `--signals` what-if without recompiling.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import InputError, PolicyError, Problem
from ..policy.catalogue import match_year_of
from ..policy.limits import MAX_TIERS
from ..policy.model import PolicySet
from ..records import record

_SPEC = re.compile(r"\s*([a-z]{1,20})\s*=\s*([0-9]{1,6})\s*")


@record
class SignalSpec:
    structure: str  # single | tiered
    tiers: tuple[tuple[str, int], ...]
    origin: str     # "--signals" or the policy ref


def parse_signals_option(text: str) -> SignalSpec:
    """`7` -> one level named `signal`; `gold=3,silver=7` -> tiered levels in the order given."""
    raw = text.strip()
    if len(raw) > 200:
        raise _opt(f"is {len(raw):,} characters long; expected a number or a few tiers")
    if re.fullmatch(r"[0-9]+", raw):
        if len(raw.lstrip("0")) > 6:
            raise _opt(f"got {raw[:12]}…; expected at most 100 signals")
        count = int(raw)
        if count > 100:
            raise _opt(f"got {count}; expected at most 100 signals")
        return SignalSpec("single", (("signal", count),), "--signals")
    tiers: list[tuple[str, int]] = []
    parts = raw.split(",")
    if len(parts) > MAX_TIERS:
        raise _opt(f"got {len(parts)} tiers; expected at most {MAX_TIERS}")
    for part in parts:
        m = _SPEC.fullmatch(part)
        if not m:
            raise _opt(f"cannot read {part.strip()!r}")
        name, count = m.group(1), int(m.group(2))
        if count > 100:
            raise _opt(f"got {count} for {name}; expected at most 100")
        if name in (t[0] for t in tiers):
            raise _opt(f"tier '{name}' given twice")
        tiers.append((name, count))
    if not tiers:
        raise _opt("no signal counts given")
    structure = "single" if len(tiers) == 1 else "tiered"
    return SignalSpec(structure, tuple(tiers), "--signals")


def _opt(message: str) -> InputError:
    return InputError([Problem("command line", None, "--signals", message,
                               "write a number such as 7, or tiers such as gold=3,silver=12")])


def signal_spec(ps: PolicySet, override: SignalSpec | None, where: tuple[str, int | None]) -> SignalSpec:
    if override is not None:
        return override
    spec = ps.specialty
    assert spec is not None and spec.specialty is not None  # catalogue guarantees one or an override
    info = spec.specialty
    if info.structure == "none":
        return SignalSpec("single", (), spec.ref)  # the specialty does not use signals this cycle
    unknown = [t.name for t in info.tiers if t.count is None]
    if unknown or not info.tiers:
        note = f" ({' '.join(info.signals_note.split())})" if info.signals_note else ""
        if info.status == "assumed":
            what = (f"{info.cycle} is a planned cycle whose signal rules have not been announced (status: assumed), "
                    f"so {spec.ref} does not know how many signals {info.specialty_name} will have")
        elif info.status == "announced":
            what = f"the announcement for {info.cycle} does not give {info.specialty_name}'s signal count ({spec.ref})"
        else:
            what = f"{spec.ref} does not know how many signals {info.specialty_name} had in {info.cycle}"
        raise InputError([Problem(where[0], where[1], "cycle", what + note,
                                  "pass --signals with the official count, e.g. --signals 5 or "
                                  "--signals gold=3,silver=12")])
    return SignalSpec(info.structure, tuple((t.name, int(t.count or 0)) for t in info.tiers), spec.ref)


def build_context(ps: PolicySet, profile: dict[str, Any], signals: SignalSpec) -> dict[str, Any]:
    """Assemble the context fact's values (before flattening)."""
    ctx: dict[str, Any] = {}
    owners: dict[str, str] = {}
    problems = []
    for policy in ps.policies:
        for name, param in policy.parameters.items():
            if name in owners:
                problems.append(Problem(policy.file, None, f"parameters.{name}",
                                        f"parameter also defined in {owners[name]}", "rename one of them"))
                continue
            owners[name] = policy.ref
            if param.value is not None:
                ctx[name] = param.value
    if problems:
        raise PolicyError(problems)
    info = ps.specialty.specialty if ps.specialty else None
    ctx.update({
        "specialty": profile["specialty"],
        "cycle": profile["cycle"],
        "match_year": info.match_year if info else match_year_of(profile["cycle"]),
        "structure": signals.structure,
        "levels": [name for name, _ in signals.tiers],
        "signals_total": sum(count for _, count in signals.tiers),
        "home_rule": info.home_rule if info else "unknown",
        "scope": info.scope if info else "program",
        "signal_statement": info.signal_statement if info else False,
    })
    for name, count in signals.tiers:
        ctx[f"signals_{name}"] = count
    if "step2_reference" in profile:
        ctx["step2_reference"] = profile["step2_reference"]
        ctx["step2_reference_origin"] = "profile"
    elif "step2_reference" in ctx:
        ctx["step2_reference_origin"] = "policy"
    return ctx
