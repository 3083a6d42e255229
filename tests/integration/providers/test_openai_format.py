"""The OpenAI-format caller: bytes relayed, only ``model`` rewritten, one kept-alive pool per origin,
in-band stream errors found wherever the upstream's chunks split them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from tests.support.provider_backends import emulator_pools
from tests.support.sse import SSEDecoder
from tests.support.tls import self_signed

from airoute.api import InCluster, OpenAICompatible
from airoute.emulators import Faults, OpenAICompatibleEmulator
from airoute.providers import AuthFailed, Caller, Throttled, Unavailable, make_caller, sniff
from airoute.providers.openai_format import OpenAIFormatCaller

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
async def caller(upstream: OpenAICompatibleEmulator) -> AsyncIterator[Caller]:
    pools = emulator_pools()
    block = InCluster(service={"name": "vllm"}, model="meta-llama/Llama-3.1-8B-Instruct")
    built = make_caller("local", "inCluster", block, _no_secrets, "models", pools=pools,
                        service_hosts={"vllm.models": f"127.0.0.1:{upstream.port}"})
    yield built
    await built.aclose()
    assert len(pools) == 0, "the last caller of an origin closes its pool"


async def complete(caller: Caller, body: bytes = BODY) -> bytes:
    return await caller.complete(body, sniff(body))


async def stream(caller: Caller, body: bytes = STREAM_BODY) -> list[bytes]:
    return [piece async for piece in caller.stream(body, sniff(body))]


async def test_rewrites_model_and_relays_bytes(caller: Caller, upstream: OpenAICompatibleEmulator) -> None:
    answer = json.loads(await complete(caller))
    assert answer["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert answer["choices"][0]["message"]["content"] == (
        "[vllm:meta-llama/Llama-3.1-8B-Instruct] reply to: hello pass-through")
    assert upstream.stats.count(model="meta-llama/Llama-3.1-8B-Instruct", outcome="ok") == 1


async def test_keeps_connections_alive(caller: Caller, upstream: OpenAICompatibleEmulator) -> None:
    for _ in range(20):
        await complete(caller)
    await stream(caller)
    await complete(caller)
    assert upstream.stats.count(outcome="ok") == 22
    assert upstream.connections == 1


async def test_callers_of_one_origin_share_its_pool(upstream: OpenAICompatibleEmulator) -> None:
    pools = emulator_pools()
    blocks = [OpenAICompatible(base_url=f"{upstream.base_url}/v1", model=m, insecure=True) for m in ("a", "b")]
    callers = [make_caller(f"b{i}", "openAICompatible", b, _no_secrets, "ns", pools=pools)
               for i, b in enumerate(blocks)]
    for c in callers:
        await complete(c)
    assert len(pools) == 1 and upstream.connections == 1
    await callers[0].aclose()
    assert len(pools) == 1, "still used by the other caller"
    await complete(callers[1])
    await callers[1].aclose()
    assert len(pools) == 0


async def test_stream_relays_chunk_by_chunk(caller: Caller, upstream: OpenAICompatibleEmulator) -> None:
    await upstream.set_faults(Faults(chunk_delay=0.03))
    pieces = await stream(caller)
    assert len(pieces) >= 5, "each upstream chunk is passed on as it comes"
    events = SSEDecoder().feed(b"".join(pieces))
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                   for e in events[:-1] if json.loads(e)["choices"])
    assert text.endswith("reply to: stream me please")


async def test_nested_model_key_is_left_alone(caller: Caller) -> None:
    body = {"model": "support-chat", "messages": [{"role": "user", "content": "x"}],
            "tools": [{"type": "function", "function": {"name": "pick", "parameters": {
                "type": "object", "properties": {"model": {"type": "string"}}}}}]}
    answer = json.loads(await complete(caller, json.dumps(body).encode()))
    assert answer["model"] == "meta-llama/Llama-3.1-8B-Instruct"


async def test_errors(caller: Caller, upstream: OpenAICompatibleEmulator) -> None:
    await upstream.set_faults(Faults(throttle_rate=1.0, retry_after=3))
    with pytest.raises(Throttled) as caught:
        await stream(caller)
    assert caught.value.retry_after == 3
    await upstream.set_faults(Faults(error_rate=1.0, error_status=401))
    with pytest.raises(AuthFailed):
        await complete(caller)
    await upstream.set_faults(Faults(cut_after=2))
    with pytest.raises(Unavailable):
        await stream(caller)
    await upstream.set_faults(Faults(down="refuse"))
    with pytest.raises(Unavailable):
        await complete(caller)
    assert upstream.stats.total == 3


async def test_many_concurrent_requests(caller: Caller, upstream: OpenAICompatibleEmulator) -> None:
    answers = await asyncio.gather(*(complete(caller) for _ in range(50)))
    assert all(json.loads(a)["object"] == "chat.completion" for a in answers)
    assert upstream.stats.count(outcome="ok") == 50


async def test_https_with_ca_bundle(tmp_path: Path) -> None:
    material = self_signed()
    pools = emulator_pools()
    async with OpenAICompatibleEmulator(api_key="sk-test-0123456789abcdefghij") as emulator:
        await emulator.stop()
        url = await emulator.start(ssl_context=material.server_context(tmp_path))
        assert url.startswith("https://")
        secrets = {("openai", "api-key"): b"sk-test-0123456789abcdefghij"}
        trusted = OpenAICompatible(base_url=f"{url}/v1", model="gpt-4o-mini", ca_bundle=material.cert_pem,
                                   credentials_secret_ref={"name": "openai"})
        caller = make_caller("openai", "openAICompatible", trusted, lambda n, k: secrets.get((n, k)), "ns",
                             pools=pools)
        answer = json.loads(await complete(caller))
        assert answer["choices"][0]["message"]["content"].endswith("reply to: hello pass-through")
        await caller.aclose()
        untrusted = OpenAICompatible(base_url=f"{url}/v1", model="gpt-4o-mini")
        caller = make_caller("openai", "openAICompatible", untrusted, lambda n, k: secrets.get((n, k)), "ns",
                             pools=pools)
        with pytest.raises(Unavailable):
            await complete(caller)
        await caller.aclose()
    assert emulator.stats.count(outcome="ok") == 1


ERROR_EVENT = b'data: {"error": {"object": "error", "message": "CUDA out of memory", "code": 503}}\n\n'
CHUNK = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'


async def _raw_upstream(pieces: list[bytes]) -> tuple[asyncio.Server, int]:
    """A server that answers every request with an event stream written in ``pieces`` (one TCP
    write each, flushed apart), so that the caller reads them as separate chunks."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("split", [0, 3, 10, 14, len(ERROR_EVENT) - 1])
async def test_an_in_band_error_split_across_chunks_is_found(split: int) -> None:
    """Wherever the upstream splits the error event, it is found, and neither it nor the
    ``[DONE]`` after it reaches the client."""
    error = CHUNK + ERROR_EVENT
    cut = len(CHUNK) + split
    pieces = [CHUNK, error[len(CHUNK):cut], error[cut:], b"data: [DONE]\n\n"]
    server, port = await _raw_upstream([p for p in pieces if p])
    pools = emulator_pools()
    block = OpenAICompatible(base_url=f"http://127.0.0.1:{port}/v1", model="m", insecure=True)
    caller = make_caller("vllm", "openAICompatible", block, _no_secrets, "ns", pools=pools)
    assert isinstance(caller, OpenAIFormatCaller)
    relayed: list[bytes] = []

    async def relay() -> None:
        async for piece in caller.stream(STREAM_BODY, sniff(STREAM_BODY)):
            relayed.append(piece)

    try:
        with pytest.raises(Unavailable, match="CUDA out of memory") as caught:
            await relay()
    finally:
        await caller.aclose()
        server.close()
    assert caught.value.status == 503
    assert b"".join(relayed) == CHUNK
