"""The chaining runtime turns every silent failure of durable-rules into a clear error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from signalwise.engine.chain import runtime
from signalwise.engine.chain.runtime import Runtime
from signalwise.engine.errors import EngineError
from signalwise.engine.pipeline import Request, evaluate

from .conftest import run_cli

CORE = """
id: test.core
kind: guidance
version: 1.0.0
requires_engine: ">=1.0,<2"
title: Test stages
sources: {t: {title: test, reliability: assumption}}
stages:
  - {name: work, kind: rules}
  - {name: allocate, kind: allocate}
"""

PROFILE = """
specialty: test-specialty
cycle: test-2026
applicant:
  graduate_type: us-img
  graduation_year: 2024
  exams: {step2_ck: 230}
"""

PROGRAMS = "id,name,state,setting\nT-1,Fictional Test Hospital,OH,community\n"


def policy_root(tmp_path: Path, rules: str) -> Path:
    root = tmp_path / "policies"
    (root / "guidance").mkdir(parents=True)
    (root / "cycles").mkdir()
    (root / "guidance" / "core.yaml").write_text(CORE)
    messages = Path(__file__).resolve().parent.parent / "policies" / "guidance" / "messages.yaml"
    (root / "guidance" / "messages.yaml").write_text(messages.read_text())  # the engine's own sentences
    (root / "guidance" / "rules.yaml").write_text(
        "id: test.rules\nkind: guidance\nversion: 1.0.0\nrequires_engine: \">=1.0,<2\"\ntitle: Test rules\n"
        "sources: {t: {title: test, reliability: assumption}}\nrules:\n" + rules)
    (tmp_path / "profile.yaml").write_text(PROFILE)
    (tmp_path / "programs.csv").write_text(PROGRAMS)
    return root


def request(tmp_path: Path, root: Path) -> Request:
    from signalwise.engine.chain.context import parse_signals_option

    return Request(str(tmp_path / "profile.yaml"), str(tmp_path / "programs.csv"),
                   signals=parse_signals_option("1"), policies=str(root))


LOOP = """
  - id: loop.seed
    title: Start the ping-pong
    phase: work
    when: [{fact: applicant, as: a}]
    then: [{assert: {fact: ping, set: {n: 0}}}]
    because: seed
    source: t
  - id: loop.ping
    title: Ping makes pong
    phase: work
    when: [{fact: ping, as: p}]
    then: [{assert: {fact: pong, set: {n: {add: [$p.n, 1]}}}}]
    because: ping {p.n}
    source: t
  - id: loop.pong
    title: Pong makes ping
    phase: work
    when: [{fact: pong, as: q}]
    then: [{assert: {fact: ping, set: {n: {add: [$q.n, 1]}}}}]
    because: pong {q.n}
    source: t
"""


def test_two_rule_loop_stops_quickly_naming_both_rules(tmp_path: Path) -> None:
    root = policy_root(tmp_path, LOOP)
    started = time.perf_counter()
    with pytest.raises(EngineError) as err:
        evaluate(request(tmp_path, root))
    assert time.perf_counter() - started < 1.0
    assert "loop.ping" in str(err.value) and "loop.pong" in str(err.value)


def test_two_rule_loop_exits_3_from_the_cli(tmp_path: Path) -> None:
    root = policy_root(tmp_path, LOOP)
    result = run_cli("evaluate", "--profile", str(tmp_path / "profile.yaml"), "--programs",
                     str(tmp_path / "programs.csv"), "--signals", "1", "--policies", str(root))
    assert result.exit_code == 3
    assert "loop.ping" in result.output and "Traceback" not in result.output


FAILING = """
  - id: broken.divide
    title: Divide text by a number
    phase: work
    when: [{fact: applicant, as: a}]
    then: [{assert: {fact: out, set: {x: {div: [$a.specialty, 2]}}}}]
    because: broken
    source: t
"""


def test_failing_action_is_reported_with_rule_and_policy_not_swallowed(tmp_path: Path) -> None:
    root = policy_root(tmp_path, FAILING)
    with pytest.raises(EngineError) as err:
        evaluate(request(tmp_path, root))
    assert "broken.divide" in str(err.value) and "test.rules@1.0.0" in str(err.value)


QUIET = """
  - id: quiet.never
    title: Never fires
    phase: work
    when: [{fact: applicant, as: a, where: {graduate_type: us-md}}]
    then: [{assert: {fact: out, set: {x: 1}}}]
    because: quiet
    source: t
