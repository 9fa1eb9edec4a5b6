"""The chaining runtime: the only module that imports durable-rules.

durable-rules has silent failure modes (see docs/architecture.md); this module turns each into an error
(and runs each assertion's activations itself, see `_run_agenda`):
- action exceptions are caught by our own wrapper and re-raised with the rule id and policy;
- derived facts are never asserted from inside an action (that path drops facts no rule consumes);
  they are queued and asserted after the action returns, until a fixpoint or the firing bound;
- identical facts are de-duplicated before they reach the engine, so an "already observed" answer
  can only be a hash collision (a false duplicate): we retry with a salt, then fail loudly;
- every evaluation uses fresh session ids, deleted in `finally`, so the 1,024-session limit is never hit;
- rulesets are compiled once per process per policy set (they cannot be deleted), split so that no
  alpha node outgrows the C core's fixed tables (`capacity`: a full table hangs the engine);
- everything reaches the C core as JSON we write ourselves (`encode`): numbers never in exponent
  notation, which its parser cannot read;
- the rule stages of one evaluation run in a child process (`_Worker`) with a wall-clock and memory
  budget: a C core that loops, joins without end, divides by zero or runs out of memory is stopped,
  and the stage and rules involved are named (exit 3), while the caller's process is unharmed.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import struct
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import field
from functools import lru_cache
from typing import Any

import durable_rules_engine

from ..errors import EngineError
from ..policy.compiler import (
    SESSION_FACT,
    SESSION_RULE,
    TYPE_KEY,
    CompiledPart,
    CompiledStage,
    compile_stages,
    flat,
    policy_set_key,
)
from ..policy.model import AnyOf, Assertion, FindingAction, Pattern, PolicySet, Rule, Test
from ..policy.templates import render
from ..policy.values import MAX_MAGNITUDE, arithmetic, refs
from ..records import record
from .conditions import check, referenced_fields
from .facts import Fact, FactStore

DEFAULT_FIRING_BOUND_PER_FACT = 60
DEFAULT_FIRING_BOUND_MIN = 2_000

# Budgets of one evaluation's rule stages (documented in docs/reliability.md). The work is measured in
# CPU seconds of the engine process, so a busy machine does not fail a valid evaluation; a wall-clock cap
# catches an engine that waits instead of computing. The bundled policies need about 3 s of CPU for the
# largest input (2,000 programs), so a policy set may use 5 s: `signalwise evaluate` stays well inside
# 10 s and 500 MB on an idle machine whatever a policy does.
ENGINE_CPU_SECONDS = 5.0
ENGINE_WALL_SECONDS = 20.0
ENGINE_EXTRA_MB = 320
# The bundled policies run in this process; their work is bounded by the input limits, so their budget
# (checked between assertions) only guards against a bug.
TRUSTED_CPU_SECONDS = 60.0
_POLL = 0.05  # seconds between looks at the engine process
# The C core takes at most 255 properties per fact (MAX_OBJECT_PROPERTIES), `sid` and our keys included.
MAX_FACT_FIELDS = 240

_RESULT_OK, _NOT_HANDLED, _OBSERVED, _DEFERRED = 0, 1, 2, 3
_INPROCESS_ENV = "SIGNALWISE_ENGINE_INPROCESS"


@record(frozen=False)
class Firing:
    """One rule firing: what it matched, what it concluded, and its sentence."""

    rule: Rule
    matched: dict[str, int]            # alias -> fact id
    outputs: list[int]                 # fact ids asserted (new or already known)
    text: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0


@record(frozen=False)
class _Session:
    store: FactStore
    stage: CompiledStage
    rules: dict[str, Rule]
    firings: list[Firing]
    queue: deque[Fact] = field(default_factory=deque)
    errors: list[tuple[Rule, BaseException]] = field(default_factory=list)
    bound: int = 0
    count: int = 0


# ---------------------------------------------------------------- JSON the C core can read

def encode(value: Any) -> str:
    """JSON for durable-rules' parser: like `json.dumps`, but no number is written in exponent notation.

    The C core reads `1e-05` or `1e+16` as a number followed by garbage (error 204), so floats are
    written in plain decimal notation with at most 15 decimals (a magnitude below 10^-15 reaches it as 0).
    Python writes a float without an exponent when 10^-4 <= |x| < 10^16, so almost every fact takes the
    fast path (`json.dumps`); only one holding another float is written value by value.
    """
    if _plain(value):
        return _dumps(value)
    return _encode(value)


def _json_functions() -> tuple[Any, Any]:
    """`json.dumps(v, ensure_ascii=False)` and `json.loads(text)` for the thousands of facts and activations
    one evaluation passes through the C core, calling the json module's C encoder and scanner directly
    (its Python wrappers around them cost as much again; there is no circular value to check for)."""
    import json.encoder
    from json.decoder import JSONDecoder
    from json.encoder import JSONEncoder, encode_basestring

    scan = getattr(JSONDecoder(), "scan_once")  # noqa: B009 - not in the type stubs
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # noqa: B009
    if c_make_encoder is None:  # pragma: no cover - an interpreter without the json C speedups
        return JSONEncoder(ensure_ascii=False).encode, json.loads
    encoder = c_make_encoder(None, JSONEncoder(ensure_ascii=False).default, encode_basestring, None, ": ", ", ",
                             False, False, True)

    def dumps(value: Any) -> str:
        return "".join(encoder(value, 0))

    def loads(text: str) -> Any:
        return scan(text, 0)[0]

    return dumps, loads


_dumps, _loads = _json_functions()


def _plain(value: Any) -> bool:
    """Does `json.dumps` write this exactly as the C core must read it (no exponent, no NaN)?
    (A loop, not a recursion per value: it runs for every assertion.)"""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else (value,)
    for v in items:
        kind = type(v)
        if kind is float:
            if not (v == 0 or 1e-4 <= abs(v) < 1e16):
                return False
        elif (kind is list or kind is tuple or kind is dict) and not _plain(v):
            return False
    return True


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _decimal(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot pass a {type(value).__name__} to the rules engine")


def _decimal(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError(f"cannot pass the number {x} to the rules engine")
    text = repr(x)
    if "e" in text or "E" in text:
        text = f"{x:.15f}".rstrip("0")
        if text.endswith("."):
            text += "0"
    return "0.0" if text == "-0.0" else text


class _Payload(dict[str, Any]):
    """A fact with the session id, carrying the JSON the C core reads (`json`), written by `_payload`."""

    def __init__(self, values: Fact, json: str) -> None:
        super().__init__(values)
        self.json = json


def _payload(store: FactStore, fact: Fact, sid: str, ruleset: str = "", keep: frozenset[str] | None = None
             ) -> tuple[Fact, str]:
    """The fact as one ruleset reads it, with the session id: (dict, JSON for the C core).

    `keep`: the names the ruleset's conditions mention (`_mentioned`); other fields are left out (a
    ruleset cannot test what it does not name, and actions read the stored fact, not the engine's copy).
    The JSON is `encode(...)` of that dict, each fact's part written once per ruleset and evaluation
    (a fact is asserted into every ruleset that consumes it), with `, "sid": "..."}` added. The dict is
    a `_Payload` carrying that JSON, ready for `_Ruleset.assert_fact` (built once, not copied again)."""
    seen = fact if keep is None else {k: v for k, v in fact.items() if k in keep}
    fid = fact.get("_id")
    if type(fid) is not int or not 0 <= fid < len(store.facts) or store.facts[fid] is not fact:
        return _fresh(seen, sid)  # not a stored fact: nothing to remember it by
    key = (ruleset, fid)
    text = store.encoded.get(key)
    if text is None:
        if "sid" in seen or not seen or not _plain(seen):
            return _fresh(seen, sid)
        text = store.encoded[key] = _dumps(seen)
    text = f"{text[:-1]}, \"sid\": {_sid_json(sid)}}}"
    payload = _Payload(seen, text)
    payload["sid"] = sid
    return payload, text


def _fresh(seen: Fact, sid: str) -> tuple[Fact, str]:
    payload = {**seen, "sid": sid}
    text = encode(payload)
    return _Payload(payload, text), text


@lru_cache(maxsize=64)
def _sid_json(sid: str) -> str:
    """A session id as JSON (the same few ids for all the assertions of a stage)."""
    return _dumps(sid)


def _mentioned(definition: Any, out: set[str] | None = None) -> set[str]:
    """Every key and every string anywhere in a durable-rules definition: a superset of the fact fields
    its conditions test or reference (`{"code": ...}`, `{"$ex": {"field": 1}}`, `{"alias": "field"}`)."""
    out = set() if out is None else out
    if isinstance(definition, dict):
        for k, v in definition.items():
            out.add(str(k))
            _mentioned(v, out)
    elif isinstance(definition, list | tuple):
        for v in definition:
            _mentioned(v, out)
    elif isinstance(definition, str):
        out.add(definition)
    return out


def _ruleset_text(definition: dict[str, Any]) -> str:
    """A compiled ruleset's JSON for the C core: its rules without our own `run` key."""
    return encode({rid: {k: v for k, v in d.items() if k != "run"} for rid, d in definition.items()})


