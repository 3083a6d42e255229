"""Safe by default: client keys required, bodies never logged, Secrets only from granted namespaces."""

from __future__ import annotations

import asyncio
import secrets as random_secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import GatewayConfig
from tests.support.gateway import GatewayFactory, route
from tests.support.net import free_port
from tests.support.routes import CREDENTIALS_LABELS, airoute, emulated, openai_backend, yaml_text


def gateway_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "airoute.cli", "gateway", *args], capture_output=True, text=True,
                          timeout=30, check=False)


def test_the_gateway_refuses_to_start_without_client_keys(tmp_path: Path) -> None:
    done = gateway_command("--routes", str(tmp_path), "--host", "127.0.0.1", "--port", str(free_port()))
    assert done.returncode == 2
    assert "client authentication is required" in done.stderr and "--no-auth" in done.stderr
    assert "Traceback" not in done.stderr
    done = gateway_command("--routes", str(tmp_path), "--api-keys-secret", "ns/keys")
    assert done.returncode == 2 and "--api-keys-secret takes namespace/name and needs --kubernetes" in done.stderr
    with pytest.raises(ValueError, match="client authentication is required"):
        GatewayConfig(routes_dir=str(tmp_path)).check()


def test_a_broken_key_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    key = f"sk-{random_secrets.token_hex(16)}"
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"support-bot: {key}: oops\n")  # not YAML: the parser's message would quote the line
    done = gateway_command("--routes", str(tmp_path), "--api-keys-file", str(keys), "--port", str(free_port()))
    assert done.returncode != 0 and "cannot read client keys" in done.stderr
    assert key not in done.stderr and key[3:15] not in done.stderr


@pytest.fixture
async def emulators() -> AsyncIterator[list[OpenAICompatibleEmulator]]:
    emus = [OpenAICompatibleEmulator(seed=i) for i in range(3)]
    for emu in emus:
        await emu.start()
    yield emus
    for emu in emus:
        await emu.stop()


async def test_every_endpoint_but_health_and_metrics_needs_a_key(
    tmp_path: Path, emulators: list[OpenAICompatibleEmulator], gateway_process: GatewayFactory
) -> None:
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "chat.yaml").write_text(yaml_text([route([emulated("a", 100, emulators[0])])]))
    keys = tmp_path / "keys.yaml"
    keys.write_text("support-bot: sk-the-right-key-000000001\n")
    gateway = await gateway_process(folder, "--api-keys-file", str(keys))
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
    async with aiohttp.ClientSession() as session:
        for method, path in (("POST", "/v1/chat/completions"), ("POST", "/chat/completions"), ("GET", "/v1/models"),
                             ("GET", "/models")):
            for headers in ({}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "Basic c2stdGhlLXJpZ2h0"},
                            {"api-key": ""}):
                async with session.request(method, gateway.url + path, json=body, headers=headers) as r:
                    assert r.status == 401, (method, path, headers)
                    assert (await r.json())["error"]["code"] == "invalid_api_key"
        for path in ("/healthz", "/readyz", "/metrics"):
            async with session.get(gateway.url + path) as r:
                assert r.status == 200
        async with session.post(gateway.url + "/v1/chat/completions", json=body,
                                headers={"Authorization": "Bearer sk-the-right-key-000000001"}) as r:
            assert r.status == 200
    assert emulators[0].stats.total == 1


async def test_request_and_response_bodies_are_never_logged_by_default(
    tmp_path: Path, emulators: list[OpenAICompatibleEmulator], gateway_process: GatewayFactory
) -> None:
    """Success, failover, ejection, timeouts, a cut stream, a degraded answer, a refused request — at the
    default log level none of it writes a prompt (or the reply, which quotes it) to the log."""
    a, b, c = emulators
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "routes.yaml").write_text(yaml_text([
        route([emulated("failing", 50, a), emulated("ok", 50, b)], name="chat"),
        route([emulated("slow", 100, c, timeout="200ms"), emulated("ok", 0, b)], name="slow"),
        route([emulated("cut", 100, c)], name="cut", degradedResponse="Sorry, later."),
    ]))
    await a.set_faults(error_rate=1.0, error_status=500)
    gateway = await gateway_process(folder, "--no-auth")
    prompts: list[str] = []
    answers: list[bytes] = []
    async with aiohttp.ClientSession() as session:

        async def ask(model: str, stream: bool, messages: Any = None) -> None:
            prompt = f"PROMPT-PLANTED-{random_secrets.token_hex(8)}"
            prompts.append(prompt)
            body = {"model": model, "stream": stream,
                    "messages": messages if messages is not None else [{"role": "user", "content": prompt}]}
            async with session.post(f"{gateway.url}/v1/chat/completions", json=body) as r:
                answers.append(await r.read())

        for stream in (False, True):
            await asyncio.gather(*(ask("chat", stream) for _ in range(10)))
        await c.set_faults(latency=1.0)
        await asyncio.gather(*(ask("slow", s) for s in (False, True)))
        await c.set_faults(cut_after=2)  # the opening and a first token reached the client, then the cut
        await ask("cut", True)
        await c.set_faults(down="refuse")
        await ask("cut", False)
        await ask("chat", False, messages=[{"role": "wizard", "content": prompts[0]}])  # refused by the backend
    await gateway.stop()
    log = gateway.logs()
    assert "ejected backend failing" in log, log
    assert "stream cut" in log and "degradedResponse" in log, log
    assert any(prompts[0].encode() in body for body in answers), "the replies quote the prompts"
    logged = [p for p in prompts if p in log or p.split("-")[-1] in log]
    assert not logged, f"{len(logged)} prompt(s) in the log:\n{log[-3000:]}"


async def test_secrets_of_namespaces_not_served_are_never_used(tmp_path: Path) -> None:
    """Folder mode, ``--namespace team``: a route of ``team`` that names a Secret existing only in ``other``
    is left out (Secrets are read from the route's own namespace), routes of ``other`` are not served."""
    from airoute.gateway import Gateway

    upstream = OpenAICompatibleEmulator(api_key="sk-in-the-other-namespace-0001")
    await upstream.start()

    def secret(ns: str, name: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": ns, "labels": CREDENTIALS_LABELS},
                "stringData": {"api-key": "sk-in-the-other-namespace-0001"}}

    def routed(ns: str, name: str, secret_name: str) -> dict[str, Any]:
        return airoute([openai_backend("a", 100, f"{upstream.base_url}/v1", "m", secret=secret_name)], name, ns)

    (tmp_path / "routes.yaml").write_text(yaml_text([
        secret("other", "shared"), secret("team", "own"),
        routed("team", "borrows", "shared"), routed("team", "owns", "own"), routed("other", "elsewhere", "shared"),
    ]))
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(tmp_path), namespaces=("team",),
                                    auth_disabled=True, poll_interval=0.05, allow_internal_upstreams=True))
    await gateway.start()
    try:
        await gateway.wait_ready()
        assert sorted(gateway.table.live.routes) == ["owns"]
        assert any("Secret team/shared not found" in p for p in gateway.table.problems)
        async with aiohttp.ClientSession() as session:
            # borrows: served here but left out (503 route_unavailable, issue 18.3); elsewhere: not served here
            for model, status in (("borrows", 503), ("elsewhere", 404), ("owns", 200)):
                body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
                async with session.post(f"http://127.0.0.1:{gateway.port}/v1/chat/completions", json=body) as r:
                    assert r.status == status, model
        assert upstream.stats.count(outcome="ok") == 1 and upstream.stats.count(outcome="unauthorized") == 0
    finally:
        await gateway.shutdown()
        await upstream.stop()
