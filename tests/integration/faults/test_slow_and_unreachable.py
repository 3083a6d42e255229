"""Providers that answer slowly, or cannot be reached at all (a host that does not resolve, a closed port).

Clients wait no longer than the backend timeout before the next backend answers, requests do not pile
up on the slow provider (it is ejected; in flight goes back to zero), and an unreachable backend costs
a failover, never an error — while a healthy backend is left.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.support.fakes import eventually
from tests.support.gateway import EnvFactory, chat_body, complete, metric, post, route
from tests.support.net import closed_port
from tests.support.routes import emulated, openai_backend

TIMEOUT = 0.3


async def test_a_slow_provider_times_out_is_ejected_and_nothing_piles_up(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: [route(
        [emulated("slow", 50, e[0], timeout=f"{TIMEOUT}s"), emulated("ok", 50, e[1])],
        failover={"ejectFor": "2s", "consecutiveFailures": 3})])
    await env.emulators[0].set_faults(latency=30.0)  # answers long after any client gave up
    concurrency, total = 20, 300
    latencies: list[float] = []
    statuses: list[int] = []
    peak = 0

    async def client(i: int) -> None:
        nonlocal peak
        for j in range(total // concurrency):
            started = time.monotonic()
            stream = (i + j) % 3 == 0
            status, body = await post(env.session, env.url, chat_body(stream=stream))
            latencies.append(time.monotonic() - started)
            statuses.append(status if complete(status, body, stream) else -status)
            peak = max(peak, env.gateway.admission.in_flight)

    await asyncio.gather(*(client(i) for i in range(concurrency)))
    assert statuses == [200] * total
    assert max(latencies) < TIMEOUT + 1.0, f"a client waited {max(latencies):.2f}s (backend timeout {TIMEOUT}s)"
    assert peak <= concurrency, "in flight never exceeds the clients' own concurrency"
    text = await env.metrics()
    slow_attempts = metric(text, "airoute_requests_total", backend="slow")
    assert slow_attempts == metric(text, "airoute_requests_total", backend="slow", outcome="timeout")
    assert slow_attempts <= concurrency + 3, f"{slow_attempts} requests went to the slow provider (ejected after 3)"
    assert metric(text, "airoute_ejections_total", backend="slow") >= 1
    assert env.gateway.admission.in_flight == 0
    print(f"{total} requests, p100 latency {max(latencies):.3f}s, {slow_attempts:.0f} attempts on the slow provider")

    await env.emulators[0].set_faults()  # it recovers: after ejectFor it takes traffic again

    async def back() -> bool:
        await post(env.session, env.url, chat_body())
        return env.emulators[0].stats.count(outcome="ok") > 0

    await eventually(back, within=6.0, every=0.1)


async def test_a_stream_that_stalls_midway_is_cut_at_the_backend_timeout(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: [route(
        [emulated("stalls", 100, e[0], timeout="1s"), emulated("standby", 0, e[1])])])
    await env.emulators[0].set_faults(stall_after=3, stall_for=30.0)  # the opening and two tokens, then silence
    started = time.monotonic()
    status, body = await post(env.session, env.url, chat_body(stream=True))
    took = time.monotonic() - started
    assert status == 200 and took < 2.0, took
    last = [e for e in body.split(b"\n\n") if e.strip()][-1]
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "stream_interrupted"
    assert env.emulators[1].stats.total == 0, "bytes went out: no silent second answer from the standby"
    await env.emulators[0].set_faults(first_token_delay=30.0)  # no byte yet: the standby answers in time
    started = time.monotonic()
    status, body = await post(env.session, env.url, chat_body(stream=True))
    assert complete(status, body, True) and time.monotonic() - started < 2.0


def unreachable_at(name: str, weight: int, base_url: str) -> dict[str, Any]:
    return openai_backend(name, weight, base_url, "m", timeout="2s")


async def test_unresolvable_host_and_closed_port_fail_over_without_client_errors(gateway_env: EnvFactory) -> None:
    port = closed_port()
    env = await gateway_env(1, lambda e: [route([
        unreachable_at("no-dns", 40, "http://no-such-host.invalid:80/v1"),
        unreachable_at("closed", 40, f"http://127.0.0.1:{port}/v1"),
        emulated("ok", 20, e[0]),
    ], failover={"ejectFor": "1m", "consecutiveFailures": 2})])
    results = await asyncio.gather(*(post(env.session, env.url, chat_body(stream=i % 2 == 1)) for i in range(100)))
    assert all(complete(s, b, i % 2 == 1) for i, (s, b) in enumerate(results))
    text = await env.metrics()
    for backend in ("no-dns", "closed"):
        assert metric(text, "airoute_requests_total", backend=backend, outcome="error") >= 1
        assert metric(text, "airoute_ejections_total", backend=backend) == 1
    assert env.emulators[0].stats.count(outcome="ok") == 100


async def test_when_every_backend_is_unreachable_the_503_says_why(gateway_env: EnvFactory) -> None:
    port = closed_port()
    env = await gateway_env(0, lambda e: [route([
        unreachable_at("no-dns", 50, "http://no-such-host.invalid:80/v1"),
        unreachable_at("closed", 50, f"http://127.0.0.1:{port}/v1"),
    ])])
    status, body = await post(env.session, env.url, chat_body())
    error = json.loads(body)["error"]
    assert status == 503 and error["code"] == "backends_unavailable"
    # What kind of failure, never the socket's own words (a closed port and a filtered one read alike).
    assert "no-dns: unavailable (cannot resolve the backend's host name)" in error["message"]
    assert "closed: unavailable (cannot connect to the backend)" in error["message"]
