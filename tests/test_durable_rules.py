"""The durable-rules behaviours signalwise relies on, pinned against the installed (patched) build.

durable-rules 2.0.28 is built from third_party/durable-rules with patches for Python 3.13+ (see
docs/architecture.md, "The patched durable-rules"). CI runs these tests under every Python it tests, so a
patch, a new Python or a new compiler that changes one of these behaviours fails here, next to the
pitfall it belongs to, rather than somewhere in a report. The runtime's handling of each pitfall is
tested in tests/test_runtime.py; these tests talk to the engine directly, through the same calls.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from itertools import count
from typing import Any

import durable_rules_engine as core
import pytest
from durable import engine as durable_engine


class _Host(durable_engine.Host):
    """durable-rules' Host with the actions given and no timer threads. The runtime itself now calls the C
    extension directly (engine/chain/runtime.py); these tests pin the packaged Python layer as well."""

    def __init__(self, actions: dict[str, Any]) -> None:
        self._actions = actions
        super().__init__()

    def get_action(self, action_name: str) -> Any:
        return self._actions[action_name]

    def _run(self) -> None:
        """Start no background threads (they would race the test's synchronous agenda)."""

PATCHED_VERSION = "2.0.28+signalwise.1"
_names = count()


def ruleset(rules: dict[str, dict[str, Any]]) -> Any:
    """A fresh, uniquely named ruleset on a Host without timer threads (as the runtime registers them)."""
    name = f"contract-{next(_names)}"
    host = _Host({rid: lambda c: None for rid in rules})
    host.register_rulesets({name: {rid: {**rule, "run": rid} for rid, rule in rules.items()}})
    return host.get_ruleset(name)


def fire(rs: Any, state_handle: int) -> list[tuple[str, dict[str, Any]]]:
    """Run the activations of one assertion with the C calls `Runtime._run_agenda` makes; return them."""
    fired: list[tuple[str, dict[str, Any]]] = []
    result = core.start_action_for_state(rs._handle, state_handle)
    if not result:
        return fired
    state, message = result[0], result[1]
    while message:
        ((name, matched),) = json.loads(message).items()
        fired.append((name, matched))
        core.update_state(rs._handle, state)
        message = core.complete_and_start_action(rs._handle, state_handle)
    return fired


def assert_and_fire(rs: Any, fact: dict[str, Any]) -> list[str]:
    return [name for name, _ in fire(rs, rs.assert_fact(fact))]


# ---------------------------------------------------------------------------------------- the build


def test_the_installed_durable_rules_is_the_patched_build() -> None:
    assert importlib.metadata.version("durable-rules") == PATCHED_VERSION


def test_the_engine_clock_raises_no_deprecation_warning() -> None:
    # patch 0002: utcfromtimestamp() is deprecated since Python 3.12; durable's own action loop calls this
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        now = durable_engine._unix_now()
    assert now > 1.7e9


def test_callbacks_into_python_work() -> None:
    # patch 0001: the C core calls Python back through PyObject_CallObject (PyEval_CallObject before,
    # which Python 3.13 removed); the persistence callbacks are the five places that do it.
    rs = ruleset({"r": {"all": [{"m": {"t": "a"}}]}})
    calls: list[tuple[Any, ...]] = []

    def record(kind: str) -> Any:
        def callback(*args: Any) -> int:
            calls.append((kind, *args))
            return 0  # RULES_OK: any other number is an error code

        return callback

    core.set_store_message_callback(rs._handle, record("store"))
    core.set_delete_message_callback(rs._handle, record("delete"))
    assert assert_and_fire(rs, {"t": "a", "sid": "s"}) == ["r"]
    rs.retract_fact({"t": "a", "sid": "s"})
    stored = [c for c in calls if c[0] == "store" and c[5] == '{"t": "a", "sid": "s"}']
    assert stored and stored[0][1:3] == (rs._name, "s")
    assert ("delete", rs._name, "s", stored[0][3]) in calls
    core.set_store_message_callback(rs._handle, lambda *args: 999)  # a callback's error code reaches Python
    with pytest.raises(core.error, match="999"):
        rs.assert_fact({"t": "a", "sid": "s", "n": 2})


# A fresh interpreter: before patch 0004 this segfaulted on CPython 3.12 and 3.13 (heap layout decides).
FALSE_JOIN_TEST = """
import json
import durable_rules_engine as core
from durable import engine


class Host(engine.Host):
    def get_action(self, name):
        return lambda c: None

    def _run(self):
        pass


host = Host()
host.register_rulesets({"r": {"j": {"run": "j", "all": [
    {"a": {"$and": [{"t": "applicant"}, {"$ex": {"s3": 1}}]}},
    {"p": {"$and": [{"t": "program"}, {"$gt": {"m": {"$add": {"$l": {"a": "s3"}, "$r": 1}}}}]}}]}}})
rs = host.get_ruleset("r")
fired = []
for fact in ({"t": "applicant", "s3": 220, "sid": "s"}, {"t": "program", "m": 200, "sid": "s"}):
    result = core.start_action_for_state(rs._handle, rs.assert_fact(fact))
    fired.append(json.loads(result[1]) if result else None)
print(json.dumps(fired))
"""


def test_a_join_test_that_turns_false_reads_no_memory_past_its_rule() -> None:
    # patch 0004: the short-circuit scan of a false join test ran past the rule's expressions
    proc = subprocess.run([sys.executable, "-c", FALSE_JOIN_TEST], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert json.loads(proc.stdout) == [None, None]


# ---------------------------------------------------------------------------------------- activations


def test_lower_priority_fires_first_and_equal_priorities_in_definition_order() -> None:
    # Reports list some firings in engine order (docs/architecture.md, "Determinism"): pinned here.
    rs = ruleset({
        "b": {"all": [{"m": {"t": "a"}}], "pri": 2},
        "a": {"all": [{"m": {"t": "a"}}], "pri": 1},
        "c": {"all": [{"m": {"t": "a"}}], "pri": 2},
    })
    assert assert_and_fire(rs, {"t": "a", "sid": "s"}) == ["a", "b", "c"]


def test_the_agenda_hands_each_action_its_matched_facts_by_alias() -> None:
    rs = ruleset({"join": {"all": [{"f": {"t": "f"}}, {"p": {"$and": [{"t": "p"}, {"k": {"f": "v"}}]}}]}})
    assert fire(rs, rs.assert_fact({"t": "f", "v": 1, "sid": "s"})) == []
    assert fire(rs, rs.assert_fact({"t": "p", "k": 1, "sid": "s"})) == [
        ("join", {"f": {"t": "f", "v": 1, "sid": "s"}, "p": {"t": "p", "k": 1, "sid": "s"}})]


# ---------------------------------------------------------------------------------------- pitfalls


def test_a_fact_no_rule_consumes_is_not_handled() -> None:
    rs = ruleset({"r": {"all": [{"m": {"t": "a"}}]}})
    with pytest.raises(durable_engine.MessageNotHandledException):
        rs.assert_fact({"t": "other", "sid": "s"})


def test_an_identical_fact_is_observed_already() -> None:
    rs = ruleset({"r": {"all": [{"m": {"t": "a"}}]}})
    assert_and_fire(rs, {"t": "a", "_id": 1, "sid": "s"})
    with pytest.raises(durable_engine.MessageObservedException):
        rs.assert_fact({"t": "a", "_id": 1, "sid": "s"})
    assert_and_fire(rs, {"t": "a", "_id": 1, "_salt": 1, "sid": "s"})  # the runtime's retry is a new fact


def test_at_most_1024_live_sessions_and_deleting_one_frees_a_slot() -> None:
    rs = ruleset({"r": {"all": [{"m": {"t": "a"}}]}})
    for i in range(1024):
        assert_and_fire(rs, {"t": "a", "sid": f"s{i}"})
    rs.delete_state("s0")
    assert assert_and_fire(rs, {"t": "a", "sid": "fits"}) == ["r"]
    with pytest.raises(MemoryError):  # the runtime turns this into an EngineError, and never gets here
        rs.assert_fact({"t": "a", "sid": "one-too-many"})


def test_a_deleted_session_is_gone() -> None:
    rs = ruleset({"r": {"all": [{"m": {"t": "a"}}]}})
    assert_and_fire(rs, {"t": "a", "sid": "s"})  # a session in which an action fired (see compiler's __session__)
    rs.delete_state("s")
    with pytest.raises(core.error):
        rs.get_state("s")


def test_a_join_reading_a_missing_field_fails_in_the_core_unless_guarded() -> None:
    # The compiler adds {"$ex": {field: 1}} for every field a join reads; this is why.
    arithmetic = {"$gt": {"k": {"$sub": {"$l": {"f": "v"}, "$r": 1}}}}
    bare = ruleset({"j": {"all": [{"f": {"t": "f"}}, {"p": {"$and": [{"t": "p"}, arithmetic]}}]}})
    assert_and_fire(bare, {"t": "f", "sid": "s"})
    with pytest.raises(core.error, match="311"):
        bare.assert_fact({"t": "p", "k": 5, "sid": "s"})
    guarded = ruleset({"j": {"all": [{"f": {"$and": [{"t": "f"}, {"$ex": {"v": 1}}]}},
                                     {"p": {"$and": [{"t": "p"}, arithmetic]}}]}})
    with pytest.raises(durable_engine.MessageNotHandledException):
        guarded.assert_fact({"t": "f", "sid": "s"})
    assert assert_and_fire(guarded, {"t": "p", "k": 5, "sid": "s"}) == []


def test_negation_blocks_only_when_the_blocker_comes_first() -> None:
    # Not truth-maintained: a blocker asserted after the trigger does not undo the firing. Hence stages,
    # and negated fact types asserted first.
    rules = {"n": {"all": [{"m": {"t": "trigger"}}, {"m_1$not": {"t": "blocker"}}]}}
    late = ruleset(rules)
    assert assert_and_fire(late, {"t": "trigger", "sid": "s"}) == ["n"]
    assert assert_and_fire(late, {"t": "blocker", "sid": "s"}) == []
    early = ruleset(rules)
    assert assert_and_fire(early, {"t": "blocker", "sid": "s"}) == []
    assert assert_and_fire(early, {"t": "trigger", "sid": "s"}) == []


def test_the_core_rejects_an_unsupported_ruleset_with_its_own_error() -> None:
    with pytest.raises(core.error, match="102"):
        ruleset({"r": {"all": [{"a": {"t": "x"}}, {"b": {"$iany": {"xs": {"$i": {"a": "v"}}}}}]}})


def test_a_ruleset_name_cannot_be_registered_twice_on_one_host() -> None:
    host = _Host({"r": lambda c: None})
    host.register_rulesets({"twice": {"r": {"all": [{"m": {"t": "a"}}], "run": "r"}}})
    with pytest.raises(Exception, match="already registered"):
        host.register_rulesets({"twice": {"r": {"all": [{"m": {"t": "a"}}], "run": "r"}}})


# ---------------------------------------------------------------------------------------- the runtime's side


@pytest.fixture()
def bundled_policy_set() -> Iterator[Any]:
    from signalwise.engine.policy.catalogue import Catalogue, bundled_root

    yield Catalogue(bundled_root()).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                               where=("x", None))


def test_rulesets_are_compiled_once_per_process_per_policy_set(bundled_policy_set: Any) -> None:
    from signalwise.engine.chain.runtime import runtime_for

    assert runtime_for(bundled_policy_set) is runtime_for(bundled_policy_set)


def test_the_module_global_dsl_is_never_imported(bundled_policy_set: Any) -> None:
    from signalwise.engine.chain.runtime import runtime_for

    runtime_for(bundled_policy_set)
    assert "durable.lang" not in sys.modules
