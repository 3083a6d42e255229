"""A provider that answers 200 with garbage: HTML, broken or empty JSON, the wrong content type, a cut
body, a stream that is not SSE or ends early, bytes that are not HTTP at all.

Clients never get the garbage: before the first byte is relayed the request fails over to the healthy
standby; a stream that ends early after bytes went out ends with an error event, never as if whole.
The pass-through path (openAICompatible, inCluster) and the SDK adapters (Azure OpenAI, Bedrock,
Vertex AI) are both tried.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from airoute.emulators.credentials import service_account_key
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig
from tests.support.gateway import chat_body, complete, metric, post
from tests.support.routes import airoute, openai_backend, secret, yaml_text

MODES = ("html", "badjson", "empty", "plaintext", "truncated", "notsse", "early-end", "json-for-stream")
CHUNK = b'data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'


async def garbage(request: web.Request) -> web.StreamResponse:
    """Answers 200 with the garbage its first path segment names (any path below it, any provider)."""
    mode = request.match_info["mode"]
    if request.path.endswith("/token"):  # the OAuth token endpoint of the Vertex AI service account works
        return web.json_response({"access_token": "ya29.garbage", "expires_in": 3600, "token_type": "Bearer"})
    await request.read()
    if mode == "html":
        return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
    if mode == "badjson":
        return web.Response(body=b'{"choices": [ {oops', content_type="application/json")
    if mode == "empty":
        return web.Response(body=b"", content_type="application/json")
    if mode == "plaintext":
        return web.Response(text="upstream said no", content_type="text/plain")
    if mode == "json-for-stream":
        return web.Response(body=b'{"id": "x", "object": "chat.completion", "choices": []}',
                            content_type="application/json")
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    if mode == "truncated":
        response = web.StreamResponse(headers={"content-length": "4000", "content-type": "application/json"})
    await response.prepare(request)
    if mode == "truncated":
        await response.write(b'{"id": "chatcmpl-1", "cho')
        assert request.transport is not None
        request.transport.close()
        return response
    await response.write(b"this is not server-sent events\n\n" if mode == "notsse" else CHUNK)
    await response.write_eof()
    return response


async def not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(100)
    writer.write(b"\x00\x01\x02 this is not HTTP\r\n\r\n")
    await writer.drain()
    writer.close()


def route(name: str, bad: dict[str, Any], good: OpenAICompatibleEmulator) -> dict[str, Any]:
    return airoute([{"name": "bad", "weight": 100, "timeout": "5s", **bad},
                    openai_backend("good", 0, f"{good.base_url}/v1", "m")], name)


def bad_block(kind: str, base: str) -> dict[str, Any]:
    if kind == "passthrough":
        return {"openAICompatible": {"baseURL": f"{base}/v1", "model": "m", "insecure": True}}
    if kind == "azure":
        return {"azureOpenAI": {"endpoint": base, "deployment": "gpt-4o", "region": "westeurope", "insecure": True,
                                "credentialsSecretRef": {"name": "azure"}}}
    if kind == "bedrock":
        return {"bedrock": {"region": "eu-central-1", "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                            "endpointURL": base, "insecure": True, "credentialsSecretRef": {"name": "aws"}}}
    return {"vertexAI": {"project": "acme-prod", "location": "europe-west4", "model": "gemini-1.5-pro-002",
                         "endpointURL": base, "insecure": True, "credentialsSecretRef": {"name": "gcp"}}}


class Garbage:
    """The garbage server, a healthy emulator as standby, and a gateway with one route per (kind, mode)."""

    def __init__(self, gateway: Gateway, good: OpenAICompatibleEmulator, names: list[str]) -> None:
        self.gateway = gateway
        self.good = good
        self.names = names
        self.url = f"http://127.0.0.1:{gateway.port}"


@pytest.fixture
async def garbage_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Garbage]:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    app = web.Application()
    app.router.add_route("*", "/{mode}/{tail:.*}", garbage)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    raw = await asyncio.start_server(not_http, "127.0.0.1", 0)
    raw_port = raw.sockets[0].getsockname()[1]
    good = OpenAICompatibleEmulator()
    await good.start()
    docs: list[dict[str, Any]] = []
    names: list[str] = []
    for kind in ("passthrough", "azure", "bedrock", "vertex"):
        for mode in (*MODES, "not-http"):
            base = f"http://127.0.0.1:{raw_port}/x" if mode == "not-http" else f"http://127.0.0.1:{port}/{mode}"
            names.append(f"{kind}-{mode}")
            docs.append(route(names[-1], bad_block(kind, base), good))
    docs += [secret("azure", {"api-key": "azure-key-0123"}),
             secret("aws", {"aws_access_key_id": "AKIAGARBAGE000000001", "aws_secret_access_key": "garbage/secret"}),
             secret("gcp", {"key.json": service_account_key(f"http://127.0.0.1:{port}/oauth/token")})]
    (tmp_path / "routes.yaml").write_text(yaml_text(docs))
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(tmp_path), auth_disabled=True,
                                    allow_internal_upstreams=True,
                                    google_token_uris=(f"http://127.0.0.1:{port}/oauth/token",)))
    await gateway.start()
    await gateway.wait_ready()
    yield Garbage(gateway, good, names)
    await gateway.shutdown()
    await good.stop()
    raw.close()
    await runner.cleanup()


def events(body: bytes) -> list[bytes]:
    return [e for e in body.split(b"\n\n") if e.strip()]


@pytest.mark.sdk
async def test_garbage_from_a_provider_never_reaches_a_client(garbage_env: Garbage) -> None:
    import aiohttp

    env = garbage_env
    async with aiohttp.ClientSession() as session:
        asks = [(name, stream) for name in env.names for stream in (False, True)]
        answers = await asyncio.gather(*(post(session, env.url, chat_body(name, stream)) for name, stream in asks))
    failures, cut = [], []
    for (name, stream), (status, body) in zip(asks, answers, strict=True):
        ok = complete(status, body, stream)
        if stream and not ok and status == 200:
            # Bytes went out before the stream turned out bad: it ends with an error event, not [DONE].
            ok = events(body)[-1].startswith(b'data: {"error"')
            cut.append(name)
        if not ok:
            failures.append(f"{name} stream={stream}: {status} {body[:600]!r}")
    assert not failures, "\n".join(failures)
    # Relayed bytes (OpenAI format) go out as they come, so an early end is seen after the first
    # byte; a translating caller sends nothing before the first content, so Vertex AI's early end
    # and its JSON-for-a-stream answer are found before the first byte and fail over instead.
    assert sorted(cut) == ["azure-early-end", "passthrough-early-end"]
    text = env.gateway.metrics.render().decode()
    garbage_taken = metric(text, "airoute_requests_total", backend="bad", outcome="success")
    print(f"{len(asks)} requests, {garbage_taken:.0f} answered by the garbage backend in a valid shape, "
          f"{len(cut)} streams ended with an error event")
    assert garbage_taken == 2, "only the two well-formed answers (json-for-stream, asked without stream)"
    assert metric(text, "airoute_requests_total", backend="good", outcome="success") == len(asks) - 2 - len(cut)