def _ruleset_texts(ps: PolicySet, parts: list[CompiledPart]) -> dict[str, tuple[str, list[str]]]:
    """Per ruleset: (its JSON for the C core, the names its definition mentions). Both are pure functions of
    the policies' content and signalwise's code, and encoding and walking every definition is a visible
    part of a cold start, so they are kept in the policy cache with the policy set's content as the key
    (file hashes in order); an entry that does not name exactly these rulesets is recomputed."""
    from ..policy import cache as policy_cache

    material = "".join(f"{p.ref}\0{p.sha256}\n" for p in ps.policies).encode()
    cached = policy_cache.lookup_derived("rulesets", material)
    names = [part.ruleset for part in parts]
    if isinstance(cached, dict) and sorted(cached) == sorted(names) and all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], list)
            and all(isinstance(k, str) for k in v[1]) for v in cached.values()):
        return {name: (text, keep) for name, (text, keep) in cached.items()}
    out = {part.ruleset: (_ruleset_text(part.definition), sorted(_mentioned(part.definition))) for part in parts}
    policy_cache.store_derived("rulesets", material, {k: list(v) for k, v in out.items()})
    return out


class _Ruleset:
    """One ruleset in durable-rules' C core, driven directly (no `durable.engine.Host`: it starts timer
    threads and writes JSON with `json.dumps`)."""

    def __init__(self, name: str, text: str) -> None:
        """`text`: the ruleset's rules as the C core reads them (`_ruleset_text`)."""
        self.name = name
        self.handle: int = durable_rules_engine.create_ruleset(name, text)

    def assert_fact(self, fact: Fact) -> tuple[int, int]:
        """(result code, state handle): 0 handled, 1 no rule's values fit, 2 already observed."""
        text = fact.json if type(fact) is _Payload else encode(fact)
        code, state = durable_rules_engine.assert_fact(self.handle, text)
        return int(code), int(state)

    def get_state(self, sid: str) -> Any:
        return json.loads(durable_rules_engine.get_state(self.handle, sid))

    def delete_state(self, sid: str) -> None:
        durable_rules_engine.delete_state(self.handle, sid)


