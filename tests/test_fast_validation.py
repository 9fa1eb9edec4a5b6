"""The CSV fast path (schemas.obviously_valid, run first by schema_problems) never accepts a row that the
JSON Schema would refuse."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from signalwise.engine.load.schemas import _validation_schema, load_schema, obviously_valid, validator

SCHEMA = load_schema("program")
PROPS: dict[str, Any] = SCHEMA["properties"]

values = st.one_of(st.none(), st.booleans(), st.integers(-5, 400), st.floats(-1, 2, allow_nan=False),
                   st.sampled_from(["yes", "no", "unknown", "community", "university", "high", "OH", "ohio", "",
                                    "A-1", "=SUM(A1)", "rural"]),
                   st.lists(st.sampled_from(["family", "rotation", "nope"]), max_size=3))
rows = st.dictionaries(st.sampled_from(sorted(PROPS)), values, max_size=12).map(
    lambda r: {k: v for k, v in r.items() if v is not None})


@settings(max_examples=400, deadline=None)
@given(rows)
def test_fast_path_is_never_looser_than_the_schema(row: dict[str, Any]) -> None:
    if obviously_valid(row, _validation_schema("program")):
        assert list(validator("program").iter_errors(row)) == []


def test_fast_path_accepts_a_typical_row() -> None:
    row = {"id": "A-1", "name": "Fictional Alder", "state": "OH", "setting": "community", "img_share": 0.5,
           "ties": ["family"], "home": False, "interest": 4}
    assert obviously_valid(row, _validation_schema("program"))


class _Text(str):
    pass


scalar_schemas = st.one_of(
    st.fixed_dictionaries({"type": st.just("string")}, optional={
        "minLength": st.integers(0, 3), "maxLength": st.integers(0, 4), "pattern": st.sampled_from(["^[A-Z]", "a"]),
        "enum": st.lists(st.sampled_from(["a", "b", "AB", 1, True]), min_size=1, max_size=3, unique=True)}),
    st.fixed_dictionaries({"type": st.sampled_from(["integer", "number"])}, optional={
        "minimum": st.integers(-2, 2), "maximum": st.integers(-2, 5),
        "enum": st.lists(st.sampled_from([0, 1, 2, 1.5, True, "1"]), min_size=1, max_size=3, unique_by=repr)}),
    st.fixed_dictionaries({"type": st.just("boolean")}, optional={
        "enum": st.lists(st.sampled_from([True, False, 1, 0]), min_size=1, max_size=2, unique_by=repr)}),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(-3, 6, allow_nan=False),
                    st.sampled_from(["", "a", "b", "AB", "abc", "Zed", "1"]),
                    st.sampled_from(["a", "AB"]).map(_Text), st.just(float("nan")))


@settings(max_examples=600, deadline=None)
@given(scalar_schemas, scalars)
def test_the_scalar_checks_are_never_looser_and_accept_plain_valid_values(schema: dict[str, Any], value: Any) -> None:
    """The checks specialised to one scalar type (most of a shortlist's cells) answer "valid" only when
    jsonschema does, and do answer it for plain values of the exact type (a float for an integer column, a
    subclass in an enum, or NaN are left to jsonschema)."""
    import jsonschema

    fast = obviously_valid(value, schema)
    valid = jsonschema.Draft202012Validator(schema).is_valid(value)
    if fast:
        assert valid
    typed = {"string": str, "integer": int, "number": int, "boolean": bool}[schema["type"]]
    enum_ok = "enum" not in schema or any(type(c) is type(value) and c == value for c in schema["enum"])
    if valid and type(value) is typed and enum_ok:
        assert fast
