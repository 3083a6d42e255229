"""The optional OTLP export (issue 16.6), against a receiver that decodes what arrives with the
OpenTelemetry project's own protobuf classes: one span per upstream attempt under the request's
span (a failover shows both attempts, the failed one with ``error.type``), the GenAI histograms
under the conventions' names, the same counts ``/metrics`` shows, and no key in anything sent."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from airoute.emulators.faults import Faults
from tests.support.fakes import eventually
from tests.support.gateway import CLIENT_KEYS, EnvFactory, metric, route
from tests.support.otlp_receiver import OtlpReceiver, attributes
from tests.support.routes import emulated


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    found = await OtlpReceiver().start()
    yield found
    await found.stop()


def _points(receiver: OtlpReceiver, name: str) -> list[dict[str, Any]]:
    found = receiver.latest_metrics().get(name)
    if found is None:
        return []
    data = getattr(found, found.WhichOneof("data"))
    return [{"attributes": attributes(p), "count": getattr(p, "count", None), "value": getattr(p, "as_double", None),
             "buckets": list(getattr(p, "bucket_counts", []))} for p in data.data_points]


async def test_a_failover_is_one_request_span_with_both_attempts_and_the_metrics_match(
        receiver: OtlpReceiver, gateway_env: EnvFactory) -> None:  # the receiver outlives the gateway
    env = await gateway_env(2, lambda e: [route([emulated("a", 100, e[0]), emulated("b", 0, e[1])])], auth=True,
                            otlp_endpoint=receiver.url, otlp_interval=0.2)
    await env.emulators[0].set_faults(Faults(down="refuse"))
    status, _, _ = await env.chat()
    assert status == 200
    status, _, _ = await env.chat(stream=True, extra={"stream_options": {"include_usage": True}})
    assert status == 200

    def traced() -> list[Any]:
        return [s for s in receiver.spans() if s.kind == Span.SPAN_KIND_SERVER]

    requests = await eventually(lambda: len(traced()) >= 2 and traced(), within=15, what="two request spans")
    spans = receiver.spans()
    for request in requests:
        assert request.name == "chat chat"
        attempts = sorted((s for s in spans if s.parent_span_id == request.span_id), key=lambda s: s.end_time_unix_nano)
        assert [attributes(s)["airoute.backend"] for s in attempts] == ["a", "b"], "both attempts, in order"
        assert {s.trace_id for s in attempts} == {request.trace_id}
        failed, answered = (attributes(s) for s in attempts)
        assert attempts[0].kind == attempts[1].kind == Span.SPAN_KIND_CLIENT
        assert failed["error.type"] == "unavailable" and attempts[0].status.code == Status.STATUS_CODE_ERROR
        assert "error.type" not in answered and attempts[1].status.code != Status.STATUS_CODE_ERROR
        assert answered["gen_ai.request.model"] == "chat" and answered["gen_ai.provider.name"]
        assert answered["gen_ai.usage.output_tokens"] > 0
        assert request.start_time_unix_nano <= attempts[0].start_time_unix_nano <= attempts[1].end_time_unix_nano
        assert attempts[1].end_time_unix_nano <= request.end_time_unix_nano

    text = await env.metrics()

    def exported(name: str, **labels: str) -> float:
        return sum(p["count"] if p["count"] is not None else p["value"] for p in _points(receiver, name)
                   if labels.items() <= p["attributes"].items())

    def matches() -> bool:
        return (exported("gen_ai.server.request.duration", **{"airoute_backend": "a"}) == 0  # plain labels keep names
                and exported("gen_ai.server.request.duration", backend="a", **{"error.type": "unavailable"})
                == metric(text, "gen_ai_server_request_duration_seconds_count", backend="a", error_type="unavailable")
                and exported("gen_ai.server.time_to_first_token", backend="b")
                == metric(text, "gen_ai_server_time_to_first_token_seconds_count", backend="b") == 1
                and exported("airoute_requests_total", backend="b", outcome="success")
                == metric(text, "airoute_requests_total", backend="b", outcome="success") == 2)

    await eventually(matches, within=15, what="the exported metrics to match /metrics")
    duration = receiver.latest_metrics()["gen_ai.server.request.duration"]
    assert duration.unit == "s" and duration.histogram.aggregation_temporality == 2  # cumulative
    for point in _points(receiver, "gen_ai.server.request.duration"):
        assert sum(point["buckets"]) == point["count"]
    key = CLIENT_KEYS["support-bot"].encode()
    assert receiver.raw and not any(key in body for body in receiver.raw), "a client key left the gateway"


async def test_a_client_trace_is_continued_and_a_malformed_one_starts_a_new_trace(
        receiver: OtlpReceiver, gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])])], auth=True,
                            otlp_endpoint=receiver.url, otlp_interval=0.2)
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    keyless_trace = "0af7651916cd43dd8448eb211c80319c"
    body = {"model": "chat", "messages": [{"role": "user", "content": "no key"}]}
    async with env.session.post(f"{env.url}/v1/chat/completions", json=body,
                                headers={"traceparent": f"00-{keyless_trace}-{parent_id}-01"}) as r:
        assert r.status == 401  # refused at the head: no span, nothing placed in that trace
    sent = {"continued": f"00-{trace_id}-{parent_id}-01", "malformed": f"00-{trace_id}-{parent_id}-zz"}
    for content, traceparent in sent.items():
        body = {"model": "chat", "messages": [{"role": "user", "content": content}]}
        headers = env.headers() | {"traceparent": traceparent, "tracestate": "vendor=1"}
        async with env.session.post(f"{env.url}/v1/chat/completions", json=body, headers=headers) as r:
            assert r.status == 200

    def traced() -> list[Any]:
        return [s for s in receiver.spans() if s.kind == Span.SPAN_KIND_SERVER]

    def in_order() -> list[Any]:
        return sorted(traced(), key=lambda s: s.start_time_unix_nano)

    continued, malformed = await eventually(lambda: len(traced()) >= 2 and in_order(), within=15,
                                            what="two request spans")
    assert continued.trace_id.hex() == trace_id and continued.parent_span_id.hex() == parent_id
    assert continued.trace_state == "vendor=1"
    attempt = next(s for s in receiver.spans() if s.parent_span_id == continued.span_id)
    assert attempt.trace_id == continued.trace_id, "the attempt is in the client's trace too"
    assert malformed.trace_id.hex() != trace_id and not malformed.parent_span_id, "a malformed traceparent: a new root"
    assert all(s.trace_id.hex() != keyless_trace for s in receiver.spans()), "a client without a key is traced"


def test_without_an_endpoint_opentelemetry_is_not_even_loaded() -> None:
    code = ("import sys; from airoute.gateway import Gateway, GatewayConfig; "
            "g = Gateway(GatewayConfig(routes_dir='.', auth_disabled=True)); "
            "assert g.otlp is None and g.failover.spans is None; "
            "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_unusable_endpoint_is_refused_naming_the_flag() -> None:
    run = subprocess.run([sys.executable, "-m", "airoute.gateway", "--routes", ".", "--no-auth",
                          "--otlp-endpoint", "otel-collector:4318"], capture_output=True, text=True)
    assert run.returncode == 2 and "--otlp-endpoint must be an http:// or https:// URL" in run.stderr
    assert "Traceback" not in run.stderr
