"""The cold `evaluate` path of issue 15: jsonschema runs only to explain a problem, the JSON report is written
in one pass, and the cached season index and interview models are keyed by content and never trusted."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signalwise.engine.load.schemas import _validation_schema, obviously_valid, schema_problems, validator
from signalwise.engine.plan.interview_model import load_model_file, models_root
from signalwise.engine.policy import cache as policy_cache
from signalwise.engine.policy.catalogue import Catalogue, bundled_root
from signalwise.engine.render.json_out import render

from .conftest import ROOT, example_args

# ---------------------------------------------------------------- the conservative schema check

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 400), st.floats(allow_nan=True),
                    st.sampled_from(["us-md", "us-img", "pass", "strong", "internal-medicine", "eras-2026", "",
                                     "IM", "x" * 70, "Internal Medicine", "eras-20266", "OH", "rural", "1"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.sampled_from(["specialty", "cycle", "applicant", "graduate_type", "graduation_year",
                                     "exams", "step2_ck", "step1", "usce", "months", "letters", "strength",
                                     "red_flags", "geography", "preferred", "goals", "unknown_key", "id",
                                     "name", "state", "setting", "ties"]), inner, max_size=6)), max_leaves=25)


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid document with one value replaced somewhere (or a key added or removed)."""
    def mutate(draw_path: list[int], new: Any, op: int) -> Any:
        doc = json.loads(json.dumps(base))
        node = doc
        for step in draw_path:
            if isinstance(node, dict) and node:
                key = sorted(node)[step % len(node)]
                if op == 0 or not isinstance(node[key], dict | list):
                    if op == 1:
                        del node[key]
                    elif op == 2:
                        node[f"{key}_x"] = new
                    else:
                        node[key] = new
                    return doc
                node = node[key]
            elif isinstance(node, list) and node:
                i = step % len(node)
                if op == 0 or not isinstance(node[i], dict | list):
                    node[i] = new
                    return doc
                node = node[i]
        return doc
    return st.builds(mutate, st.lists(st.integers(0, 50), min_size=1, max_size=6), values, st.integers(0, 3))


PROFILE = __import__("yaml").safe_load((ROOT / "examples" / "strong-im" / "profile.yaml").read_text())


@settings(max_examples=500, deadline=None)
@given(st.one_of(values, _mutations(PROFILE)))
def test_the_fast_check_is_never_looser_than_jsonschema_for_profiles(doc: Any) -> None:
    if obviously_valid(doc, _validation_schema("profile")):
        assert list(validator("profile").iter_errors(doc)) == []


@settings(max_examples=300, deadline=None)
@given(values)
def test_the_fast_check_is_never_looser_than_jsonschema_for_programs(doc: Any) -> None:
    if obviously_valid(doc, _validation_schema("program")):
        assert list(validator("program").iter_errors(doc)) == []


def test_the_fast_check_accepts_a_real_profile_and_leaves_what_it_does_not_know_to_jsonschema() -> None:
    assert obviously_valid(PROFILE, _validation_schema("profile"))
    assert not obviously_valid({"a": 1}, {"oneOf": [{"type": "object"}]})      # unknown keyword: not judged
    assert not obviously_valid([1, 1.0], {"type": "array", "uniqueItems": True})  # equal in JSON Schema
    assert not obviously_valid(True, {"type": "integer"})
    assert not obviously_valid(math.nan, {"type": "number", "minimum": 0})
    bad = dict(PROFILE, cycle="2026")
    problems = schema_problems("profile", bad, "p.yaml", {("cycle",): 3})
    assert [(p.line, p.field) for p in problems] == [(3, "cycle")]  # the slow path still explains it


def test_a_valid_evaluation_imports_neither_jsonschema_nor_what_it_does_not_use(tmp_path: Path) -> None:
    code = ("import sys; from signalwise.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(*(m in sys.modules for m in ('jsonschema', 'signalwise.engine.render.html',\n"
            "      'signalwise.cli.policy_cmd', 'signalwise.engine.policy.check')))")
    for _ in range(2):  # the second run finds the policy cache warm
        out = subprocess.run([sys.executable, "-c", code, "evaluate", *example_args("strong-im"), "--format", "json",
                             "-o", str(tmp_path / "r.json")], capture_output=True, text=True, check=False, cwd=ROOT)
    assert out.stdout.split() == ["False"] * 4, out.stderr


# ---------------------------------------------------------------- one-pass JSON

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(st.text(max_size=4), st.integers(), st.booleans()), inner,
                                            max_size=4)),
    max_leaves=30)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(st.text(max_size=5), json_values, max_size=5))
def test_the_json_writer_matches_json_dumps_byte_for_byte(doc: dict[str, Any]) -> None:
    try:
        expected = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except TypeError:  # keys json cannot sort: the writer must fail the same way
        with pytest.raises(TypeError):
            render(doc)
        return
    assert render(doc) == expected


def test_the_json_writer_falls_back_for_what_it_does_not_write_itself() -> None:
    class Score(int):
        pass
    doc = {"a": Score(3), "b": [math.inf, -math.inf, math.nan], "c": {2: "x", 1: None}}
    assert render(doc) == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- content-keyed season index, interview models

@pytest.fixture()
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(policy_cache.CACHE_ENV, str(folder))
    monkeypatch.delenv(policy_cache.NO_CACHE_ENV, raising=False)
    return folder


