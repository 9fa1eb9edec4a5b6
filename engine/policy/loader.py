"""Load policy files: safe YAML -> JSON Schema -> typed `Policy` (positions kept for error messages)."""

from __future__ import annotations

import hashlib
from pathlib import Path as FsPath
from typing import Any

from ..errors import PolicyError, Problem
from ..load.files import read_text
from ..load.schemas import schema_problems
from ..load.yamlsafe import Path, load_yaml_text
from .model import (
    Aggregate,
    AnyOf,
    Assertion,
    FindingAction,
    GlossEntry,
    Parameter,
    Pattern,
    Policy,
    QuotaRow,
    QuotaTable,
    Resolution,
    Rule,
    SignalTier,
    Source,
    SourceRef,
    SpecialtyInfo,
    Stage,
    Test,
)

# A policy file is input (docs/reliability.md, "Policies are untrusted input"): the largest bundled file is
# 21 KB and about 3,000 YAML values, so these leave room for twenty times that and bound parsing time.
MAX_POLICY_BYTES = 512 * 1024
MAX_POLICY_NODES = 25_000

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "contains", "not_contains", "present")
ARITH = ("add", "sub", "mul", "div")


def load_policy_file(path: str | FsPath, display: str | None = None) -> Policy:
    """Read, validate and type one policy file. Raises `PolicyError` listing every problem found."""
    name = display or str(path)
    text = read_text(path, max_bytes=MAX_POLICY_BYTES)
    return parse_policy(text, name)


def parse_policy(text: str, name: str) -> Policy:
    """Parse policy text (already read) into a `Policy`; a cached parse of the same text is used when
    present (engine/policy/cache.py), and a fresh one is stored."""
    from . import cache as policy_cache

    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    cached = policy_cache.lookup(text)
    if cached is not None:
        return _build(cached[0], cached[1], name, sha)
    data, positions = _parse_and_validate(text, name)
    policy_cache.store(text, data, positions)
    return _build(data, positions, name, sha)


def _parse_and_validate(text: str, name: str) -> tuple[dict[str, Any], dict[Path, int]]:
    try:
        data, positions = load_yaml_text(text, name, max_nodes=MAX_POLICY_NODES)
    except PolicyError:
        raise
    except Exception as exc:  # InputError from the YAML layer: re-type as a policy problem
        problems = getattr(exc, "problems", [Problem(name, None, None, str(exc))])
        raise PolicyError(problems) from None
    if not isinstance(data, dict):
        raise PolicyError([Problem(name, 1, None, "a policy file must be a mapping of fields")])
    problems = schema_problems("policy", data, name, positions)
    if problems:
        raise PolicyError(problems)
    return data, positions


def _src(value: Any) -> SourceRef | None:
    if value is None:
        return None
    if isinstance(value, str):
        return SourceRef(value)
    return SourceRef(value["ref"], value.get("at"))


def parse_value(value: Any) -> Any:
    """Turn YAML into a condition value: literal, ("ref", alias, field) or (op, left, right)."""
    if isinstance(value, str) and value.startswith("$"):
        alias, _, fieldname = value[1:].partition(".")
        return ("ref", alias, fieldname)
    if isinstance(value, dict):
        (op, (left, right)), = value.items()
        return (op, parse_value(left), parse_value(right))
    if isinstance(value, list):
        return tuple(parse_value(v) for v in value)
    return value


def parse_where(where: dict[str, Any] | None) -> tuple[Test | AnyOf, ...]:
    out: list[Test | AnyOf] = []
    for key, spec in sorted((where or {}).items()):
        if key == "any":
            out.append(AnyOf(tuple(parse_where(group) for group in spec)))
            continue
        if isinstance(spec, dict):
            for op, val in sorted(spec.items()):
                out.append(Test(key, op, parse_value(val)))
        else:
            out.append(Test(key, "eq", parse_value(spec)))
    return tuple(out)


# Each parsed text's YAML positions, by content hash: problems found later (semantic checks at load time) are
# put on the line of the name they complain about, the same line `policy validate` gives.
_POSITIONS: dict[str, dict[Path, int]] = {}


def positions_of(policy: Policy) -> dict[Path, int]:
    """The YAML positions of the text a policy was parsed from (empty for a policy built another way)."""
    return _POSITIONS.get(policy.sha256, {})


