"""Turn an `Evaluation` into the report: every decision with the rules, facts and sources behind it.

The report is plain data (the JSON report contract in schemas/report.schema.json); renderers only
format it. Lists are sorted by documented keys so the same inputs give byte-identical output.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..chain.facts import ID_KEY, Fact
from ..chain.runtime import Firing
from ..errors import EngineError
from ..pipeline import Evaluation, ResolutionOutcome, sha256_text
from ..plan.claims import Claim, PlanView, build_claims, check_claims, level_reason
from ..plan.quotas import LevelQuota
from ..policy.compiler import TYPE_KEY, flat
from ..policy.messages import fill_message, tier_label
from ..policy.model import AnyOf, PolicySet, Rule, SourceRef, Test
from ..policy.templates import fmt_value, render
from ..policy.values import refs

REPORT_VERSION = "1.0"
TOOL_VERSION = "0.1.0"
LEVEL_ORDER = {"critical": 0, "warning": 1, "info": 2}


# A report cites the same few dozen sources thousands of times, and a rule's used fields are the same for
# each of its firings: both are derived once per policy set / rule. Keyed by id() with the object kept
# beside the value (compared with `is`), so a key can never be reused by another object.
_SOURCE_TEXTS: dict[tuple[int, str, SourceRef | None], tuple[PolicySet, str | None]] = {}
_RULE_SOURCES: dict[int, tuple[Rule, PolicySet, str | None]] = {}
_USED_FIELDS: dict[int, tuple[Rule, dict[str, set[str]]]] = {}
_SHOWN_FIELDS: dict[int, tuple[Rule, dict[str, tuple[tuple[str, str, str | None], ...]]]] = {}


def source_text(ps: PolicySet, policy_ref: str, ref: SourceRef | None) -> str | None:
    key = (id(ps), policy_ref, ref)
    hit = _SOURCE_TEXTS.get(key)
    if hit is not None and hit[0] is ps:
        return hit[1]
    src, at = ps.source(policy_ref, ref)
    text = src.describe(at) if src is not None else None
    _SOURCE_TEXTS[key] = (ps, text)
    return text


def _rule_source(ps: PolicySet, rule: Rule) -> str | None:
    """`source_text` of a rule's own source, by the rule's identity: a rule is cited once per firing, and
    hashing its SourceRef (a dataclass) each time costs more than this lookup."""
    hit = _RULE_SOURCES.get(id(rule))
    if hit is not None and hit[0] is rule and hit[1] is ps:
        return hit[2]
    text = source_text(ps, rule.policy, rule.source)
    _RULE_SOURCES[id(rule)] = (rule, ps, text)
    return text


def _used_fields(rule: Rule) -> dict[str, set[str]]:
    """The fields a rule's conditions and sentence use, per alias (read-only: shared by its firings)."""
    hit = _USED_FIELDS.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    used = _derive_used_fields(rule)
    _USED_FIELDS[id(rule)] = (rule, used)
    return used


def _derive_used_fields(rule: Rule) -> dict[str, set[str]]:
    used: dict[str, set[str]] = defaultdict(set)

    def walk(tests: tuple[Test | AnyOf, ...], alias: str) -> None:
        for t in tests:
            if isinstance(t, AnyOf):
                for g in t.groups:
                    walk(g, alias)
            else:
                used[alias].add(t.field.removesuffix(".count") if t.op != "present" else t.field)
                for ref in refs(t.value):
                    used[ref[0]].add(ref[1])
    for p in rule.patterns:
        if not p.negated:
            walk(p.tests, p.alias)
    import re
    for m in re.finditer(r"\{([a-z_][a-z0-9_]*)\.([a-z0-9_.]+)", rule.because):
        used[m.group(1)].add(m.group(2))
    return used


def _shown_fields(rule: Rule) -> dict[str, tuple[tuple[str, str, str | None], ...]]:
    """Per alias, the used fields in report order with the fact keys they are read from: (field, key, the
    key of a list's `__count` companion for a `.count` field or None). Derived once per rule, since every
    firing of the rule shows the same fields."""
    hit = _SHOWN_FIELDS.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    shown = {alias: tuple((field, flat(field), flat(field[:-6]) + "__count" if field.endswith(".count") else None)
                          for field in sorted(fields))
             for alias, fields in _used_fields(rule).items()}
    _SHOWN_FIELDS[id(rule)] = (rule, shown)
    return shown


