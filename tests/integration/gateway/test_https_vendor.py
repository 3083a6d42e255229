"""An external OpenAI-compatible vendor (OpenAI, xAI, Mistral …) over HTTPS, through the gateway.

The vendor is the OpenAI-compatible emulator serving TLS with a certificate made here; the
gateway's own pass-through path (the one it uses for every request) must trust the CA bundle
given in the spec, send the bearer key from the Secret and the OpenAI headers, and refuse a
server whose certificate it cannot verify.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from airoute.emulators import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig
from tests.support.routes import CREDENTIALS_LABELS
from tests.support.tls import self_signed

API_KEY = "sk-vendor-0123456789abcdefghij"


def route(name: str, base_url: str, ca_bundle: str | None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "baseURL": f"{base_url}/v1",
        "model": "gpt-4o",
        "credentialsSecretRef": {"name": "openai"},
        "organization": "org-acme",
        "project": "proj-support",
        "headers": [{"name": "X-Team", "value": "support"}],
    }
    if ca_bundle is not None:
        block["caBundle"] = ca_bundle
    return {
        "apiVersion": "airoute.dev/v1alpha1",
        "kind": "AIRoute",
        "metadata": {"name": name, "namespace": "support"},
        "spec": {"model": name, "backends": [{"name": "openai", "weight": 100, "openAICompatible": block}]},
    }


@pytest.fixture
async def vendor(tmp_path: Path) -> AsyncIterator[tuple[OpenAICompatibleEmulator, Gateway, str]]:
    trusted, other = self_signed(), self_signed()
    emulator = OpenAICompatibleEmulator(api_key=API_KEY)
    base = await emulator.start("127.0.0.1", 0, ssl_context=trusted.server_context(tmp_path))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "openai", "namespace": "support", "labels": CREDENTIALS_LABELS},
        "data": {"api-key": base64.b64encode(API_KEY.encode()).decode()},
    }
    docs = [
        secret,
        route("trusted", base, trusted.cert_pem),
        route("wrong-ca", base, other.cert_pem),
        route("system-store", base, None),
    ]
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "routes.yaml").write_text(yaml.safe_dump_all(docs))
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(folder), auth_disabled=True,
                                    allow_internal_upstreams=True))
    await gateway.start()
    await gateway.wait_ready()
    try:
        yield emulator, gateway, f"http://127.0.0.1:{gateway.port}"
    finally:
        await gateway.shutdown()
        await emulator.stop()


async def _chat(url: str, model: str, stream: bool = False) -> tuple[int, bytes]:
    body = {"model": model, "messages": [{"role": "user", "content": "hello over TLS"}], "stream": stream}
    async with aiohttp.ClientSession() as s, s.post(f"{url}/v1/chat/completions", json=body) as r:
        return r.status, await r.read()


async def test_trusted_ca_bundle_and_bearer_key_work(vendor: tuple[OpenAICompatibleEmulator, Gateway, str]) -> None:
    emulator, _, url = vendor
    status, body = await _chat(url, "trusted")
    assert status == 200, body
    assert json.loads(body)["choices"][0]["message"]["content"]
    status, streamed = await _chat(url, "trusted", stream=True)
    assert status == 200 and streamed.rstrip().endswith(b"data: [DONE]")
    assert emulator.stats.count(model="gpt-4o") == 2  # the emulator checked the bearer key both times


@pytest.mark.parametrize("model", ["wrong-ca", "system-store"])
async def test_a_certificate_that_cannot_be_verified_is_refused(
    vendor: tuple[OpenAICompatibleEmulator, Gateway, str], model: str
) -> None:
    emulator, _, url = vendor
    before = emulator.stats.total
    status, body = await _chat(url, model)
    assert status == 503, body
    message = json.loads(body)["error"]["message"]
    assert "certificate" in message.lower(), message
    assert API_KEY not in message
    assert emulator.stats.total == before, "no request may reach a server whose certificate failed"