def _build(data: dict[str, Any], pos: dict[Path, int], name: str, sha: str) -> Policy:
    _POSITIONS[sha] = pos
    ref = f"{data['id']}@{data['version']}"
    sources = {k: Source(k, v["title"], v["reliability"], v.get("url"), v.get("note"), v.get("publisher"),
                         tuple(v.get("cycles") or ()))
               for k, v in data["sources"].items()}
    params = {k: Parameter(k, v["value"], _src(v["source"]) or SourceRef(""), v.get("unit"), v.get("note"))
              for k, v in (data.get("parameters") or {}).items()}
    rules = []
    for i, r in enumerate(data.get("rules") or []):
        patterns = []
        for j, item in enumerate(r["when"]):
            negated = "not" in item
            pat = item["not"] if negated else item
            alias = pat.get("as") or pat["fact"]
            if negated:
                alias = f"not{j}_{pat['fact']}"
            patterns.append(Pattern(pat["fact"], alias, parse_where(pat.get("where")), negated))
        actions: list[Assertion | FindingAction] = []
        for act in r["then"]:
            if "assert" in act:
                a = act["assert"]
                actions.append(Assertion(a["fact"], tuple(sorted((k, parse_value(v))
                                                                 for k, v in (a.get("set") or {}).items()))))
            else:
                f = act["finding"]
                actions.append(FindingAction(f["level"], parse_value(f.get("program"))))
        rules.append(Rule(
            id=r["id"], title=r["title"], phase=r["phase"], priority=r.get("priority", 100),
            patterns=tuple(patterns), actions=tuple(actions), because=r["because"],
            rationale=r.get("rationale"), source=_src(r.get("source")), advice=r.get("advice"),
            policy=ref, file=name, line=pos.get(("rules", i)), would_change=r.get("would_change"),
        ))
    stages = tuple(Stage(s["name"], s["kind"], s.get("title")) for s in data.get("stages") or [])
    resolutions = tuple(
        Resolution(r["id"], r["after"], r["votes"], r["field"], tuple(r["precedence"]), r["produces"],
                   r.get("key"), (r.get("default") or {}).get("value"), (r.get("default") or {}).get("because"),
                   (r.get("default") or {}).get("rationale"), _src((r.get("default") or {}).get("source")), ref)
        for r in data.get("resolutions") or [])
    aggregates = tuple(Aggregate(a["id"], a["after"], a["count"], a["produces"], a.get("group_by"),
                                 tuple(a.get("groups") or ()), ref) for a in data.get("aggregates") or [])
    tables = []
    for ti, t in enumerate(data.get("quota_tables") or []):
        rows = []
        for ri, row in enumerate(t["rows"]):
            rows.append(QuotaRow(
                id=row["id"], key=row["key"], count_min=row["count"]["min"], count_max=row["count"]["max"],
                quota=tuple((fit, q["min"], q["max"]) for fit, q in (row.get("quota") or {}).items()),
                shares=tuple((fit, float(s)) for fit, s in (row.get("shares") or {}).items()),
                caps=tuple((row.get("caps") or {}).items()),
                optional=tuple(row.get("optional") or ()),
                fill_order=tuple(row.get("fill_order") or ()), overflow=tuple(row.get("overflow") or ()),
                extension=bool(row.get("extension", False)), because=row["because"],
                rationale=row.get("rationale"), source=_src(row["source"]) or SourceRef(""),
                line=pos.get(("quota_tables", ti, "rows", ri)),
            ))
        dom = t.get("count_domain")
        tables.append(QuotaTable(
            id=t["id"], title=t["title"], phase=t["phase"], level=t["level"], structure=t.get("structure"),
            key_fact=t["key"]["fact"], key_field=t["key"]["field"],
            count_domain=(dom["min"], dom["max"]) if dom else None, rows=tuple(rows), policy=ref, file=name,
            line=pos.get(("quota_tables", ti)),
        ))
    specialty = None
    if data["kind"] == "specialty":
        sig, home = data["signals"], data["home_rule"]
        specialty = SpecialtyInfo(
            specialty=data["specialty"], specialty_name=data.get("specialty_name", data["specialty"]),
            cycle=data["cycle"], application_system=data["application_system"], match_year=data["match_year"],
            structure=sig["structure"], tiers=tuple(SignalTier(t["name"], t["count"]) for t in sig["tiers"]),
            scope=sig.get("scope", "program"), signal_statement=bool(sig.get("signal_statement", False)),
            signals_source=_src(sig["source"]) or SourceRef(""), signals_note=sig.get("note"),
            home_rule=home["value"], home_rule_source=_src(home["source"]) or SourceRef(""),
            home_rule_note=home.get("note"), status=data.get("status"),
            corroborated_by=tuple(sig.get("corroborated_by") or ()),
        )
    eff = data.get("effective") or {}
    return Policy(
        id=data["id"], kind=data["kind"], version=data["version"], requires_engine=data["requires_engine"],
        title=data["title"], file=name, sha256=sha, sources=sources, parameters=params, rules=tuple(rules),
        stages=stages, resolutions=resolutions, aggregates=aggregates, quota_tables=tuple(tables),
        specialty=specialty, supersedes=data.get("supersedes"), effective_from=eff.get("from"),
        effective_to=eff.get("to"), description=data.get("description"),
        changelog=tuple(data.get("changelog") or ()), messages=dict(data.get("messages") or {}),
        message_sources={k: _src(v) or SourceRef("") for k, v in (data.get("message_sources") or {}).items()},
        glossary=tuple(GlossEntry(g["term"], g["text"], _src(g["source"]) or SourceRef(""), tuple(g.get("words") or ()),
                                  bool(g.get("always", False))) for g in data.get("glossary") or ()),
        base_facts={k: (tuple(v["fields"]), tuple(v.get("lists") or ()))
                    for k, v in (data.get("base_facts") or {}).items()},
        raw=data,
    )