def eval_value(value: Any, matched: dict[str, Fact]) -> Any:
    """Evaluate an assertion value against matched facts (literal, reference or arithmetic).

    Arithmetic takes numbers only and keeps results within ±10^15 (`values.MAX_MAGNITUDE`): anything
    else is an error of the rule that computes it (exit 3), never a huge string or an unbounded integer.
    """
    if isinstance(value, tuple) and value and value[0] == "ref":
        fact = matched.get(value[1]) or {}
        return fact.get(flat(value[2]))
    if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
        left, right = eval_value(value[1], matched), eval_value(value[2], matched)
        if left is None or right is None:
            return None
        for operand in (left, right):
            if not isinstance(operand, int | float) or isinstance(operand, bool):
                raise TypeError(f"'{value[0]}' needs numbers; got {type(operand).__name__} {str(operand)[:40]!r}")
        result = arithmetic(value[0], left, right)
        if result is not None and (not math.isfinite(result) or abs(result) > MAX_MAGNITUDE):
            raise ArithmeticError(f"'{value[0]}' of {left} and {right} is out of range (numbers in policies "
                                  f"stay within ±{MAX_MAGNITUDE:.0e})")
        return result
    return value


@record
class _Division:
    """A division in a rule's condition whose divisor reads fields of one fact (`policy.check` requires it)."""

    rule: Rule
    pattern: Pattern       # the pattern whose test divides
    test: int              # index of that test in the pattern
    divisor: Any           # the divisor's value expression
    alias: str             # the alias whose fields the divisor reads
    fact: str              # that alias's fact type


def _divisions(rule: Rule) -> list[_Division]:
    types = {p.alias: p.fact for p in rule.patterns}
    out: list[_Division] = []

    def walk(value: Any, pattern: Pattern, index: int) -> None:
        if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
            if value[0] == "div":
                aliases = {a for a, _ in refs(value[2])}
                if len(aliases) == 1:
                    (alias,) = aliases
                    if alias in types:
                        out.append(_Division(rule, pattern, index, value[2], alias, types[alias]))
            walk(value[1], pattern, index)
            walk(value[2], pattern, index)
        elif isinstance(value, tuple) and value and value[0] != "ref":
            for v in value:
                walk(v, pattern, index)

    def tests(ts: tuple[Test | AnyOf, ...], pattern: Pattern, index: int | None) -> None:
        for i, t in enumerate(ts):
            if isinstance(t, AnyOf):
                for g in t.groups:
                    tests(g, pattern, i if index is None else index)
            else:
                walk(t.value, pattern, i if index is None else index)
    for p in rule.patterns:
        tests(p.tests, p, None)
    return out


def _value_of(value: Any, alias: str, fact: Fact) -> Any:
    """A divisor's value for one fact: None if it reads a field the fact lacks (then nothing divides)."""
    if isinstance(value, tuple) and value and value[0] == "ref":
        return fact.get(flat(value[2])) if value[1] == alias else None
    if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
        left, right = _value_of(value[1], alias, fact), _value_of(value[2], alias, fact)
        if not all(isinstance(x, int | float) for x in (left, right)):
            return None
        return arithmetic(value[0], left, right)
    return value


def _reaches(d: _Division, fact: Fact, guards: frozenset[str]) -> bool:
    """Does the C core get as far as this division for `fact`? Its pattern's earlier tests on the fact
    itself must pass (a test that reads another fact is a join: the walk goes on past it)."""
    if d.pattern.alias != d.alias:
        return True  # the division happens when another fact joins this one
    if any(flat(g) not in fact for g in guards):
        return False
    for t in d.pattern.tests[:d.test]:
        if isinstance(t, Test) and any(a != d.alias for a, _ in refs(t.value)):
            continue  # a join: the C core compares it later, the walk goes on
        if not check(t, fact, d.alias, {}).passed:
            return False
    return True


def _check_divisors(divisions: list[_Division], stage: str, fact: Fact) -> None:
    for d in divisions:
        divisor = _value_of(d.divisor, d.alias, fact)
        if divisor is None or isinstance(divisor, str) or divisor != 0:
            continue
        if not _reaches(d, fact, referenced_fields(d.rule).get(d.alias, frozenset())):
            continue
        which = fact.get("id__") or fact.get("program") or f"#{fact.get('_id')}"
        raise EngineError(f"rule {d.rule.id} ({d.rule.policy}) divides by zero in stage '{stage}': its divisor "
                          f"{_show_value(d.divisor)} is 0 for the {d.fact} fact {which}. Test the divisor first "
                          "(e.g. `gt: 0`) in an earlier stage, or divide by something that cannot be zero")


def _show_value(value: Any) -> str:
    if isinstance(value, tuple) and value and value[0] == "ref":
        return f"${value[1]}.{value[2]}"
    if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
        return f"{{{value[0]}: [{_show_value(value[1])}, {_show_value(value[2])}]}}"
    return json.dumps(value)


