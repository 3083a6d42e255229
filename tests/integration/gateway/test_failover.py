"""Failover through real HTTP: outages, throttling, cut streams, degraded answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airoute.emulators.faults import Faults
from tests.support.gateway import EnvFactory, Routes, completion_text, metric, route
from tests.support.routes import emulated


def two_backends(weights: tuple[int, int] = (50, 50), **spec: Any) -> Routes:
    return lambda e: [route([emulated("a", weights[0], e[0]), emulated("b", weights[1], e[1])], **spec)]


@pytest.mark.parametrize("down", ["refuse", "reset", "error500"])
async def test_hard_outage_of_one_backend_gives_no_client_errors(gateway_env: EnvFactory, down: str) -> None:
    env = await gateway_env(2, two_backends())
    faults = Faults(error_rate=1.0, error_status=500) if down == "error500" else Faults(down=down)  # type: ignore[arg-type]
    await env.emulators[0].set_faults(faults)
    results = await asyncio.gather(*(env.chat() for _ in range(60)))
    assert [s for s, _, _ in results] == [200] * 60
    text = await env.metrics()
    assert metric(text, "airoute_ejections_total", backend="a") == 1
    assert metric(text, "airoute_retries_total", backend="a") >= 1
    failed_attempts = metric(text, "airoute_requests_total", backend="a", outcome="error")
    for _ in range(20):  # ejected: later requests go straight to b
        assert (await env.chat())[0] == 200
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", backend="a", outcome="error") == failed_attempts
    assert env.emulators[1].stats.count(outcome="ok") == 80


async def test_throttling_backend_shifts_traffic(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends(weights=(90, 10)))
    await env.emulators[0].set_faults(throttle_rate=1.0, retry_after=5)
    for _ in range(40):
        status, _, _ = await env.chat()
        assert status == 200
    text = await env.metrics()
    throttled = metric(text, "airoute_requests_total", backend="a", outcome="throttled")
    assert 1 <= throttled <= 3  # ejected after failover.consecutiveFailures (3)
    assert env.emulators[1].stats.count(outcome="ok") == 40


async def test_stream_cut_after_bytes_is_reported_and_not_retried(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends(weights=(100, 0)))
    await env.emulators[0].set_faults(cut_after=2)
    status, headers, body = await env.chat(stream=True)
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    events = [line for line in body.decode().split("\n\n") if line.strip()]
    assert events[0].startswith("data: {")
    assert '"error"' in events[-1] and "interrupted" in events[-1]
    assert "[DONE]" not in body.decode()
    assert env.emulators[1].stats.total == 0  # no silent duplicate from the standby


async def test_stream_failing_before_the_first_byte_fails_over(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends(weights=(100, 0)))
    await env.emulators[0].set_faults(cut_after=0)
    status, _, body = await env.chat(stream=True)
    assert status == 200 and body.rstrip().endswith(b"data: [DONE]")
    assert env.emulators[1].stats.count(outcome="ok") == 1


async def test_degraded_response_when_every_backend_fails(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends(degradedResponse="A person will answer shortly."))
    for emu in env.emulators:
        await emu.set_faults(down="refuse")
    status, headers, body = await env.chat()
    assert status == 200 and headers["x-airoute-degraded"] == "true"
    assert completion_text(body) == "A person will answer shortly."
    status, headers, body = await env.chat(stream=True)
    assert status == 200 and headers["x-airoute-degraded"] == "true"
    assert b"A person will answer shortly." in body and body.rstrip().endswith(b"data: [DONE]")
    text = await env.metrics()
    assert metric(text, "airoute_degraded_responses_total", route="chat") == 2
    assert metric(text, "airoute_requests_total", backend="", outcome="degraded") == 2


async def test_without_degraded_response_a_503_names_each_backend(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends())
    await env.emulators[0].set_faults(down="refuse")
    await env.emulators[1].set_faults(throttle_rate=1.0)
    status, _, body = await env.chat()
    error = json.loads(body)["error"]
    assert status == 503 and error["code"] == "backends_unavailable"
    assert "a: unavailable" in error["message"] and "b: throttled (HTTP 429" in error["message"]


async def test_upstream_bad_request_is_relayed_and_not_retried(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends())
    async with env.session.post(f"{env.url}/v1/chat/completions", json={"model": "chat"}) as r:
        assert r.status == 400
        assert "refused the request" in (await r.json())["error"]["message"]
    assert env.emulators[0].stats.total + env.emulators[1].stats.total == 1


async def test_slow_backend_times_out_and_fails_over(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: [route([emulated("a", 100, e[0], timeout="200ms"),
                                                      emulated("b", 0, e[1])])])
    await env.emulators[0].set_faults(latency=2.0)
    status, _, _ = await env.chat()
    assert status == 200
    assert metric(await env.metrics(), "airoute_requests_total", backend="a", outcome="timeout") == 1


async def test_every_backend_throttled_gives_a_429_with_retry_after(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, two_backends())
    for emu in env.emulators:
        await emu.set_faults(throttle_rate=1.0, retry_after=3)
    status, headers, body = await env.chat()
    assert status == 429 and headers["Retry-After"] == "3"
    assert json.loads(body)["error"]["code"] == "backends_throttled"
