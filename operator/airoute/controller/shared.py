"""Batched signals for per-route Kopf timers (no Kopf here).

Kopf runs one timer per AIRoute; if each asked Prometheus itself, 10,000 routes would make
10,000 x 5 queries per cycle. Instead every timer takes the shared snapshot, which is refreshed
at most once per ``max_age`` seconds for *all* tracked routes at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airoute.api import AIRoute
from airoute.controller.parsing import try_parse
from airoute.controller.reconciler import Outcome, Reconciler
from airoute.core.signals import StatusPage
from airoute.ports import MetricsSnapshot


@dataclass
class SharedSignals:
    """The routes this controller knows and one recent snapshot of their signals."""

    reconciler: Reconciler
    max_age: float
    routes: dict[str, AIRoute] = field(default_factory=dict)
    _pages: Mapping[str, StatusPage] = field(default_factory=dict)
    _at: float = float("-inf")
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def forget(self, key: str) -> None:
        self.routes.pop(key, None)
        self.reconciler.cache.forget(key)

    async def snapshot(self) -> tuple[MetricsSnapshot, Mapping[str, StatusPage]]:
        async with self._lock:
            now = self.reconciler.clock.now()
            if now - self._at >= self.max_age:
                await self.reconciler.refresh(list(self.routes.values()))
                self._pages = await self.reconciler.pages()
                self._at = now
            return self.reconciler.last_snapshot, self._pages

    async def evaluate(self, obj: Mapping[str, Any], force: bool) -> Outcome | None:
        """The decision for one object, or ``None`` when it is not due yet."""
        route, _ = try_parse(self.reconciler.cache, obj)
        if route is not None:
            self.routes[route.key] = route
            if not force and not self.reconciler.due(route, self.reconciler.clock.now()):
                return None
        snapshot, pages = await self.snapshot() if route is not None else (self.reconciler.last_snapshot, {})
        return self.reconciler.decide(obj, snapshot, pages)


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch from ``old`` to ``new`` status: keys that disappeared become ``None``.

    Merge patches merge maps key by key, so a backend removed from ``weights`` must be deleted
    explicitly; lists are replaced whole.
    """
    patch: dict[str, Any] = dict(new)
    for key, value in (old or {}).items():
        if key not in new:
            patch[key] = None
        elif isinstance(value, Mapping) and isinstance(new[key], Mapping):
            patch[key] = {**{k: None for k in value if k not in new[key]}, **new[key]}
    return patch
