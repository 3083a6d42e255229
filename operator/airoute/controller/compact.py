"""Stored routes kept compact: at 10,000 routes, the decoded JSON of their specs and statuses was
the bulk of the controller's memory (a route of two backends: about 12 KiB of dicts and strings,
2.5 KiB as compact JSON).

:class:`JsonObject` is a read-only mapping over the compact JSON encoding of an object. The
scalars at its top level (``observedGeneration``, ``model``, …) stay decoded: the loop reads them
for every route at every cycle. Anything else is decoded when read, afresh each time, so a caller
may change what it gets without changing the stored object. Only a route decided in full reads
more than those scalars (its spec parsed once per generation, its status compared and patched);
a route at rest never does.
"""

from __future__ import annotations

import json
import sys
from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any

_SCALARS = (str, int, float, bool, type(None))


class JsonObject(Mapping[str, Any]):
    """A JSON object (a mapping of plain JSON values) stored as its compact encoding."""

    __slots__ = ("_raw", "_scalars", "_size")

    def __init__(self, value: Mapping[str, Any]) -> None:
        self._raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
        self._scalars = {sys.intern(str(k)): v for k, v in value.items() if isinstance(v, _SCALARS)}
        self._size = len(value)

    def decoded(self) -> dict[str, Any]:
        """The object as a new dict (the caller's to change)."""
        value: dict[str, Any] = json.loads(self._raw)
        return value

    def __getitem__(self, key: str) -> Any:
        try:
            return self._scalars[key]
        except KeyError:
            return self.decoded()[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self._scalars[key]
        except KeyError:
            return self.decoded().get(key, default) if self._size > len(self._scalars) else default

    def __contains__(self, key: object) -> bool:
        return key in self._scalars or (self._size > len(self._scalars) and key in self.decoded())

    def __iter__(self) -> Iterator[str]:
        return iter(self.decoded())

    def __len__(self) -> int:
        return self._size

    def keys(self) -> KeysView[str]:
        return self.decoded().keys()

    def items(self) -> ItemsView[str, Any]:
        return self.decoded().items()

    def values(self) -> ValuesView[Any]:
        return self.decoded().values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonObject):
            return self._raw == other._raw or self.decoded() == other.decoded()
        if isinstance(other, Mapping):
            return self.decoded() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # a mapping, compared by value

    def __copy__(self) -> JsonObject:
        return self  # immutable

    def __deepcopy__(self, memo: dict[int, Any]) -> JsonObject:
        return self

    def __repr__(self) -> str:
        return f"JsonObject({self._raw.decode()})"


def compact(value: Any) -> Any:
    """``value`` as a :class:`JsonObject` when it is a mapping (else as it is)."""
    return JsonObject(value) if isinstance(value, Mapping) and not isinstance(value, JsonObject) else value


def plain(value: Any) -> Any:
    """``value`` decoded when it is a :class:`JsonObject` (pydantic reads a mapping key by key:
    it gets a dict, decoded once)."""
    return value.decoded() if isinstance(value, JsonObject) else value


def interned(value: Any) -> Any:
    """A string shared with every other equal one (namespaces, kinds: the same few at every route)."""
    return sys.intern(value) if isinstance(value, str) else value
