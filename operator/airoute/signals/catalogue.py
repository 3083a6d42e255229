"""The PromQL catalogue: every query the controller runs, built on the gateway's metrics contract
(:mod:`airoute.api.metrics`: names and outcome classes).

Queries are templates rendered strictly (an unknown placeholder is an error, like Flagger's
``missingkey=error``). Each one covers *all* routes at once and is grouped by the four labels
(namespace, route, backend, variant): a cycle costs one query per metric per distinct window,
however many routes there are.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airoute.api import format_duration
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

GROUP_BY = "namespace, route, backend, variant"
ERRORS = "|".join(ERROR_OUTCOMES)
THROTTLED = "|".join(THROTTLED_OUTCOMES)
NOT_BACKEND = "|".join(NOT_BACKEND_OUTCOMES)
CLIENT_FAILED = "|".join(CLIENT_ERROR_OUTCOMES)


@dataclass(frozen=True)
class Query:
    """One catalogue entry: a name the results are stored under and its PromQL template."""

    name: str
    template: str

    def render(self, **values: str) -> str:
        """Substitute ``$window`` etc.; a missing value raises ``KeyError`` instead of guessing."""
        return string.Template(self.template).substitute(values)


# Rows with backend="" are outcomes the gateway decided itself (shed, degraded, unknown model):
# they say nothing about any backend's health.
BACKEND = 'backend!=""'

CATALOGUE: tuple[Query, ...] = (
    Query(
        "requests",
        f'sum by ({GROUP_BY}) (increase({REQUESTS_TOTAL}{{{BACKEND},outcome!~"{NOT_BACKEND}"}}[$window]))',
    ),
    # Only the series with some: a series missing from the answer counts 0, and at rest no backend
    # fails, so the answer stays small however many routes there are.
    Query(
        "errors",
        f'sum by ({GROUP_BY}) (increase({REQUESTS_TOTAL}{{{BACKEND},outcome=~"{ERRORS}"}}[$window])) > 0',
    ),
    Query(
        "throttled",
        f'sum by ({GROUP_BY}) (increase({REQUESTS_TOTAL}{{{BACKEND},outcome=~"{THROTTLED}"}}[$window])) > 0',
    ),
    Query(
        "latency_p95",
        f"histogram_quantile(0.95, sum by ({GROUP_BY}, le) (rate({REQUEST_DURATION}_bucket{{{BACKEND}}}[$window])))",
    ),
    Query(
        "ttft_p95",
        f"histogram_quantile(0.95, sum by ({GROUP_BY}, le) (rate({TIME_TO_FIRST_TOKEN}_bucket{{{BACKEND}}}[$window])))",
    ),
)


def promql_duration(seconds: float) -> str:
    """A range PromQL accepts: whole units (``90s``, ``2m``) or else integer milliseconds, never 0.

    PromQL refuses ``1.5s`` and ``0ms``; one such window would fail the batched query of every route.
    """
    millis = max(1, round(seconds * 1000))
    return f"{millis}ms" if millis % 1000 else format_duration(millis / 1000)


CLIENT_ERRORS = f'sum by (namespace, route) ({REQUESTS_TOTAL}{{backend="",outcome=~"{CLIENT_FAILED}"}})'
"""Cumulative client-visible failures per route (rows the gateway decided itself). One query per
cycle for all routes, whatever their windows; drills compare it with its value at their start."""


UNSERVABLE = f"max by (namespace, route, backend, reason) ({ROUTE_UNSERVABLE})"
"""Routes some gateway left out of its table, with the backend at fault and why. One query per
cycle for all routes; a series ends with the next scrape after the route is served again."""


EJECTED = f'max by (namespace, route, backend) ({BACKEND_OUT}{{state="ejected"}})'
"""Backends some gateway has ejected right now (consecutive failures): Unhealthy for the core,
whatever their error rate, which starves while their traffic goes elsewhere."""


def ejected_backends(rows: Sequence[Mapping[str, str]]) -> list[tuple[str, str, str]]:
    """(namespace, route, backend) of each row of :data:`EJECTED`'s answer (or of the gateways' series)."""
    return sorted({(m.get("namespace", ""), m.get("route", ""), m.get("backend", "")) for m in rows})


def unservable_routes(rows: Sequence[Mapping[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(namespace, route) → (backend, reason) from the label sets of :data:`UNSERVABLE`'s answer (or
    of the gateways' own series); the first backend by name when several are at fault."""
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for labels in sorted(rows, key=lambda m: (m.get("namespace", ""), m.get("route", ""), m.get("backend", ""))):
        route = (labels.get("namespace", ""), labels.get("route", ""))
        out.setdefault(route, (labels.get("backend", ""), labels.get("reason", "")))
    return out


def render_all(window_seconds: float) -> Mapping[str, str]:
    """Every catalogue query for one health window, by name."""
    window = promql_duration(window_seconds)
    return {q.name: q.render(window=window) for q in CATALOGUE}
