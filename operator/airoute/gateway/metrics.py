"""The gateway's Prometheus metrics, registered under the names of the metrics contract
(:mod:`airoute.api.metrics`), which the controller's PromQL, the alert rules and the dashboards read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from airoute.api import metrics as names
from airoute.api.metrics import BACKEND_LABELS, GEN_AI_LABELS
from airoute.gateway.promtext import Counter, Gauge, Histogram, Registry

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# The OpenTelemetry GenAI conventions' advised bucket boundaries.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
TPOT_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
CHANGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
MAX_GAUGES = frozenset({names.ROUTE_TABLE_VERSION, names.ROUTES, names.READY, names.ROUTE_UNSERVABLE,
                        names.OVERLOAD, names.EVENT_LOOP_LAG, names.BACKEND_OUT})
"""Gauges merged across worker processes by maximum instead of sum."""


class GatewayMetrics:
    """All metrics of one gateway process."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.requests = r.add(Counter(
            names.REQUESTS_TOTAL,
            "Requests by backend attempt and outcome; backend=\"\" for outcomes the gateway decided itself.",
            (*BACKEND_LABELS, "outcome"),
        ))
        self.duration = r.add(Histogram(
            names.REQUEST_DURATION,
            "Duration of one backend attempt, until the last byte of the answer.",
            BACKEND_LABELS, LATENCY_BUCKETS,
        ))
        self.ttft = r.add(Histogram(
            names.TIME_TO_FIRST_TOKEN,
            "Time from the start of a streamed backend attempt until its first output reached the client "
            "(gen_ai.server.time_to_first_token).",
            GEN_AI_LABELS, TTFT_BUCKETS,
        ))
        self.tpot = r.add(Histogram(
            names.TIME_PER_OUTPUT_TOKEN,
            "Time per output token after the first, of streams that reported usage "
            "(gen_ai.server.time_per_output_token).",
            GEN_AI_LABELS, TPOT_BUCKETS,
        ))
        self.gen_ai_duration = r.add(Histogram(
            names.GEN_AI_REQUEST_DURATION,
            "Duration of one backend attempt, failed ones with error_type (gen_ai.server.request.duration).",
            (*GEN_AI_LABELS, "error_type"), LATENCY_BUCKETS,
        ))
        self.token_usage = r.add(Histogram(
            names.GEN_AI_TOKEN_USAGE,
            "Tokens of one answered request, by gen_ai_token_type input or output (gen_ai.client.token.usage).",
            (*GEN_AI_LABELS, "gen_ai_token_type"), TOKEN_BUCKETS,
        ))
        self.tokens = r.add(Counter(
            names.TOKENS_TOTAL, "Tokens reported by backends, by direction (in = prompt, out = completion).",
            ("namespace", "route", "backend", "direction"),
        ))
        self.retries = r.add(Counter(
            names.RETRIES_TOTAL,
            "Requests retried on another backend after this backend failed before the first byte.",
            ("namespace", "route", "backend"),
        ))
        self.ejections = r.add(Counter(
            names.EJECTIONS_TOTAL, "Local ejections of a backend after consecutive failures in this gateway.",
            ("namespace", "route", "backend"),
        ))
        self.hold_offs = r.add(Counter(
            names.HOLD_OFFS_TOTAL,
            "Backends held off after a 429 for as long as they asked (Retry-After, x-ratelimit-reset-*): "
            "not an ejection.",
            ("namespace", "route", "backend"),
        ))
        self.spilled = r.add(Counter(
            names.SPILLED_REQUESTS_TOTAL,
            "Requests answered by a backend outside the route's first priority group (spillover), by the "
            "backend that answered.",
            ("namespace", "route", "backend"),
        ))
        self.token_limited = r.add(Counter(
            names.TOKEN_LIMITED_TOTAL,
            "Requests answered 429 because the route's (scope=route) or the client's (scope=client) tokens "
            "per minute were used up.",
            ("namespace", "route", "scope"),
        ))
        self.degraded = r.add(Counter(
            names.DEGRADED_RESPONSES_TOTAL, "Requests answered with the route's degradedResponse.",
            ("namespace", "route"),
        ))
        self.narrowed = r.add(Counter(
            names.NARROWED_REQUESTS_TOTAL,
            "Requests that only some backends of the route could serve (the others were left out of the choice).",
            ("namespace", "route"),
        ))
        self.shed = r.add(Counter(
            names.SHED_REQUESTS_TOTAL, "Requests turned away (429) because the gateway was saturated.", ("tier",),
        ))
        self.table_version = r.add(Gauge(
            names.ROUTE_TABLE_VERSION, "Version of the route table in use (0 before the first)."
        ))
        self.table_failures = r.add(Counter(
            names.ROUTE_TABLE_LOAD_FAILURES_TOTAL,
            "Route tables (or single routes) refused; the last good one stays in use.",
        ))
        self.routes = r.add(Gauge(names.ROUTES, "Routes in the route table in use."))
        self.change_cpu = r.add(Histogram(
            names.ROUTE_CHANGE_CPU,
            "CPU seconds the event loop spent on one slice of route changes (a few routes built and bound).",
            (), CHANGE_BUCKETS,
        ))
        self.gc_pause = r.add(Histogram(
            names.GC_PAUSE,
            "CPU seconds of each collection of Python's cyclic garbage collector, by generation (2: the whole "
            "heap that is not frozen); the event loop waits for it.",
            ("generation",), CHANGE_BUCKETS,
        ))
        self.in_flight = r.add(Gauge(names.IN_FLIGHT_REQUESTS, "Chat requests in flight.", ("tier",)))
        self.ready = r.add(Gauge(names.READY, "1 when the gateway serves (a route table is loaded)."))
        self.unservable = r.add(Gauge(
            names.ROUTE_UNSERVABLE,
            "1 for each route this gateway cannot serve and left out of its table, with the backend at fault "
            "and why (the controller reports it in the route's Served condition).",
            ("namespace", "route", "backend", "reason"),
        ))
        self.overload = r.add(Gauge(
            names.OVERLOAD,
            "Use of a resource over its limit (1 = full): best-effort traffic is shed from 0.7, standard from 0.85.",
            ("resource",),
        ))
        self.loop_lag = r.add(Gauge(
            names.EVENT_LOOP_LAG, "How late the event loop runs its timers, sustained (the least of the last samples).",
        ))
        self.backend_out = r.add(Gauge(
            names.BACKEND_OUT,
            "1 for each backend this gateway keeps out of its choice right now: state ejected (consecutive "
            "failures) or held_off (a 429 hold-off). The controller treats ejected as Unhealthy.",
            ("namespace", "route", "backend", "state"),
        ))
        self.table_version.set((), 0)
        self.ready.set((), 0)

    def publish_out(self, state: str, by_route: Mapping[str, Iterable[str]]) -> None:
        """Sets ``backend_out`` for one state from route key → backends (the others of that state go)."""
        kept = {k: v for k, v in self.backend_out.values.items() if k[3] != state}
        for key, backends in by_route.items():
            namespace, _, route = key.partition("/")
            kept.update({(namespace, route, backend, state): 1.0 for backend in backends})
        self.backend_out.values = kept

    def render(self) -> bytes:
        return self.registry.render()
