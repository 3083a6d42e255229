"""The controller's own metrics: what it decided, per route and backend (names are stable: alerts use them).

Labels are bounded: namespace, route, backend, provider, cloud, tier, health/phase enums. No
secret and no free text ever becomes a label.

The per-route gauges are generated when Prometheus scrapes, from one small record per route
(prometheus_client's custom-collector pattern): a labelled child per gauge and backend would cost
~17 objects and ~13 KB per route, which at 10,000 routes is most of the controller's memory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from airoute.api import AIRoute, AIRouteStatus
from airoute.core.events import Event

HEALTH_STATES = ("Healthy", "Degraded", "Unhealthy", "Unknown")
ROLLOUT_PHASES = ("Progressing", "Paused", "Succeeded", "RolledBack", "Aborted")
ROUTE = ["namespace", "route"]
BACKEND = [*ROUTE, "backend", "provider", "cloud"]


@dataclass(frozen=True, slots=True)
class _Backend:
    name: str
    provider: str
    cloud: str
    desired: int
    effective: int
    health: str


@dataclass(frozen=True, slots=True)
class _Route:
    """What the gauges of one route say (set from its last decision)."""

    tier: str
    model: str
    ready: bool
    degraded: bool
    clouds: int
    backends: tuple[_Backend, ...]
    rollouts: tuple[tuple[str, str, int], ...]  # backend, phase, canary weight


def _record(route: AIRoute, status: AIRouteStatus) -> _Route:
    spec = route.spec
    ready, degraded = status.condition("Ready"), status.condition("Degraded")
    backends = []
    for b in spec.backends:
        seen = status.backend(b.name)
        health = seen.health if seen is not None else ""
        backends.append(_Backend(b.name, b.provider_kind, b.cloud, b.weight, status.weights.get(b.name, 0), health))
    return _Route(
        tier=spec.tier,
        model=spec.model,
        ready=ready is not None and ready.status == "True",
        degraded=degraded is not None and degraded.status == "True",
        clouds=len({b.cloud for b in spec.backends}),
        backends=tuple(backends),
        rollouts=tuple((r.backend, r.phase, r.canary_weight) for r in status.rollouts),
    )


class _RouteGauges:
    """A prometheus_client collector: every route's gauges, generated at scrape time."""

    def __init__(self, routes: dict[tuple[str, str], _Route]) -> None:
        self.routes = routes

    def _families(self) -> dict[str, GaugeMetricFamily]:
        def family(name: str, text: str, labels: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, text, labels=labels)

        return {
            "info": family("airoute_route_info", "A route's tier and model (1).", [*ROUTE, "tier", "model"]),
            "ready": family("airoute_route_ready", "1 when some backend of the route is usable.", ROUTE),
            "degraded": family("airoute_route_degraded", "1 when a weighted backend is out or in panic.", ROUTE),
            "clouds": family("airoute_route_clouds", "Distinct clouds among the route's backends.", ROUTE),
            "providers": family("airoute_route_providers", "Backends in the route.", ROUTE),
            "desired": family("airoute_backend_desired_weight", "Weight declared in the spec.", BACKEND),
            "effective": family(
                "airoute_backend_effective_weight", "Share of traffic given now (percent).", BACKEND
            ),
            "health": family("airoute_backend_health", "1 for the backend's current health.", [*BACKEND, "health"]),
            "phase": family("airoute_rollout_phase", "1 for a rollout's phase.", [*ROUTE, "backend", "phase"]),
            "canary": family(
                "airoute_rollout_canary_weight", "Canary share of the backend (percent).", [*ROUTE, "backend"]
            ),
        }

    def describe(self) -> Iterator[Metric]:
        yield from self._families().values()

    def collect(self) -> Iterator[Metric]:
        f = self._families()
        for (ns, name), r in list(self.routes.items()):
            f["info"].add_metric([ns, name, r.tier, r.model], 1)
            f["ready"].add_metric([ns, name], 1 if r.ready else 0)
            f["degraded"].add_metric([ns, name], 1 if r.degraded else 0)
            f["clouds"].add_metric([ns, name], r.clouds)
            f["providers"].add_metric([ns, name], len(r.backends))
            for b in r.backends:
                labels = [ns, name, b.name, b.provider, b.cloud]
                f["desired"].add_metric(labels, b.desired)
                f["effective"].add_metric(labels, b.effective)
                for state in HEALTH_STATES:
                    f["health"].add_metric([*labels, state], 1 if b.health == state else 0)
            for backend, phase, canary in r.rollouts:
                for each in ROLLOUT_PHASES:
                    f["phase"].add_metric([ns, name, backend, each], 1 if phase == each else 0)
                f["canary"].add_metric([ns, name, backend], canary)
        yield from f.values()


class ControllerMetrics:
    """Per-route gauges from each route's last decision, counters from its events."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.registry = r
        self._routes: dict[tuple[str, str], _Route] = {}
        r.register(_RouteGauges(self._routes))
        self.metrics_available = Gauge(
            "airoute_controller_metrics_available", "1 when the last health-signal read succeeded.", registry=r
        )
        self.events = Counter(
            "airoute_controller_events", "Events recorded, by reason.", [*ROUTE, "reason"], registry=r
        )
        self.cycle = Histogram(
            "airoute_controller_evaluation_seconds",
            "Time to decide one route (routes at rest, not decided again, are not counted).",
            registry=r,
        )
        self.signal_reads = Counter(
            "airoute_controller_signal_reads",
            "Reads of the health signals: one per evaluation cycle with routes due.",
            registry=r,
        )
        self.metrics_available.set(0)
        self._reasons: dict[tuple[str, str], set[str]] = {}

    def forget(self, namespace: str, name: str) -> None:
        """Remove every series of a route this controller no longer evaluates."""
        self._routes.pop((namespace, name), None)
        for reason in self._reasons.pop((namespace, name), set()):
            with contextlib.suppress(KeyError):
                self.events.remove(namespace, name, reason)

    def observe(self, route: AIRoute, status: AIRouteStatus, events: tuple[Event, ...]) -> None:
        key = (route.metadata.namespace, route.metadata.name)
        self._routes[key] = _record(route, status)
        for e in events:
            self.events.labels(*key, e.reason).inc()
            self._reasons.setdefault(key, set()).add(e.reason)
