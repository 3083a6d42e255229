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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airoute.api import AIRoute, InvalidRoute, parse_duration, parse_status
from airoute.api.objects import object_key
from airoute.controller.metrics import ControllerMetrics
from airoute.controller.observe import DrillBaselines, observe
from airoute.controller.parsing import ParseCache, try_parse
from airoute.controller.resting import Resting, RestingRoutes
from airoute.core.decide import Decision, evaluate, invalid_spec_status
from airoute.core.events import Event
from airoute.core.ownership import ClaimCache, Ownership, conflict_decision, resolved
from airoute.core.signals import StatusPage
from airoute.core.steady import at_rest, same_decision
from airoute.ports import Clock, MetricsSnapshot, MetricsSource, RouteQuery, StatusPageSource

log = logging.getLogger("airoute.controller")


@dataclass(frozen=True)
class Outcome:
    """What became of one raw AIRoute object (valid or not) in a cycle. ``decision`` is ``None``
    for a route at rest that needed none (its stored status stands); ``changed`` when the status
    must be written: it decides something else than the stored one (see :mod:`airoute.core.steady`)."""

    key: str
    decision: Decision | None
    changed: bool = False

    @property
    def events(self) -> tuple[Event, ...]:
        return self.decision.events if self.decision is not None else ()