_LITERAL, _REF, _COMPUTED = 0, 1, 2  # kinds of an assertion value in `_AssertStep`


@record
class _AssertStep:
    """An `Assertion` worked out once per runtime: each value is (key, kind, a, b): a literal (`a`), a
    reference to field `b` of alias `a`, or a computation (`a`, left to `eval_value`)."""

    fact: str
    values: tuple[tuple[str, int, Any, Any], ...]


def _plan(rule: Rule) -> tuple[_AssertStep | FindingAction, ...]:
    """A rule's actions as `_fire` runs them, so a firing does not classify values or flatten field
    names again (a rule fires hundreds of times in one evaluation)."""
    steps: list[_AssertStep | FindingAction] = []
    for act in rule.actions:
        if isinstance(act, Assertion):
            values: list[tuple[str, int, Any, Any]] = []
            for key, value in dict(act.values).items():  # a key given twice: its last value, as before
                if isinstance(value, tuple) and value and value[0] == "ref":
                    values.append((key, _REF, value[1], flat(value[2])))
                elif isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
                    values.append((key, _COMPUTED, value, None))
                else:
                    values.append((key, _LITERAL, value, None))
            steps.append(_AssertStep(act.fact, tuple(values)))
        elif isinstance(act, FindingAction):
            steps.append(act)
    return tuple(steps)


