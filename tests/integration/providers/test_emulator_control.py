"""The emulators' own controls: the admin HTTP endpoints, drop/refuse, scoping, the runner."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from airoute.emulators import (
    BedrockEmulator,
    Emulators,
    Faults,
    OpenAICompatibleEmulator,
    VertexAIEmulator,
)

pytestmark = pytest.mark.sdk


def chat_body(model: str = "m", text: str = "hi") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}]}


async def test_admin_endpoints_over_http() -> None:
    async with OpenAICompatibleEmulator() as emulator, aiohttp.ClientSession() as http:
        admin = f"{emulator.base_url}/_emulator"
        rule = {"error_rate": 1.0, "error_status": 503, "model": "canary"}
        async with http.put(f"{admin}/faults", json=rule) as resp:
            assert resp.status == 200
            assert (await resp.json())["rules"][0]["model"] == "canary"
        async with http.post(f"{emulator.base_url}/v1/chat/completions",
                             json=chat_body("canary")) as resp:
            assert resp.status == 503
            assert (await resp.json())["error"]["type"] == "service_unavailable"
        async with http.post(f"{emulator.base_url}/v1/chat/completions",
                             json=chat_body("stable")) as resp:
            assert resp.status == 200
        async with http.get(f"{admin}/stats") as resp:
            stats = await resp.json()
        assert stats["total"] == 2
        outcomes = {(r["model"], r["outcome"]): r["count"] for r in stats["requests"]}
        assert outcomes == {("canary", "error"): 1, ("stable", "ok"): 1}
        async with http.put(f"{admin}/faults", json={"error_rate": 7}) as resp:
            assert resp.status == 400
            assert "error_rate" in (await resp.json())["error"]
        async with http.put(f"{admin}/faults", json={"model_version": "v2", "rules": []}) as resp:
            assert (await resp.json()) == {"model_version": "v2", "rules": []}
        async with http.post(f"{admin}/reset") as resp:
            assert resp.status == 200
        async with http.get(f"{admin}/faults") as resp:
            assert (await resp.json())["rules"] == []
        assert emulator.stats.total == 0


async def test_drop_never_answers_and_is_counted() -> None:
    async with OpenAICompatibleEmulator() as emulator, aiohttp.ClientSession() as http:
        await emulator.set_faults(Faults(down="drop"))
        with pytest.raises(asyncio.TimeoutError):
            await http.post(f"{emulator.base_url}/v1/chat/completions", json=chat_body(),
                            timeout=aiohttp.ClientTimeout(total=0.3))
        assert emulator.stats.count(outcome="dropped") == 1


async def test_refuse_over_admin_and_restore_from_python() -> None:
    async with OpenAICompatibleEmulator() as emulator, aiohttp.ClientSession() as http:
        port = emulator.port
        async with http.put(f"{emulator.base_url}/_emulator/faults",
                            json={"down": "refuse"}) as resp:
            assert resp.status == 200
        await asyncio.sleep(0.1)
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(f"{emulator.base_url}/v1/models")
        await emulator.set_faults()
        assert emulator.port == port
        async with http.get(f"{emulator.base_url}/v1/models") as resp:
            assert resp.status == 200


async def test_error_rate_is_deterministic_for_a_seed() -> None:
    async def outcomes(seed: int) -> list[int]:
        async with OpenAICompatibleEmulator(seed=seed) as emulator, \
                aiohttp.ClientSession() as http:
            await emulator.set_faults(Faults(error_rate=0.5))
            statuses = []
            for index in range(20):
                resp = await http.post(f"{emulator.base_url}/v1/chat/completions",
                                       json=chat_body(text=str(index)))
                statuses.append(resp.status)
                resp.release()
            return statuses

    first, again, other = await outcomes(7), await outcomes(7), await outcomes(8)
    assert first == again
    assert first != other
    assert 0 < first.count(500) < 20


async def test_vertex_json_array_stream_without_alt_sse() -> None:
    async with VertexAIEmulator() as emulator, aiohttp.ClientSession() as http:
        url = (f"{emulator.base_url}/v1/projects/acme-prod/locations/us-central1/publishers/"
               "google/models/gemini-2.0-flash:streamGenerateContent")
        body = {"contents": [{"role": "user", "parts": [{"text": "array please"}]}]}
        async with http.post(url, json=body, headers={"Authorization": "Bearer t"}) as resp:
            assert resp.content_type == "application/json"
            items = json.loads(await resp.read())
        assert isinstance(items, list) and len(items) > 1
        assert items[-1]["candidates"][0]["finishReason"] == "STOP"
        async with http.post(url, json={"contents": []},
                             headers={"Authorization": "Bearer t"}) as resp:
            error = (await resp.json())["error"]
        assert resp.status == 400 and error["status"] == "INVALID_ARGUMENT"


async def test_bedrock_rejects_unsigned_requests() -> None:
    async with BedrockEmulator() as emulator, aiohttp.ClientSession() as http, \
            http.post(f"{emulator.base_url}/model/m/converse", json={}) as resp:
        assert resp.status == 403
        assert resp.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationTokenException")


async def test_runner_starts_all_four() -> None:
    async with Emulators() as emulators, aiohttp.ClientSession() as http:
        assert set(emulators.urls) == {"azure", "bedrock", "vertex", "openai"}
        for url in emulators.urls.values():
            async with http.get(f"{url}/_emulator/stats") as resp:
                assert (await resp.json())["total"] == 0


async def test_malformed_requests_get_provider_shaped_400s() -> None:
    bad = {"messages": [{"role": "user", "content": [1, 2]}], "contents": [{"parts": [3]}],
           "stream_options": "yes", "model": "m"}
    async with Emulators() as emulators, aiohttp.ClientSession() as http:
        urls = emulators.urls
        targets = [
            (f"{urls['azure']}/openai/deployments/d/chat/completions?api-version=2024-10-21",
             {"api-key": "k"}),
            (f"{urls['openai']}/v1/chat/completions", {}),
            (f"{urls['vertex']}/v1/projects/p/locations/l/publishers/google/models/"
             "g:generateContent", {"Authorization": "Bearer t"}),
        ]
        for url, headers in targets:
            async with http.post(url, data=b"{not json", headers=headers) as resp:
                assert resp.status == 400, url
            async with http.post(url, json=bad, headers=headers) as resp:
                assert resp.status in (200, 400), url
