"""Optional OpenTelemetry export (issue 16.6), off by default: with ``--otlp-endpoint URL`` a
gateway process sends, over OTLP/HTTP (protobuf) through ``opentelemetry-sdk``,

* **its metrics**: every ``interval`` seconds, the same registry ``/metrics`` renders — the GenAI
  histograms under the semantic conventions' names (``gen_ai.server.time_to_first_token``, …)
  and attributes (``gen_ai.provider.name``, ``error.type``, …), the others under their Prometheus
  names and labels. Cumulative, per worker process (``service.instance.id``). Nothing is counted
  twice: the hot path records once, into the registry; the export reads it.
* **one span per request and one per upstream attempt**: a ``SERVER`` span ``chat {model}`` for
  the client's request, and under it a ``CLIENT`` span per backend attempt (a failover shows as
  two attempts, the first with ``error.type`` and status ERROR), with the conventions' attributes
  and the attempt's token usage. A request that carries a W3C ``traceparent`` continues the
  client's trace (its span is a child of the client's); the gateway does not send trace headers
  to providers (their APIs do not read them, and a translated request stays what the SDK sends).

What goes out is what the metrics already carry: namespaces, route, backend and model names,
provider kinds, error kinds and token counts — never a prompt, a key or a header. The OTLP
exporter reads the usual ``OTEL_EXPORTER_OTLP_HEADERS`` / ``OTEL_RESOURCE_ATTRIBUTES`` variables.

The ``opentelemetry`` packages are imported only here, and this module only when the export is on:
a gateway without ``--otlp-endpoint`` neither loads them nor pays for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time
from collections.abc import Iterator, Mapping

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from airoute.api import metrics as names
from airoute.api.metrics import GEN_AI_LABELS
from airoute.gateway.failover.route import LiveRoute, Target
from airoute.gateway.promtext import Counter, Registry
from airoute.gateway.promtext import Gauge as PromGauge
from airoute.gateway.promtext import Histogram as PromHistogram
from airoute.gateway.promtext import Metric as PromMetric

log = logging.getLogger(__name__)

EXPORT_TIMEOUT = 5.0
"""Seconds one export may take, retries included: an unreachable receiver never holds a drain longer."""

SCOPE = InstrumentationScope("airoute.gateway")
CONVENTION_NAMES = {
    names.TIME_TO_FIRST_TOKEN: ("gen_ai.server.time_to_first_token", "s"),
    names.TIME_PER_OUTPUT_TOKEN: ("gen_ai.server.time_per_output_token", "s"),
    names.GEN_AI_REQUEST_DURATION: ("gen_ai.server.request.duration", "s"),
    names.GEN_AI_TOKEN_USAGE: ("gen_ai.client.token.usage", "{token}"),
}
"""The GenAI semantic conventions' metric names and units, by Prometheus name."""
ATTRIBUTE_NAMES = {
    "gen_ai_operation_name": "gen_ai.operation.name",
    "gen_ai_provider_name": "gen_ai.provider.name",
    "gen_ai_request_model": "gen_ai.request.model",
    "gen_ai_response_model": "gen_ai.response.model",
    "gen_ai_token_type": "gen_ai.token.type",
    "error_type": "error.type",
}
"""The conventions' attribute names, by Prometheus label; other labels keep their names."""
_GEN_AI = dict(zip(GEN_AI_LABELS, range(len(GEN_AI_LABELS)), strict=True))


def attributes(labels: tuple[str, ...], values: tuple[str, ...]) -> dict[str, str]:
    """A series' labels as OTel attributes; empty values (``error_type=""`` of a success) are left out."""
    return {ATTRIBUTE_NAMES.get(k, k): v for k, v in zip(labels, values, strict=True) if v}


def metrics_data(registry: Registry, resource: Resource, start_ns: int, now_ns: int) -> MetricsData:
    """The registry's series as OTLP metrics, cumulative since ``start_ns``."""
    for collect in registry.collectors:
        collect()
    found = [m for m in (_metric(metric, start_ns, now_ns) for metric in registry.metrics) if m is not None]
    return MetricsData([ResourceMetrics(resource, [ScopeMetrics(SCOPE, found, "")], "")])


def _metric(metric: PromMetric, start_ns: int, now_ns: int) -> Metric | None:
    name, unit = CONVENTION_NAMES.get(metric.name, (metric.name, ""))
    data: Histogram | Sum | Gauge
    if isinstance(metric, PromHistogram):
        n = len(metric.bounds)
        data = Histogram([HistogramDataPoint(attributes(metric.labels, key), start_ns, now_ns, int(row[-1]), row[-2],
                                             [int(c) for c in row[:n]] + [int(row[-1] - sum(row[:n]))],
                                             metric.bounds, row[-4], row[-3])
                          for key, row in metric.values.items()], AggregationTemporality.CUMULATIVE)
    elif isinstance(metric, PromGauge):
        data = Gauge([NumberDataPoint(attributes(metric.labels, key), start_ns, now_ns, value)
                      for key, value in metric.values.items()])
    elif isinstance(metric, Counter):
        data = Sum([NumberDataPoint(attributes(metric.labels, key), start_ns, now_ns, value)
                    for key, value in metric.values.items()], AggregationTemporality.CUMULATIVE, True)
    else:
        return None
    if not data.data_points:
        return None
    return Metric(name, metric.help, unit, data)


