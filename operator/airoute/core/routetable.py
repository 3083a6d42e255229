"""The versioned route table: what the controller publishes and the gateway enforces.

No Kubernetes in it (Envoy AI Gateway ``filterapi`` style): every route's
:class:`~airoute.core.routeentry.RouteEntry` keyed by the model name clients send, a content
hash, and a version that moves only when the content does. A route that cannot be used keeps its
previous entry. The table is kept and updated per route by
:class:`~airoute.core.tablestate.TableState`; :func:`build_table` makes a whole one with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from airoute.core.routeentry import (
    BackendEntry,
    RouteEntry,
    Variant,
    route_entry,
)
from airoute.core.tablestate import TableProblem, TableState, _Record


@dataclass(frozen=True)
class RouteTable:
    """Every route by model name, with a content hash and a version that moves with it."""

    version: int
    hash: str
    routes: Mapping[str, RouteEntry]


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"


def build_table(
    objs: Iterable[Mapping[str, Any]],
    previous: RouteTable | None = None,
) -> tuple[RouteTable, list[TableProblem]]:
    """The table for these AIRoutes, and the problems met (by route key).

    A route that cannot be used keeps its entry from ``previous`` (marked ``from_last_good``)
    or is left out. A model belongs to the route that claimed it first
    (:mod:`airoute.core.ownership`); the others are left out, whatever order they come in, and
    even when the owner itself cannot be served. The version moves only when the content hash
    does.
    """
    state = TableState()
    for entry in previous.routes.values() if previous is not None else ():
        state.records[entry.key] = _Record(b"", None, entry, None)
    changes: dict[str, Mapping[str, Any] | None] = {key: None for key in state.records}
    changes.update((_key(o), o) for o in objs)
    state.update(changes)
    problems = [state.problems[key] for key in sorted(state.problems)]
    if previous is None:
        return RouteTable(1, state.hash, dict(state.routes)), problems
    version = previous.version + (state.hash != previous.hash)
    return RouteTable(version, state.hash, dict(state.routes)), problems


__all__ = [
    "BackendEntry",
    "RouteEntry",
    "RouteTable",
    "TableProblem",
    "TableState",
    "Variant",
    "build_table",
    "route_entry",
]
