"""Weighted routing through real HTTP: backends, canary variants, models list, probes, metrics."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.fakes import eventually
from tests.support.gateway import EnvFactory, metric, route
from tests.support.routes import emulated


def within_binomial(hits: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    return abs(hits - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


async def test_weighted_distribution_within_binomial_bounds(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: [route([emulated("a", 70, e[0]), emulated("b", 30, e[1])])])
    n = 400
    for chunk in range(0, n, 50):
        results = await asyncio.gather(*(env.chat() for _ in range(50)))
        assert {status for status, _, _ in results} == {200}, chunk
    a, b = env.emulators[0].stats.count(outcome="ok"), env.emulators[1].stats.count(outcome="ok")
    assert a + b == n
    assert within_binomial(a, n, 0.7), (a, b)
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", backend="a", outcome="success") == a


async def test_status_weights_and_canary_variants(gateway_env: EnvFactory) -> None:
    def routes(e: list[OpenAICompatibleEmulator]) -> list[dict[str, Any]]:
        stable = {"openAICompatible": {"baseURL": f"{e[0].base_url}/v1", "model": "old-model", "insecure": True}}
        status = {"weights": {"a": 100, "b": 0}, "canaryWeights": {"a": 25},
                  "backends": [{"name": "a", "provider": stable}]}
        return [route([emulated("a", 50, e[0], model="new-model"), emulated("b", 50, e[1])], status=status)]

    env = await gateway_env(2, routes)
    n = 400
    for _ in range(n // 50):
        await asyncio.gather(*(env.chat() for _ in range(50)))
    served, standby = (emu.stats.count(outcome="ok") for emu in env.emulators)
    stable, canary = (env.emulators[0].stats.count(model=m) for m in ("old-model", "new-model"))
    assert standby == 0 and stable + canary == served == n
    assert within_binomial(canary, n, 0.25), (stable, canary)
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", backend="a", variant="canary", outcome="success") == canary


async def test_models_lists_routes_and_probes_answer(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [
        route([emulated("a", 100, e[0])]),
        route([emulated("a", 100, e[0])], name="batch", tier="best-effort"),
    ])
    async with env.session.get(f"{env.url}/v1/models") as r:
        models = await r.json()
    assert [m["id"] for m in models["data"]] == ["batch", "chat"]
    for path, status in (("/healthz", 200), ("/readyz", 200), ("/nope", 404)):
        async with env.session.get(env.url + path) as r:
            assert r.status == status, path
    async with env.session.get(env.url + "/readyz") as r:
        assert (await r.json())["routeTableVersion"] == 1
    await env.reload(route([emulated("a", 100, env.emulators[0])], name="fresh"))
    async with env.session.get(f"{env.url}/v1/models") as r:
        assert [m["id"] for m in (await r.json())["data"]] == ["fresh"], "the list follows the table"


async def test_unknown_model_and_invalid_body_answer_in_openai_shape(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])])])
    status, _, body = await env.chat(model="gpt-7")
    error = json.loads(body)["error"]
    assert status == 404 and error["code"] == "model_not_found" and "gpt-7" in error["message"]
    assert set(error) == {"message", "type", "param", "code"}
    async with env.session.post(f"{env.url}/v1/chat/completions", data=b"{oops") as r:
        assert r.status == 400 and "not valid JSON" in (await r.json())["error"]["message"]


async def test_not_ready_without_a_route_table(gateway_env: EnvFactory) -> None:
    env = await gateway_env(0, lambda e: "kind: [broken", wait=False)

    async def refused() -> bool:
        return metric(await env.metrics(), "airoute_gateway_route_table_load_failures_total") >= 1

    await eventually(refused, what="the broken route file to be refused")
    async with env.session.get(f"{env.url}/readyz") as r:
        assert r.status == 503
    status, headers, body = await env.chat()
    # Not "no such model": the gateway has not read its routes yet, and says so (retryable).
    assert status == 503 and headers.get("Retry-After") == "1"
    error = json.loads(body)["error"]
    assert error["code"] == "not_ready" and "route table" in error["message"]


async def test_metrics_are_valid_prometheus_text_with_the_documented_names(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])])])
    await env.chat()
    await env.chat(stream=True, extra={"stream_options": {"include_usage": True}})
    names = {f.name for f in text_string_to_metric_families(await env.metrics())}
    assert {
        "airoute_requests", "airoute_request_duration_seconds", "gen_ai_server_time_to_first_token_seconds",
        "gen_ai_server_time_per_output_token_seconds", "gen_ai_server_request_duration_seconds",
        "gen_ai_client_token_usage",
        "airoute_tokens", "airoute_retries", "airoute_ejections", "airoute_degraded_responses",
        "airoute_shed_requests", "airoute_gateway_route_table_version",
        "airoute_gateway_route_table_load_failures",
    } <= names
    text = await env.metrics()
    assert metric(text, "airoute_tokens_total", backend="a", direction="out") > 0
    assert metric(text, "airoute_request_duration_seconds_count", backend="a") == 2
    genai = {"gen_ai_operation_name": "chat", "gen_ai_provider_name": "openai", "gen_ai_request_model": "chat",
             "gen_ai_response_model": "a"}
    assert metric(text, "gen_ai_server_time_to_first_token_seconds_count", backend="a", **genai) == 1  # streams only
    assert metric(text, "gen_ai_server_request_duration_seconds_count", backend="a", error_type="", **genai) == 2
    assert metric(text, "gen_ai_client_token_usage_count", backend="a", gen_ai_token_type="output") == 2
    assert metric(text, "gen_ai_server_time_per_output_token_seconds_count", backend="a") == 1
