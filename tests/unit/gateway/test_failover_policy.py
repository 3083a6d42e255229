"""The retry policy: which failures move to the next backend, ejection, degraded answers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from airoute.gateway import errors
from airoute.gateway.callers import CallerCache
from airoute.gateway.failover.policy import Failover, fails_over, outcome_of
from airoute.gateway.failover.route import LiveRoute
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.routetable.build import TableBuilder
from airoute.gateway.routetable.snapshot import Snapshot
from airoute.providers import Pools
from airoute.providers.errors import AuthFailed, BadRequest, ProviderError, Throttled, Timeout, Unavailable
from airoute.providers.sniff import sniff
from tests.support.fakes import FakeCaller, FakeReply
from tests.support.routes import airoute, unreachable


@pytest.mark.parametrize(
    ("error", "moves_on", "outcome"),
    [
        (Unavailable("x"), True, "error"),
        (Throttled("x", retry_after=1), True, "throttled"),
        (Timeout("x"), True, "timeout"),
        (AuthFailed("x"), True, "auth_failed"),
        (BadRequest("x"), False, "bad_request"),
    ],
)
def test_policy(error: ProviderError, moves_on: bool, outcome: str) -> None:
    assert fails_over(error) is moves_on
    assert outcome_of(error) == outcome


def live_route(callers: dict[str, FakeCaller], weights: tuple[int, ...] = (100, 0), **spec: Any) -> LiveRoute:
    table = TableBuilder(CallerCache(Pools()), GatewayMetrics())
    table.apply(Snapshot((airoute(unreachable(weights), **spec),)))
    route = table.live.routes["chat"]
    for s in route.choice.slots:
        for p in s.variants:
            p.target.caller = callers[s.name]
    return route


BODY = b'{"model":"chat","messages":[]}'
STREAM_BODY = b'{"model":"chat","stream":true,"messages":[]}'


async def run(route: LiveRoute, body: bytes = BODY, deadline: float = 30) -> tuple[Failover, FakeReply]:
    d = Failover(GatewayMetrics(), rand=lambda: 0.0)
    reply = FakeReply()
    await d.run(route, body, sniff(body), reply, d.clock() + deadline)  # type: ignore[arg-type]
    return d, reply


async def test_retryable_failure_moves_to_the_next_backend() -> None:
    b0, b1 = FakeCaller([Unavailable("down", status=503)]), FakeCaller([b'{"ok":1}'])
    d, reply = await run(live_route({"b0": b0, "b1": b1}))
    assert (reply.status, reply.body) == (200, b'{"ok":1}')
    m = d.metrics.requests
    assert m.get(("team", "chat", "b0", "stable", "openAICompatible", "error")) == 1
    assert m.get(("team", "chat", "b1", "stable", "openAICompatible", "success")) == 1
    assert d.metrics.retries.get(("team", "chat", "b0")) == 1


async def test_bad_request_is_never_retried() -> None:
    b0, b1 = FakeCaller([BadRequest("messages[0]: bad", status=400)]), FakeCaller([b"{}"])
    with pytest.raises(errors.ClientError) as info:
        await run(live_route({"b0": b0, "b1": b1}))
    assert info.value.status == 400 and "messages[0]: bad" in info.value.message
    assert b1.calls == 0


async def test_every_backend_failing_gives_a_503_naming_them() -> None:
    b0 = FakeCaller([Throttled("slow down", retry_after=2)])
    b1 = FakeCaller([Unavailable("boom", status=500)])
    with pytest.raises(errors.ClientError) as info:
        await run(live_route({"b0": b0, "b1": b1}))
    assert info.value.status == 503
    assert "b0: throttled" in info.value.message and "b1: unavailable (HTTP 500: boom)" in info.value.message


async def test_degraded_response_when_everything_fails() -> None:
    b = FakeCaller([Unavailable("x")])
    route = live_route({"b0": b, "b1": b}, degradedResponse="We are on it.")
    d, reply = await run(route)
    assert reply.status == 200 and ("x-airoute-degraded", "true") in reply.headers
    assert json.loads(reply.body)["choices"][0]["message"] == {"role": "assistant", "content": "We are on it."}
    assert d.metrics.degraded.get(("team", "chat")) == 1
    _, reply = await run(route, STREAM_BODY)
    assert reply.body.rstrip().endswith(b"data: [DONE]") and b"We are on it." in reply.body


async def test_a_cut_stream_ends_with_an_error_event_and_no_retry() -> None:
    b0 = FakeCaller([[b"data: {\"a\":1}\n\n", Unavailable("connection reset")]])
    b1 = FakeCaller([[b"data: [DONE]\n\n"]])
    _, reply = await run(live_route({"b0": b0, "b1": b1}), STREAM_BODY)
    assert b1.calls == 0
    assert reply.body.startswith(b'data: {"a":1}') and b'"error"' in reply.body and b"[DONE]" not in reply.body
    assert reply.ended


def with_timeout(route: LiveRoute, seconds: float) -> LiveRoute:
    for s in route.choice.slots:
        for p in s.variants:
            p.target.timeout = seconds
    return route


@pytest.mark.looptime
async def test_a_backend_that_does_not_answer_is_given_up_at_its_timeout_and_the_next_one_answers() -> None:
    b0, b1 = FakeCaller(["hang"]), FakeCaller([b"{}"])
    route = with_timeout(live_route({"b0": b0, "b1": b1}), 30.0)
    loop = asyncio.get_running_loop()
    d, reply, started = Failover(GatewayMetrics(), clock=loop.time, rand=lambda: 0.0), FakeReply(), loop.time()
    await d.run(route, BODY, sniff(BODY), reply, started + 120)  # type: ignore[arg-type]
    assert loop.time() - started == pytest.approx(30.0)
    assert (reply.status, reply.body) == (200, b"{}")
    assert d.metrics.requests.get(("team", "chat", "b0", "stable", "openAICompatible", "timeout")) == 1


@pytest.mark.looptime
async def test_the_request_deadline_bounds_every_attempt() -> None:
    """A backend allows 30 s, but the client's request has 5 s left: the attempt gets 5 s, and no
    backend is tried once the deadline passed."""
    b0, b1 = FakeCaller(["hang"]), FakeCaller([b"{}"])
    route = with_timeout(live_route({"b0": b0, "b1": b1}), 30.0)
    loop = asyncio.get_running_loop()
    d, started = Failover(GatewayMetrics(), clock=loop.time, rand=lambda: 0.0), loop.time()
    with pytest.raises(errors.ClientError) as info:
        await d.run(route, BODY, sniff(BODY), FakeReply(), started + 5)  # type: ignore[arg-type]
    assert loop.time() - started == pytest.approx(5.0)
    assert info.value.status == 503 and "b1: timeout (not tried: the request's deadline passed)" in info.value.message
    assert b1.calls == 0


async def test_consecutive_failures_eject_locally() -> None:
    b0, b1 = FakeCaller([Unavailable("x")]), FakeCaller([b"{}"])
    route = live_route({"b0": b0, "b1": b1}, failover={"consecutiveFailures": 2, "ejectFor": "1m"},
                       weights=(100, 1))
    d = Failover(GatewayMetrics(), rand=lambda: 0.0)
    for _ in range(4):
        await d.run(route, BODY, sniff(BODY), FakeReply(), d.clock() + 5)  # type: ignore[arg-type]
    assert b0.calls == 2 and b1.calls == 4
    assert d.metrics.ejections.get(("team", "chat", "b0")) == 1
