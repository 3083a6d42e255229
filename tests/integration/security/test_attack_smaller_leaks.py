"""Smaller leaks (issue 14.10), each performed against a real ``airoute gateway`` process.

``caBundle`` pins a backend's CA: documented as trusted instead of the system store, it was
trusted in addition to it, so any publicly trusted certificate passed for a private gateway.

``/metrics`` names every route, backend and client outcome. Served on the API port without a key,
anyone who may call the gateway (every application namespace) reads it. With ``--metrics-port``
(the chart sets it) it has a port of its own, which a NetworkPolicy opens to Prometheus alone:
the API port answers it like any unknown path behind a key, and the metrics port answers nothing
else.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import GatewayFactory, chat_body, metric
from tests.support.net import free_port
from tests.support.routes import airoute, emulated, openai_backend, secret, yaml_text
from tests.support.tls import self_signed

KEY = "sk-client-0123456789abcdef"


@pytest.fixture
async def healthy() -> AsyncIterator[OpenAICompatibleEmulator]:
    async with OpenAICompatibleEmulator() as emulator:
        yield emulator


async def test_14_10_metrics_has_a_port_of_its_own(
        tmp_path: Path, healthy: OpenAICompatibleEmulator, gateway_process: GatewayFactory) -> None:
    routes = tmp_path / "routes"
    routes.mkdir()
    (routes / "routes.yaml").write_text(yaml_text([airoute([emulated("a", 100, healthy)], "secret-project")]))
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"app: {KEY}\n")
    metrics_port = free_port()
    gateway = await gateway_process(routes, "--api-keys-file", str(keys), "--metrics-port", str(metrics_port))
    auth = {"Authorization": f"Bearer {KEY}"}
    scrape = f"http://127.0.0.1:{metrics_port}/metrics"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{gateway.url}/v1/chat/completions", json=chat_body("secret-project"),
                                headers=auth) as r:
            assert r.status == 200
        async with session.get(f"{gateway.url}/metrics") as r:  # a client without a key: nothing
            assert r.status == 401
            assert "secret-project" not in await r.text()
        async with session.get(f"{gateway.url}/metrics", headers=auth) as r:  # with one: not here
            assert r.status == 404
            assert "secret-project" not in await r.text()
        async with session.get(scrape) as r:  # Prometheus, on its own port, without a key
            assert r.status == 200
            assert metric(await r.text(), "airoute_requests_total", route="secret-project", outcome="success") == 1
        for method, path in (("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/readyz")):
            async with session.request(method, f"http://127.0.0.1:{metrics_port}{path}",
                                       json=chat_body("secret-project"), headers=auth) as r:
                assert r.status == 404, (method, path)
    assert healthy.stats.total == 1, "the metrics port reaches no backend"


async def test_14_10_a_ca_bundle_replaces_the_system_trust_store(
        tmp_path: Path, gateway_process: GatewayFactory) -> None:
    """A route pins its private gateway's CA with ``caBundle``. Someone who holds a certificate
    from a CA of the system store (here the gateway's SSL_CERT_FILE) answers in its place: the pin
    holds, the key and the prompt never reach them; a route without caBundle still trusts the
    system store."""
    public, private = self_signed(), self_signed()
    (tmp_path / "system.pem").write_text(public.cert_pem)
    impostor = OpenAICompatibleEmulator(api_key="sk-pinned-0123456789")
    base = await impostor.start("127.0.0.1", 0, ssl_context=public.server_context(tmp_path))
    try:
        routes = tmp_path / "routes"
        routes.mkdir()
        pinned = openai_backend("corp", 100, f"{base}/v1", "m", secret="corp", insecure=False,
                                caBundle=private.cert_pem)
        system = openai_backend("corp", 100, f"{base}/v1", "m", secret="corp", insecure=False)
        (routes / "routes.yaml").write_text(yaml_text([
            airoute([pinned], "pinned"), airoute([system], "system-store"),
            secret("corp", {"api-key": "sk-pinned-0123456789"})]))
        env = {**os.environ, "SSL_CERT_FILE": str(tmp_path / "system.pem")}
        gateway = await gateway_process(routes, "--no-auth", env=env)
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{gateway.url}/v1/chat/completions", json=chat_body("pinned")) as r:
                assert r.status == 503, await r.text()
                assert "TLS certificate could not be verified" in await r.text()
            assert impostor.stats.total == 0, "the pinned route's request reached a server outside its bundle"
            async with session.post(f"{gateway.url}/v1/chat/completions", json=chat_body("system-store")) as r:
                assert r.status == 200, await r.text()
    finally:
        await impostor.stop()