"""


def test_many_evaluations_never_exhaust_the_session_limit(tmp_path: Path) -> None:
    # durable-rules allows 1,024 live sessions per ruleset; each evaluation must free its own,
    # including sessions in which no rule fired (deleting those crashed the C core before the fix).
    root = policy_root(tmp_path, QUIET)
    req = request(tmp_path, root)
    first = evaluate(req)
    for _ in range(1_099):
        last = evaluate(req)
    assert [p.program for p in last.allocation.picks] == [p.program for p in first.allocation.picks]
    assert len(last.firings) == len(first.firings)


def test_false_duplicate_is_retried_with_a_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = policy_root(tmp_path, QUIET)
    monkeypatch.setenv("SIGNALWISE_ENGINE_INPROCESS", "1")  # count the calls in this process
    original = runtime._Ruleset.assert_fact
    calls = {"n": 0}

    def flaky(self, fact):  # type: ignore[no-untyped-def]
        if fact.get("t") == "applicant" and "_salt" not in fact:
            calls["n"] += 1
            return runtime._OBSERVED, 0  # the C core's answer for an identical fact
        return original(self, fact)

    monkeypatch.setattr(runtime._Ruleset, "assert_fact", flaky)
    evaluate(request(tmp_path, root))
    assert calls["n"] >= 1


def test_persistent_false_duplicate_is_an_engine_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = policy_root(tmp_path, QUIET.replace("graduate_type: us-md", "graduate_type: us-img"))
    original = runtime._Ruleset.assert_fact

    def always(self, fact):  # type: ignore[no-untyped-def]
        if fact.get("t") == "applicant":
            return runtime._OBSERVED, 0
        return original(self, fact)

    monkeypatch.setattr(runtime._Ruleset, "assert_fact", always)
    with pytest.raises(EngineError, match="duplicate"):
        evaluate(request(tmp_path, root))


def test_swallowed_exception_in_engine_state_is_surfaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = policy_root(tmp_path, QUIET.replace("graduate_type: us-md", "graduate_type: us-img"))
    original = runtime._Ruleset.get_state

    def with_exception(self, sid):  # type: ignore[no-untyped-def]
        state = original(self, sid)
        return {**state, "exception": "exception caught boom, traceback [...]"}

    monkeypatch.setattr(runtime._Ruleset, "get_state", with_exception)
    with pytest.raises(EngineError, match="boom"):
        evaluate(request(tmp_path, root))


def test_runtime_is_not_shared_state_between_evaluations(tmp_path: Path) -> None:
    from signalwise.engine.policy.catalogue import Catalogue

    root = policy_root(tmp_path, QUIET)
    ps = Catalogue(root).policy_set("test-2026", "test-specialty", allow_missing_specialty=True,
                                    where=("x", None))
    rt = Runtime(ps)
    assert rt._session is None


# The durable-rules behaviours below are pinned against the engine itself in tests/test_durable_rules.py;
# these check that the runtime and compiler keep evaluations clear of them.

JOIN_ON_MISSING = """
  - id: join.step2-min
    title: Reads a field only some programs have, in arithmetic
    phase: work
    when:
      - {fact: program, as: p}
      - {fact: applicant, as: a, where: {exams.step2_ck: {gt: {add: [$p.step2_min, 1]}}}}
    then: [{assert: {fact: out, set: {x: 1}}}]
    because: joined
    source: t
"""


def test_a_join_on_a_field_the_other_fact_lacks_never_matches_and_never_fails(tmp_path: Path) -> None:
    # Unguarded, the C core fails such a join with error 311; the compiler's `$ex` guard keeps the fact out.
    root = policy_root(tmp_path, JOIN_ON_MISSING)
    assert [f.rule.id for f in evaluate(request(tmp_path, root)).firings] == []
    (tmp_path / "programs.csv").write_text("id,name,state,setting,step2_min\nT-1,Fictional Test Hospital,OH,"
                                           "community,200\n")
    assert [f.rule.id for f in evaluate(request(tmp_path, root)).firings] == ["join.step2-min"]


NEGATION_ON_BASE_FACT = """
  - id: not.avoided
    title: Fires unless the applicant avoids some area
    phase: work
    when:
      - {fact: applicant, as: a}
      - not: {fact: geo_pref, where: {list: avoid}}
    then: [{assert: {fact: out, set: {x: 1}}}]
    because: nothing avoided
    source: t
