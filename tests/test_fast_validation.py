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
