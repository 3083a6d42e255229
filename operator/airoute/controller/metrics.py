"""The controller's own metrics: what it decided, per route and backend (names are stable: alerts use them).

Labels are bounded: namespace, route, backend, provider, cloud, tier, health/phase enums. No
secret and no free text ever becomes a label.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from airoute.api import AIRoute, AIRouteStatus
from airoute.core.events import Event

HEALTH_STATES = ("Healthy", "Degraded", "Unhealthy", "Unknown")
ROLLOUT_PHASES = ("Progressing", "Paused", "Succeeded", "RolledBack", "Aborted")


class ControllerMetrics:
    """Gauges set from each route's new status, counters from its events."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.registry = r
        route = ["namespace", "route"]
        backend = [*route, "backend", "provider", "cloud"]
        self.route_info = Gauge(
            "airoute_route_info", "A route's tier and model (1).", [*route, "tier", "model"], registry=r
        )
        self.route_ready = Gauge(
            "airoute_route_ready", "1 when some backend of the route is usable.", route, registry=r
        )
        self.route_degraded = Gauge(
            "airoute_route_degraded", "1 when a weighted backend is out or in panic.", route, registry=r
        )
        self.route_clouds = Gauge(
            "airoute_route_clouds", "Distinct clouds among the route's backends.", route, registry=r
        )
        self.route_providers = Gauge("airoute_route_providers", "Backends in the route.", route, registry=r)
        self.desired = Gauge("airoute_backend_desired_weight", "Weight declared in the spec.", backend, registry=r)
        self.effective = Gauge(
            "airoute_backend_effective_weight", "Share of traffic given now (percent).", backend, registry=r
        )
        self.health = Gauge(
            "airoute_backend_health", "1 for the backend's current health.", [*backend, "health"], registry=r
        )
        self.rollout = Gauge(
            "airoute_rollout_phase", "1 for a rollout's phase.", [*route, "backend", "phase"], registry=r
        )
        self.canary = Gauge(
            "airoute_rollout_canary_weight", "Canary share of the backend (percent).", [*route, "backend"], registry=r
        )
        self.metrics_available = Gauge(
            "airoute_controller_metrics_available", "1 when the last health-signal read succeeded.", registry=r
        )
        self.events = Counter(
            "airoute_controller_events", "Events recorded, by reason.", [*route, "reason"], registry=r
        )
        self.signal_reads = Counter(
            "airoute_controller_signal_reads",
            "Reads of the health signals: one per evaluation cycle with routes due.",
            registry=r,
        )
        self.cycle = Histogram("airoute_controller_evaluation_seconds", "Time to evaluate one route.", registry=r)
        self.metrics_available.set(0)
        self._series: dict[tuple[str, str], set[tuple[object, tuple[str, ...]]]] = {}
        self._fresh: dict[tuple[str, str], set[tuple[object, tuple[str, ...]]]] = {}
        self._counters: dict[tuple[str, str], set[tuple[object, tuple[str, ...]]]] = {}

    def _set(self, metric: Gauge, labels: tuple[str, ...], value: float, route: tuple[str, str]) -> None:
        metric.labels(*labels).set(value)
        self._fresh.setdefault(route, set()).add((metric, labels))

    def _drop(self, series: set[tuple[object, tuple[str, ...]]]) -> None:
        for metric, labels in series:
            with contextlib.suppress(KeyError):
                metric.remove(*labels)  # type: ignore[attr-defined]

    def forget(self, namespace: str, name: str) -> None:
        """Remove every series of a deleted route."""
        self._drop(self._series.pop((namespace, name), set()))
        self._drop(self._counters.pop((namespace, name), set()))

    def observe(self, route: AIRoute, status: AIRouteStatus, events: tuple[Event, ...]) -> None:
        ns, name = route.metadata.namespace, route.metadata.name
        key = (ns, name)
        spec = route.spec
        self._fresh[key] = set()
        self._set(self.route_info, (ns, name, spec.tier, spec.model), 1, key)
        ready = status.condition("Ready")
        degraded = status.condition("Degraded")
        self._set(self.route_ready, (ns, name), 1 if ready is not None and ready.status == "True" else 0, key)
        self._set(self.route_degraded, (ns, name), 1 if degraded is not None and degraded.status == "True" else 0, key)
        self._set(self.route_clouds, (ns, name), len({b.cloud for b in spec.backends}), key)
        self._set(self.route_providers, (ns, name), len(spec.backends), key)
        for b in spec.backends:
            labels = (ns, name, b.name, b.provider_kind, b.cloud)
            seen = status.backend(b.name)
            self._set(self.desired, labels, b.weight, key)
            self._set(self.effective, labels, status.weights.get(b.name, 0), key)
            for state in HEALTH_STATES:
                self._set(self.health, (*labels, state), 1 if seen is not None and seen.health == state else 0, key)
        for r in status.rollouts:
            for phase in ROLLOUT_PHASES:
                self._set(self.rollout, (ns, name, r.backend, phase), 1 if r.phase == phase else 0, key)
            self._set(self.canary, (ns, name, r.backend), r.canary_weight, key)
        # A changed tier, model or backend list leaves no stale series behind (set first, then
        # drop what is gone, so a scrape in between never sees the route half missing).
        fresh = self._fresh.pop(key)
        self._drop(self._series.get(key, set()) - fresh)
        self._series[key] = fresh
        for e in events:
            self.events.labels(ns, name, e.reason).inc()
            self._counters.setdefault(key, set()).add((self.events, (ns, name, e.reason)))