@dataclass(slots=True)
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
    claims: ClaimCache = field(default_factory=ClaimCache)
    _seen: dict[str, _Seen] = field(default_factory=dict)
    resting: RestingRoutes = field(default_factory=RestingRoutes)
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

    def due(self, obj: Mapping[str, Any], now: float, key: str | None = None) -> bool:
        """Never evaluated here, changed since (spec or annotations), its status not about this spec,
        or its ``health.interval`` has passed. ``key``: the object's, when known."""
        seen = self._seen.get(key or object_key(obj))
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
        self.resting.forget(key)
        self.cache.forget(key)
        if self.telemetry is not None:
            namespace, _, name = key.partition("/")
            self.telemetry.forget(namespace, name)

    def reset(self) -> None:
        """Forget every route (this replica starts or stops acting): the next cycle decides all."""
        for key in list(self._seen):
            self.forget(key)

    def _prune(self, keyed: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Forget the routes that are gone (deleted since the last cycle)."""
        if len(self._seen) > len(keyed):
            present = {key for key, _ in keyed}
            for key in [k for k in self._seen if k not in present]:
                self.forget(key)

    async def _signals(self, queries: Sequence[RouteQuery], max_age: float | None) -> None:
        """Reads the signals for the routes of ``queries``, unless the last read is younger than ``max_age``."""
        now = self.clock.now()
        if max_age is not None and now - self._read_at < max_age:
            return
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

    def _saw(self, key: str, meta: Mapping[str, Any], interval: float, now: float) -> None:
        seen = self._seen.get(key)
        annotations = meta.get("annotations") or {}
        if seen is not None and seen.generation == meta.get("generation") and seen.annotations == annotations:
            seen.at = now
        else:
            self._seen[key] = _Seen(now, interval, meta.get("generation"), dict(annotations))

    def _invalid(self, key: str, obj: Mapping[str, Any], problem: InvalidRoute | None) -> Outcome:
        self._seen.pop(key, None)
        prev, _ = parse_status(obj.get("status") or {})
        problems = problem.problems if problem is not None else []
        generation = int((obj.get("metadata") or {}).get("generation", 1))
        decision = invalid_spec_status(prev, problems, generation, self.clock.now())
        return Outcome(key, decision, changed=not same_decision(decision.status, prev))

    def _rests(self, key: str, obj: Mapping[str, Any], resting: Resting) -> Outcome | None:
        """The fast path: exact, see :mod:`airoute.core.steady`; ``None`` when it does not apply."""
        if not resting.still(self._snapshot, self._pages):
            return None
        # Seen as it is: the route rests only while its object is the one last decided (RestingRoutes.get).
        self._seen[key].at = self._cycle_at
        self.skipped += 1
        return Outcome(key, None)

    def _decide(self, key: str, obj: Mapping[str, Any], route: AIRoute) -> Outcome:
        now = self.clock.now()
        self._saw(key, obj.get("metadata") or {}, parse_duration(route.spec.health.interval), self._cycle_at)
        self.decided += 1
        started = time.perf_counter()
        obs = observe(route, self._snapshot, self._pages, now, self.drill_baselines)
        decision = evaluate(route, obs, now)
        changed = not same_decision(decision.status, route.status)
        if changed:
            self.cache.wrote(key, decision.status)
        elif not decision.events and at_rest(route.status):
            self.resting.remember(key, obj, route, self._snapshot, self._pages)
            self.cache.forget(key)  # at rest, the parsed route is not needed until the object changes
        if self.telemetry is not None:
            self.telemetry.observe(route, decision.status, decision.events)
            self.telemetry.cycle.observe(time.perf_counter() - started)
        return Outcome(key, decision, changed)

    async def cycle(
        self, objs: Sequence[Mapping[str, Any]], force: bool = False, max_signal_age: float | None = None
    ) -> list[Outcome]:
        """Decide every object that is due (all of them with ``force``) with one read of the signals.

        ``max_signal_age``: reuse the last read when it is younger than this (a cycle woken by a
        change between two ticks); ``None`` reads afresh whenever some route is due.
        """
        return await self.cycle_keyed([(object_key(o), o) for o in objs], force, max_signal_age)

    async def cycle_keyed(
        self, keyed: Sequence[tuple[str, Mapping[str, Any]]], force: bool = False, max_signal_age: float | None = None
    ) -> list[Outcome]:
        """:meth:`cycle` over objects given with their ``namespace/name`` keys."""
        now = self._cycle_at = self.clock.now()
        self._prune(keyed)
        owned = self.claims.ownership(keyed)
        candidates = keyed if force else [(k, o) for k, o in keyed if self.due(o, now, k)]
        resting: list[tuple[str, Mapping[str, Any], Resting]] = []
        parsed: list[tuple[str, Mapping[str, Any], AIRoute | None, InvalidRoute | None]] = []
        for key, obj in candidates:
            rest = self.resting.get(key, obj) if key in self._seen and key not in owned.lost else None
            if rest is not None:
                resting.append((key, obj, rest))
            else:
                parsed.append((key, obj, *try_parse(self.cache, obj)))
        queries = [r.query for _, _, r in resting] + [_query(route) for _, _, route, _ in parsed if route is not None]
        if queries:
            await self._signals(queries, max_signal_age)
        outcomes = []
        for key, obj, rest in resting:
            outcome = self._rests(key, obj, rest)
            if outcome is None:  # something moved: decide it in full
                self.resting.forget(key)
                parsed.append((key, obj, *try_parse(self.cache, obj)))
            else:
                outcomes.append(outcome)
        for key, obj, route, problem in parsed:
            if route is not None or force or _invalid_unreported(obj) or key in owned.lost:
                outcomes.append(self._claimed(key, obj, route, problem, owned))
        return outcomes

    def _claimed(self, key: str, obj: Mapping[str, Any], route: AIRoute | None, problem: InvalidRoute | None,
                 owned: Ownership) -> Outcome:
        """A route that lost its model is marked so and not evaluated; the others are (a Conflict
        left from before turns False): see :mod:`airoute.core.ownership`."""
        now = self.clock.now()
        generation = int((obj.get("metadata") or {}).get("generation", 1))
        message = owned.conflict_message(key)
        if message is not None:
            self._seen.pop(key, None)
            self.resting.forget(key)
            prev, _ = parse_status(obj.get("status") or {})
            decision = conflict_decision(prev, message, generation, now)
            return Outcome(key, decision, changed=not same_decision(decision.status, prev))
        outcome = self._decide(key, obj, route) if route is not None else self._invalid(key, obj, problem)
        assert outcome.decision is not None  # only the fast path decides nothing
        decision = resolved(outcome.decision, now, generation)
        if decision is outcome.decision:
            return outcome
        return Outcome(key, decision, changed=True)


def _query(route: AIRoute) -> RouteQuery:
    return RouteQuery(route.metadata.namespace, route.metadata.name, parse_duration(route.spec.health.window))


def _invalid_unreported(obj: Mapping[str, Any]) -> bool:
    """An invalid object whose status does not yet say so for this generation."""
    status = obj.get("status") or {}
    meta = obj.get("metadata") or {}
    ready = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), None)
    reported = ready is not None and ready.get("reason") == "InvalidSpec"
    return not reported or status.get("observedGeneration") != meta.get("generation")
