"""The pass-through fast path: bytes relayed, only ``model`` rewritten, one kept-alive pool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from tls_material import self_signed

from airoute.api import InCluster, OpenAICompatible
from airoute.emulators import Faults, OpenAICompatibleEmulator
from airoute.providers import (
    AuthFailed,
    ChatRequest,
    PassThroughProvider,
    Throttled,
    Unavailable,
    make_provider,
)
from airoute.providers.sse import SSEDecoder

pytestmark = pytest.mark.sdk

BODY = json.dumps({"model": "support-chat", "messages": [
    {"role": "user", "content": "hello pass-through"}]}).encode()
STREAM_BODY = json.dumps({"model": "support-chat", "stream": True, "messages": [
    {"role": "user", "content": "stream me please"}]}).encode()


def _no_secrets(name: str, key: str) -> bytes | None:
    return None


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[OpenAICompatibleEmulator]:
    async with OpenAICompatibleEmulator(provider_name="vllm") as emulator:
        yield emulator


@pytest_asyncio.fixture
async def provider(upstream: OpenAICompatibleEmulator) -> AsyncIterator[PassThroughProvider]:
    block = InCluster(service={"name": "vllm"}, model="meta-llama/Llama-3.1-8B-Instruct")
    built = make_provider("local", "inCluster", block, _no_secrets, "models",
                          base_url_override=f"{upstream.base_url}/v1")
    assert isinstance(built, PassThroughProvider)
    yield built
    await built.aclose()


async def test_forward_rewrites_model_and_relays_bytes(
        provider: PassThroughProvider, upstream: OpenAICompatibleEmulator) -> None:
    raw = await provider.forward(BODY, stream=False, timeout=5.0)
    await raw.aclose()
    assert raw.status == 200
    assert raw.headers["content-type"].startswith("application/json")
    answer = json.loads(raw.body or b"")
    assert answer["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert answer["choices"][0]["message"]["content"] == (
        "[vllm:meta-llama/Llama-3.1-8B-Instruct] reply to: hello pass-through")
    assert upstream.stats.count(model="meta-llama/Llama-3.1-8B-Instruct", outcome="ok") == 1


async def test_forward_keeps_connections_alive(
        provider: PassThroughProvider, upstream: OpenAICompatibleEmulator) -> None:
    for _ in range(20):
        raw = await provider.forward(BODY, stream=False, timeout=5.0)
        await raw.aclose()
    stream = await provider.forward(STREAM_BODY, stream=True, timeout=5.0)
    async for _ in stream.chunks():
        pass
    await stream.aclose()
    raw = await provider.forward(BODY, stream=False, timeout=5.0)
    await raw.aclose()
    assert upstream.stats.count(outcome="ok") == 22
    assert upstream.connections == 1


async def test_forward_stream_relays_chunk_by_chunk(
        provider: PassThroughProvider, upstream: OpenAICompatibleEmulator) -> None:
    await upstream.set_faults(Faults(chunk_delay=0.03))
    raw = await provider.forward(STREAM_BODY, stream=True, timeout=5.0)
    assert raw.headers["content-type"].startswith("text/event-stream")
    pieces = [piece async for piece in raw.chunks()]
    await raw.aclose()
    assert len(pieces) >= 5, "each upstream chunk is passed on as it comes"
    events = SSEDecoder().feed(b"".join(pieces))
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e)["choices"])
    assert text.endswith("reply to: stream me please")


async def test_forward_nested_model_key_is_left_alone(provider: PassThroughProvider) -> None:
    body = {"model": "support-chat", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "pick", "parameters": {
                "type": "object", "properties": {"model": {"type": "string"}}}}}]}
    raw = await provider.forward(json.dumps(body).encode(), stream=False, timeout=5.0)
    await raw.aclose()
    assert json.loads(raw.body or b"")["model"] == "meta-llama/Llama-3.1-8B-Instruct"


async def test_forward_errors(provider: PassThroughProvider,
                              upstream: OpenAICompatibleEmulator) -> None:
    await upstream.set_faults(Faults(throttle_rate=1.0, retry_after=3))
    with pytest.raises(Throttled) as caught:
        await provider.forward(BODY, stream=True, timeout=5.0)
    assert caught.value.retry_after == 3
    await upstream.set_faults(Faults(error_rate=1.0, error_status=401))
    with pytest.raises(AuthFailed):
        await provider.forward(BODY, stream=False, timeout=5.0)
    await upstream.set_faults(Faults(cut_after=2))
    raw = await provider.forward(STREAM_BODY, stream=True, timeout=5.0)
    with pytest.raises(Unavailable):
        async for _ in raw.chunks():
            pass
    await raw.aclose()
    await upstream.set_faults(Faults(down="refuse"))
    with pytest.raises(Unavailable):
        await provider.forward(BODY, stream=False, timeout=1.0)
    assert upstream.stats.total == 3


async def test_forward_many_concurrent_requests(
        provider: PassThroughProvider, upstream: OpenAICompatibleEmulator) -> None:
    async def one() -> int:
        raw = await provider.forward(BODY, stream=False, timeout=5.0)
        await raw.aclose()
        return raw.status

    assert await asyncio.gather(*(one() for _ in range(50))) == [200] * 50
    assert upstream.stats.count(outcome="ok") == 50


async def test_https_with_ca_bundle(tmp_path: Path) -> None:
    material = self_signed()
    async with OpenAICompatibleEmulator(api_key="sk-test-0123456789abcdefghij") as emulator:
        await emulator.stop()
        url = await emulator.start(ssl_context=material.server_context(tmp_path))
        assert url.startswith("https://")
        secrets = {("openai", "api-key"): b"sk-test-0123456789abcdefghij"}
        trusted = OpenAICompatible(base_url=f"{url}/v1", model="gpt-4o-mini",
                                   ca_bundle=material.cert_pem,
                                   credentials_secret_ref={"name": "openai"})
        provider = make_provider("openai", "openAICompatible", trusted,
                                 lambda n, k: secrets.get((n, k)), "ns")
        req = ChatRequest.parse({"model": "x", "messages": [{"role": "user", "content": "tls"}]})
        answer = await provider.chat(req, 5.0)
        assert answer["choices"][0]["message"]["content"].endswith("reply to: tls")
        await provider.aclose()
        untrusted = OpenAICompatible(base_url=f"{url}/v1", model="gpt-4o-mini")
        provider = make_provider("openai", "openAICompatible", untrusted,
                                 lambda n, k: secrets.get((n, k)), "ns")
        with pytest.raises(Unavailable):
            await provider.chat(req, 5.0)
        await provider.aclose()
