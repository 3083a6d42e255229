"""429s and retry storms on real processes (issue 16.3): a throttled backend is held off for as
long as it asked and the request spills to the next; when every backend is throttled the client
gets 429 with the earliest Retry-After and the backends are not asked again meanwhile; an outage
under load adds at most the retry budget to the other backends."""

from __future__ import annotations

import asyncio

from tests.support.gateway import EnvFactory, metric, route
from tests.support.routes import emulated


async def test_a_ptu_quota_spills_to_the_next_priority_group_held_off_not_ejected(gateway_env: EnvFactory) -> None:
    """A provisioned-throughput deployment first, pay-as-you-go next, both weighted: traffic stays
    on the first group until its quota runs out, then spills for as long as the 429 asked."""
    env = await gateway_env(2, lambda e: [route(
        [{**emulated("ptu", 100, e[0]), "priority": 0}, {**emulated("paygo", 100, e[1]), "priority": 1}],
        failover={"consecutiveFailures": 2})])
    ptu, paygo = env.emulators
    for _ in range(4):
        assert (await env.chat())[0] == 200
    assert (ptu.stats.total, paygo.stats.total) == (4, 0), "equal weights, but the first group takes it all"
    await ptu.set_faults(throttle_rate=1.0, retry_after=30.0)
    for _ in range(6):
        status, headers, _ = await env.chat()
        assert status == 200 and "x-airoute-degraded" not in headers
    assert ptu.stats.total == 5, "asked once more; held off for the 30 s it asked for since"
    assert paygo.stats.count(outcome="ok") == 6
    text = await env.metrics()
    assert metric(text, "airoute_hold_offs_total", backend="ptu") == 1
    assert metric(text, "airoute_requests_total", backend="ptu", outcome="throttled") == 1
    assert metric(text, "airoute_ejections_total", backend="ptu") == 0, "a hold-off is not an ejection"
    assert metric(text, "gen_ai_server_request_duration_seconds_count", backend="ptu", error_type="throttled") == 1
    assert metric(text, "airoute_spilled_requests_total", backend="paygo") == 6
    assert metric(text, "airoute_spilled_requests_total", backend="ptu") == 0


async def test_every_backend_throttled_answers_429_with_the_earliest_retry_after(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: [route([emulated("a", 50, e[0]), emulated("b", 50, e[1])])])
    await env.emulators[0].set_faults(throttle_rate=1.0, retry_after=40.0)
    await env.emulators[1].set_faults(throttle_rate=1.0, retry_after=7.0)
    status, headers, body = await env.chat()
    assert status == 429 and headers["Retry-After"] == "7", body
    assert b"backends_throttled" in body
    status, headers, _ = await env.chat()  # both held off: answered at once, nothing asked upstream
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 7
    assert env.emulators[0].stats.total == 1 and env.emulators[1].stats.total == 1


async def test_an_outage_under_load_adds_at_most_the_retry_budget(gateway_env: EnvFactory) -> None:
    """30 requests at once to a route whose first backend is down: without a budget each would be
    retried on the standby (30 retries); the budget allows 3 retries in flight (the minimum, as
    10 % of 30 is fewer), each held long enough by the standby's latency to overlap them all."""
    env = await gateway_env(2, lambda e: [route(
        [emulated("down", 100, e[0]), emulated("standby", 0, e[1])],
        failover={"consecutiveFailures": 100, "maxRetries": 1, "retryBudget": 10})])
    down, standby = env.emulators
    await down.set_faults(error_rate=1.0, error_status=503)
    await standby.set_faults(latency=1.0)
    answers = await asyncio.gather(*(env.chat() for _ in range(30)))
    statuses = sorted(status for status, _, _ in answers)
    assert down.stats.total == 30
    assert 1 <= standby.stats.total <= 3, standby.stats.total
    assert statuses.count(200) == standby.stats.total and statuses.count(503) == 30 - standby.stats.total
    assert metric(await env.metrics(), "airoute_retries_total", backend="down") == standby.stats.total


async def test_max_retries_bounds_the_attempts_of_one_request(gateway_env: EnvFactory) -> None:
    env = await gateway_env(3, lambda e: [route(
        [emulated("a", 100, e[0]), emulated("b", 0, e[1]), emulated("c", 0, e[2])],
        failover={"consecutiveFailures": 100, "maxRetries": 1})])
    for emulator in env.emulators:
        await emulator.set_faults(error_rate=1.0, error_status=500)
    status, _, body = await env.chat()
    assert status == 503
    assert [e.stats.total for e in env.emulators] == [1, 1, 0], body
