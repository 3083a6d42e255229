"""Health signals from a real Prometheus server, one query per metric per window per cycle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ssl
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any, TypeVar

import aiohttp
import orjson

from airoute.ports import MetricsSnapshot, RouteQuery, SeriesKey
from airoute.signals.assemble import assemble, with_ejections
from airoute.signals.catalogue import (
    CATALOGUE,
    CLIENT_ERRORS,
    EJECTED,
    UNSERVABLE,
    ejected_backends,
    render_all,
    unservable_routes,
)

ONCE_PER_CYCLE: tuple[tuple[str, str], ...] = (
    ("client_errors", CLIENT_ERRORS), ("unservable", UNSERVABLE), ("ejected", EJECTED))
"""The queries read once per cycle whatever the health windows: every route at once."""

Rows = list[dict[str, Any]]
"""The ``result`` of a Prometheus instant-vector answer: ``{"metric": {labels}, "value": [t, "v"]}`` rows."""
T = TypeVar("T")


def queries_per_cycle(windows: int) -> int:
    """PromQL queries in one cycle: the catalogue once per distinct health window, and the rest once."""
    return windows * len(CATALOGUE) + len(ONCE_PER_CYCLE)


@dataclass(frozen=True)
class PrometheusConfig:
    """Where Prometheus is and how to talk to it."""

    url: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold a bearer token
    verify_tls: bool | str = True
    timeout_seconds: float = 10.0


class PrometheusError(Exception):
    """Prometheus answered, but not with a result (an HTTP error, or ``status: error``)."""


class PrometheusMetricsSource:
    """A :class:`~airoute.ports.MetricsSource` on Prometheus' HTTP API (``GET /api/v1/query``).

    The queries of a cycle run concurrently on the event loop (aiohttp); an answer is decoded in
    a worker thread (``orjson``) and read in one pass. No client-side retries: the controller's next cycle is
    the retry, and an unreachable Prometheus must show as "metrics unavailable" at once.
    """

    def __init__(self, config: PrometheusConfig) -> None:
        self._config = config
        self._ssl: ssl.SSLContext | bool = _ssl_context(config.verify_tls)
        self._session: aiohttp.ClientSession | None = None
        self.queries_run = 0

    def _client(self) -> aiohttp.ClientSession:
        """One session per event loop (a session cannot move between loops)."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session.loop is not loop:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl, limit=16))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _query(self, promql: str, read: Callable[[Rows], T]) -> T:
        """What ``read`` makes of the answer's rows (read in the worker thread that decodes it)."""
        timeout = self._config.timeout_seconds
        params = {"query": promql, "timeout": f"{timeout:g}s"}
        async with self._client().get(
            f"{self._config.url.rstrip('/')}/api/v1/query",
            params=params,
            headers=self._config.headers,
            timeout=aiohttp.ClientTimeout(total=timeout + 5),
        ) as response:
            body = await response.read()
        return await asyncio.to_thread(_read_answer, body, response.status, read)

    async def collect(self, routes: Sequence[RouteQuery]) -> MetricsSnapshot:
        wanted = {(r.namespace, r.route): r.window_seconds for r in routes}
        windows = sorted(set(wanted.values()))
        jobs: list[tuple[str, str, Callable[[Rows], Any]]] = [
            (name, promql, partial(_series_values, wanted=wanted, window=window if len(windows) > 1 else None))
            for window in windows
            for name, promql in render_all(window).items()
        ]
        jobs += [
            ("client_errors", CLIENT_ERRORS, partial(_route_values, wanted=wanted)),
            ("unservable", UNSERVABLE, lambda rows: unservable_routes([row.get("metric", {}) for row in rows])),
            ("ejected", EJECTED, lambda rows: ejected_backends([row.get("metric", {}) for row in rows])),
        ]
        try:
            results = await asyncio.gather(*(self._query(promql, read) for _, promql, read in jobs))
        except Exception as exc:  # any failure to read means "could not measure"
            return MetricsSnapshot(available=False, error=_describe(exc, self._config.url), queries=len(jobs))
        self.queries_run += len(jobs)
        # No series means no failure yet: the gateway only creates it on the first one.
        client_errors: dict[tuple[str, str], float] = dict.fromkeys(wanted, 0.0)
        per_metric: dict[str, dict[SeriesKey, float]] = defaultdict(dict)
        unservable: dict[tuple[str, str], tuple[str, str]] = {}
        ejected: list[tuple[str, str, str]] = []
        for (name, _, _), result in zip(jobs, results, strict=True):
            if name == "client_errors":
                client_errors.update(result)
            elif name == "ejected":
                ejected = [b for b in result if b[:2] in wanted]
            elif name == "unservable":
                unservable = {route: why for route, why in result.items() if route in wanted}
            else:
                per_metric[name].update(result)
        return MetricsSnapshot(
            available=True, series=with_ejections(assemble(per_metric), ejected), queries=len(jobs),
            client_errors=client_errors,
            unservable=unservable,
        )