def _copy_policies(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(bundled_root(), root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_season_index_is_rebuilt_when_a_policy_changes(cache_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = _copy_policies(tmp_path)
    first = Catalogue(root).seasons()
    assert list((cache_dir / "derived" / "seasons").glob("*.json"))
    assert Catalogue(root).seasons() == first  # served from the index
    monkeypatch.setenv(policy_cache.NO_CACHE_ENV, "1")
    assert Catalogue(root).seasons() == first  # and equal to a fresh reading
    monkeypatch.delenv(policy_cache.NO_CACHE_ENV)
    path = root / "cycles" / "eras-2026" / "internal-medicine.yaml"
    text = path.read_text(encoding="utf-8")
    assert "to: 2026-05-31}" in text
    path.write_text(text.replace("to: 2026-05-31}", "to: 2031-01-01}", 1), encoding="utf-8")
    changed = Catalogue(root).seasons()
    assert changed != first and any(s.end == "2031-01-01" for s in changed)


@pytest.mark.parametrize("damage", ["flip", "garbage", "wrong-shape"])
def test_a_damaged_season_index_is_ignored(cache_dir: Path, damage: str) -> None:
    import hashlib

    fresh = Catalogue(bundled_root()).seasons()
    entry, = (cache_dir / "derived" / "seasons").glob("*.json")
    raw = entry.read_bytes()
    header, _, body = raw.partition(b"\n")
    if damage == "flip":
        entry.write_bytes(raw[:-5] + bytes([raw[-5] ^ 0x01]) + raw[-4:])
    elif damage == "garbage":
        entry.write_bytes(os.urandom(512))
    else:  # a well-formed entry (digest recomputed) holding rows of another shape
        doc = b'[["a"]]'
        fmt, key, _ = header.decode().split(" ")
        entry.write_bytes(f"{fmt} {key} {hashlib.sha256(doc).hexdigest()}\n".encode() + doc)
    assert Catalogue(bundled_root()).seasons() == fresh


def test_an_interview_model_from_the_cache_equals_a_fresh_one(cache_dir: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    path = sorted(models_root().glob("*.yaml"))[0]
    first = load_model_file(path)
    text = path.read_text(encoding="utf-8")
    assert policy_cache.lookup(text, "interview-model") is not None
    assert policy_cache.lookup(text) is None  # the same text never passes for a validated policy
    second = load_model_file(path)  # from the cache
    monkeypatch.setenv(policy_cache.NO_CACHE_ENV, "1")
    assert first == second == load_model_file(path)


def test_evaluate_pauses_the_garbage_collector_only_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold `evaluate` runs without the cyclic collector (issue 15), and turns it back on when done,
    also when the evaluation fails, so commands run in one process (tests, a host) are unaffected."""
    import gc

    from click.testing import CliRunner
    from signalwise.cli.main import cli
    from signalwise.engine.explain import report as explain

    during: list[bool] = []
    original = explain.build_report

    def spy(ev: Any) -> Any:
        during.append(gc.isenabled())
        return original(ev)

    monkeypatch.setattr(explain, "build_report", spy)
    ok = CliRunner().invoke(cli, ["evaluate", *example_args("strong-im"), "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["programs"]
    assert during == [False]
    assert gc.isenabled()
    bad = CliRunner().invoke(cli, ["evaluate", "--profile", "missing.yaml", "--programs", "missing.csv"])
    assert bad.exit_code == 2
    assert gc.isenabled()
    gc.disable()
    try:
        CliRunner().invoke(cli, ["evaluate", *example_args("strong-im"), "--format", "json"])
        assert not gc.isenabled()  # left as it found it
    finally:
        gc.enable()


@pytest.mark.parametrize("damage", [None, "wrong-shape", "other-rulesets"])
def test_the_rulesets_json_from_the_cache_equals_a_fresh_encoding(cache_dir: Path, damage: str | None) -> None:
    """A runtime takes each ruleset's JSON for the C core and the names its rules mention from the policy
    cache (keyed by the policy set's content); what it takes equals a fresh encoding, and an entry of
    another shape or for other rulesets is ignored and rebuilt."""
    import hashlib

    from signalwise.engine.chain.runtime import _mentioned, _ruleset_text, _ruleset_texts
    from signalwise.engine.policy.compiler import compile_stages

    ps = Catalogue(bundled_root()).policy_set("eras-2026", "internal-medicine", allow_missing_specialty=False,
                                              where=("x", None))
    parts = [part for stage in compile_stages(ps) for part in stage.parts]
    fresh = {p.ruleset: (_ruleset_text(p.definition), sorted(_mentioned(p.definition))) for p in parts}
    assert _ruleset_texts(ps, parts) == fresh  # computed, then stored
    entry, = (cache_dir / "derived" / "rulesets").glob("*.json")
    if damage is not None:
        header, _, _ = entry.read_bytes().partition(b"\n")
        doc = b'{"x": 1}' if damage == "wrong-shape" else b'{"another-ruleset": ["{}", []]}'
        fmt, key, _ = header.decode().split(" ")
        entry.write_bytes(f"{fmt} {key} {hashlib.sha256(doc).hexdigest()}\n".encode() + doc)
    assert _ruleset_texts(ps, parts) == fresh