class Runtime:
    """Compiled rulesets for one policy set, evaluated one isolated session at a time."""

    def __init__(self, ps: PolicySet) -> None:
        self.policy_set = ps
        self.stages = {s.name: s for s in compile_stages(ps)}
        self._order = [s.name for s in ps.stages if s.name in self.stages and self.stages[s.name].rules]
        self._lock = threading.Lock()
        self._session: _Session | None = None
        self._worker: _Worker | None = None
        # The bundled policies are part of signalwise, reviewed and tested like its code: they run in this
        # process (within the same time budget, checked between assertions). Any other policy set is
        # untrusted input and runs in an engine process that can be stopped (`_Worker`).
        self.untrusted = _untrusted(ps)
        self._rules = {r.id: r for s in self.stages.values() for r in s.rules}
        self._plans = {r.id: _plan(r) for r in self._rules.values()}
        # Divisions whose divisor a fact of a given type decides, per ruleset: checked before asserting.
        self._divisions: dict[str, dict[str, list[_Division]]] = {}
        for stage in self.stages.values():
            for part in stage.parts:
                by_type: dict[str, list[_Division]] = {}
                for rule in part.rules:
                    for d in _divisions(rule):
                        by_type.setdefault(d.fact, []).append(d)
                self._divisions[part.ruleset] = by_type
        # The fields each ruleset can see: what its rules mention, and the bookkeeping keys.
        texts = _ruleset_texts(ps, [part for stage in self.stages.values() for part in stage.parts])
        self._keep: dict[str, frozenset[str]] = {
            name: frozenset(keep) | {TYPE_KEY, "_id"} for name, (_, keep) in texts.items()}
        self._rulesets: dict[str, _Ruleset] = {}
        for stage in self.stages.values():
            for part in stage.parts if stage.rules else ():
                try:
                    self._rulesets[part.ruleset] = _Ruleset(part.ruleset, texts[part.ruleset][0])
                except Exception as exc:  # the C core rejects a ruleset: an unsupported condition
                    raise EngineError(f"the rules engine rejected the compiled policies in stage '{stage.name}' "
                                      f"({_names(part.rules)}): {exc}") from None

    def _run_agenda(self, ruleset: _Ruleset, state_handle: int) -> None:
        """Fire the activations an assertion created, straight from the C core.

        durable-rules' own loop wraps every activation in Closure/Content objects and re-serialises
        the session state after each one; our actions neither read nor change that state, so we hand the
        matched facts to the action and pass the state through unchanged. Same C calls, same order.
        """
        handle = ruleset.handle
        result = durable_rules_engine.start_action_for_state(handle, state_handle)
        if not result:
            return
        state = result[0]
        message = result[1]
        session, rules = self._session, self._rules
        while message:
            ((name, matched),) = _loads(message).items()
            if name != SESSION_RULE and session is not None:  # the session's opening rule does nothing
                rule = rules[name]
                try:
                    self._fire(session, rule, matched)
                except BaseException as exc:  # recorded and re-raised after the engine call returns
                    session.errors.append((rule, exc))
            durable_rules_engine.update_state(handle, state)
            message = durable_rules_engine.complete_and_start_action(handle, state_handle)

    def _fire(self, s: _Session, rule: Rule, raw: dict[str, Any]) -> None:
        s.count += 1
        if s.count > s.bound:
            raise _Runaway()
        facts = s.store.facts
        matched_ids = {alias: int(f["_id"]) for alias, f in raw.items() if "_id" in f}
        matched = {alias: facts[fid] for alias, fid in matched_ids.items()}
        outputs: list[int] = []
        findings: list[dict[str, Any]] = []
        text = render(rule.because, matched)
        for step in self._plans[rule.id]:
            if isinstance(step, _AssertStep):
                fact: Fact = {TYPE_KEY: step.fact}
                for key, kind, a, b in step.values:
                    if kind == _LITERAL:
                        value = a
                    elif kind == _REF:
                        source = matched.get(a)
                        value = source.get(b) if source else None
                    else:
                        value = eval_value(a, matched)
                    if value is not None:
                        fact[key] = value
                fact["rule"] = rule.id
                fid, new = s.store.add(fact)
                outputs.append(fid)
                if new:
                    s.queue.append(facts[fid])
            else:
                findings.append({"level": step.level, "program": eval_value(step.program, matched)})
        s.firings.append(Firing(rule, matched_ids, outputs, text, findings, seq=len(s.firings)))

    # ------------------------------------------------------------ one stage

    def run_stage(self, name: str, store: FactStore, firings: list[Firing], bound: int) -> None:
        """Assert the facts a stage consumes, chain to a fixpoint, record every firing in `firings`.

        The work runs in the evaluation's engine process (`_Worker`), within the evaluation's budget.
        """
        stage = self.stages.get(name)
        if stage is None or not stage.rules:
            return
        if not self.untrusted or not _can_isolate():
            self.run_stage_here(stage, store, firings, bound)
            return
        with self._lock, _WORKERS_LOCK:  # one request at a time per engine process
            worker = self._worker
            if worker is None or not worker.alive:
                worker = self._worker = _Worker.start(self)
            elif worker in _Worker.live:  # most recently used last
                _Worker.live.remove(worker)
                _Worker.live.append(worker)
            worker.run(stage, store, firings, bound)

    def run_stage_here(self, stage: CompiledStage, store: FactStore, firings: list[Firing], bound: int,
                       progress: _Progress | None = None) -> None:
        """Run one stage in this process (the engine process, or the caller when isolation is off)."""
        with self._lock:
            session = _Session(store, stage, {r.id: r for r in stage.rules}, firings, bound=bound,
                               count=len(firings))
            self._session = session
            opened: list[tuple[CompiledPart, _Ruleset, str]] = []
            try:
                for part in stage.parts:
                    ruleset, sid = self._rulesets[part.ruleset], os.urandom(16).hex()
                    opened.append((part, ruleset, sid))
                    code, handle = ruleset.assert_fact({TYPE_KEY: SESSION_FACT, "sid": sid})
                    self._run_agenda(ruleset, handle)
                # Facts tested under `not` go first: negation is not re-checked after later assertions.
                initial = [f for ftype in stage.consumes for f in store.by_type.get(ftype, ())]
                initial.sort(key=lambda f: (f[TYPE_KEY] not in stage.negated, f["_id"]))
                for fact in initial:
                    self._assert_everywhere(session, opened, fact, progress)
                while session.queue:
                    fact = session.queue.popleft()
                    if fact[TYPE_KEY] in stage.consumes:
                        self._assert_everywhere(session, opened, fact, progress)
                for _, ruleset, sid in opened:
                    self._check_state(session, ruleset, sid)
            finally:
                self._session = None
                for _, ruleset, sid in opened:
                    self._drop_session(ruleset, sid)

    def _assert_everywhere(self, s: _Session, opened: list[tuple[CompiledPart, _Ruleset, str]], fact: Fact,
                           progress: _Progress | None) -> None:
        if len(fact) > MAX_FACT_FIELDS:
            rules = [r for r in s.stage.rules if any(p.fact == fact[TYPE_KEY] for p in r.patterns)]
            raise EngineError(f"a {fact[TYPE_KEY]} fact in stage '{s.stage.name}' has {len(fact)} fields; the rules "
                              f"engine takes at most {MAX_FACT_FIELDS} ({_names(rules)})")
        if progress is None and time.process_time() > s.store.started_cpu + TRUSTED_CPU_SECONDS:
            raise EngineError(f"the rules engine did not finish within its budget of {TRUSTED_CPU_SECONDS:g} s of "
                              f"computing for this evaluation in stage '{s.stage.name}' ({_names(s.stage.rules)})")
        for index, (part, ruleset, sid) in enumerate(opened):
            if fact[TYPE_KEY] in part.consumes:
                if progress is not None:
                    progress.note(index, int(fact["_id"]))
                divisions = self._divisions[part.ruleset].get(fact[TYPE_KEY])
                if divisions:
                    _check_divisors(divisions, s.stage.name, fact)
                self._assert(s, part, ruleset, sid, fact)

    @staticmethod
    def _drop_session(ruleset: _Ruleset, sid: str) -> None:
        """Free the session slot (at most 1,024 live sessions per ruleset)."""
        try:
            ruleset.get_state(sid)
        except Exception:
            return  # the session was never created (the opening assert failed): nothing to free
        ruleset.delete_state(sid)

    def _assert(self, s: _Session, part: CompiledPart, ruleset: _Ruleset, sid: str, fact: Fact) -> None:
        payload, _ = _payload(s.store, fact, sid, part.ruleset, self._keep.get(part.ruleset))
        for salt in range(4):
            if salt:
                payload = {**payload, "_salt": salt}  # a plain dict: encoded afresh
            try:
                code, handle = ruleset.assert_fact(payload)
            except MemoryError:
                raise EngineError(f"the rules engine ran out of memory in stage '{s.stage.name}' on a "
                                  f"{fact[TYPE_KEY]} fact ({_consumers(part, fact)})") from None
            except durable_rules_engine.error as exc:  # the C core refused: a policy/engine fault, not input
                raise EngineError(f"the rules engine failed on a {fact[TYPE_KEY]} fact in stage "
                                  f"'{s.stage.name}' ({_consumers(part, fact)}): {exc}") from None
            if code == _OBSERVED:
                continue  # distinct content (we de-duplicate first): a hash collision, retry salted
            if code == _RESULT_OK:
                self._run_agenda(ruleset, handle)
            break  # _NOT_HANDLED: no rule's conditions mention this fact's values: nothing to do
        else:
            raise EngineError("the rules engine kept rejecting a distinct fact as a duplicate: "
                              f"{fact[TYPE_KEY]}")
        self._check(s)

    def _check(self, s: _Session) -> None:
        if s.errors:
            rule, exc = s.errors[0]
            if isinstance(exc, _Runaway):
                raise EngineError(_runaway_message(s))
            raise EngineError(f"rule {rule.id} ({rule.policy}) failed while firing: "
                              f"{type(exc).__name__}: {exc}")

    def _check_state(self, s: _Session, ruleset: _Ruleset, sid: str) -> None:
        """Once per stage: anything the engine itself recorded as an action failure is an error too."""
        state = ruleset.get_state(sid)
        if isinstance(state, dict) and state.get("exception"):
            raise EngineError(f"the rules engine reported an action failure in stage {s.stage.name}: "
                              f"{str(state['exception']).split(', traceback')[0]}")


