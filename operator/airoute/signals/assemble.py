"""Turning per-metric results into per-series :class:`Signals` (pure, shared by every source)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from airoute.core.signals import Signals
from airoute.ports import SeriesKey

PerMetric = Mapping[str, Mapping[SeriesKey, float]]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def assemble(results: PerMetric) -> dict[SeriesKey, Signals]:
    """Combine ``{"requests": {key: n}, "errors": …, "latency_p95": …}`` into Signals per key."""
    keys: set[SeriesKey] = set()
    for name in ("requests", "errors", "throttled"):
        keys.update(results.get(name, {}))
    out: dict[SeriesKey, Signals] = {}
    for key in keys:
        requests = results.get("requests", {}).get(key, 0.0)
        errors = results.get("errors", {}).get(key, 0.0)
        throttled = results.get("throttled", {}).get(key, 0.0)
        out[key] = Signals(
            requests=max(requests, errors + throttled),
            errors=errors,
            throttled=throttled,
            latency_p95=_finite(results.get("latency_p95", {}).get(key)),
            ttft_p95=_finite(results.get("ttft_p95", {}).get(key)),
        )
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
