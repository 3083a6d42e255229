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
from airoute.core.clock import from_rfc3339
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


def _age(obj: Mapping[str, Any]) -> float:
    """Creation time, for "the older route wins"; unknown sorts last."""
    meta = obj.get("metadata")
    stamp = meta.get("creationTimestamp") if isinstance(meta, Mapping) else None
    try:
        return from_rfc3339(stamp) if isinstance(stamp, str) else float("inf")
    except ValueError:
        return float("inf")


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
    or is left out. When two routes claim the same model the older one wins (then the first
    by ``namespace/name``). The version moves only when the content hash does.
    """
    kept = {e.key: e for e in previous.routes.values()} if previous is not None else {}
    found: list[tuple[float, str, RouteEntry]] = []
    problems: list[TableProblem] = []
    for obj in objs:
        entry, problem = _entry_or_kept(obj, kept)
        problems.extend([problem] if problem is not None else [])
        if entry is not None:
            found.append((_age(obj), entry.key, entry))
    routes: dict[str, RouteEntry] = {}
    for _, key, entry in sorted(found, key=lambda f: (f[0], f[1])):
        if entry.model in routes:
            problems.append(TableProblem(key, f"model {entry.model!r} is already served by {routes[entry.model].key}"))
            continue
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