_SERIES_LABELS = itemgetter("namespace", "route", "backend", "variant")


def _series_values(rows: Rows, wanted: dict[tuple[str, str], float], window: float | None) -> dict[SeriesKey, float]:
    """``{(namespace, route, backend, variant): value}`` of one answer, for the routes ``wanted``
    (and, when routes have different windows, only those with this one). Runs for every row of
    every answer: one pass, the labels taken at once (a row without ``variant`` is ``stable``)."""
    out: dict[SeriesKey, float] = {}
    for row in rows:
        metric = row["metric"]
        try:
            key = _SERIES_LABELS(metric)
        except KeyError:
            try:
                key = (metric["namespace"], metric["route"], metric["backend"], metric.get("variant", "stable"))
            except KeyError:
                continue
        seen = wanted.get(key[:2])
        if seen is not None and (window is None or seen == window):
            out[key] = float(row["value"][1])
    return out


def _route_values(rows: Rows, wanted: dict[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    """Per-route values of one answer, for the routes ``wanted``."""
    out: dict[tuple[str, str], float] = {}
    for row in rows:
        metric = row.get("metric", {})
        route = (metric.get("namespace", ""), metric.get("route", ""))
        if route in wanted:
            out[route] = float(row["value"][1])
    return out


def _ssl_context(verify: bool | str) -> ssl.SSLContext | bool:
    """``True``: the system's CAs; ``False``: no verification; a path: that CA bundle."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context() if verify else False


def _read_answer(body: bytes, status: int, read: Callable[[Rows], T]) -> T:
    """Decodes an answer and reads its rows, the cyclic garbage collector paused: at 10,000 routes
    an answer is 30,000 rows, two containers each, that die as soon as they are read; a
    collection in between would traverse every one of them (a quarter of a cycle's CPU)."""
    with _GC_PAUSE.held():
        return read(_decode(body, status)["data"]["result"])


def _decode(body: bytes, status: int) -> dict[str, Any]:
    """An answer, decoded by ``orjson`` (at 10,000 routes the standard library's ``json`` took a third
    of a cycle's CPU). What ``orjson`` refuses and ``json`` would take — ``NaN`` literals, lone
    surrogates, integers beyond 64 bits — Prometheus never writes: its sample values are strings."""
    try:
        answer: dict[str, Any] = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise PrometheusError(f"HTTP {status}, not JSON") from None
    if status != 200 or answer.get("status") != "success":
        raise PrometheusError(f"HTTP {status}: {str(answer.get('error', 'query failed'))[:200]}")
    return answer


class _GcPause:
    """Pauses the cyclic garbage collector while any holder holds it (threads may overlap); the
    last one out enables it again if it was enabled when the first one came in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._was_enabled:
                    gc.enable()


_GC_PAUSE = _GcPause()


def _describe(exc: BaseException, url: str) -> str:
    """A short reason without headers or tokens (only the exception type and the URL)."""
    text = str(exc).split("\n", 1)[0][:200]
    if "Authorization" in text or "Bearer" in text:
        text = "request failed"
    return f"Prometheus at {url} unavailable: {type(exc).__name__}: {text}"
