"""Against the real API server: the gateway, as a ServiceAccount granted one namespace, never uses a
Secret of another one — a route that names a Secret existing only elsewhere is refused, and the
gateway's rights stop at its namespace (RBAC, not only airoute's own rule)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig
from tests.support.fakes import eventually
from tests.support.gateway import gateway_rbac
from tests.support.routes import airoute, emulated, secret

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

KEY = "sk-lives-in-the-other-namespace-0001"


async def test_a_secret_in_a_namespace_not_granted_is_never_used(apiserver: Any) -> None:
    ns, other = f"sec-{uuid.uuid4().hex[:8]}", f"sec-{uuid.uuid4().hex[:8]}"
    upstream = OpenAICompatibleEmulator(api_key=KEY)
    await upstream.start()
    for namespace in (ns, other):
        await asyncio.to_thread(apiserver.ensure_namespace, namespace)
    await asyncio.to_thread(apiserver.apply, *gateway_rbac(ns), secret("shared", {"api-key": KEY}, other),
                            secret("clients", {"support-bot": "sk-client-0001"}, ns, credentials=False),
                            airoute([emulated("a", 100, upstream, secret="shared")], "borrows", ns),
                            airoute([emulated("a", 100, upstream)], "plain", ns))
    kubeconfig = await asyncio.to_thread(apiserver.service_account_kubeconfig, "airoute-system", "airoute-gateway")
    forbidden = await asyncio.to_thread(apiserver.kubectl, "get", "secret", "shared", "-n", other, "-o", "name",
                                        check=False, kubeconfig=kubeconfig)
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, kubernetes=True, kubeconfig=str(kubeconfig),
                                    namespaces=(ns,), api_keys_secret=f"{ns}/clients",
                                    allow_internal_upstreams=True))
    await gateway.start()
    try:
        await gateway.wait_ready(30)

        async def noticed() -> bool:
            return any(f"Secret {ns}/shared not found" in p for p in gateway.table.problems)

        await eventually(noticed, within=10)
        assert "borrows" not in gateway.table.live.routes and "plain" in gateway.table.live.routes
        async with aiohttp.ClientSession() as session:
            body = json.dumps({"model": "borrows", "messages": [{"role": "user", "content": "hi"}]})
            async with session.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions", data=body,
                                    headers={"Authorization": "Bearer sk-client-0001"}) as r:
                assert r.status == 503  # 503 route_unavailable (issue 18.3)
        assert upstream.stats.total == 0
    finally:
        await gateway.shutdown()
        await upstream.stop()