def matched_facts(ev: Evaluation, firing: Firing) -> dict[str, dict[str, Any]]:
    """The facts a firing matched, reduced to the fields its conditions and sentence used."""
    fields = _shown_fields(firing.rule)
    get = ev.store.get
    out: dict[str, dict[str, Any]] = {}
    for alias, fid in sorted(firing.matched.items()):
        fact = get(fid)
        shown: dict[str, Any] = {"fact": fact[TYPE_KEY]}
        if ID_KEY in fact:
            shown["id"] = fact[ID_KEY]
        for field, key, count_key in fields.get(alias, ()):
            value = fact.get(key)
            if value is None and count_key is not None:
                value = fact.get(count_key)
            if value is not None:
                shown[field] = value
        out[alias] = shown
    return out


def firing_entry(ev: Evaluation, f: Firing) -> dict[str, Any]:
    entry = {
        "rule": f.rule.id, "policy": f.rule.policy, "text": _clean(f.text),
        "source": _rule_source(ev.policy_set, f.rule),
        "facts": matched_facts(ev, f),
    }
    if f.rule.would_change:
        matched = {alias: ev.store.get(fid) for alias, fid in f.matched.items()}
        entry["would_change"] = _clean(render(f.rule.would_change, matched))
    return entry


def _unique_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (rule, sentence): a rule whose `any` matched twice says the same thing once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in entries:
        key = (e["rule"], e["text"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _clean(text: str) -> str:
    return " ".join(text.split())


def _resolution_default_entry(ev: Evaluation, o: ResolutionOutcome) -> dict[str, Any]:
    res = o.resolution
    return {"rule": f"{res.id}.default", "policy": res.policy, "text": _clean(res.default_because or ""),
            "source": source_text(ev.policy_set, res.policy, res.default_source), "facts": {}}


def _outcome_entries(ev: Evaluation, o: ResolutionOutcome, by_output: dict[int, list[Firing]],
                     winners: bool = True) -> list[dict[str, Any]]:
    if o.default and winners:
        return [_resolution_default_entry(ev, o)]
    ids = o.winners if winners else o.others
    if not ids:
        return []
    firings = sorted({id(f): f for fid in ids for f in by_output.get(fid, [])}.values(),
                     key=lambda f: (f.rule.priority, f.rule.id, f.seq))
    return [firing_entry(ev, f) for f in firings]


def build_report(ev: Evaluation) -> dict[str, Any]:
    ps = ev.policy_set
    by_output = ev.by_output()
    outcomes: dict[tuple[str, str | None], ResolutionOutcome] = {(o.resolution.produces, o.key): o
                                                                 for o in ev.resolutions}
    tier_outcome = next((o for o in ev.resolutions if o.resolution.produces == "applicant_tier"), None)
    picks = {p.program: p for p in ev.allocation.picks}
    plan = _plan_view(ev)
    claims = _checked_claims(ev, plan)
    finding_firings = [f for f in ev.firings if f.findings]
    # One pass over every firing's outputs sorts out the firings the report cites by what they concluded.
    quota_firings: dict[str, Firing] = {}
    indicator_firings: list[Firing] = []
    score_outputs: list[tuple[Firing, Fact]] = []
    advice_by_program: dict[str, list[dict[str, Any]]] = defaultdict(list)
    get = ev.store.get
    for f in ev.firings:
        quota = indicator = False
        for fid in f.outputs:
            fact = get(fid)
            ftype = fact[TYPE_KEY]
            if ftype == "quota_row":
                quota = True
            elif ftype == "indicator":
                indicator = True
            elif ftype == "score":
                score_outputs.append((f, fact))
            elif ftype == "advice":
                advice_by_program[fact["program"]].append(
                    {"rule": f.rule.id, "policy": f.rule.policy, "kind": fact.get("kind"),
                     "text": _clean(f.text), "advice": _clean(f.rule.advice or ""),
                     "source": _rule_source(ps, f.rule)})
        if quota:
            quota_firings[f.rule.id] = f
        if indicator:
            indicator_firings.append(f)
    scores = _score_entries(ev, score_outputs)
    input_findings, unknown = _input_findings(ev)
    homes = _home_entries(ev, by_output)
    sentences = _Sentences.of(ev, claims, quota_firings, by_output, plan)
    programs = []
    for prog in sorted(ev.store.of_type("program"), key=lambda p: p[ID_KEY]):
        pid = prog[ID_KEY]
        fit_o = outcomes.get(("program_fit", pid))
        status_o = outcomes.get(("program_status", pid))
        if fit_o is None or status_o is None:
            raise EngineError(f"the policies did not resolve a fit and a status for program {pid}: "
                              "a `program-fit` and a `program-status` resolution with defaults are required")
        fit, status = fit_o.value, status_o.value
        pick = picks.get(pid)
        decision = pick.level if pick else ("excluded" if status in ("excluded", "reserve") else
                                            "exempt" if status == "exempt" else "none")
        because: list[dict[str, Any]] = []
        status_because = _outcome_entries(ev, status_o, by_output)
        if fit_o:
            because += _outcome_entries(ev, fit_o, by_output)
        if status_o:
            because += status_because
        score = sum(s["points"] for s in scores.get(pid, []))
        if status in ("eligible", "reserve") or pick is not None:
            because += [s["entry"] for s in scores.get(pid, [])]
            because.append(sentences.allocation_entry(pid))
        programs.append({
            "id": pid, "name": prog["name"], "state": prog["state"], "division": prog.get("division"),
            "region": prog.get("region"), "setting": prog.get("setting"), "fit": fit, "decision": decision,
            "score": round(score, 4) if status in ("eligible", "reserve") else None,
            "status": status,
            "allocation": claims[pid].to_json() if pid in claims else _no_claim(ev, status),
            "because": because,
            "considered": (_outcome_entries(ev, fit_o, by_output, winners=False) if fit_o else [])
                          + (_outcome_entries(ev, status_o, by_output, winners=False) if status_o else []),
            "why_not": sentences.why_not(pid, decision, status,
                                         [e["rule"] for e in status_because]),
            "advice": sorted(advice_by_program.get(pid, []), key=lambda a: a["rule"]),
            **({"home": homes[pid]} if pid in homes else {}),
            **({"unknown": unknown[pid]} if pid in unknown else {}),
        })
    if tier_outcome is None:
        raise EngineError("the policies did not resolve the applicant's tier (an `applicant_tier` resolution "
                          "with a default is required)")
    tier = tier_outcome.value
    indicators = _unique_entries(sorted((firing_entry(ev, f) for f in indicator_firings), key=lambda e: e["rule"]))
    signals = []
    for lv in ev.allocation.levels:
        qf = quota_firings.get(lv.rule or "")
        signals.append({
            "tier": lv.level, "available": lv.available, "assigned": lv.assigned,
            "by_fit": {fit: lv.counts.get(fit, 0) for fit in sorted(lv.counts)},
            "quota": {fit: {"min": lo, "max": hi} for fit, (lo, hi) in sorted(lv.ranges.items())},
            "extension": lv.extension,
            "because": [firing_entry(ev, qf)] if qf else [],
        })
    findings = []
    for f in finding_firings:
        for item in f.findings:
            findings.append({"level": item["level"], "rule": f.rule.id, "policy": f.rule.policy,
                             "text": _clean(f.text), "advice": _clean(f.rule.advice or ""),
                             "program": item.get("program"),
                             "source": _rule_source(ps, f.rule)})
    findings += input_findings
    findings.sort(key=lambda x: (LEVEL_ORDER.get(x["level"], 9), x["rule"], x["program"] or "", x["text"]))
    return {
        **({"notices": notices} if (notices := _notices(ev)) else {}),
        "report_version": REPORT_VERSION,
        "specialty": ev.context["specialty"],
        "cycle": ev.context["cycle"],
        **({"cycle_choice": ev.cycle_choice} if ev.cycle_choice else {}),
        "inputs": {
            "profile": {"file": ev.profile.file, "sha256": sha256_text(ev.profile.text)},
            "programs": {"file": ev.shortlist.file, "sha256": ev.shortlist.sha256,
                         "count": len(ev.shortlist.programs),
                         **({"unused_columns": list(ev.shortlist.extra_columns)}
                            if ev.shortlist.extra_columns else {})},
            "signals_from": ev.signals.origin,
            "strategy": ev.request.strategy,
            "signalwise": TOOL_VERSION,
        },
        "applicant": {
            "tier": tier,
            "because": _outcome_entries(ev, tier_outcome, by_output) if tier_outcome else [],
            "indicators": indicators,
            "geography": {k: list(v) for k, v in sorted((ev.profile.data.get("geography") or {}).items())},
            "goals": ev.profile.data.get("goals") or {},
        },
        "rules": _rules_used(ev),
        "signals": signals,
        "programs": programs,
        "findings": findings,
        "context": _context_entries(ev),
        "strategy": ev.request.strategy,
        "outcome": _outcome(ev),
        "optimizer": _optimizer(ev),
        "glossary": _glossary(ps),
        "policies": [{"id": p.id, "version": p.version, "sha256": p.sha256, "file": p.file, "kind": p.kind,
                      "sources": [{"key": k, "title": src.title, "url": src.url, "reliability": src.reliability}
                                  for k, src in sorted(p.sources.items())]}
                     for p in sorted(ps.policies, key=lambda p: p.id)],
    }


def _glossary(ps: PolicySet) -> list[dict[str, Any]]:
    """The policies' glossary with each entry's source: renderers show the entries a report needs (`always`,
    or one of `words` in its sentences) and add no gloss of their own."""
    return [{"term": g.term, "text": g.text, "source": source_text(ps, ref, g.source), "words": list(g.words),
             "always": g.always} for ref, g in ps.glossary]


def _notices(ev: Evaluation) -> list[dict[str, Any]]:
    """What every report must say first: a specialty policy copied by `policy new-cycle`, not yet reviewed."""
    spec = ev.policy_set.specialty
    if spec is None or spec.raw.get("reviewed", True) is not False:
        return []
    key = "notice.unreviewed"
    return [{"kind": "unreviewed-policy", "policy": spec.ref,
             "text": _clean(ev.policy_set.message(key, cycle=ev.context["cycle"], specialty=ev.context["specialty"],
                                                  file=spec.file))}]


def _input_findings(ev: Evaluation) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    from .unknowns import input_findings

    return input_findings(ev.policy_set, ev.shortlist)


def _rules_used(ev: Evaluation) -> dict[str, dict[str, Any]]:
    """Every rule that fired, with its title, rationale, source and the programs it fired for."""
    ps = ev.policy_set
    out: dict[str, dict[str, Any]] = {}
    get = ev.store.get
    program_of: dict[int, Any] = {}   # fact id -> the program it is or is about (None): facts recur across firings
    for f in ev.firings:
        r = f.rule
        item = out.get(r.id)
        if item is None:    # described once per rule, however often it fired
            item = out[r.id] = {
                "title": r.title, "policy": r.policy, "file": r.file, "line": r.line, "stage": r.phase,
                "because": _clean(r.because), "rationale": _clean(r.rationale or ""),
                "advice": _clean(r.advice or ""), "source": _rule_source(ps, r),
                "fired": 0, "programs": set(),
            }
        item["fired"] += 1
        programs = item["programs"]
        for fid in (*f.matched.values(), *f.outputs):
            if fid in program_of:
                pid = program_of[fid]
            else:
                fact = get(fid)
                pid = program_of[fid] = fact.get(ID_KEY) if fact[TYPE_KEY] == "program" else fact.get("program")
            if pid:
                programs.add(pid)
    for o in ev.resolutions:
        if o.default:
            res = o.resolution
            item = out.get(f"{res.id}.default")
            if item is None:
                item = out[f"{res.id}.default"] = {
                    "title": f"Default for {res.id}", "policy": res.policy, "file": None, "line": None,
                    "stage": res.after, "because": _clean(res.default_because or ""),
                    "rationale": _clean(res.default_rationale or ""), "advice": "",
                    "source": source_text(ps, res.policy, res.default_source), "fired": 0, "programs": set()}
            item["fired"] += 1
            if o.key:
                item["programs"].add(o.key)
    for item in out.values():
        item["programs"] = sorted(item["programs"])
    return dict(sorted(out.items()))


def _home_entries(ev: Evaluation, by_output: dict[int, list[Firing]]) -> dict[str, dict[str, Any]]:
    """The home program, named: which specialty home rule applied, what it means, and its source."""
    ps = ev.policy_set
    spec = ps.specialty.specialty if ps.specialty else None
    rule_source = source_text(ps, ps.specialty.ref, spec.home_rule_source) if ps.specialty and spec else None
    out: dict[str, dict[str, Any]] = {}
    for fact in ev.store.of_type("home_program"):
        firing = next(iter(by_output.get(int(fact["_id"]), [])), None)
        if firing is None:
            continue
        out[str(fact["program"])] = {
            "home_rule": fact.get("home_rule"), "rule": firing.rule.id, "policy": firing.rule.policy,
            "text": _clean(firing.text), "home_rule_source": rule_source,
            "home_rule_note": _clean(spec.home_rule_note) if spec and spec.home_rule_note else None}
    return out


def _score_entries(ev: Evaluation, outputs: list[tuple[Firing, Fact]]) -> dict[str, list[dict[str, Any]]]:
    """Each program's score points, one entry per `score` fact (outputs: in firing order, with the firing)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f, fact in outputs:
        entry = firing_entry(ev, f)
        pts = float(fact.get("points") or 0)
        unit = "point" if abs(pts) == 1 else "points"
        entry["text"] = f"{entry['text']} ({'+' if pts >= 0 else ''}{fmt_value(pts)} {unit})"
        entry["points"] = pts
        out[fact["program"]].append({"points": pts, "entry": entry})
    for items in out.values():
        items.sort(key=lambda s: (s["entry"]["rule"]))
    return out


def _a_level(level: str) -> str:
    return "a signal" if level == "signal" else f"a {level} signal"


def _checked_claims(ev: Evaluation, plan: PlanView) -> dict[str, Claim]:
    """The allocation claims, verified against the final plan: a false claim is a bug, never printed.
    `plan` is the report's view of that plan (`_plan_view`): builder and checker read the same lookups."""
    statuses = {f["program"]: str(f["status"]) for f in ev.store.of_type("program_status")}
    rates = plan.rates
    scope = plan.institution_scope
    claims = build_claims(ev.candidates, ev.quotas, ev.allocation, statuses, rates=rates, institution_scope=scope,
                          plan=plan)
    false = check_claims(claims, ev.candidates, ev.quotas, plan.decisions, metric=ev.allocation.metric, rates=rates,
                         institution_scope=scope, plan=plan)
    if false:
        raise EngineError("the plan's explanation would claim something untrue (a signalwise bug): "
                          + "; ".join(false[:5]))
    return claims


def _no_claim(ev: Evaluation, status: str) -> dict[str, Any]:
    """Programs the allocator never saw (no signal levels at all this cycle)."""
    return Claim("", ev.allocation.metric, None, None, held_back_by=status if status != "eligible" else "no-signals",
                 kind=status).to_json()


class _Sentences:
    """Renders every allocation and why-not sentence from the claims (and only from them).

    A report states the same pieces many times (a level's range, a value, a program's left-out sentence
    in its HOW chain and again in its WHY-NOT): each distinct sentence is filled once per report and reused,
    keyed by everything it is rendered from, so reuse cannot change a word. (A plain class: one is made per
    report and never compared, so generated dataclass methods would only add to the module's import.)"""

    def __init__(self, ev: Evaluation, claims: dict[str, Claim], quota_firings: dict[str, Firing],
                 by_output: dict[int, list[Firing]], blocks: dict[str, dict[str, Fact]],
                 precedence_text: dict[str, str], reserve_text: dict[str, str], plan: PlanView,
                 quotas: dict[str, LevelQuota]) -> None:
        self.ev = ev
        self.claims = claims
        self.quota_firings = quota_firings
        self.by_output = by_output
        self.blocks = blocks
        self.precedence_text = precedence_text   # program -> why it waits (the rule that put it on the later side)
        self.reserve_text = reserve_text         # program -> why it was set aside (the soft exclusion)
        self.plan = plan
        self.quotas = quotas                     # level -> its quota (the first, as `ev.quotas` lists them)
        self._templates: dict[str, str] = {}     # message key -> its policy's template
        self._texts: dict[tuple[Any, ...], str] = {}   # filled sentences, by what they are rendered from
        self._cited: dict[tuple[str, str | None], tuple[str, str, str | None]] = {}

    @classmethod
    def of(cls, ev: Evaluation, claims: dict[str, Claim], quota_firings: dict[str, Firing],
           by_output: dict[int, list[Firing]], plan: PlanView) -> _Sentences:
        blocks: dict[str, dict[str, Fact]] = defaultdict(dict)
        for b in ev.store.of_type("level_block"):
            blocks[b["program"]][b["level"]] = b
        later: dict[str, str] = {}
        for m in ev.store.of_type("precedence_member"):
            if m.get("side") == "later":
                f = by_output.get(int(m["_id"]), [])
                if f:
                    later.setdefault(str(m["program"]), _clean(f[0].text))
        reserve: dict[str, str] = {}
        for v in ev.store.of_type("status_vote"):
            if v.get("status") == "reserve":
                f = by_output.get(int(v["_id"]), [])
                if f:
                    reserve.setdefault(str(v["program"]), f"“{f[0].rule.title}”, rule {f[0].rule.id}")
        quotas: dict[str, LevelQuota] = {}
        for q in ev.quotas:
            quotas.setdefault(q.level, q)
        return cls(ev, claims, quota_firings, by_output, blocks, later, reserve, plan, quotas)

    # -- pieces
    def template(self, key: str) -> str:
        """The policy sentence for `key`: the first policy's that declares it, as `PolicySet.message` finds
        it (looked up once per report rather than once per sentence)."""
        text = self._templates.get(key)
        if text is None:
            for p in self.ev.policy_set.policies:
                if key in p.messages:
                    text = self._templates[key] = p.messages[key]
                    break
            else:
                raise KeyError(f"no policy declares the message '{key}'")
        return text

    def raw(self, key: str, **values: str) -> str:
        """`PolicySet.message(key, **values)` (as it reads, not cleaned); `values` are text, so equal values
        fill the same sentence and each is filled once per report."""
        memo = ("raw", key, *values.items())
        text = self._texts.get(memo)
        if text is None:
            text = self._texts[memo] = fill_message(self.template(key), dict(values))
        return text

    def msg(self, key: str, **values: Any) -> str:
        return _clean(fill_message(self.template(key), values))

    def quota(self, level: str) -> LevelQuota | None:
        return self.quotas.get(level)

    def range_text(self, level: str, fit: str) -> str:
        memo = ("range", level, fit)
        text = self._texts.get(memo)
        if text is None:
            text = self._texts[memo] = self._range_text(level, fit)
        return text

    def _range_text(self, level: str, fit: str) -> str:
        q = self.quota(level)
        if q is None or not q.ranges:
            return self.msg("range.none")
        lo, hi = q.fit_range(fit)
        key = ("range.extension" if q.extension else "range.guide") + (".exact" if lo == hi else "")
        return self.msg(key, lo=lo, hi=hi)

    def value_text(self, value: float | None) -> str:
        metric = self.ev.allocation.metric
        shown = "unknown" if value is None else (fmt_value(round(value, 4)) if metric == "score"
                                                  else f"{value:+.2f}")
        memo = ("value", metric, shown)
        text = self._texts.get(memo)
        if text is None:
            text = self._texts[memo] = self.msg(f"value.{metric}", value=shown)
        return text

    def ids(self, ids: tuple[str, ...] | list[str], limit: int = 4) -> str:
        shown = list(ids)[:limit]
        more = len(ids) - len(shown)
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")

    def tie_note(self, tied_with: tuple[str, ...]) -> str:
        if not tied_with:
            return ""
        memo = ("tie", *tied_with)
        text = self._texts.get(memo)
        if text is None:
            text = self._texts[memo] = self.msg("allocation.tie", ties=self.ids(tied_with))
        return text

    def entry(self, key: str, level: str | None, facts: dict[str, Any], text: str) -> dict[str, Any]:
        rule, policy, source = self.cited(key, level)
        return {"rule": rule, "policy": policy, "text": text, "source": source, "facts": facts}

    def cited(self, key: str, level: str | None) -> tuple[str, str, str | None]:
        """The rule, policy and source an allocation entry of `key` at `level` cites (the same for every
        program with that key and level: worked out once per report)."""
        hit = self._cited.get((key, level))
        if hit is not None:
            return hit
        ps = self.ev.policy_set
        q = self.quota(level or "")
        qf = self.quota_firings.get(q.rule or "") if q else None
        if qf is not None:
            source = source_text(ps, qf.rule.policy, qf.rule.source)
        elif key == "allocation.covered" and ps.specialty is not None and ps.specialty.specialty is not None:
            # "a signal goes to the institution" is the specialty policy's `signals.scope`, cited there
            source = source_text(ps, ps.specialty.ref, ps.specialty.specialty.signals_source)
        else:
            named = ps.message_source(key)
            source = source_text(ps, named[0], named[1]) if named else None
        cited = self._cited[(key, level)] = (qf.rule.id if qf else f"allocate.{key}", ps.message_owner(key), source)
        return cited

    # -- the allocation step of a program's HOW chain
    def allocation_entry(self, pid: str) -> dict[str, Any]:
        cl = self.claims[pid]
        level = cl.competed_for
        fit = self.plan.candidates[pid].fit
        facts = {"allocation": {"fact": "allocation", "program": pid, **cl.to_json()}}
        if cl.kind in ("signaled", "signaled-below-range", "beyond-range", "spare") and level is not None:
            count = sum(1 for p in self.ev.allocation.picks if p.level == level and p.fit == fit)
            common = {"a_level": _a_level(level), "level_signal": tier_label(level), "fit": fit,
                      "value_text": self.value_text(cl.value), "count": count,
                      "range_text": self.range_text(level, fit), "tie_note": self.tie_note(cl.tied_with)}
            if cl.kind == "spare":
                why = self.reserve_text.get(pid, "")
                key = "allocation.spare.required" if cl.others_why == "required" else (
                    "allocation.spare.held" if cl.others_left else "allocation.spare")
                return self.entry(key, level, facts, self.msg(key, why=why, others=self.ids(cl.others_left),
                                                              **common))
            if cl.kind == "beyond-range":
                if cl.others_left and cl.others_why == "required":
                    why = self.msg("allocation.beyond.required", short=" or ".join(cl.short_fits),
                                   others=self.ids(cl.others_left))
                elif cl.others_left and cl.others_why == "lower-value":
                    why = self.msg("allocation.beyond.lower-value", short=" or ".join(cl.short_fits),
                                   others=self.ids(cl.others_left), value_text=self.value_text(cl.value))
                elif cl.others_left:
                    why = self.msg("allocation.beyond.held", short=" or ".join(cl.short_fits),
                                   others=self.ids(cl.others_left))
                elif cl.short_fits:
                    why = self.msg("allocation.beyond.none-left", short=" or ".join(cl.short_fits))
                else:
                    why = self.msg("allocation.beyond.no-short")
                return self.entry("allocation.beyond-range", level, facts,
                                  self.msg("allocation.beyond-range", why=why, **common))
            rank = next(p.rank for p in self.ev.allocation.picks if p.program == pid)
            fit_programs = f"{count} {fit} program" + ("" if count == 1 else "s")
            key = "allocation.signaled.below-range" if cl.kind == "signaled-below-range" else "allocation.signaled"
            return self.entry(key, level, facts, self.msg(key, rank=rank, fit_programs=fit_programs, **common))
        if cl.kind == "covered":
            owner = self.ev.allocation.covered.get(pid, "")
            return self.entry("allocation.covered", None, facts, self.msg("allocation.covered", covered_by=owner))
        return self.entry("allocation.left-out", level, facts,
                          self.left_out_text(pid, level, cl.outranked_by, cl.held_back_by, cl.waiting, cl.value,
                                             cl.tied_with))

    def left_out_text(self, pid: str, level: str | None, outranked: tuple[str, ...], held: str | None,
                      waiting: tuple[str, ...], value: float | None, tied_with: tuple[str, ...]) -> str:
        """Why `pid` does not hold `level`, from a claim's parts (`value` and `tied_with`: the claim's, at
        that level). A program's HOW chain and its WHY-NOT state the same one: filled once per report for
        each distinct set of parts (the value by its text)."""
        if level is None:
            return self.msg("allocation.no-level")
        value_text = self.value_text(value)
        memo = ("left-out", pid, level, outranked, held, waiting, value_text, tied_with)
        text = self._texts.get(memo)
        if text is None:
            text = self._texts[memo] = self._left_out_text(pid, level, outranked, held, waiting, value_text,
                                                           tied_with)
        return text

    def _left_out_text(self, pid: str, level: str, outranked: tuple[str, ...], held: str | None,
                       waiting: tuple[str, ...], value_text: str, tied_with: tuple[str, ...]) -> str:
        fit = self.plan.candidates[pid].fit
        common = {"level_signal": tier_label(level), "fit": fit, "value_text": value_text,
                  "range_text": self.range_text(level, fit)}
        first = (self.msg("allocation.outranked", others=self.ids(outranked), **common) if outranked
                 else self.msg("allocation.not-signaled", **common))
        if held == "range-full":
            second = self.msg("allocation.held.range-full", **common)
        elif held == "other-fits":
            second = self.msg("allocation.held.other-fits", **common)
        elif held == "reserve":
            second = self.msg("allocation.held.reserve", why=self.reserve_text.get(pid, ""), **common)
        elif held is not None and waiting:
            second = self.msg("allocation.held.precedence", waiting=self.ids(waiting),
                              why=self.precedence_text.get(pid, ""), **common)
        elif held is not None:
            second = self.msg("allocation.held.precedence-displaced", **common)
        else:
            second = ""
        return _clean(f"{first} {second} {self.tie_note(tied_with) if outranked else ''}")


    # -- WHY-NOT per level
    def why_not(self, pid: str, decision: str, status: str, status_rules: list[str]) -> list[dict[str, Any]]:
        ev = self.ev
        out: list[dict[str, Any]] = []
        levels = [q.level for q in ev.quotas]
        cl = self.claims.get(pid)
        blocks = self.blocks.get(pid, {})
        cand = self.plan.candidates.get(pid)
        for level in levels:
            if level == decision:
                continue
            if decision in levels and levels.index(decision) < levels.index(level):
                out.append({"tier": level, "reason": "stronger-tier", "rule": None,
                            "text": self.raw("why-not.taken", decision=decision)})
                continue
            if status not in ("eligible", "reserve") or cand is None or cl is None:
                out.append({"tier": level, "reason": status, "rule": status_rules[0] if status_rules else None,
                            "text": self.raw("why-not.status", status=status)})
                continue
            if level in blocks:
                f = self.by_output.get(int(blocks[level]["_id"]), [])
                out.append({"tier": level, "reason": "blocked", "rule": f[0].rule.id if f else None,
                            "text": self.raw("why-not.blocked", text=_clean(f[0].text) if f else level)})
                continue
            if cl.kind == "covered":
                out.append({"tier": level, "reason": "institution", "rule": None,
                            "text": self.msg("allocation.covered", covered_by=ev.allocation.covered.get(pid, ""))})
                continue
            plan = self.plan
            outranked, held, waiting = level_reason(plan, cand, level)
            q = self.quota(level)
            entry: dict[str, Any] = {"tier": level, "reason": held or ("outranked" if outranked else "not-signaled"),
                                     "rule": q.rule if q else None,
                                     "text": self.left_out_text(pid, level, outranked, held, waiting,
                                                                plan.value(pid, level), cl.tied_with)}
            if outranked:
                entry["outranked_by"] = outranked[-1]
                entry["outranked_by_all"] = list(outranked)
            out.append(entry)
        return out


def _plan_view(ev: Evaluation) -> PlanView:
    rates = ev.optimization.inputs.rates if ev.optimization is not None and ev.request.strategy == "gain" else None
    return PlanView.of(ev.candidates, ev.quotas, {p.program: p.level for p in ev.allocation.picks},
                       ev.allocation.metric, rates, ev.context.get("scope") == "institution")


def _outcome(ev: Evaluation) -> dict[str, Any] | None:
    """Expected interviews and P(at least k) for the plan, from rates with named sources (None if unknown)."""
    opt = ev.optimization
    if opt is None or not opt.inputs.has_data():
        return None
    from ..plan.outcome import outcome

    decisions = {p.program: p.level for p in ev.allocation.picks}
    result: dict[str, Any] = outcome(decisions, opt.inputs.rates,
                                     programs=[p["id"] for p in ev.shortlist.programs]).to_json()
    result["strategy"] = opt.strategy
    result["notes"] = opt.inputs.notes(ev.policy_set.message)
    model = opt.inputs.model
    if model is not None and opt.inputs.uses_model():
        result["model"] = {"id": model.ref, "file": model.file, "population": model.population,
                           "applicant_types": list(model.applicant_types),
                           "sources": [src.describe() for _, src in sorted(model.sources.items())]}
    return result


def _optimizer(ev: Evaluation) -> dict[str, Any] | None:
    """What the solver did and why, and the rate (with its source) behind every signaled program."""
    opt = ev.optimization
    if opt is None or not opt.inputs.has_data():
        return None
    picked = {p.program: p.level for p in ev.allocation.picks}
    rates = {pid: {tier: (r.to_json() if r is not None else None) for tier, r in sorted(row.items())}
             for pid, row in sorted(opt.inputs.rates.items()) if pid in picked}
    return {
        "used": opt.plan is not None,
        "plan": opt.plan.to_json() if opt.plan is not None else None,
        "signals": opt.explanation["signals"],
        "unused_gains": opt.explanation["unused"],
        "rates": rates,
    }


def _context_entries(ev: Evaluation) -> dict[str, Any]:
    """The numbers this evaluation used, each with where it came from."""
    ps = ev.policy_set
    out: dict[str, Any] = {}
    for p in ps.policies:
        for name, param in sorted(p.parameters.items()):
            value = ev.context.get(name) if name in ev.context else param.value
            origin = source_text(ps, p.ref, param.source)
            if name == "step2_reference" and ev.context.get("step2_reference_origin") == "profile":
                origin = f"your profile ({ev.profile.file})"
            out[name] = {"value": value, "unit": param.unit, "policy": p.ref, "source": origin,
                         "note": param.note}
    if "step2_reference" not in out:
        origin = "your profile" if ev.context.get("step2_reference_origin") == "profile" else None
        out["step2_reference"] = {"value": ev.context.get("step2_reference"), "unit": "USMLE Step 2 CK",
                                  "policy": None, "source": origin,
                                  "note": None if origin else "not known for this specialty and cycle"}
    spec = ps.specialty
    sig_source = (source_text(ps, spec.ref, spec.specialty.signals_source)
                  if spec and spec.specialty and ev.signals.origin != "--signals" else "--signals on the command line")
    out["signals"] = {"value": {name: count for name, count in ev.signals.tiers}, "unit": "signals",
                      "policy": spec.ref if spec and ev.signals.origin != "--signals" else None,
                      "source": sig_source, "note": spec.specialty.signals_note if spec and spec.specialty else None}
    return dict(sorted(out.items()))

