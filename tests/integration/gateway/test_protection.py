"""Client keys, per-route allow-lists, the body limit and tier shedding, through real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.fakes import eventually
from tests.support.gateway import CLIENT_KEYS, EnvFactory, metric, route
from tests.support.routes import emulated


def routes_with_allow_list(e: list[OpenAICompatibleEmulator]) -> list[dict[str, Any]]:
    return [
        route([emulated("a", 100, e[0])], allowedClients=["support-bot"]),
        route([emulated("a", 100, e[0])], name="open"),
    ]


async def test_client_keys_and_allow_lists(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, routes_with_allow_list, auth=True)
    async with env.session.post(f"{env.url}/v1/chat/completions", json={"model": "chat"}) as r:
        assert r.status == 401 and "missing API key" in (await r.json())["error"]["message"]
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert (await env.chat(key="sk-wrong"))[0] == 401
    assert (await env.chat(key=CLIENT_KEYS["support-bot"]))[0] == 200
    status, _, body = await env.chat(key=CLIENT_KEYS["marketing"])
    unknown_status, _, unknown = await env.chat(model="chaz", key=CLIENT_KEYS["marketing"])
    assert (status, body) == (unknown_status, unknown.replace(b"chaz", b"chat")) == (404, body), (
        "a model the key may not use is answered exactly like one that does not exist")
    assert (await env.chat(model="open", key=CLIENT_KEYS["marketing"]))[0] == 200
    for key, models in (("marketing", ["open"]), ("support-bot", ["chat", "open"]), ("marketing", ["open"])):
        async with env.session.get(f"{env.url}/v1/models", headers=env.headers(CLIENT_KEYS[key])) as r:
            assert [m["id"] for m in (await r.json())["data"]] == models, f"{key} sees its own list"
    async with env.session.post(f"{env.url}/v1/chat/completions", json={"model": "open"},
                                headers={"api-key": CLIENT_KEYS["marketing"]}) as r:
        assert r.status != 401
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", route="", outcome="auth_failed") == 2
    assert metric(text, "airoute_requests_total", route="chat", outcome="auth_failed") == 1


def add_key(path: Path, name: str, key: str) -> None:
    path.write_text(path.read_text() + f"{name}: {key}\n")
    os.utime(path, ns=(1, 10**18))  # a new mtime even within the file system's time granularity


async def test_key_file_changes_are_picked_up(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, routes_with_allow_list, auth=True)
    assert env.gateway.config.api_keys_file is not None
    path = env.gateway.config.api_keys_file
    add_key(Path(path), "support-bot-2", "sk-new-key-0003")

    async def accepted() -> bool:
        return (await env.chat(model="open", key="sk-new-key-0003"))[0] == 200

    await eventually(accepted)


async def test_body_limit_gives_413(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])])], max_body_bytes=2048)
    status, _, body = await env.chat(content="x" * 4096)
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    assert (await env.chat(content="x" * 100))[0] == 200
    assert env.emulators[0].stats.total == 1


async def test_shedding_order_best_effort_then_standard_then_critical(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [
        route([emulated("a", 100, e[0])], name=tier, tier=tier)
        for tier in ("critical", "standard", "best-effort")
    ], max_in_flight=10)
    await env.emulators[0].set_faults(latency=1.0)
    admission = env.gateway.admission

    async def fill(model: str, count: int) -> list[asyncio.Task[tuple[int, dict[str, str], bytes]]]:
        """Starts slow requests one by one until ``count`` are in flight in the gateway."""
        tasks = []
        while admission.in_flight < count:
            before = admission.in_flight
            tasks.append(asyncio.create_task(env.chat(model=model)))

            async def admitted(before: int = before) -> bool:
                return admission.in_flight > before

            await eventually(admitted, every=0.005)
        return tasks

    held = await fill("best-effort", 7)  # best-effort may use 70 % of 10
    status, headers, body = await env.chat(model="best-effort")
    assert status == 429 and headers["Retry-After"] == "1" and "best-effort" in json.loads(body)["error"]["message"]
    held += await fill("standard", 8)  # standard may use 85 %
    assert (await env.chat(model="standard"))[0] == 429
    held += await fill("critical", 10)  # critical may use all of it
    assert (await env.chat(model="critical"))[0] == 429
    assert {r[0] for r in await asyncio.gather(*held)} == {200}
    text = await env.metrics()
    assert [metric(text, "airoute_shed_requests_total", tier=t) for t in ("best-effort", "standard", "critical")] == [
        1, 1, 1]
    assert (await env.chat(model="best-effort"))[0] == 200