class _Runaway(Exception):
    pass


def _runaway_message(s: _Session) -> str:
    recent = Counter(f.rule.id for f in s.firings[-200:])
    loop = ", ".join(f"{rid} ({n}x)" for rid, n in sorted(recent.items(), key=lambda kv: (-kv[1], kv[0])))
    policies = sorted({f.rule.policy for f in s.firings[-200:]})
    return (f"rules kept firing past the bound of {s.bound} firings in stage '{s.stage.name}': "
            f"likely a loop between {loop} (policies: {', '.join(policies)}). "
            "Each firing derived a new fact that triggered the next; make the derived facts converge.")


def _names(rules: Any, limit: int = 8) -> str:
    """'rules a, b (policy@1.0.0); c (other@1.0.0)', at most `limit` rules, grouped by policy."""
    rules = list(rules)
    by_policy: dict[str, list[str]] = {}
    for r in rules[:limit]:
        by_policy.setdefault(r.policy, []).append(r.id)
    text = "; ".join(f"{', '.join(ids)} ({policy})" for policy, ids in by_policy.items())
    more = f" and {len(rules) - limit} more" if len(rules) > limit else ""
    return f"rule{'s' if len(rules) != 1 else ''} {text}{more}" if rules else "no rule"


def _consumers(part: CompiledPart, fact: Fact) -> str:
    """The rules of a ruleset that match facts of this type, most likely culprit first: rules that join
    several facts of this type (their partial matches grow with its square or cube), then wider joins."""
    ftype = fact[TYPE_KEY]
    rules = [r for r in part.rules if any(p.fact == ftype for p in r.patterns)]
    rules.sort(key=lambda r: (-sum(p.fact == ftype and not p.negated for p in r.patterns), -len(r.patterns), r.id))
    return _names(rules, limit=5)


# ---------------------------------------------------------------- the engine process

def _untrusted(ps: PolicySet) -> bool:
    """Is any policy of the set other than a bundled policy file, byte for byte?"""
    from ..policy.catalogue import bundled_hashes

    return not all(_is_bundled_file(p.file, p.sha256) for p in ps.policies) and \
        not all(p.sha256 in bundled_hashes() for p in ps.policies)


def _is_bundled_file(display: str, sha256: str) -> bool:
    """Fast path of `_untrusted`: is the bundled file of the same name (`policies/...`) this very text?
    Hashing the few files of one set instead of every bundled file (a fifth of a cold run's rule time);
    a no here is not final: the caller then compares with the hash of every bundled file."""
    import fnmatch
    import hashlib

    from ..policy.catalogue import bundled_root

    rel = display.removeprefix("policies/")
    if rel == display or ".." in rel.split("/") or not fnmatch.fnmatch(rel, "*.y*ml"):
        return False  # only a file that `bundled_hashes` would hash too
    path = bundled_root() / rel
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest() == sha256
    except (OSError, ValueError):
        return False


def _can_isolate() -> bool:
    """`SIGNALWISE_ENGINE_INPROCESS=1` runs every policy set in this process (for debugging: the time
    budget is then checked between assertions only, and a C-level crash takes the process down)."""
    return hasattr(os, "fork") and os.environ.get(_INPROCESS_ENV) != "1"


class _Progress:
    """Where the engine process is: the stage, the ruleset part and the fact it is asserting.

    Shared memory written by the engine process before every assertion, read by the caller when the
    engine must be stopped, so the message can name the stage and the rules that were matching.
    """

    _FORMAT = "qqq"

    def __init__(self) -> None:
        import mmap

        self._mem = mmap.mmap(-1, struct.calcsize(self._FORMAT))
        self.stage = -1
        self.set(-1, -1, -1)

    def set(self, stage: int, part: int, fact: int) -> None:
        struct.pack_into(self._FORMAT, self._mem, 0, stage, part, fact)

    def note(self, part: int, fact: int) -> None:
        struct.pack_into(self._FORMAT, self._mem, 0, self.stage, part, fact)

    def get(self) -> tuple[int, int, int]:
        stage, part, fact = struct.unpack_from(self._FORMAT, self._mem, 0)
        return int(stage), int(part), int(fact)

    def close(self) -> None:
        self._mem.close()


_WORKERS_LOCK = threading.RLock()  # guards _Worker.live (engine processes of several runtimes)


