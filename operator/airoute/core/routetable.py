"""The versioned route table: what the controller publishes and the gateway enforces.

No Kubernetes in it (Envoy AI Gateway ``filterapi`` style): every route's
:class:`~airoute.core.routeentry.RouteEntry` keyed by the model name clients send, a content
hash (sha256 of the canonical JSON), and a version that moves only when the content does. A
route that cannot be used keeps its previous entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from airoute.api.validation import InvalidRoute
from airoute.core.ownership import Claim, Ownership, claim_of, ownership_of
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


def _version(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    return str(meta.get("resourceVersion") or "") if isinstance(meta, Mapping) else ""


def _key(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '?')}"


@dataclass
class EntryCache:
    """What :func:`build_table` made of each object, reused while the object is the same one: a
    stored object's ``metadata.resourceVersion`` changes with every write to it (objects without
    one, read from files, are made afresh). With it, a table rebuilt after one route changed parses
    and encodes that route only; the others cost a lookup each."""

    _entries: dict[str, tuple[str, RouteEntry | InvalidRoute]] = field(default_factory=dict)
    _wire: dict[str, tuple[RouteEntry, str]] = field(default_factory=dict)
    _claims: dict[str, tuple[str, Claim | None]] = field(default_factory=dict)
    _owned: tuple[list[Claim], Ownership] | None = None

    def ownership(self, keyed: Sequence[tuple[str, Mapping[str, Any]]]) -> Ownership:
        """:func:`ownership` of the objects (with their keys); the last one again while no claim changed."""
        claims = [c for key, o in keyed if (c := self._claim(key, o)) is not None]
        if self._owned is None or self._owned[0] != claims:
            self._owned = (claims, ownership_of(claims))
        return self._owned[1]

    def _claim(self, key: str, obj: Mapping[str, Any]) -> Claim | None:
        version = _version(obj)
        cached = self._claims.get(key) if version else None
        if cached is None or cached[0] != version:
            cached = (version, claim_of(obj))
            if version:
                self._claims[key] = cached
        return cached[1]

    def entry(self, key: str, obj: Mapping[str, Any]) -> RouteEntry:
        """:func:`route_entry` of ``obj``, or what it gave for this version (raises the same way)."""
        version = _version(obj)
        cached = self._entries.get(key) if version else None
        if cached is None or cached[0] != version:
            try:
                made: RouteEntry | InvalidRoute = route_entry(obj)
            except InvalidRoute as exc:
                made = exc
            if version:
                self._entries[key] = (version, made)
            cached = (version, made)
        if isinstance(cached[1], InvalidRoute):
            raise cached[1].with_traceback(None)
        return cached[1]

    def wire(self, entry: RouteEntry) -> str:
        """The canonical JSON of ``entry`` (sorted keys, no whitespace), encoded once per entry."""
        cached = self._wire.get(entry.key)
        if cached is None or cached[0] is not entry:
            cached = (entry, json.dumps(entry_to_wire(entry), sort_keys=True, separators=(",", ":")))
            self._wire[entry.key] = cached
        return cached[1]

    def keep_only(self, keys: set[str]) -> None:
        """Forgets the routes that are gone."""
        for table in (self._entries, self._wire, self._claims):
            for key in [k for k in table if k not in keys]:
                del table[key]


def _entry_or_kept(
    key: str,
    obj: Mapping[str, Any],
    kept: Mapping[str, RouteEntry],
    cache: EntryCache,
) -> tuple[RouteEntry | None, TableProblem | None]:
    try:
        entry = cache.entry(key, obj)
    except InvalidRoute as exc:
        if key in kept:
            return replace(kept[key], from_last_good=True), TableProblem(key, f"{exc}; previous entry kept")
        return None, TableProblem(key, f"{exc}; left out")
    notes = [*(["spec is invalid; serving the last good routing from status"] if entry.from_last_good else []),
             *entry.distrusted]
    return entry, (TableProblem(key, "; ".join(notes)) if notes else None)


def build_table(
    objs: Iterable[Mapping[str, Any]],
    previous: RouteTable | None = None,
    cache: EntryCache | None = None,
) -> tuple[RouteTable, list[TableProblem]]:
    """The table for these AIRoutes, and the problems met.

    A route that cannot be used keeps its entry from ``previous`` (marked ``from_last_good``)
    or is left out. A model belongs to the route that claimed it first
    (:mod:`airoute.core.ownership`); the others are left out, whatever order they come in, and
    even when the owner itself cannot be served. The version moves only when the content hash
    does. ``cache``: what an earlier build made of the same objects (see :class:`EntryCache`).
    """
    keyed = [(_key(o), o) for o in objs]
    cache = cache if cache is not None else EntryCache()
    owned = cache.ownership(keyed)
    kept = {e.key: e for e in previous.routes.values()} if previous is not None else {}
    routes: dict[str, RouteEntry] = {}
    problems: list[TableProblem] = []
    for key, obj in keyed:
        conflict = owned.conflict_message(key)
        if conflict is not None:
            problems.append(TableProblem(key, conflict))
            continue
        entry, problem = _entry_or_kept(key, obj, kept, cache)
        problems.extend([problem] if problem is not None else [])
        if entry is not None and owned.owns(key, entry.model):
            routes[entry.model] = entry
    cache.keep_only({key for key, _ in keyed})
    digest = content_hash(routes, cache)
    if previous is None:
        return RouteTable(1, digest, routes), problems
    return RouteTable(previous.version + (digest != previous.hash), digest, routes), problems


def content_hash(routes: Mapping[str, RouteEntry], cache: EntryCache | None = None) -> str:
    """sha256 of the canonical JSON of the routes (sorted keys, no whitespace); the text is that
    of ``json.dumps({model: wire, ...}, sort_keys=True)``, put together from each entry's own."""
    cache = cache if cache is not None else EntryCache()
    parts = (f"{json.dumps(model)}:{cache.wire(routes[model])}" for model in sorted(routes))
    return hashlib.sha256(("{" + ",".join(parts) + "}").encode()).hexdigest()


__all__ = [
    "BackendEntry",
    "EntryCache",
    "RouteEntry",
    "RouteTable",
    "TableProblem",
    "Variant",
    "build_table",
    "content_hash",
    "route_entry",
]
