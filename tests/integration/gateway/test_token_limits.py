"""Tokens-per-minute limits on a real gateway (issue 16.5): counted at the estimate, corrected by
the usage the backend reported, 429 with Retry-After once used up; per route and per client."""

from __future__ import annotations

from tests.support.gateway import CLIENT_KEYS, EnvFactory, metric, route
from tests.support.routes import emulated

LONG = " ".join(f"word{i}" for i in range(300))  # ~300 prompt tokens as the emulator counts them


async def test_a_route_over_its_tokens_per_minute_gets_429_with_retry_after(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])], limits={"tokensPerMinute": 200})])
    status, _, _ = await env.chat(content=LONG)  # a full bucket lets one large request through: it owes
    assert status == 200
    status, headers, body = await env.chat()
    assert status == 429 and b"tokens_per_minute_exceeded" in body and b"200 tokens per minute" in body
    assert 10 <= int(headers["Retry-After"]) <= 60, headers["Retry-After"]
    assert env.emulators[0].stats.total == 1, "refused before it went out"
    text = await env.metrics()
    assert metric(text, "airoute_token_limited_requests_total", route="chat", scope="route") == 1


async def test_the_estimate_is_corrected_by_the_reported_usage(gateway_env: EnvFactory) -> None:
    """max_tokens 1000 makes each request's estimate larger than the whole limit; the backend
    reports a few tokens, so the bucket gets them back and the next request goes too."""
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])], limits={"tokensPerMinute": 1000})])
    for _ in range(3):
        status, _, _ = await env.chat(extra={"max_tokens": 1000})
        assert status == 200
    assert env.emulators[0].stats.total == 3


async def test_each_client_has_its_own_share(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])],
                                                limits={"tokensPerMinutePerClient": 200})], auth=True)
    assert (await env.chat(content=LONG, key=CLIENT_KEYS["support-bot"]))[0] == 200
    status, _, body = await env.chat(key=CLIENT_KEYS["support-bot"])
    assert status == 429 and b"your share of" in body
    assert (await env.chat(key=CLIENT_KEYS["marketing"]))[0] == 200
    text = await env.metrics()
    assert metric(text, "airoute_token_limited_requests_total", scope="client") == 1