"""


def test_a_blocker_asserted_after_its_trigger_still_blocks(tmp_path: Path) -> None:
    # The engine does not re-check a negation after later assertions, and geo_pref facts get higher ids
    # than the applicant: only asserting negated types first makes the `not` hold.
    root = policy_root(tmp_path, NEGATION_ON_BASE_FACT)
    assert [f.rule.id for f in evaluate(request(tmp_path, root)).firings] == ["not.avoided"]
    (tmp_path / "profile.yaml").write_text(PROFILE + "geography: {avoid: [OH]}\n")
    assert [f.rule.id for f in evaluate(request(tmp_path, root)).firings] == []


def test_a_ruleset_the_core_rejects_is_an_engine_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from signalwise.engine.chain import runtime
    from signalwise.engine.policy.catalogue import Catalogue

    root = policy_root(tmp_path, QUIET)
    ps = Catalogue(root).policy_set("test-2026", "test-specialty", allow_missing_specialty=True,
                                    where=("x", None))
    real = runtime.compile_stages

    def unsupported(policy_set):  # type: ignore[no-untyped-def]
        bad = {"all": [{"a": {"t": "x"}}, {"b": {"$iany": {"xs": {"$i": {"a": "v"}}}}}], "run": "quiet.never"}
        return [replace(s, parts=tuple(replace(part, definition={**part.definition, "quiet.never": bad})
                                       for part in s.parts)) if s.rules else s
                for s in real(policy_set)]

    monkeypatch.setattr(runtime, "compile_stages", unsupported)
    # Patching the compiler changes what the same policies compile to without changing signalwise's code,
    # which the policy cache's keys stand for: the rulesets' JSON must not come from the cache here.
    monkeypatch.setenv("SIGNALWISE_NO_CACHE", "1")
    with pytest.raises(EngineError, match="rejected the compiled policies"):
        Runtime(ps)


def test_a_facts_json_is_written_once_per_ruleset_and_holds_what_the_ruleset_names() -> None:
    """Issue 15: the runtime sends each ruleset only the fields its rules mention (plus the type and the
    fact id), keeps that JSON per stored fact and ruleset, and adds the session id to it: the text the C
    core reads must be `encode(...)` of the very dict it describes; a fact that is not the stored one (or
    cannot take the fast path) is encoded afresh."""
    from signalwise.engine.chain.facts import FactStore

    store = FactStore()
    samples = [{"t": "program", "id__": "P-1", "name": "Über “quoted” \\ name", "n": 3, "x": 0.25, "ok": True,
                "tags": ["a", "b"], "tags__count": 2},
               {"t": "tiny", "x": 1e-07},  # not plain: written value by value, never remembered
               {"t": "has_sid", "sid": "theirs"}]
    ids = [store.add(f)[0] for f in samples]
    keep = frozenset({"t", "_id", "name", "x", "sid"})
    for sid in ("0" * 32, "f" * 32):
        for fid in ids:
            fact = store.get(fid)
            whole, text = runtime._payload(store, fact, sid)
            assert whole == {**fact, "sid": sid} and text == runtime.encode(whole)
            seen, text = runtime._payload(store, fact, sid, "rs", keep)
            assert seen == {k: v for k, v in {**fact, "sid": sid}.items() if k in keep | {"sid"}}
            assert text == runtime.encode(seen)
    assert set(store.encoded) == {("", ids[0]), ("rs", ids[0])}
    stranger = {**store.get(ids[0]), "name": "changed"}  # same _id, not the stored dict
    seen, text = runtime._payload(store, stranger, "a" * 32, "rs", keep)
    assert "changed" in text and text == runtime.encode(seen)


def test_a_ruleset_is_sent_every_field_its_definition_mentions() -> None:
    """The fields kept for a ruleset: every key and string of its durable-rules definition (a superset of
    the fields its conditions test or reference), checked on the bundled policies' compiled rulesets."""
    from signalwise.engine.policy.catalogue import Catalogue, bundled_root
    from signalwise.engine.policy.compiler import member_key

    ps = Catalogue(bundled_root()).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                              where=("x", None))
    rt = Runtime(ps)
    for stage in rt.stages.values():
        for part in stage.parts:
            keep = rt._keep[part.ruleset]
            for rule in part.rules:
                for pattern in rule.patterns:
                    for test in pattern.tests:
                        if not hasattr(test, "field"):
                            continue
                        if test.op in ("contains", "not_contains"):  # membership keys, not the list
                            values = test.value if isinstance(test.value, tuple) else (test.value,)
                            assert {member_key(test.field, v) for v in values} <= keep, (rule.id, test)
                        else:
                            assert runtime.flat(test.field) in keep, (rule.id, test)
    assert runtime._mentioned({"r": {"all": [{"m": {"$and": [{"t": "x"}, {"$gte": {"count": {"ctx": "lim"}}},
                                                             {"$ex": {"f": 1}}]}}]}}) >= {
        "t", "x", "count", "ctx", "lim", "f", "m"}
