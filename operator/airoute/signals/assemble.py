"""Turning per-metric results into per-series :class:`Signals` (pure, shared by every source)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from itertools import chain
from math import isfinite

from airoute.core.signals import Signals
from airoute.ports import SeriesKey

PerMetric = Mapping[str, Mapping[SeriesKey, float]]
_NONE: Mapping[SeriesKey, float] = {}


def assemble(results: PerMetric) -> dict[SeriesKey, Signals]:
    """Combine ``{"requests": {key: n}, "errors": …, "latency_p95": …}`` into Signals per key.

    A key missing from a metric counts 0 (a latency: not measured). This runs for every series at
    every cycle: one pass over the requests, then the few series that only failed."""
    requests, errors, throttled = (results.get(n, _NONE) for n in ("requests", "errors", "throttled"))
    latency, ttft = results.get("latency_p95", _NONE), results.get("ttft_p95", _NONE)
    out: dict[SeriesKey, Signals] = {}
    only_failed = [k for k in (*errors, *throttled) if k not in requests]
    for key, seen in chain(requests.items(), ((k, 0.0) for k in only_failed)):
        failed = errors.get(key, 0.0) if errors else 0.0  # at rest nothing fails: no lookup at all
        held = throttled.get(key, 0.0) if throttled else 0.0
        p95 = latency.get(key)
        first = ttft.get(key) if ttft else None
        out[key] = Signals(
            seen if seen >= failed + held else failed + held,
            failed,
            held,
            p95 if p95 is None or isfinite(p95) else None,
            first if first is None or isfinite(first) else None,
        )
    return out


def with_ejections(
    series: Mapping[SeriesKey, Signals], ejected: Iterable[tuple[str, str, str]]
) -> dict[SeriesKey, Signals]:
    """``series`` (itself, when nothing is ejected) with ``gateway_ejected`` set on the stable
    variant of every (namespace, route, backend) some gateway ejected — a backend with no requests
    in the window included."""
    ejected = list(ejected)
    if not ejected and isinstance(series, dict):
        return series  # nothing to set: no copy (30,000 series at 10,000 routes)
    out = dict(series)
    for namespace, route, backend in ejected:
        key = (namespace, route, backend, "stable")
        out[key] = replace(out.get(key) or Signals(requests=0.0, errors=0.0, throttled=0.0), gateway_ejected=True)
    return out


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative ``(le, count)`` buckets (linear in a bucket)."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_le, lower_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return lower_le
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return ordered[-1][0]
