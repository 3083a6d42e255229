"""The gateway against a real kube-apiserver: it watches AIRoutes (spec + status.weights) and
the Secrets of the namespaces it serves, as a ServiceAccount with only the rights it needs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig
from tests.support.fakes import eventually
from tests.support.gateway import gateway_rbac, metric
from tests.support.routes import airoute, emulated, secret

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

UPSTREAM_KEY = "sk-upstream-in-a-secret-0001"
CLIENT_KEY = "sk-client-from-a-secret-0002"


@pytest.fixture
async def setup(apiserver: Any) -> AsyncIterator[tuple[Any, str, list[OpenAICompatibleEmulator], Gateway]]:
    ns = f"gw-{uuid.uuid4().hex[:8]}"
    emus = [OpenAICompatibleEmulator(api_key=UPSTREAM_KEY) for _ in range(2)]
    for emu in emus:
        await emu.start()
    await asyncio.to_thread(apiserver.ensure_namespace, ns)
    backends = [emulated("a", 100, emus[0], secret="upstream"), emulated("b", 0, emus[1], secret="upstream")]
    await asyncio.to_thread(apiserver.apply, *gateway_rbac(ns), secret("upstream", {"api-key": UPSTREAM_KEY}, ns),
                            secret("clients", {"support-bot": CLIENT_KEY}, ns, credentials=False),
                            airoute(backends, "chat", ns))
    kubeconfig = await asyncio.to_thread(apiserver.service_account_kubeconfig, "airoute-system", "airoute-gateway")
    config = GatewayConfig(host="127.0.0.1", port=0, kubernetes=True, kubeconfig=str(kubeconfig),
                           namespaces=(ns,), api_keys_secret=f"{ns}/clients", allow_internal_upstreams=True)
    gateway = Gateway(config)
    await gateway.start()
    await gateway.wait_ready(30)
    yield apiserver, ns, emus, gateway
    await gateway.shutdown()
    for emu in emus:
        await emu.stop()


async def chat(gateway: Gateway, model: str = "chat") -> int:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as s, s.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions",
                                                   json=body, headers={"Authorization": f"Bearer {CLIENT_KEY}"}) as r:
        return r.status


async def test_routes_secrets_and_status_weights_from_the_cluster(setup: Any) -> None:
    apiserver, ns, emus, gateway = setup

    async def client_keys_loaded() -> bool:
        return await chat(gateway) == 200

    await eventually(client_keys_loaded)
    assert emus[0].stats.count(outcome="ok") >= 1 and emus[0].stats.count(outcome="unauthorized") == 0

    version = gateway.table.live.version
    patch = json.dumps({"status": {"weights": {"a": 0, "b": 100}}})
    await asyncio.to_thread(apiserver.kubectl, "patch", "airoute", "chat", "-n", ns, "--subresource=status",
                            "--type=merge", "-p", patch)

    async def reloaded() -> bool:
        return gateway.table.live.version > version

    await eventually(reloaded)
    before = emus[1].stats.count(outcome="ok")
    assert [await chat(gateway) for _ in range(5)] == [200] * 5
    assert emus[1].stats.count(outcome="ok") == before + 5


async def test_a_route_whose_secret_is_missing_is_refused(setup: Any) -> None:
    apiserver, ns, emus, gateway = setup
    orphan = airoute([emulated("a", 100, emus[0], secret="no-such-secret")], "orphan", ns)
    await asyncio.to_thread(apiserver.apply, orphan)

    async def noticed() -> bool:
        return any("no-such-secret" in p for p in gateway.table.problems)

    await eventually(noticed)
    assert await chat(gateway, "orphan") == 503  # the route exists but cannot be served (issue 18.3)
    assert metric(gateway.metrics.render().decode(), "airoute_gateway_route_table_load_failures_total") >= 1
    await asyncio.to_thread(apiserver.apply, secret("no-such-secret", {"api-key": UPSTREAM_KEY}, ns))

    async def served() -> bool:
        return "orphan" in gateway.table.live.routes

    await eventually(served)
    assert await chat(gateway, "orphan") == 200


async def test_routes_of_other_namespaces_are_not_served(setup: Any) -> None:
    apiserver, ns, emus, gateway = setup
    other = f"{ns}-other"
    await asyncio.to_thread(apiserver.ensure_namespace, other)
    await asyncio.to_thread(apiserver.apply, airoute([emulated("a", 100, emus[0])], "elsewhere", other))
    await asyncio.sleep(0.5)
    assert "elsewhere" not in gateway.table.live.routes
