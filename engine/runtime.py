"""The chaining runtime: the only module that imports durable-rules.

durable-rules has silent failure modes (see docs/architecture.md); this module turns each into an error
(and runs each assertion's activations itself, see `_run_agenda`):
- action exceptions are caught by our own wrapper and re-raised with the rule id and policy;
- derived facts are never asserted from inside an action (that path drops facts no rule consumes);
  they are queued and asserted after the action returns, until a fixpoint or the firing bound;
- identical facts are de-duplicated before they reach the engine, so a `MessageObservedException`
  can only be a hash collision (a false duplicate): we retry with a salt, then fail loudly;
- every evaluation uses a fresh session id, deleted in `finally`, so the 1,024-session limit is never hit;
- rulesets are compiled once per process per policy set (they cannot be deleted).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import durable_rules_engine
from durable import engine as durable_engine

from .compiler import (
    SESSION_FACT,
    SESSION_RULE,
    TYPE_KEY,
    CompiledStage,
    compile_stages,
    flat,
    policy_set_key,
)
from .errors import EngineError
from .facts import Fact, FactStore
from .model import Assertion, FindingAction, PolicySet, Rule
from .templates import render
from .values import arithmetic

DEFAULT_FIRING_BOUND_PER_FACT = 60
DEFAULT_FIRING_BOUND_MIN = 2_000


@dataclass
class Firing:
    """One rule firing: what it matched, what it concluded, and its sentence."""

    rule: Rule
    matched: dict[str, int]            # alias -> fact id
    outputs: list[int]                 # fact ids asserted (new or already known)
    text: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0


@dataclass
class _Session:
    store: FactStore
    stage: CompiledStage
    rules: dict[str, Rule]
    firings: list[Firing]
    queue: deque[Fact] = field(default_factory=deque)
    errors: list[tuple[Rule, BaseException]] = field(default_factory=list)
    bound: int = 0
    count: int = 0


class _Host(durable_engine.Host):
    def __init__(self, actions: dict[str, Any]) -> None:
        self._actions = actions
        super().__init__()

    def get_action(self, action_name: str) -> Any:
        return self._actions[action_name]

    def _run(self) -> None:
        """Start no background threads: durable-rules' Host polls every ruleset from two timer threads
        every 0.2 s and would run pending activations itself, racing our synchronous agenda."""


def eval_value(value: Any, matched: dict[str, Fact]) -> Any:
    """Evaluate an assertion value against matched facts (literal, reference or arithmetic)."""
    if isinstance(value, tuple) and value and value[0] == "ref":
        fact = matched.get(value[1]) or {}
        return fact.get(flat(value[2]))
    if isinstance(value, tuple) and value and value[0] in ("add", "sub", "mul", "div"):
        left, right = eval_value(value[1], matched), eval_value(value[2], matched)
        if left is None or right is None:
            return None
        return arithmetic(value[0], left, right)
    return value


class Runtime:
    """Compiled rulesets for one policy set, evaluated one isolated session at a time."""

    def __init__(self, ps: PolicySet) -> None:
        self.policy_set = ps
        self.stages = {s.name: s for s in compile_stages(ps)}
        self._lock = threading.Lock()
        self._session: _Session | None = None
        actions: dict[str, Any] = {r.id: self._make_action(r) for s in self.stages.values() for r in s.rules}
        actions[SESSION_RULE] = lambda matched: None
        self._actions = actions
        self._host = _Host(actions)
        try:
            self._host.register_rulesets({s.ruleset: s.definition for s in self.stages.values() if s.rules})
        except Exception as exc:  # the C core rejects a ruleset: a compiler bug or an unsupported condition
            raise EngineError(f"the rules engine rejected the compiled policies: {exc}") from None

    def _make_action(self, rule: Rule) -> Any:
        def action(matched: dict[str, Any]) -> None:
            session = self._session
            if session is None:  # pragma: no cover - only if durable fires outside evaluate()
                return
            try:
                self._fire(session, rule, matched)
            except BaseException as exc:  # recorded and re-raised after the engine call returns
                session.errors.append((rule, exc))
        return action

    def _run_agenda(self, ruleset: Any, state_handle: int) -> None:
        """Fire the activations an assertion created, straight from the C core.

        durable-rules' own loop wraps every activation in Closure/Content objects and re-serialises
        the session state after each one; our actions neither read nor change that state, so we hand the
        matched facts to the action and pass the state through unchanged. Same C calls, same order.
        """
        handle = ruleset._handle
        result = durable_rules_engine.start_action_for_state(handle, state_handle)
        if not result:
            return
        state = result[0]
        message = result[1]
        while message:
            ((name, matched),) = json.loads(message).items()
            self._actions[name](matched)
            durable_rules_engine.update_state(handle, state)
            message = durable_rules_engine.complete_and_start_action(handle, state_handle)

    def _fire(self, s: _Session, rule: Rule, raw: dict[str, Any]) -> None:
        s.count += 1
        if s.count > s.bound:
            raise _Runaway()
        matched_ids = {alias: int(f["_id"]) for alias, f in raw.items() if "_id" in f}
        matched = {alias: s.store.get(fid) for alias, fid in matched_ids.items()}
        outputs: list[int] = []
        findings: list[dict[str, Any]] = []
        text = render(rule.because, matched)
        for act in rule.actions:
            if isinstance(act, Assertion):
                values = {k: eval_value(v, matched) for k, v in act.values}
                fact: Fact = {TYPE_KEY: act.fact, **{k: v for k, v in values.items() if v is not None}}
                fact["rule"] = rule.id
                fid, new = s.store.add(fact)
                outputs.append(fid)
                if new:
                    s.queue.append(s.store.get(fid))
            elif isinstance(act, FindingAction):
                findings.append({"level": act.level, "program": eval_value(act.program, matched)})
        s.firings.append(Firing(rule, matched_ids, outputs, text, findings, seq=len(s.firings)))

    def run_stage(self, name: str, store: FactStore, firings: list[Firing], bound: int) -> None:
        """Assert the facts a stage consumes, chain to a fixpoint, record every firing in `firings`."""
        stage = self.stages.get(name)
        if stage is None or not stage.rules:
            return
        with self._lock:
            session = _Session(store, stage, {r.id: r for r in stage.rules}, firings, bound=bound,
                               count=len(firings))
            self._session = session
            sid = uuid.uuid4().hex
            try:
                opening = self._host.get_ruleset(stage.ruleset)
                self._run_agenda(opening, opening.assert_fact({TYPE_KEY: SESSION_FACT, "sid": sid}))
                # Facts tested under `not` go first: negation is not re-checked after later assertions.
                initial = [f for f in store.facts if f[TYPE_KEY] in stage.consumes]
                initial.sort(key=lambda f: (f[TYPE_KEY] not in stage.negated, f["_id"]))
                for fact in initial:
                    self._assert(session, sid, fact)
                while session.queue:
                    fact = session.queue.popleft()
                    if fact[TYPE_KEY] in stage.consumes:
                        self._assert(session, sid, fact)
                self._check_state(session, sid)
            finally:
                self._session = None
                self._drop_session(stage.ruleset, sid)

    def _drop_session(self, ruleset: str, sid: str) -> None:
        """Free the session slot (at most 1,024 live sessions per ruleset)."""
        try:
            self._host.get_state(ruleset, sid)
        except Exception:
            return  # the session was never created (the opening assert failed): nothing to free
        self._host.delete_state(ruleset, sid)

    def _assert(self, s: _Session, sid: str, fact: Fact) -> None:
        payload = {**fact, "sid": sid}
        for salt in range(4):
            try:
                if salt:
                    payload["_salt"] = salt
                ruleset = self._host.get_ruleset(s.stage.ruleset)
                state_handle = ruleset.assert_fact(payload)
                self._run_agenda(ruleset, state_handle)
                break
            except durable_engine.MessageNotHandledException:
                break  # no rule's conditions mention this fact's values: nothing to do
            except durable_engine.MessageObservedException:
                continue  # distinct content (we de-duplicate first): a hash collision, retry salted
            except MemoryError:
                raise EngineError("the rules engine ran out of sessions or memory") from None
            except durable_rules_engine.error as exc:  # the C core refused: a policy/engine fault, not input
                raise EngineError(f"the rules engine failed on a {fact[TYPE_KEY]} fact in stage "
                                  f"{s.stage.name}: {exc}") from None
        else:
            raise EngineError("the rules engine kept rejecting a distinct fact as a duplicate: "
                              f"{fact[TYPE_KEY]}")
        self._check(s, sid)

    def _check(self, s: _Session, sid: str) -> None:
        if s.errors:
            rule, exc = s.errors[0]
            if isinstance(exc, _Runaway):
                raise EngineError(_runaway_message(s))
            raise EngineError(f"rule {rule.id} ({rule.policy}) failed while firing: "
                              f"{type(exc).__name__}: {exc}")

    def _check_state(self, s: _Session, sid: str) -> None:
        """Once per stage: anything the engine itself recorded as an action failure is an error too."""
        state = self._host.get_state(s.stage.ruleset, sid)
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
