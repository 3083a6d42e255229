"""What the core is told about the world: a snapshot of health signals per backend, and gates."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

StatusPage = Literal["operational", "degraded", "outage"]


@dataclass(frozen=True)
class Signals:
    """Counts over the health window for one backend (or one variant of it).

    ``errors`` are failed requests (5xx, timeouts, broken connections); throttled (429) requests
    are counted in ``throttled`` only. Latencies are in seconds; ``None`` means not measured.
    """

    requests: float
    errors: float
    throttled: float
    latency_p95: float | None = None
    ttft_p95: float | None = None
    status_page: StatusPage | None = None
    gateway_ejected: bool = False
    """Some gateway keeps the backend out right now after consecutive failures (its requests go to
    the other backends, so its error rate may show nothing: the gateway's own view is the signal)."""

    @property
    def error_rate(self) -> float | None:
        return min(1.0, self.errors / self.requests) if self.requests > 0 else None

    @property
    def throttle_rate(self) -> float | None:
        return min(1.0, self.throttled / self.requests) if self.requests > 0 else None


@dataclass(frozen=True)
class Observations:
    """Everything observed for one route in one evaluation.

    ``backends`` holds the stable variant (or the whole backend when there is no canary),
    ``canaries`` the canary variant, both keyed by backend name. ``drills`` maps a backend to the
    end (epoch seconds) of an outage drill; ``promote`` / ``abort`` are the manual rollout gates.
    When ``metrics_available`` is false nothing is ejected, ramped or analysed. ``unservable``:
    some gateway cannot serve the route and left it out of its table — the backend at fault and
    the gateway's reason (``SecretNotFound`` …); ``None`` when every gateway serves it.
    """

    metrics_available: bool
    metrics_error: str = ""
    backends: Mapping[str, Signals] = field(default_factory=dict)
    canaries: Mapping[str, Signals] = field(default_factory=dict)
    drills: Mapping[str, float] = field(default_factory=dict)
    promote: bool = False
    abort: bool = False
    client_errors: float | None = None
    unservable: tuple[str, str] | None = None


def format_rate(value: float, limit: float) -> str:
    """A rate with two decimals, or more when two would hide which side of ``limit`` it is on."""
    short = f"{value:.2f}"
    if (float(short) > limit) == (value > limit) and float(short) != limit:
        return short
    return f"{value:.4g}"


def format_count(value: float) -> str:
    """A request count in whole requests. Prometheus extrapolates ``increase()`` over a window
    (``3.19878``); the whole part is what was surely counted, and keeps every comparison with a
    whole threshold true as written (``9 < 10`` for 9.7)."""
    return str(math.floor(value)) if math.isfinite(value) else f"{value:g}"


def format_seconds(value: float) -> str:
    """Seconds in three significant digits: ``9.12s``, ``0.35s``, ``125s``."""
    return f"{value:.3g}s" if value < 1000 else f"{value:.0f}s"