class _Worker:
    """A child process that runs the rule stages of a runtime's evaluations.

    Forked from the caller once per runtime (so it starts with the compiled rulesets) and reused by the
    evaluations that follow; each rule stage is a request carrying the facts the caller added since the
    last one, answered with the facts and firings the stage derived. The child may compute for
    ENGINE_CPU_SECONDS per evaluation (its CPU time, read from /proc while the caller waits) and at most
    ENGINE_WALL_SECONDS may pass from the evaluation's start; its address space may grow by
    ENGINE_EXTRA_MB. A child that overruns is killed; one that dies (a C-level crash such as SIGFPE) is
    reported. Either way the error names the stage, the fact being asserted and the rules
    matching it (exit 3), and the next evaluation gets a fresh child.
    """

    live: list[_Worker] = []  # at most MAX_WORKERS, most recently used last
    MAX_WORKERS = 2

    def __init__(self, runtime: Runtime, pid: int, to_child: int, from_child: int, progress: _Progress) -> None:
        self.runtime = runtime
        self.pid = pid
        self.to_child = to_child
        self.from_child = from_child
        self.progress = progress
        self.alive = True
        self.evaluation = ""  # token of the evaluation whose facts the child holds
        self.synced = 0       # how many of that evaluation's facts the child has
        self.cpu_start = 0.0  # the child's CPU seconds when that evaluation began
        # Killed when this object goes, and at interpreter exit: no engine process outlives the caller.
        self._finalizer = weakref.finalize(self, _kill, pid)

    @classmethod
    def start(cls, runtime: Runtime) -> _Worker:
        # What the engine process needs, imported here (before the fork), not with this module: an
        # evaluation of the bundled policies never starts one.
        import faulthandler  # noqa: F401
        import pickle  # noqa: F401
        import select  # noqa: F401
        import signal  # noqa: F401

        while len(cls.live) >= cls.MAX_WORKERS:
            cls.live[0].close()
        progress = _Progress()
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the engine process: never returns
            code = 0
            try:
                os.close(down_w)
                os.close(up_r)
                for other in cls.live:  # the pipes of other engine processes are not ours
                    for fd in (other.to_child, other.from_child):
                        with contextlib.suppress(OSError):
                            os.close(fd)
                _serve(runtime, down_r, up_w, progress)
            except BaseException:
                code = 70
            finally:
                os._exit(code)
        os.close(down_r)
        os.close(up_w)
        for fd in (down_w, up_r):  # room for a whole request or reply, so neither side waits to write
            with contextlib.suppress(OSError, AttributeError):
                import fcntl

                fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        worker = cls(runtime, pid, down_w, up_r, progress)
        cls.live.append(worker)
        return worker

    def run(self, stage: CompiledStage, store: FactStore, firings: list[Firing], bound: int) -> None:
        import pickle

        deadline = store.started + ENGINE_WALL_SECONDS
        stage_index = list(self.runtime.stages).index(stage.name)
        if store.engine != self.evaluation or not self.evaluation:
            store.engine = self.evaluation = os.urandom(16).hex()
            self.synced = 0
            self.cpu_start = _cpu_seconds(self.pid) or 0.0

        def within_budget() -> None:
            if time.monotonic() > deadline:
                raise _Timeout(f"did not finish within {ENGINE_WALL_SECONDS:g} s of this evaluation")
            cpu = _cpu_seconds(self.pid)
            if cpu is not None and cpu - self.cpu_start > ENGINE_CPU_SECONDS:
                raise _Timeout(f"did not finish within its budget of {ENGINE_CPU_SECONDS:g} s of computing "
                               "for this evaluation")

        within_budget()
        request = pickle.dumps((self.evaluation, stage.name, bound, store.facts[self.synced:],
                                [_firing_tuple(f) for f in firings] if self.synced == 0 else None))
        try:
            _send(self.to_child, request)
            reply = _receive(self.from_child, within_budget)
        except _Timeout as exc:
            message = self._stopped(stage, stage_index, store, str(exc))
            self._kill()
            raise EngineError(message) from None
        except OSError:
            reply = None
        except BaseException:  # Ctrl-C: the engine process stops with us
            self._kill()
            raise
        if reply is None:  # the engine process died
            where = self.progress.get()
            status = self._kill()
            raise EngineError(self._stopped(stage, stage_index, store, _death(status), where)) from None
        kind, *rest = pickle.loads(reply)
        if kind == "memory":
            message = self._stopped(stage, stage_index, store,
                                    f"needed more than its memory budget of {ENGINE_EXTRA_MB} MB")
        if kind != "ok":
            self.close()  # the engine process exits after an error: the next evaluation gets a fresh one
        if kind == "engine":
            raise EngineError(rest[0])
        if kind == "memory":
            raise EngineError(message)
        if kind == "bug":
            raise RuntimeError(f"in the rules engine process: {rest[0]}")
        new_facts, new_firings = rest
        for fact in new_facts:
            fid, _ = store.add({k: v for k, v in fact.items() if k != "_id"})
            if fid != fact["_id"]:  # pragma: no cover - the two stores diverged: a bug
                raise RuntimeError(f"the engine process's fact {fact['_id']} became {fid}")
        for rule_id, matched, outputs, text, findings, seq in new_firings:
            firings.append(Firing(self.runtime._rules[rule_id], matched, outputs, text, findings, seq))
        self.synced = len(store.facts)

    def _stopped(self, stage: CompiledStage, stage_index: int, store: FactStore, what: str,
                 where_now: tuple[int, int, int] | None = None) -> str:
        at_stage, part_index, fact_id = where_now or self.progress.get()
        fact = store.facts[fact_id] if at_stage == stage_index and 0 <= fact_id < len(store.facts) else None
        parts = stage.parts
        if fact is not None and 0 <= part_index < len(parts):
            where = f"while matching a {fact[TYPE_KEY]} fact against {_consumers(parts[part_index], fact)}"
        else:
            where = f"in {_names(stage.rules)}"
        return (f"the rules engine {what} in stage '{stage.name}', {where}. A join of several facts can grow "
                "with the product of their numbers, and a division by a value that can be zero stops the "
                "engine: narrow the patterns with conditions, or check the divisors")

    def _kill(self) -> int:
        if self in _Worker.live:
            _Worker.live.remove(self)
        self.alive = False
        self._finalizer.detach()
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        status = _kill(self.pid)
        self.progress.close()
        return status

    def close(self) -> None:
        if self.alive:
            self._kill()


