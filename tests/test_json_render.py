"""The JSON report writer (engine/render/json_out.py) is a faster stand-in for one call of the standard
library, so its only contract is to give exactly what `json.dumps(x, indent=2, sort_keys=True,
ensure_ascii=False) + "\\n"` gives, or raise the same kind of error; these tests hold it to that on generated
values, including the ones it hands back to `json.dumps` (odd key and value types, NaN, deep nesting)."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from signalwise.engine.render.json_out import render

REF = Path("/work/ref-out")


def expected(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def same(value: Any) -> None:
    """`render` and `json.dumps` agree: the same text, or the same kind of error."""
    try:
        want: str | type[BaseException] = expected(value)
    except (TypeError, ValueError, RecursionError) as error:
        want = type(error)
    try:
        got: str | type[BaseException] = render(value)
    except (TypeError, ValueError, RecursionError) as error:
        got = type(error)
    assert got == want


texts = st.text(alphabet=st.characters(max_codepoint=0x10FFFF, exclude_categories=("Cs",))
                | st.sampled_from(["\x00", "\x1f", "\x7f", '"', "\\", "\n", "\t", "\u2028", "\ue000", "{", "]",
                                   ",", ":", "\U0001f600"]), max_size=12)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [1e-7, 1e16, -0.0, 0.0, 1.5, 1e300, 5e-324, float("nan"), float("inf"), float("-inf")])
ints = st.integers() | st.sampled_from([0, -1, 2**63, -(2**64), 10**40])
scalars = st.none() | st.booleans() | ints | floats | texts
# A dict's keys are all of one kind (mixed kinds make json.dumps itself fail to sort; one test covers that).
key_kinds = st.sampled_from([texts, texts, texts, ints, st.booleans(), st.none(), floats])


def containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (st.lists(inner, max_size=6) | st.lists(inner, max_size=4).map(tuple)
            | key_kinds.flatmap(lambda keys: st.dictionaries(keys, inner, max_size=6)))


values = st.recursive(scalars, containers, max_leaves=40)


@settings(max_examples=600, deadline=None)
@given(values)
def test_render_is_json_dumps(value: Any) -> None:
    same(value)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(texts, values, max_size=8))
def test_a_report_shaped_dict_is_json_dumps(value: dict[str, Any]) -> None:
    same(value)


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    pass


@pytest.mark.parametrize("value", [
    {},
    {"a": {}, "b": [], "c": ()},
    {"a": ["x", "y", 1, None, [], {"k": "v"}]},  # a list that starts with strings but is not all strings
    {"a": ["x", Name("y\n")]},
    {Name("k"): Name("v"), "list": [Name("a")]},
    {"n": Colour.RED, "m": [Colour.RED]},  # an int subclass: written as int.__repr__ by json.dumps too
    {1: "one", "x": {True: 1, None: 2}, "y": {1: "a"}, "z": {"1": "b"}},  # keys that hash alike
    {"x": {True: "t"}, "y": {1: "i"}, "z": {False: "f", 2: "two"}},
    {1.5: "a", float("nan"): "b", float("inf"): "c"},
    {"a": float("nan"), "b": [float("inf"), -0.0, 1e-7, 1e16]},
    {"a": 1, 2: "b"},  # mixed key kinds: json.dumps cannot sort them
    {"a": object()},
    {"a": {1, 2}},
    {("t",): 1},
    {"big": 10**5000},  # beyond the int-to-text digit limit: json.dumps raises ValueError
    "top-level string", 5, None, [1, [2, [3]]],
])
def test_edge_values(value: Any) -> None:
    same(value)


@pytest.mark.parametrize("depth", [1, 5, 99, 100, 101, 150])
def test_deep_nesting(depth: int) -> None:
    value: Any = {"leaf": ["x", 1.25]}
    for i in range(depth):
        value = {"k": value, "v": i} if i % 2 else [value, "s"]
    same(value)


def test_circular_reference_raises_like_json_dumps() -> None:
    value: dict[str, Any] = {"a": 1}
    value["self"] = value
    with pytest.raises(ValueError):
        render(value)


def test_reruns_share_no_state() -> None:
    """The per-render cache of key heads must not leak: the same key at another depth or under another
    render still gets its own indentation."""
    first = {"a": {"a": {"a": "x"}}}
    assert render(first) == expected(first)
    second = {"b": 1, "a": [{"a": 2}]}
    assert render(second) == expected(second)
    assert render(first) == expected(first)


@pytest.mark.parametrize("name", ["programs-200.json", "at-risk-im.json"])
def test_real_reports_are_byte_identical(name: str) -> None:
    path = REF / name
    if not path.exists():
        pytest.skip("reference reports not present")
    text = path.read_text(encoding="utf-8")
    assert render(json.loads(text)) == text
