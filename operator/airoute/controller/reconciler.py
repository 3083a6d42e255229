"""One evaluation cycle for many routes: collect signals once, decide per route (no Kopf here).

The Kopf handlers and the folder loop both drive a :class:`Reconciler`. A cycle asks the metrics
source once for every route that is due (one query per metric, not per route), then calls the
pure core for each route.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airoute.api import AIRoute, InvalidRoute, parse_duration, parse_status
from airoute.controller.metrics import ControllerMetrics
from airoute.controller.observe import DrillBaselines, observe
from airoute.controller.parsing import ParseCache, object_key, try_parse
from airoute.core.clock import from_rfc3339
from airoute.core.decide import Decision, evaluate, invalid_spec_status
from airoute.core.signals import StatusPage
from airoute.ports import Clock, MetricsSnapshot, MetricsSource, RouteQuery, StatusPageSource

log = logging.getLogger("airoute.controller")


@dataclass(frozen=True)
class Outcome:
    """The decision for one raw AIRoute object (valid or not)."""

    key: str
    decision: Decision
    route: AIRoute | None = None


@dataclass
class Reconciler:
    """Holds the ports; ``cycle`` evaluates every due route with one batched metrics read."""

    metrics: MetricsSource
    clock: Clock
    status_pages: StatusPageSource | None = None
    last_snapshot: MetricsSnapshot = field(
        default_factory=lambda: MetricsSnapshot(available=False, error="not yet read")
    )
    cycles: int = 0
    telemetry: ControllerMetrics | None = None
    cache: ParseCache = field(default_factory=ParseCache)
    drill_baselines: DrillBaselines = field(default_factory=DrillBaselines)

    @staticmethod
    def due(route: AIRoute, now: float) -> bool:
        last = route.status.last_evaluated
        if last is None or route.status.observed_generation != route.metadata.generation:
            return True
        return now - from_rfc3339(last) >= parse_duration(route.spec.health.interval) - 0.001

    async def refresh(self, routes: Sequence[AIRoute]) -> MetricsSnapshot:
        queries = [
            RouteQuery(r.metadata.namespace, r.metadata.name, parse_duration(r.spec.health.window)) for r in routes
        ]
        try:
            snapshot = await self.metrics.collect(queries) if queries else MetricsSnapshot(available=True)
        except Exception as exc:  # a broken source means "could not measure", never a crash
            log.exception("reading health signals failed")
            snapshot = MetricsSnapshot(available=False, error=f"reading health signals failed: {type(exc).__name__}")
        self.last_snapshot = snapshot
        return snapshot

    async def pages(self) -> Mapping[str, StatusPage]:
        if self.status_pages is None:
            return {}
        try:
            return await self.status_pages.states()
        except Exception:  # status pages are an extra signal: without them, carry on
            log.exception("reading provider status pages failed")
            return {}

    def decide(self, obj: Mapping[str, Any], snapshot: MetricsSnapshot, pages: Mapping[str, StatusPage]) -> Outcome:
        """The decision for one raw object; an invalid spec keeps the last good routing."""
        route, problem = try_parse(self.cache, obj)
        return self._decide(obj, route, problem, snapshot, pages)

    def _decide(
        self,
        obj: Mapping[str, Any],
        route: AIRoute | None,
        problem: InvalidRoute | None,
        snapshot: MetricsSnapshot,
        pages: Mapping[str, StatusPage],
    ) -> Outcome:
        now = self.clock.now()
        key = object_key(obj)
        if route is None:
            meta = obj.get("metadata") or {}
            prev, _ = parse_status(obj.get("status") or {})
            problems = problem.problems if problem is not None else []
            return Outcome(key, invalid_spec_status(prev, problems, int(meta.get("generation", 1)), now))
        decision = evaluate(route, observe(route, snapshot, pages, now, self.drill_baselines), now)
        self.cache.wrote(key, decision.status)
        if self.telemetry is not None:
            self.telemetry.observe(route, decision.status, decision.events, snapshot.available)
        return Outcome(key, decision, route)

    async def cycle(self, objs: Sequence[Mapping[str, Any]], force: bool = False) -> list[Outcome]:
        """Evaluate every object that is due (all of them with ``force``), with one metrics read."""
        now = self.clock.now()
        parsed = [(obj, *try_parse(self.cache, obj)) for obj in objs]
        due = [r for _, r, _ in parsed if r is not None and (force or self.due(r, now))]
        snapshot: MetricsSnapshot = self.last_snapshot
        pages: Mapping[str, StatusPage] = {}
        if due:
            snapshot, pages = await self.refresh(due), await self.pages()
        self.cycles += 1
        keys = {r.key for r in due}
        return [
            self._decide(obj, route, problem, snapshot, pages)
            for obj, route, problem in parsed
            if (route is None and (force or _invalid_unreported(obj))) or (route is not None and route.key in keys)
        ]


def _invalid_unreported(obj: Mapping[str, Any]) -> bool:
    """An invalid object whose status does not yet say so for this generation."""
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
    reported = ready is not None and ready.get("reason") == "InvalidSpec"
    return not reported or status.get("observedGeneration") != meta.get("generation")
