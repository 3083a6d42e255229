"""Health signals from a real Prometheus server, one query per metric per window per cycle."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from airoute.ports import MetricsSnapshot, RouteQuery, SeriesKey
from airoute.signals.assemble import assemble
from airoute.signals.catalogue import CLIENT_ERRORS, render_all


@dataclass(frozen=True)
class PrometheusConfig:
    """Where Prometheus is and how to talk to it."""

    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold a bearer token
    verify_tls: bool | str = True
    timeout_seconds: float = 10.0


def _series_key(metric: dict[str, str]) -> SeriesKey | None:
    try:
        return (metric["namespace"], metric["route"], metric["backend"], metric.get("variant", "stable"))
    except KeyError:
        return None


class PrometheusMetricsSource:
    """A :class:`~airoute.ports.MetricsSource` backed by ``prometheus-api-client``.

    The client is synchronous (``requests``), so queries run in worker threads, concurrently.
    """

    def __init__(self, config: PrometheusConfig) -> None:
        from prometheus_api_client import PrometheusConnect  # heavy import: only when used
        from urllib3.util.retry import Retry

        self._config = config
        # No client-side retries: the controller's next cycle is the retry, and an unreachable
        # Prometheus must show as "metrics unavailable" at once, not after seconds of back-off.
        self._client = PrometheusConnect(
            url=config.url, headers=config.headers or None, disable_ssl=config.verify_tls is False, retry=Retry(total=0)
        )
        self.queries_run = 0

    def _query(self, promql: str) -> list[dict[str, Any]]:
        params = {"timeout": f"{self._config.timeout_seconds:g}s"}
        result: list[dict[str, Any]] = self._client.custom_query(query=promql, params=params)
        return result

    async def collect(self, routes: Sequence[RouteQuery]) -> MetricsSnapshot:
        wanted = {(r.namespace, r.route) for r in routes}
        windows = sorted({r.window_seconds for r in routes})
        per_metric: dict[str, dict[SeriesKey, float]] = defaultdict(dict)
        jobs = [(window, name, promql) for window in windows for name, promql in render_all(window).items()]
        jobs.append((0.0, "client_errors", CLIENT_ERRORS))
        try:
            results = await asyncio.gather(*(asyncio.to_thread(self._query, q) for _, _, q in jobs))
        except Exception as exc:  # any failure to read means "could not measure"
            return MetricsSnapshot(available=False, error=_describe(exc, self._config.url), queries=len(jobs))
        self.queries_run += len(jobs)
        window_of = {(r.namespace, r.route): r.window_seconds for r in routes}
        # No series means no failure yet: the gateway only creates it on the first one.
        client_errors: dict[tuple[str, str], float] = dict.fromkeys(wanted, 0.0)
        for (window, name, _), rows in zip(jobs, results, strict=True):
            if name == "client_errors":
                for row in rows:
                    metric = row.get("metric", {})
                    route = (metric.get("namespace", ""), metric.get("route", ""))
                    if route in wanted:
                        client_errors[route] = float(row["value"][1])
                continue
            for row in rows:
                key = _series_key(row.get("metric", {}))
                if key is None or (key[0], key[1]) not in wanted or window_of[(key[0], key[1])] != window:
                    continue
                per_metric[name][key] = float(row["value"][1])
        return MetricsSnapshot(
            available=True, series=assemble(per_metric), queries=len(jobs), client_errors=client_errors
        )


def _describe(exc: BaseException, url: str) -> str:
    """A short reason without headers or tokens (only the exception type and the URL)."""
    text = str(exc).split("\n", 1)[0][:200]
    if "Authorization" in text or "Bearer" in text:
        text = "request failed"
    return f"Prometheus at {url} unavailable: {type(exc).__name__}: {text}"
