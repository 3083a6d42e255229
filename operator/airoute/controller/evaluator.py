"""One evaluation cycle over many routes: the controller's one orchestration (no Kopf here).

Kopf (routes from the API server) and the folder loop (routes from files) both drive an
:class:`Evaluator` through :class:`~airoute.controller.loop.EvaluationLoop`. A cycle picks the
routes that are due, reads the health signals once for all of them (one query per metric, not per
route), decides each one in the core and says whose status changed. When a route was last
evaluated is kept here, in memory: a status field rewritten every interval would wake every
watcher of every route. A route at rest whose signals tell nothing new is not decided again
(the fast path of :mod:`airoute.core.steady`, exact by its invariant).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airoute.api import AIRoute, AIRouteSpec, AIRouteStatus, InvalidRoute, parse_duration, parse_status
from airoute.api.objects import object_key
from airoute.controller.metrics import ControllerMetrics
from airoute.controller.observe import DrillBaselines, observe
from airoute.controller.parsing import ParseCache, try_parse
from airoute.core.decide import Decision, evaluate, invalid_spec_status
from airoute.core.ownership import Ownership, conflict_decision, ownership, resolved
from airoute.core.signals import StatusPage
from airoute.core.steady import at_rest, same_decision, signature
from airoute.ports import Clock, MetricsSnapshot, MetricsSource, RouteQuery, StatusPageSource

log = logging.getLogger("airoute.controller")


@dataclass(frozen=True)
class Outcome:
    """The decision for one raw AIRoute object (valid or not); ``changed`` when its status must
    be written (it decides something else than the stored one, see :mod:`airoute.core.steady`)."""

    key: str
    decision: Decision
    route: AIRoute | None = None
    changed: bool = True


@dataclass(frozen=True)
class _AtRest:
    """A full evaluation that gave back the stored status: the same inputs give it again."""

    spec: AIRouteSpec
    status: AIRouteStatus
    signature: Hashable


@dataclass(frozen=True)
class _Seen:
    """What a route looked like when it was last evaluated, and when."""

    at: float
    interval: float
    generation: object
    annotations: Mapping[str, Any]


@dataclass
class Evaluator:
    """The ports, the parse caches and the memory of past evaluations."""

    metrics: MetricsSource
    clock: Clock
    status_pages: StatusPageSource | None = None
    telemetry: ControllerMetrics | None = None
    cache: ParseCache = field(default_factory=ParseCache)
    drill_baselines: DrillBaselines = field(default_factory=DrillBaselines)
    _seen: dict[str, _Seen] = field(default_factory=dict)
    _at_rest: dict[str, _AtRest] = field(default_factory=dict)
    _snapshot: MetricsSnapshot = field(default_factory=lambda: MetricsSnapshot(available=False, error="not yet read"))
    _pages: Mapping[str, StatusPage] = field(default_factory=dict)
    _read_at: float = float("-inf")
    _cycle_at: float = float("-inf")
    """When the current cycle began: a route is due again ``interval`` after the cycle that decided
    it began (the tick's time), not after its decision, which comes later by the time the signals
    took to read; a route whose interval equals the tick is then decided at every tick."""
    decided: int = 0
    """Routes decided by the core so far; ``skipped``: routes at rest that needed no decision."""
    skipped: int = 0

    def due(self, obj: Mapping[str, Any], now: float) -> bool:
        """Never evaluated here, changed since (spec or annotations), its status not about this spec,
        or its ``health.interval`` has passed."""
        seen = self._seen.get(object_key(obj))
        meta = obj.get("metadata") or {}
        if seen is None or seen.generation != meta.get("generation"):
            return True
        if (obj.get("status") or {}).get("observedGeneration") != meta.get("generation"):
            return True
        if seen.annotations != (meta.get("annotations") or {}):
            return True
        return now - seen.at >= seen.interval - 0.001

    def retry(self, key: str) -> None:
        """The route's status was not stored: decide it again at the next cycle."""
        self._seen.pop(key, None)

    def forget(self, key: str) -> None:
        """A route this controller no longer evaluates (deleted, or handed to another replica)."""
        self._seen.pop(key, None)
        self._at_rest.pop(key, None)
        self.cache.forget(key)
        if self.telemetry is not None:
            namespace, _, name = key.partition("/")
            self.telemetry.forget(namespace, name)

    async def _signals(self, due: Sequence[AIRoute], max_age: float | None) -> None:
        """Reads the signals for ``due``, unless the last read is younger than ``max_age``."""
        now = self.clock.now()
        if max_age is not None and now - self._read_at < max_age:
            return
        queries = [RouteQuery(r.metadata.namespace, r.metadata.name, parse_duration(r.spec.health.window)) for r in due]
        try:
            self._snapshot = await self.metrics.collect(queries)
            if self.telemetry is not None:
                self.telemetry.signal_reads.inc()
        except Exception as exc:  # a broken source means "could not measure", never a crash
            log.exception("reading health signals failed")
            error = f"reading health signals failed: {type(exc).__name__}"
            self._snapshot = MetricsSnapshot(available=False, error=error)
        self._pages = await self._status_pages()
        self._read_at = now
        if self.telemetry is not None:
            self.telemetry.metrics_available.set(1 if self._snapshot.available else 0)

    async def _status_pages(self) -> Mapping[str, StatusPage]:
        if self.status_pages is None:
            return {}
        try:
            return await self.status_pages.states()
        except Exception:  # status pages are an extra signal: without them, carry on
            log.exception("reading provider status pages failed")
            return {}

    def _decide(self, obj: Mapping[str, Any], route: AIRoute | None, problem: InvalidRoute | None) -> Outcome:
        now = self.clock.now()
        key = object_key(obj)
        meta = obj.get("metadata") or {}
        if route is None:
            self._seen.pop(key, None)
            prev, _ = parse_status(obj.get("status") or {})
            problems = problem.problems if problem is not None else []
            decision = invalid_spec_status(prev, problems, int(meta.get("generation", 1)), now)
            return Outcome(key, decision, changed=not same_decision(decision.status, prev))
        interval = parse_duration(route.spec.health.interval)
        self._seen[key] = _Seen(self._cycle_at, interval, meta.get("generation"), dict(meta.get("annotations") or {}))
        obs = observe(route, self._snapshot, self._pages, now, self.drill_baselines)
        rest = self._at_rest.get(key)
        quiet = at_rest(route.status)
        sig = signature(route, obs) if quiet else None
        if rest is not None and rest.spec is route.spec and rest.status is route.status and rest.signature == sig:
            self.skipped += 1
            return Outcome(key, Decision(route.status), route, changed=False)  # the fast path: exact, see core/steady
        self.decided += 1
        decision = evaluate(route, obs, now)
        changed = not same_decision(decision.status, route.status)
        if changed:
            self.cache.wrote(key, decision.status)
            self._at_rest.pop(key, None)
        elif quiet and not decision.events:
            self._at_rest[key] = _AtRest(route.spec, route.status, sig)
        if self.telemetry is not None:
            self.telemetry.observe(route, decision.status, decision.events)
        return Outcome(key, decision, route, changed)

    async def cycle(
        self, objs: Sequence[Mapping[str, Any]], force: bool = False, max_signal_age: float | None = None
    ) -> list[Outcome]:
        """Decide every object that is due (all of them with ``force``) with one read of the signals.

        ``max_signal_age``: reuse the last read when it is younger than this (a cycle woken by a
        change between two ticks); ``None`` reads afresh whenever some route is due.
        """
        now = self._cycle_at = self.clock.now()
        candidates = objs if force else [o for o in objs if self.due(o, now)]
        parsed = [(obj, *try_parse(self.cache, obj)) for obj in candidates]
        due = [route for _, route, _ in parsed if route is not None]
        if due:
            await self._signals(due, max_signal_age)
        owned = ownership(objs)
        return [
            self._claimed(obj, route, problem, owned)
            for obj, route, problem in parsed
            if route is not None or force or _invalid_unreported(obj) or owned.conflict_message(object_key(obj))
        ]

    def _claimed(self, obj: Mapping[str, Any], route: AIRoute | None, problem: InvalidRoute | None,
                 owned: Ownership) -> Outcome:
        """A route that lost its model is marked so and not evaluated; the others are (a Conflict
        left from before turns False): see :mod:`airoute.core.ownership`."""
        key, now = object_key(obj), self.clock.now()
        generation = int((obj.get("metadata") or {}).get("generation", 1))
        message = owned.conflict_message(key)
        if message is not None:
            self._seen.pop(key, None)
            prev, _ = parse_status(obj.get("status") or {})
            decision = conflict_decision(prev, message, generation, now)
            return Outcome(key, decision, route, changed=not same_decision(decision.status, prev))
        outcome = self._decide(obj, route, problem)
        decision = resolved(outcome.decision, now, generation)
        if decision is outcome.decision:
            return outcome
        return Outcome(key, decision, outcome.route, changed=True)


def _invalid_unreported(obj: Mapping[str, Any]) -> bool:
    """An invalid object whose status does not yet say so for this generation."""
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
    reported = ready is not None and ready.get("reason") == "InvalidSpec"
    return not reported or status.get("observedGeneration") != meta.get("generation")
