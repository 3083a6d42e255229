"""The gateway's Prometheus metrics. Names and labels are a contract: the controller's PromQL and
the alert rules read them (docs/gateway.md lists them). Every label value comes from a bounded
set: route and backend names from AIRoutes, tiers, outcome classes; never a prompt, user or key.
"""

from __future__ import annotations

from typing import Literal

from airoute.gateway.promtext import Counter, Gauge, Histogram, Registry

Outcome = Literal["success", "error", "throttled", "timeout", "bad_request", "auth_failed", "degraded", "shed"]
OUTCOMES: tuple[Outcome, ...] = (
    "success", "error", "throttled", "timeout", "bad_request", "auth_failed", "degraded", "shed",
)

BACKEND_LABELS = ("namespace", "route", "backend", "variant", "provider")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
MAX_GAUGES = frozenset({"airoute_gateway_route_table_version", "airoute_gateway_routes", "airoute_gateway_ready"})
"""Gauges merged across worker processes by maximum instead of sum."""


class GatewayMetrics:
    """All metrics of one gateway process."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.requests = r.add(Counter(
            "airoute_requests_total",
            "Requests by backend attempt and outcome; backend=\"\" for outcomes the gateway decided itself.",
            (*BACKEND_LABELS, "outcome"),
        ))
        self.duration = r.add(Histogram(
            "airoute_request_duration_seconds",
            "Duration of one backend attempt, until the last byte of the answer.",
            BACKEND_LABELS, LATENCY_BUCKETS,
        ))
        self.ttft = r.add(Histogram(
            "airoute_time_to_first_token_seconds",
            "Time from the start of a backend attempt until its first answer bytes.",
            BACKEND_LABELS, LATENCY_BUCKETS,
        ))
        self.tokens = r.add(Counter(
            "airoute_tokens_total", "Tokens reported by backends, by direction (in = prompt, out = completion).",
            ("namespace", "route", "backend", "direction"),
        ))
        self.retries = r.add(Counter(
            "airoute_retries_total",
            "Requests retried on another backend after this backend failed before the first byte.",
            ("namespace", "route", "backend"),
        ))
        self.ejections = r.add(Counter(
            "airoute_ejections_total", "Local ejections of a backend after consecutive failures in this gateway.",
            ("namespace", "route", "backend"),
        ))
        self.degraded = r.add(Counter(
            "airoute_degraded_responses_total", "Requests answered with the route's degradedResponse.",
            ("namespace", "route"),
        ))
        self.shed = r.add(Counter(
            "airoute_shed_requests_total", "Requests turned away (429) because the gateway was saturated.", ("tier",),
        ))
        self.table_version = r.add(Gauge(
            "airoute_gateway_route_table_version", "Version of the route table in use (0 before the first)."
        ))
        self.table_failures = r.add(Counter(
            "airoute_gateway_route_table_load_failures_total",
            "Route tables (or single routes) refused; the last good one stays in use.",
        ))
        self.routes = r.add(Gauge("airoute_gateway_routes", "Routes in the route table in use."))
        self.in_flight = r.add(Gauge("airoute_gateway_in_flight_requests", "Chat requests in flight.", ("tier",)))
        self.ready = r.add(Gauge("airoute_gateway_ready", "1 when the gateway serves (a route table is loaded)."))
        self.table_version.set((), 0)
        self.ready.set((), 0)

    def render(self) -> bytes:
        return self.registry.render()