class OtlpExport:
    """One gateway process's export: its spans as they end (batched), its metrics every ``interval``."""

    def __init__(self, endpoint: str, registry: Registry, interval: float, worker: int = 0,
                 headers: Mapping[str, str] | None = None) -> None:
        base = endpoint.rstrip("/")
        self.resource = Resource.create({"service.name": "airoute-gateway",
                                         "service.instance.id": f"{socket.gethostname()}-{worker}"})
        self.registry = registry
        self.interval = interval
        self.metrics = OTLPMetricExporter(endpoint=f"{base}/v1/metrics", headers=headers, timeout=EXPORT_TIMEOUT)
        self.tracing = TracerProvider(resource=self.resource, shutdown_on_exit=False)
        self.tracing.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
            endpoint=f"{base}/v1/traces", headers=headers, timeout=EXPORT_TIMEOUT)))
        self.spans = AttemptSpans(self.tracing)
        self.started_ns = time.time_ns()

    async def push_metrics(self) -> None:
        """Sends the metrics every ``interval`` seconds until cancelled (the snapshot is taken on
        the event loop, the sending in a thread)."""
        while True:
            await asyncio.sleep(self.interval)
            await self.push_once()

    async def push_once(self) -> None:
        data = metrics_data(self.registry, self.resource, self.started_ns, time.time_ns())
        result = await asyncio.to_thread(self.metrics.export, data)
        if result.name != "SUCCESS":
            log.warning("OTLP metrics export failed; the next one is in %gs", self.interval)

    async def close(self) -> None:
        """The last metrics and the spans not yet sent, then the exporters close."""
        with contextlib.suppress(Exception):
            await self.push_once()
        await asyncio.to_thread(self.tracing.shutdown)
        await asyncio.to_thread(self.metrics.shutdown)


_TRACE_CONTEXT = TraceContextTextMapPropagator()
"""Reads ``traceparent`` / ``tracestate`` (the W3C Trace Context headers); a malformed one is ignored."""


class AttemptSpans:
    """The request span and its attempts' spans (timed by the caller: an attempt's span is made
    when it ends, from its start and end)."""

    def __init__(self, provider: TracerProvider) -> None:
        self.tracer = provider.get_tracer("airoute.gateway")

    @contextlib.contextmanager
    def request(self, route: LiveRoute, headers: Mapping[str, str]) -> Iterator[None]:
        """The ``SERVER`` span of one request: a child of the client's span when the request carries
        a valid W3C ``traceparent`` (and ``tracestate``), else the root of a new trace."""
        entry = route.entry
        parent = _TRACE_CONTEXT.extract(headers) if "traceparent" in headers else None
        with self.tracer.start_as_current_span(
            f"chat {entry.model}", kind=SpanKind.SERVER, context=parent,
            attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": entry.model,
                        "airoute.namespace": entry.namespace, "airoute.route": entry.name},
        ):
            yield

    def attempt(self, target: Target, seconds: float, error: str = "", tokens: tuple[int, int] = (0, 0)) -> None:
        """The span of an attempt that ended now after ``seconds``; ``error``: its error kind."""
        values = target.gen_ai
        found: dict[str, str | int] = {
            ("airoute." + k if k in _PLAIN else k): v
            for k, v in (attributes(GEN_AI_LABELS, values) if values else {}).items()}
        if tokens[0] or tokens[1]:
            found.update({"gen_ai.usage.input_tokens": tokens[0], "gen_ai.usage.output_tokens": tokens[1]})
        if error:
            found["error.type"] = error
        end = time.time_ns()
        model = values[_GEN_AI["gen_ai_request_model"]] if values else ""
        span = self.tracer.start_span(f"{found.get('gen_ai.operation.name', 'chat')} {model}".rstrip(),
                                      kind=SpanKind.CLIENT, attributes=found,
                                      start_time=end - max(0, math.floor(seconds * 1e9)))
        if error:
            span.set_status(Status(StatusCode.ERROR, error))
        span.end(end_time=end)


_PLAIN = frozenset(label for label in GEN_AI_LABELS if not label.startswith("gen_ai_"))
"""The backend labels (namespace, route, backend, variant, provider): ``airoute.*`` on spans."""

