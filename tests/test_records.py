"""`record` behaves as the dataclass it replaces (equality, hashing, repr, frozenness, dataclass helpers),
checked against twin classes made with `dataclasses.dataclass` on generated values."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from signalwise.engine.records import record


@record
class Point:
    x: int
    label: str = ""
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@dataclasses.dataclass(frozen=True)
class PointDC:
    x: int
    label: str = ""
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False)
    secret: str = field(default="", repr=False)


@record(frozen=False)
class Box:
    items: list[int] = field(default_factory=list)
    name: str = "box"


@dataclasses.dataclass
class BoxDC:
    items: list[int] = field(default_factory=list)
    name: str = "box"


@record
class Derived:
    base: int
    double: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "double", self.base * 2)


values = st.tuples(st.integers(), st.text(max_size=5), st.lists(st.text(max_size=3), max_size=3).map(tuple),
                   st.text(max_size=3), st.text(max_size=3))


def _twin(args: tuple[Any, ...]) -> tuple[Point, PointDC]:
    return Point(*args), PointDC(*args)


@given(values, values)
def test_equality_hash_and_repr_match_a_frozen_dataclass(a: tuple[Any, ...], b: tuple[Any, ...]) -> None:
    (ra, da), (rb, db) = _twin(a), _twin(b)
    assert (ra == rb) == (da == db)
    assert (ra != rb) == (da != db)
    assert hash(ra) == hash(da)  # the same tuple of compared fields
    assert repr(ra).replace("Point(", "") == repr(da).replace("PointDC(", "")


def test_a_record_is_still_a_dataclass() -> None:
    p = Point(1, "a", ("t",), "n", "s")
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "label", "tags", "note", "secret"]
    assert dataclasses.asdict(p) == {"x": 1, "label": "a", "tags": ("t",), "note": "n", "secret": "s"}
    assert dataclasses.astuple(p) == (1, "a", ("t",), "n", "s")
    q = dataclasses.replace(p, label="b")
    assert q.label == "b" and q.x == 1 and p.label == "a"
    assert Point(1) != PointDC(1)  # another class never compares equal, as with dataclasses
    assert Point(1) == Point(1, note="different")  # compare=False


def test_a_frozen_record_refuses_changes_after_it_is_built() -> None:
    p = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.other = 2  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.x  # type: ignore[misc]
    assert p.x == 1
    d = Derived(3)
    assert d.double == 6  # __post_init__ sets a field through object.__setattr__, as with a dataclass
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.double = 1  # type: ignore[misc]


def test_copies_and_pickles_are_equal_and_still_frozen() -> None:
    p = Point(1, "a", ("t",))
    for clone in (copy.copy(p), copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert clone == p and hash(clone) == hash(p)
        with pytest.raises(dataclasses.FrozenInstanceError):
            clone.x = 5  # type: ignore[misc]


def test_a_mutable_record_is_unhashable_and_compares_like_a_dataclass() -> None:
    a, b = Box(), Box()
    a.items.append(1)
    assert b.items == []  # default_factory: one list per instance
    assert a != b and Box([1]) == a
    assert (BoxDC([1]) == BoxDC([1])) and repr(a).replace("Box(", "") == repr(BoxDC([1])).replace("BoxDC(", "")
    a.name = "renamed"
    assert a.name == "renamed"
    with pytest.raises(TypeError):
        hash(a)


@record(order=True)
class Ranked:
    file: str
    line: int | None
    note: str = field(default="", compare=False)


@dataclasses.dataclass(frozen=True, order=True)
class RankedDC:
    file: str
    line: int | None
    note: str = field(default="", compare=False)


@given(st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 3), st.text(max_size=2)), max_size=6))
def test_an_ordered_record_sorts_as_an_ordered_dataclass(rows: list[tuple[str, int, str]]) -> None:
    ours = sorted(Ranked(*r) for r in rows)
    theirs = sorted(RankedDC(*r) for r in rows)
    assert [(x.file, x.line, x.note) for x in ours] == [(x.file, x.line, x.note) for x in theirs]
    for a in rows[:3]:
        for b in rows[:3]:
            ra, rb, da, db = Ranked(*a), Ranked(*b), RankedDC(*a), RankedDC(*b)
            assert (ra < rb, ra <= rb, ra > rb, ra >= rb) == (da < db, da <= db, da > db, da >= db)
    with pytest.raises(TypeError):
        _ = Ranked("a", 1) < RankedDC("a", 1)  # another class: not comparable, as with dataclasses
