"""Health signals read straight from the gateways' ``/metrics`` (the default with no Prometheus).

Each cycle scrapes every gateway once, keeps a short history of the counters, and computes, per
(namespace, route, backend, variant), the increase over each route's window — what
``increase()`` and ``histogram_quantile()`` would give in Prometheus.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from airoute.api.metrics import (
    BACKEND_OUT,
    CLIENT_ERROR_OUTCOMES,
    ERROR_OUTCOMES,
    NOT_BACKEND_OUTCOMES,
    REQUEST_DURATION,
    REQUESTS_TOTAL,
    ROUTE_UNSERVABLE,
    THROTTLED_OUTCOMES,
    TIME_TO_FIRST_TOKEN,
)
from airoute.ports import Clock, MetricsSnapshot, RouteQuery, SeriesKey
from airoute.signals.assemble import assemble, histogram_quantile, with_ejections
from airoute.signals.catalogue import ejected_backends, unservable_routes

_ERRORS = frozenset(ERROR_OUTCOMES)
_THROTTLED = frozenset(THROTTLED_OUTCOMES)
_SKIP = frozenset(NOT_BACKEND_OUTCOMES)
_CLIENT_ERRORS = frozenset(CLIENT_ERROR_OUTCOMES)


@dataclass
class Sample:
    """Cumulative counters of one scrape, summed over every gateway that answered."""

    at: float
    counts: dict[tuple[SeriesKey, str], float] = field(default_factory=dict)  # (key, outcome)
    buckets: dict[tuple[str, SeriesKey, float], float] = field(default_factory=dict)  # (metric, key, le)
    client_errors: dict[tuple[str, str], float] = field(default_factory=dict)  # (namespace, route)
    unservable: list[dict[str, str]] = field(default_factory=list)  # label sets of ROUTE_UNSERVABLE
    ejected: list[dict[str, str]] = field(default_factory=list)  # label sets of BACKEND_OUT, state="ejected"


def _key(labels: Mapping[str, str]) -> SeriesKey | None:
    try:
        return (labels["namespace"], labels["route"], labels["backend"], labels.get("variant", "stable"))
    except KeyError:
        return None


def parse_exposition(text: str, into: Sample) -> None:
    """Add the request counters and latency buckets in a Prometheus text exposition to ``into``."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == ROUTE_UNSERVABLE and s.value > 0:
                into.unservable.append(dict(s.labels))
                continue
            if s.name == BACKEND_OUT:
                if s.value > 0 and s.labels.get("state") == "ejected":
                    into.ejected.append(dict(s.labels))
                continue
            key = _key(s.labels)
            if key is not None and not key[2] and s.name == REQUESTS_TOTAL:
                if s.labels.get("outcome") in _CLIENT_ERRORS:  # the gateway decided: the client saw a failure
                    route = (key[0], key[1])
                    into.client_errors[route] = into.client_errors.get(route, 0.0) + s.value
                continue
            if key is None or not key[2]:  # backend="": decided by the gateway, not a backend's health
                continue
            if s.name == REQUESTS_TOTAL:
                slot = (key, s.labels.get("outcome", ""))
                into.counts[slot] = into.counts.get(slot, 0.0) + s.value
            elif s.name in (f"{REQUEST_DURATION}_bucket", f"{TIME_TO_FIRST_TOKEN}_bucket"):
                b = (s.name, key, float(s.labels["le"]))
                into.buckets[b] = into.buckets.get(b, 0.0) + s.value


def _increase(new: float, old: float | None) -> float:
    """Counter increase; a reset (a restarted gateway) counts from zero, like Prometheus."""
    if old is None or new < old:
        return new
    return new - old


def window_signals(
    history: Sequence[Sample], windows: Mapping[tuple[str, str], float]
) -> dict[str, dict[SeriesKey, float]]:
    """Per-metric increases over each route's window, from the oldest sample inside it to the newest."""
    latest = history[-1]
    out: dict[str, dict[SeriesKey, float]] = defaultdict(dict)
    quant: dict[tuple[str, SeriesKey], list[tuple[float, float]]] = defaultdict(list)
    base_for: dict[float, Sample | None] = {}
    for window in set(windows.values()):
        inside = [s for s in itertools.islice(history, len(history) - 1) if s.at >= latest.at - window]
        base_for[window] = inside[0] if inside else None
    for (key, outcome), value in latest.counts.items():
        route_window = windows.get((key[0], key[1]))
        if route_window is None or outcome in _SKIP:
            continue
        base = base_for[route_window]
        delta = _increase(value, base.counts.get((key, outcome)) if base else None)
        out["requests"][key] = out["requests"].get(key, 0.0) + delta
        name = "errors" if outcome in _ERRORS else "throttled" if outcome in _THROTTLED else None
        if name:
            out[name][key] = out[name].get(key, 0.0) + delta
    for (metric, key, le), value in latest.buckets.items():
        route_window = windows.get((key[0], key[1]))
        if route_window is None:
            continue
        base = base_for[route_window]
        quant[(metric, key)].append((le, _increase(value, base.buckets.get((metric, key, le)) if base else None)))
    for (metric, key), buckets in quant.items():
        name = "latency_p95" if metric.startswith(REQUEST_DURATION) else "ttft_p95"
        q = histogram_quantile(0.95, buckets)
        if q is not None:
            out[name][key] = q
    return out


class GatewayScrapeSource:
    """A :class:`~airoute.ports.MetricsSource` that scrapes the gateways' ``/metrics`` itself."""

    def __init__(self, urls: Iterable[str], clock: Clock, keep_seconds: float = 900.0) -> None:
        self._urls = list(urls)
        self._clock = clock
        self._keep = keep_seconds
        self._history: deque[Sample] = deque()
        self._session: aiohttp.ClientSession | None = None

    async def _fetch(self, session: aiohttp.ClientSession, url: str) -> str:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as resp:
            resp.raise_for_status()
            return await resp.text()

    async def collect(self, routes: Sequence[RouteQuery]) -> MetricsSnapshot:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        texts = await asyncio.gather(*(self._fetch(self._session, u) for u in self._urls), return_exceptions=True)
        good = [t for t in texts if isinstance(t, str)]
        if not good:
            reasons = "; ".join(f"{u}: {type(t).__name__}" for u, t in zip(self._urls, texts, strict=True))
            return MetricsSnapshot(
                available=False, error=f"no gateway /metrics answered ({reasons})", queries=len(texts)
            )
        sample = Sample(at=self._clock.now())
        for text in good:
            parse_exposition(text, sample)
        self._history.append(sample)
        while self._history and self._history[0].at < sample.at - self._keep:
            self._history.popleft()
        windows = {(r.namespace, r.route): r.window_seconds for r in routes}
        return MetricsSnapshot(
            available=True,
            series=with_ejections(
                assemble(window_signals(self._history, windows)),
                [b for b in ejected_backends(sample.ejected) if b[:2] in windows],
            ),
            queries=len(texts),
            # No row means no failure yet: the gateway only creates the series on the first one.
            client_errors={
                (r.namespace, r.route): sample.client_errors.get((r.namespace, r.route), 0.0) for r in routes
            },
            unservable={
                route: why for route, why in unservable_routes(sample.unservable).items() if route in windows
            },
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