def _firing_tuple(f: Firing) -> tuple[Any, ...]:
    return (f.rule.id, f.matched, f.outputs, f.text, f.findings, f.seq)


class _Timeout(Exception):
    """The engine process overran its budget; the message says which."""


def _kill(pid: int) -> int:
    """Stop an engine process (if it still runs) and reap it; return its wait status."""
    import signal

    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    return status


def _death(status: int) -> str:
    import signal

    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGFPE:
            return "was stopped by an arithmetic fault (an integer division by zero)"
        if sig == signal.SIGKILL:
            return "was killed (out of memory?)"
        return f"crashed ({signal.Signals(sig).name})"
    return f"stopped unexpectedly (exit status {os.WEXITSTATUS(status) if os.WIFEXITED(status) else status})"


def _send(fd: int, data: bytes) -> None:
    view = memoryview(struct.pack("!Q", len(data)) + data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _read_exactly(fd: int, n: int, check: Callable[[], None] | None) -> bytes | None:
    import select

    chunks: list[bytes] = []
    while n:
        if check is not None:
            while not select.select([fd], [], [], _POLL)[0]:
                check()  # raises _Timeout when the budget is spent
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int, check: Callable[[], None] | None) -> bytes | None:
    head = _read_exactly(fd, 8, check)
    if head is None:
        return None
    (size,) = struct.unpack("!Q", head)
    return _read_exactly(fd, size, check)


def _limit_memory(extra_mb: int) -> None:
    """Let this process's address space grow by at most `extra_mb` (Linux: from /proc/self/status)."""
    try:
        import resource

        with open("/proc/self/status", encoding="ascii") as fh:
            size_kb = next(int(line.split()[1]) for line in fh if line.startswith("VmSize:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size_kb * 1024 + extra_mb * 1024 * 1024
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, StopIteration, ImportError):
        return  # not Linux: the wall-clock budget still applies


def _serve(runtime: Runtime, requests: int, replies: int, progress: _Progress) -> None:
    """The engine process's loop: run each requested stage, answer with what it derived.

    It holds the facts and firings of the evaluation it serves; a request for another evaluation
    starts from the facts it carries. It exits when the caller closes the pipe or after an error.
    """
    import faulthandler  # (all three already imported by _Worker.start, before the fork)
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C stops the engine at once, even inside C
    faulthandler.disable()  # a crash here is reported by the caller, never as a traceback dump
    runtime._lock = threading.Lock()  # forked while the caller held it; this process has one thread
    global _WORKERS_LOCK
    _WORKERS_LOCK = threading.RLock()
    _limit_memory(ENGINE_EXTRA_MB)
    names = list(runtime.stages)
    evaluation, store, firings = "", FactStore(), list[Firing]()
    while True:
        data = _receive(requests, None)
        if data is None:
            return
        token, name, bound, new_facts, all_firings = pickle.loads(data)
        if token != evaluation:
            evaluation, store, firings = token, FactStore(), []
        for fact in new_facts:
            store.add({k: v for k, v in fact.items() if k != "_id"})
        if all_firings is not None:
            firings = [Firing(runtime._rules[t[0]], *t[1:]) for t in all_firings]
        facts_before, firings_before = len(store.facts), len(firings)
        progress.stage = names.index(name)
        progress.set(progress.stage, -1, -1)
        reply: tuple[Any, ...]
        try:
            runtime.run_stage_here(runtime.stages[name], store, firings, bound, progress)
            reply = ("ok", store.facts[facts_before:], [_firing_tuple(f) for f in firings[firings_before:]])
        except EngineError as exc:
            reply = ("engine", str(exc))
        except MemoryError:
            reply = ("memory",)
        except Exception as exc:  # a bug in signalwise: the caller reports it as an internal error
            reply = ("bug", f"{type(exc).__name__}: {exc}")
        _send(replies, pickle.dumps(reply))
        if reply[0] != "ok":
            return


# ---------------------------------------------------------------- one runtime per policy set

_RUNTIMES: dict[str, Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def runtime_for(ps: PolicySet) -> Runtime:
    """Compile once per process per policy set (rulesets cannot be removed from durable-rules)."""
    key = policy_set_key(ps)
    with _RUNTIMES_LOCK:
        rt = _RUNTIMES.get(key)
        if rt is None:
            rt = Runtime(ps)
            _RUNTIMES[key] = rt
        return rt


def firing_bound(n_facts: int) -> int:
    return max(DEFAULT_FIRING_BOUND_MIN, DEFAULT_FIRING_BOUND_PER_FACT * n_facts)
