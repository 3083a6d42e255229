"""The versioned route table: what the controller publishes and the gateway enforces.

No Kubernetes in it (Envoy AI Gateway ``filterapi`` style): every route's
:class:`~airoute.core.routeentry.RouteEntry` keyed by the model name clients send, a content
hash (sha256 of the canonical JSON), and a version that moves only when the content does. A
route that cannot be used keeps its previous entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from airoute.api.validation import InvalidRoute
from airoute.core.ownership import ownership
from airoute.core.routeentry import (
    BackendEntry,
    RouteEntry,
    Variant,
    entry_to_wire,
    route_entry,
)


@dataclass(frozen=True)
class RouteTable:
    """Every route by model name, with a content hash and a version that moves with it."""

    version: int
    hash: str
    routes: Mapping[str, RouteEntry]


@dataclass(frozen=True)
class TableProblem:
    """A route left out of the table (or served from its last good routing), and why."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"


def _entry_or_kept(
    obj: Mapping[str, Any],
    kept: Mapping[str, RouteEntry],
) -> tuple[RouteEntry | None, TableProblem | None]:
    key = _key(obj)
    try:
        entry = route_entry(obj)
    except InvalidRoute as exc:
        if key in kept:
            return replace(kept[key], from_last_good=True), TableProblem(key, f"{exc}; previous entry kept")
        return None, TableProblem(key, f"{exc}; left out")
    if entry.from_last_good:
        return entry, TableProblem(key, "spec is invalid; serving the last good routing from status")
    return entry, None


def build_table(
    objs: Iterable[Mapping[str, Any]],
    previous: RouteTable | None = None,
) -> tuple[RouteTable, list[TableProblem]]:
    """The table for these AIRoutes, and the problems met.

    A route that cannot be used keeps its entry from ``previous`` (marked ``from_last_good``)
    or is left out. A model belongs to the route that claimed it first
    (:mod:`airoute.core.ownership`); the others are left out, whatever order they come in, and
    even when the owner itself cannot be served. The version moves only when the content hash
    does.
    """
    objs = list(objs)
    owned = ownership(objs)
    kept = {e.key: e for e in previous.routes.values()} if previous is not None else {}
    routes: dict[str, RouteEntry] = {}
    problems: list[TableProblem] = []
    for obj in objs:
        key = _key(obj)
        conflict = owned.conflict_message(key)
        if conflict is not None:
            problems.append(TableProblem(key, conflict))
            continue
        entry, problem = _entry_or_kept(obj, kept)
        problems.extend([problem] if problem is not None else [])
        if entry is not None and owned.owns(key, entry.model):
            routes[entry.model] = entry
    digest = content_hash(routes)
    if previous is None:
        return RouteTable(1, digest, routes), problems
    return RouteTable(previous.version + (digest != previous.hash), digest, routes), problems


def _canonical(routes: Mapping[str, RouteEntry]) -> dict[str, Any]:
    return {model: entry_to_wire(routes[model]) for model in sorted(routes)}


def content_hash(routes: Mapping[str, RouteEntry]) -> str:
    """sha256 of the canonical JSON of the routes (sorted keys, no whitespace)."""
    blob = json.dumps(_canonical(routes), sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


__all__ = [
    "BackendEntry",
    "RouteEntry",
    "RouteTable",
    "TableProblem",
    "Variant",
    "build_table",
    "content_hash",
    "route_entry",
]
