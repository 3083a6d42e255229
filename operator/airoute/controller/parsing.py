"""Parsing AIRoute objects once, not once per cycle.

A controller sees the same objects every few seconds. Validating a spec with pydantic is the
expensive part of an evaluation, so specs are cached by (namespace, name, generation) — the API
server bumps the generation whenever the spec changes — and a parsed status is reused while the
stored one is the same (the same object, or equal to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airoute.api import AIRoute, AIRouteSpec, AIRouteStatus, InvalidRoute, ObjectMeta, parse_route, parse_status
from airoute.api.objects import object_key
from airoute.controller.compact import JsonObject, plain

_META_FIELDS = ("name", "namespace", "generation", "resourceVersion", "uid", "annotations", "labels")
"""What :class:`~airoute.api.ObjectMeta` reads of the metadata."""


@dataclass
class ParseCache:
    """Parsed specs by generation and the statuses last written, per route."""

    max_entries: int = 100_000
    _specs: dict[str, tuple[int, Any, AIRouteSpec]] = field(default_factory=dict)
    _statuses: dict[str, tuple[Mapping[str, Any], AIRouteStatus]] = field(default_factory=dict)
    _routes: dict[str, tuple[tuple[Any, ...], AIRoute]] = field(default_factory=dict)

    def parse(self, obj: Mapping[str, Any]) -> AIRoute:
        """Like :func:`airoute.api.parse_route` (raises ``InvalidRoute``), but cached."""
        key = object_key(obj)
        meta = obj.get("metadata") or {}
        generation = meta.get("generation")
        cached = self._specs.get(key)
        spec_doc = obj.get("spec")
        if cached is None or cached[0] != generation or (generation is None and cached[1] != spec_doc):
            route = parse_route(_without_status(obj))  # full validation: apiVersion, kind, metadata, spec
            self._remember_spec(key, generation, spec_doc, route.spec)
            return route.model_copy(update={"status": self._status(key, obj.get("status"))})
        status = self._status(key, obj.get("status"))
        seen = (*(meta.get(f) for f in _META_FIELDS), status)
        known = self._routes.get(key)
        if known is not None and known[0] == seen and known[1].spec is cached[2]:
            return known[1]  # nothing the route is made of changed: the same object as last time
        route = AIRoute.model_construct(
            api_version=str(obj.get("apiVersion")),
            kind=str(obj.get("kind")),
            metadata=ObjectMeta.model_validate(meta),
            spec=cached[2],
            status=status,
        )
        if len(self._routes) >= self.max_entries:
            self._routes.clear()
        # Copies: a caller may change the annotations in place (the comparison above is by value).
        self._routes[key] = (tuple(dict(v) if isinstance(v, Mapping) else v for v in seen), route)
        return route

    def _remember_spec(self, key: str, generation: Any, spec_doc: Any, spec: AIRouteSpec) -> None:
        if len(self._specs) >= self.max_entries:
            self._specs.clear()
        self._specs[key] = (generation, spec_doc if generation is None else None, spec)

    def _status(self, key: str, doc: Mapping[str, Any] | None) -> AIRouteStatus:
        doc = doc or {}
        last = self._statuses.get(key)
        if last is not None and doc is last[0]:
            return last[1]
        if last is not None and doc == last[0]:
            self._statuses[key] = (doc, last[1])  # the same next time is an identity check
            return last[1]
        status, _ = parse_status(plain(doc))
        self._remember_status(key, doc, status)
        return status

    def _remember_status(self, key: str, doc: Mapping[str, Any], status: AIRouteStatus) -> None:
        if len(self._statuses) >= self.max_entries:
            self._statuses.clear()
        self._statuses[key] = (doc, status)

    def wrote(self, key: str, status: AIRouteStatus) -> None:
        """Remember a status about to be written, so reading it back costs a comparison only (its
        wire form kept compact); the route as parsed with the status before is of no more use."""
        self._remember_status(key, JsonObject(status.to_wire()), status)
        self._routes.pop(key, None)

    def forget(self, key: str) -> None:
        self._specs.pop(key, None)
        self._statuses.pop(key, None)
        self._routes.pop(key, None)


def _without_status(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object to validate: its status is parsed apart (and cached), its spec decoded once."""
    doc = {k: v for k, v in obj.items() if k != "status"}
    if "spec" in doc:
        doc["spec"] = plain(doc["spec"])
    return doc


def try_parse(cache: ParseCache, obj: Mapping[str, Any]) -> tuple[AIRoute | None, InvalidRoute | None]:
    try:
        return cache.parse(obj), None
    except InvalidRoute as exc:
        return None, exc
