"""`record`: a dataclass that costs one compiled method at import, not up to six.

Every CLI run starts cold, and on CPython 3.11 to 3.13 `@dataclass(frozen=True)` writes and compiles six
methods per class (`__init__`, `__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`): with nearly
ninety classes that was the largest single cost of importing signalwise (measured at about 60 ms of a
700 ms cold evaluate). A record lets `dataclasses` write the `__init__` only (the one method whose speed
matters, since it runs for every instance) and shares the rest as plain functions that read the class's
fields, so a record behaves as the dataclass it replaces:

- still a dataclass: `fields`, `replace`, `asdict` and `astuple` work unchanged;
- equality, hashing and `repr` as dataclasses define them (the fields with `compare`, `hash`, `repr`);
- a frozen record (the default) refuses assignment and deletion with `FrozenInstanceError` once built.

Frozenness is enforced by `__setattr__`, which lets `__init__` set each field once (the generated
`__init__` assigns them in order) and refuses everything after: assigning a field that is already set, or
an attribute that is not a field. `object.__setattr__` in `__post_init__` works as with a dataclass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")


@overload
def record(cls: type[_T], /) -> type[_T]: ...
@overload
def record(*, frozen: bool = True, order: bool = False) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[_T] | None = None, /, *, frozen: bool = True, order: bool = False) -> Any:
    """`@record` (frozen) or `@record(frozen=False)` (mutable, unhashable, like a plain dataclass);
    `order=True` adds `<`, `<=`, `>`, `>=` comparing the compared fields in order, as dataclasses do."""
    def wrap(c: type[_T]) -> type[_T]:
        if not c.__doc__:  # else dataclasses computes a signature to write one (inspect.signature: slow)
            c.__doc__ = c.__name__
        c = dataclasses.dataclass(c, eq=False, repr=False)  # __init__ only
        fields = dataclasses.fields(c)  # type: ignore[arg-type]
        ns: Any = c
        ns.__record_compare__ = tuple(f.name for f in fields if f.compare)
        ns.__record_hash__ = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
        ns.__record_repr__ = tuple(f.name for f in fields if f.repr)
        ns.__record_fields__ = frozenset(f.name for f in fields)
        ns.__eq__ = _eq
        ns.__repr__ = _repr
        if order:
            ns.__lt__, ns.__le__, ns.__gt__, ns.__ge__ = _lt, _le, _gt, _ge
        if frozen:
            ns.__hash__ = _hash
            ns.__setattr__ = _frozen_setattr
            ns.__delattr__ = _frozen_delattr
        else:
            ns.__hash__ = None
        return c

    return wrap if cls is None else wrap(cls)


def _eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    names = self.__record_compare__
    return tuple(getattr(self, n) for n in names) == tuple(getattr(other, n) for n in names)


def _key_pair(self: Any, other: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
    if other.__class__ is not self.__class__:
        return None
    names = self.__record_compare__
    return tuple(getattr(self, n) for n in names), tuple(getattr(other, n) for n in names)


def _lt(self: Any, other: Any) -> Any:
    pair = _key_pair(self, other)
    return NotImplemented if pair is None else pair[0] < pair[1]


def _le(self: Any, other: Any) -> Any:
    pair = _key_pair(self, other)
    return NotImplemented if pair is None else pair[0] <= pair[1]


def _gt(self: Any, other: Any) -> Any:
    pair = _key_pair(self, other)
    return NotImplemented if pair is None else pair[0] > pair[1]


def _ge(self: Any, other: Any) -> Any:
    pair = _key_pair(self, other)
    return NotImplemented if pair is None else pair[0] >= pair[1]


def _hash(self: Any) -> int:
    return hash(tuple(getattr(self, n) for n in self.__record_hash__))


def _repr(self: Any) -> str:
    inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__record_repr__)
    return f"{type(self).__qualname__}({inner})"


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    # Runs once per field of every instance built: the instance dict directly, as object.__setattr__
    # would store a field (a record's fields are plain attributes, never descriptors).
    fields = self.__dict__
    if name in fields or name not in self.__record_fields__:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
    fields[name] = value


def _frozen_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
