"""Attack (issue 14.5): a route author names a Secret that is not a provider credential — the gateway's
own client keys, a database password — and has the gateway send it to an endpoint of their choosing.

On the real API server, the gateway running as the chart's ServiceAccount (which may read every
Secret of the namespaces it serves): in the default install the client-key Secret sits in the
namespace whose routes the gateway serves. The attacker's endpoints are emulators that answer 200
only to the stolen value as a bearer token, so a 200 proves the value was sent. Before: both
thefts answered 200. Now the gateway lists and watches only Secrets labelled
``airoute.dev/credentials=true``, never resolves its client-key Secret as a route credential
(even when someone labels it), and the honest route keeps working.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway.routetable.kubernetes import KubeSource
from airoute.gateway.routetable.snapshot import Change
from airoute.kube import KubeClient, load_config
from tests.support.fakes import eventually
from tests.support.gateway import chat_body, gateway_rbac
from tests.support.net import free_port
from tests.support.routes import airoute, emulated, secret
from tests.support.stack import Process

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

CLIENT_KEY = "sk-client-0001-gateway-own"
DB_PASSWORD = "db-password-0001"
VENDOR_KEY = "sk-vendor-0001"


async def test_a_route_cannot_borrow_a_secret_that_is_not_a_route_credential(apiserver: Any, tmp_path: Path) -> None:
    ns = f"sec-{uuid.uuid4().hex[:8]}"
    keys_thief = OpenAICompatibleEmulator(api_key=CLIENT_KEY)
    db_thief = OpenAICompatibleEmulator(api_key=DB_PASSWORD)
    vendor = OpenAICompatibleEmulator(api_key=VENDOR_KEY)
    for emulator in (keys_thief, db_thief, vendor):
        await emulator.start()
    gateway: Process | None = None
    try:
        await asyncio.to_thread(apiserver.ensure_namespace, ns)
        clients = secret("clients", {"support-bot": CLIENT_KEY}, ns)  # labelled by mistake: still withheld
        steal_keys = emulated("a", 100, keys_thief)
        steal_keys["openAICompatible"]["credentialsSecretRef"] = {"name": "clients", "key": "support-bot"}
        steal_db = emulated("a", 100, db_thief)
        steal_db["openAICompatible"]["credentialsSecretRef"] = {"name": "db", "key": "password"}
        await asyncio.to_thread(
            apiserver.apply, *gateway_rbac(ns), clients, secret("db", {"password": DB_PASSWORD}, ns, credentials=False),
            secret("vendor", {"api-key": VENDOR_KEY}, ns),
            airoute([steal_keys], "steal-keys", ns), airoute([steal_db], "steal-db", ns),
            airoute([emulated("a", 100, vendor, secret="vendor")], "honest", ns))
        kubeconfig = await asyncio.to_thread(apiserver.service_account_kubeconfig, "airoute-system", "airoute-gateway")
        port = free_port()
        gateway = Process("gateway", [
            sys.executable, "-m", "airoute.cli", "gateway", "--kubernetes", "--kubeconfig", str(kubeconfig),
            "--namespace", ns, "--api-keys-secret", f"{ns}/clients", "--host", "127.0.0.1", "--port", str(port),
            "--allow-internal-upstreams",  # the emulators listen on loopback
        ], {**apiserver.env(), "PYTHONUNBUFFERED": "1"}, tmp_path).start()
        url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {CLIENT_KEY}"}
        async with aiohttp.ClientSession() as session:

            async def answer(model: str) -> int:
                async with session.post(f"{url}/v1/chat/completions", json=chat_body(model), headers=headers) as r:
                    return r.status

            async def honest_served() -> bool:
                try:
                    return await answer("honest") == 200
                except aiohttp.ClientError:
                    return False

            await eventually(honest_served, within=30, what="the honest route to be served")
            # not served: 503 route_unavailable, the routes exist (issue 18.3)
            assert (await answer("steal-keys"), await answer("steal-db")) == (503, 503)
        assert keys_thief.stats.total == 0 and db_thief.stats.total == 0
        assert "Secret " + ns + "/clients not found" in gateway.output()
        assert CLIENT_KEY not in gateway.output() and DB_PASSWORD not in gateway.output()

        # What the gateway holds: only the labelled Secrets, and never its client keys.
        changes: list[Change] = []
        client = KubeClient(load_config(str(kubeconfig)))
        source = KubeSource(client, (ns,), withheld=frozenset({f"{ns}/clients"}))
        watching = asyncio.create_task(source.run(changes.append, lambda reason: None))
        try:
            await eventually(lambda: any(c.synced for c in changes), within=10, what="the first lists")
            assert {key for c in changes for key, data in c.secrets.items() if data is not None} == {f"{ns}/vendor"}
            held = {key for r in source._reflectors if r.path.endswith("/secrets") for key in r.keys}
            assert held == {f"{ns}/clients", f"{ns}/vendor"}, "an unlabelled Secret is never even listed"
        finally:
            watching.cancel()
            await asyncio.gather(watching, return_exceptions=True)
            await client.close()
    finally:
        if gateway is not None:
            gateway.stop()
        for emulator in (keys_thief, db_thief, vendor):
            await emulator.stop()
