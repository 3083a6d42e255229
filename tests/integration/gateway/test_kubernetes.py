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

from .conftest import metric, until

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

UPSTREAM_KEY = "sk-upstream-in-a-secret-0001"
CLIENT_KEY = "sk-client-from-a-secret-0002"


def airoute(ns: str, name: str, backends: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute", "metadata": {"name": name, "namespace": ns},
            "spec": {"model": name, "backends": backends, **spec}}


def backend(name: str, weight: int, emu: OpenAICompatibleEmulator, secret: str | None = "upstream") -> dict[str, Any]:
    block: dict[str, Any] = {"baseURL": f"{emu.base_url}/v1", "model": name, "insecure": True}
    if secret:
        block["credentialsSecretRef"] = {"name": secret}
    return {"name": name, "weight": weight, "openAICompatible": block}


def rbac(ns: str) -> list[dict[str, Any]]:
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "airoute-gateway", "namespace": ns},
            "rules": [{"apiGroups": ["airoute.dev"], "resources": ["airoutes"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "airoute-gateway", "namespace": ns},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "airoute-gateway"},
               "subjects": [{"kind": "ServiceAccount", "name": "airoute-gateway", "namespace": "airoute-system"}]}
    return [role, binding]


def secret(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": data}


@pytest.fixture
async def setup(apiserver: Any) -> AsyncIterator[tuple[Any, str, list[OpenAICompatibleEmulator], Gateway]]:
    ns = f"gw-{uuid.uuid4().hex[:8]}"
    emus = [OpenAICompatibleEmulator(api_key=UPSTREAM_KEY) for _ in range(2)]
    for emu in emus:
        await emu.start()
    await asyncio.to_thread(apiserver.ensure_namespace, ns)
    await asyncio.to_thread(apiserver.apply, *rbac(ns), secret(ns, "upstream", {"api-key": UPSTREAM_KEY}),
                            secret(ns, "clients", {"support-bot": CLIENT_KEY}),
                            airoute(ns, "chat", [backend("a", 100, emus[0]), backend("b", 0, emus[1])]))
    kubeconfig = await asyncio.to_thread(apiserver.service_account_kubeconfig, "airoute-system", "airoute-gateway")
    config = GatewayConfig(host="127.0.0.1", port=0, kubernetes=True, kubeconfig=str(kubeconfig),
                           namespaces=(ns,), api_keys_secret=f"{ns}/clients")
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

    await until(client_keys_loaded)
    assert emus[0].stats.count(outcome="ok") >= 1 and emus[0].stats.count(outcome="unauthorized") == 0

    version = gateway.table.live.version
    patch = json.dumps({"status": {"weights": {"a": 0, "b": 100}}})
    await asyncio.to_thread(apiserver.kubectl, "patch", "airoute", "chat", "-n", ns, "--subresource=status",
                            "--type=merge", "-p", patch)

    async def reloaded() -> bool:
        return gateway.table.live.version > version

    await until(reloaded)
    before = emus[1].stats.count(outcome="ok")
    assert [await chat(gateway) for _ in range(5)] == [200] * 5
    assert emus[1].stats.count(outcome="ok") == before + 5


async def test_a_route_whose_secret_is_missing_is_refused(setup: Any) -> None:
    apiserver, ns, emus, gateway = setup
    await asyncio.to_thread(apiserver.apply, airoute(ns, "orphan", [backend("a", 100, emus[0], "no-such-secret")]))

    async def noticed() -> bool:
        return any("no-such-secret" in p for p in gateway.table.problems)

    await until(noticed)
    assert await chat(gateway, "orphan") == 404
    assert metric(gateway.metrics.render().decode(), "airoute_gateway_route_table_load_failures_total") >= 1
    await asyncio.to_thread(apiserver.apply, secret(ns, "no-such-secret", {"api-key": UPSTREAM_KEY}))

    async def served() -> bool:
        return "orphan" in gateway.table.live.routes

    await until(served)
    assert await chat(gateway, "orphan") == 200


async def test_routes_of_other_namespaces_are_not_served(setup: Any) -> None:
    apiserver, ns, emus, gateway = setup
    other = f"{ns}-other"
    await asyncio.to_thread(apiserver.ensure_namespace, other)
    await asyncio.to_thread(apiserver.apply, airoute(other, "elsewhere", [backend("a", 100, emus[0], None)]))
    await asyncio.sleep(0.5)
    assert "elsewhere" not in gateway.table.live.routes
