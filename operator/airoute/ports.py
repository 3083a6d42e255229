"""What the core needs from the outside world, as small Protocols (one per outside system).

Implementations live in ``signals/`` (metrics, status pages), ``controller/`` (routes, notifier)
and ``gateway/``; tests and the demo swap in their own. Each Protocol is named for a capability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from airoute.core.events import Event
from airoute.core.signals import Signals, StatusPage

SeriesKey = tuple[str, str, str, str]
"""(namespace, route, backend, variant) — the labels every gateway metric carries."""


@dataclass(frozen=True)
class RouteQuery:
    """One route whose backends' health is wanted, over its health window."""

    namespace: str
    route: str
    window_seconds: float


_NONE: Mapping[str, Signals] = {}


@dataclass(frozen=True)
class MetricsSnapshot:
    """Health signals for every (namespace, route, backend, variant) seen in one cycle.

    ``available`` is false when the source could not be read at all (Prometheus down, no gateway
    answered): the core then changes nothing. A series missing from ``series`` had no traffic.
    """

    available: bool
    error: str = ""
    series: Mapping[SeriesKey, Signals] = field(default_factory=dict)
    queries: int = 0
    client_errors: Mapping[tuple[str, str], float] = field(default_factory=dict)
    """Per (namespace, route): requests that failed for the client — every backend failed, or
    the degraded answer — as a cumulative counter (compare two readings, never one)."""
    unservable: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    """Per (namespace, route) some gateway cannot serve and left out of its table: the backend at
    fault and why (``airoute_gateway_route_unservable``)."""

    @cached_property
    def _by_route(self) -> dict[tuple[str, str, str], dict[str, Signals]]:
        index: dict[tuple[str, str, str], dict[str, Signals]] = {}
        for (ns, route, backend, variant), signals in self.series.items():
            index.setdefault((ns, route, variant), {})[backend] = signals
        return index

    def for_route(self, namespace: str, route: str, variant: str) -> Mapping[str, Signals]:
        """Signals by backend for one route and variant (an index built once per snapshot; read-only)."""
        return self._by_route.get((namespace, route, variant), _NONE)


class MetricsSource(Protocol):
    """Batched health signals: one query per metric per cycle, for all routes together."""

    async def collect(self, routes: Sequence[RouteQuery]) -> MetricsSnapshot: ...


class StatusPageSource(Protocol):
    """Provider status pages (Statuspage-style JSON): the state of each configured component."""

    async def states(self) -> Mapping[str, StatusPage]: ...


class Notifier(Protocol):
    """Tells people that something happened to a route (Slack-compatible or generic webhook)."""

    async def notify(self, route: str, event: Event) -> bool:
        """Tells people about ``event`` of ``route`` (``namespace/name``) if it is worth it; ``True`` when told."""
        ...


class Clock(Protocol):
    """The time, so that tests and the simulation can run on virtual time."""

    def now(self) -> float: ...


__all__ = ["Clock", "MetricsSnapshot", "MetricsSource", "Notifier", "RouteQuery", "SeriesKey", "StatusPageSource"]
