"""Routes at rest: what the evaluator keeps of a route that needs no decision, and the check.

A route whose last full evaluation gave back its stored status, with no event, while it was at
rest (:mod:`airoute.core.steady`), is remembered here by what that decision depended on: the
object as it was (its resourceVersion; objects from files, which have none, by generation,
annotations, labels and status) and the signature of its signals. Only that is kept — the health
policy's thresholds, backend names, a few strings — not the parsed route: at 10,000 routes the
parsed specs and statuses would be most of the controller's memory. When the object changes, the route is
parsed and decided again.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from airoute.api import AIRoute, parse_duration
from airoute.controller.observe import backend_signals, page_keys
from airoute.core.health import Thresholds
from airoute.core.signals import Signals, StatusPage
from airoute.core.steady import signature
from airoute.ports import MetricsSnapshot, RouteQuery


def _same_object(obj: Mapping[str, Any], keep: bool = False) -> tuple[Any, ...]:
    """What identifies a stored object: its resourceVersion, else (files) its content — a copy
    when it is to be ``keep``-t (a caller may change its objects in place), compared as it is."""
    meta = obj.get("metadata") or {}
    version = meta.get("resourceVersion")
    if version:
        return (version,)
    content = (meta.get("generation"), meta.get("annotations"), meta.get("labels"), obj.get("status"))
    return copy.deepcopy(content) if keep else content


@dataclass(frozen=True, slots=True)
class Resting:
    """One route at rest."""

    version: tuple[Any, ...]
    query: RouteQuery
    limits: Thresholds
    backends: tuple[tuple[str, str], ...]  # name, status page key
    names: tuple[str, ...]
    signature: Hashable
    unservable: tuple[str, str] | None = None  # what the gateways said of loading it

    def still(self, snapshot: MetricsSnapshot, pages: Mapping[str, StatusPage]) -> bool:
        """Whether the signals say nothing new: the decision would be the stored status again.
        Runs for every route at rest at every cycle: without status pages, the snapshot's own
        signals by backend are read as they are (:func:`backend_signals` gives the same ones)."""
        ns, route = self.query.namespace, self.query.route
        if snapshot.unservable.get((ns, route)) != self.unservable:
            return False
        now: Mapping[str, Signals]
        if pages:
            now = backend_signals(ns, route, self.backends, snapshot, pages)
        else:
            now = snapshot.for_route(ns, route, "stable")
        return signature(self.limits, self.names, now, snapshot.available, snapshot.error) == self.signature


class RestingRoutes:
    """The routes at rest, by ``namespace/name``."""

    def __init__(self) -> None:
        self._routes: dict[str, Resting] = {}

    def remember(
        self,
        key: str,
        obj: Mapping[str, Any],
        route: AIRoute,
        snapshot: MetricsSnapshot,
        pages: Mapping[str, StatusPage],
    ) -> None:
        meta, spec = route.metadata, route.spec
        query = RouteQuery(meta.namespace, meta.name, parse_duration(spec.health.window))
        backends = page_keys(route)
        signals = backend_signals(meta.namespace, meta.name, backends, snapshot, pages)
        names = tuple(name for name, _ in backends)
        limits = Thresholds.of(spec.health)
        sig = signature(limits, names, signals, snapshot.available, snapshot.error)
        unservable = snapshot.unservable.get((meta.namespace, meta.name))
        self._routes[key] = Resting(_same_object(obj, keep=True), query, limits, backends, names, sig, unservable)

    def get(self, key: str, obj: Mapping[str, Any]) -> Resting | None:
        """The route at rest if ``obj`` is the object it was remembered from."""
        resting = self._routes.get(key)
        if resting is None:
            return None
        if resting.version == _same_object(obj):
            return resting
        del self._routes[key]
        return None

    def forget(self, key: str) -> None:
        self._routes.pop(key, None)

    def __len__(self) -> int:
        return len(self._routes)
