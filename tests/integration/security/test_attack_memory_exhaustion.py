"""Attacks (issue 14.7): a client without a key costing the gateway memory, or a connection, for free.

Each attack runs against a real ``airoute gateway`` process, whose resident memory and open file
descriptors are read from /proc. Before the limits of ``gateway/http_limits.py`` each of them grew
memory without bound, held connections open forever, or let a trailer replace a header.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.fakes import eventually
from tests.support.gateway import CLIENT_KEYS, GatewayFactory, GatewayProcess, chat_body, post, route
from tests.support.routes import emulated, yaml_text

pytestmark = pytest.mark.slow

ALLOWED, OTHER = CLIENT_KEYS["support-bot"], CLIENT_KEYS["marketing"]


@pytest.fixture
async def upstream() -> AsyncIterator[OpenAICompatibleEmulator]:
    emulator = OpenAICompatibleEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


async def start(tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator,
                *flags: str) -> GatewayProcess:
    """A gateway serving ``chat`` (for support-bot only) and a few more routes, so that /metrics is sizeable."""
    folder = tmp_path / "routes"
    folder.mkdir()
    routes = [route([emulated("a", 100, upstream)], name="chat", allowedClients=["support-bot"])]
    routes += [route([emulated(f"b{i}", 50, upstream), emulated(f"c{i}", 50, upstream)], name=f"r{i}")
               for i in range(8)]
    (folder / "routes.yaml").write_text(yaml_text(routes))
    keys = tmp_path / "keys.yaml"
    keys.write_text("".join(f"{k}: {v}\n" for k, v in CLIENT_KEYS.items()))
    return await gateway_process(folder, "--api-keys-file", str(keys), *flags)


async def growth_while(gateway: GatewayProcess, attack: asyncio.Task[None], seconds: float = 5.0) -> float:
    """The largest RSS growth (MiB) seen over ``seconds`` from the start of ``attack`` (which is then
    cancelled): the gateway may still be working through what the attack sent after it is sent."""
    before = gateway.rss_mb()
    peak = before
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        peak = max(peak, gateway.rss_mb())
        await asyncio.sleep(0.1)
    peak = max(peak, gateway.rss_mb())
    attack.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        await attack
    return peak - before


async def answer(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """The status line and headers of the next response."""
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), within)


async def test_pipelined_requests_whose_answers_are_never_read(
    tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator
) -> None:
    """68 KB of pipelined ``GET /metrics`` (80 KB each) never read: the gateway stops reading instead of
    buffering the answers (before: about 20 MiB more every second, 140 MiB in all)."""
    gateway = await start(tmp_path, gateway_process, upstream)
    async with aiohttp.ClientSession() as session:  # every backend answers a few times: /metrics is ~80 KB
        for i in range(8):
            for _ in range(6):
                status, _ = await post(session, gateway.url, chat_body(f"r{i}"), key=ALLOWED)
                assert status == 200
    _, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    request = b"GET /metrics HTTP/1.1\r\nhost: gw\r\n\r\n"

    async def flood() -> None:
        writer.write(request * (68_000 // len(request)))
        await writer.drain()

    grown = await growth_while(gateway, asyncio.create_task(flood()))
    writer.close()
    print(f"RSS growth while 68 KB of pipelined /metrics requests went unread: {grown:.1f} MiB")
    assert grown < 20, f"RSS grew by {grown:.1f} MiB"


async def test_a_trailer_never_replaces_a_header(
    tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator
) -> None:
    """``authorization`` of a client not allowed on ``chat``, then a trailer with an allowed client's key."""
    gateway = await start(tmp_path, gateway_process, upstream)
    body = b'{"model":"chat","messages":[{"role":"user","content":"hi"}]}'
    data = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer %s\r\n"
            b"transfer-encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\nauthorization: Bearer %s\r\n\r\n"
            % (OTHER.encode(), len(body), body, ALLOWED.encode()))
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(data)
    head = await answer(reader)
    writer.close()
    assert head.startswith(b"HTTP/1.1 404"), head  # the header's client, which may not use chat
    assert upstream.stats.total == 0


async def test_trailers_count_against_the_head_limit(
    tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator
) -> None:
    """An endless trailer is refused with a 431 once past the head limit, instead of being buffered."""
    gateway = await start(tmp_path, gateway_process, upstream)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)

    async def endless_trailer() -> None:
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer %s\r\n"
                     b"transfer-encoding: chunked\r\n\r\n1\r\n{\r\n0\r\nx-trailer: " % ALLOWED.encode())
        for _ in range(200):  # up to 200 x 64 KB
            writer.write(b"a" * 65536)
            await writer.drain()

    attack = asyncio.create_task(endless_trailer())
    head = await answer(reader, within=10)
    grown = await growth_while(gateway, attack, seconds=0.5)
    writer.close()
    assert head.startswith(b"HTTP/1.1 431"), head
    assert grown < 20


async def test_a_body_is_never_read_before_the_key_is_checked(
    tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator
) -> None:
    """No key and a 4 MiB body announced: answered 401 from the head; 40 such uploads cost no memory."""
    gateway = await start(tmp_path, gateway_process, upstream)
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: %d\r\n\r\n" % (4 * 1024 * 1024)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(head)  # and not one byte of the body
    assert (await answer(reader, within=3)).startswith(b"HTTP/1.1 401")
    writer.close()

    async def upload() -> None:
        with contextlib.suppress(ConnectionError):
            _, w = await asyncio.open_connection("127.0.0.1", gateway.port)
            w.write(head)
            for _ in range(64):
                w.write(b"x" * 65536)
                await w.drain()
            await asyncio.sleep(30)

    async def uploads() -> None:
        await asyncio.gather(*(upload() for _ in range(40)))

    grown = await growth_while(gateway, asyncio.create_task(uploads()))
    assert grown < 30, f"RSS grew by {grown:.1f} MiB"


async def resting_fds(gateway: GatewayProcess) -> int:
    """The gateway's open files at rest: the least of a few samples (its overload monitor opens
    ``/proc/self/statm`` now and then)."""
    samples = []
    for _ in range(20):
        samples.append(gateway.open_fds())
        await asyncio.sleep(0.01)
    return min(samples)


async def test_connections_are_capped(
    tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator
) -> None:
    """``--max-connections 50``: 200 idle connections leave at most 50 open; 50 half-sent requests turn
    the next connection away with a 503, and an honest client is served again once they are cut off."""
    gateway = await start(tmp_path, gateway_process, upstream, "--max-connections", "50", "--header-timeout", "2")
    base = await resting_fds(gateway)
    idle = [await asyncio.open_connection("127.0.0.1", gateway.port) for _ in range(200)]
    await asyncio.sleep(0.3)
    assert gateway.open_fds() - base <= 50
    for _, w in idle:
        w.close()
    # Until the gateway has seen them go, a closed idle connection would make room for a newcomer.
    await eventually(lambda: gateway.open_fds() <= base, within=10, what="the idle connections closed")
    held = []
    for _ in range(50):
        r, w = await asyncio.open_connection("127.0.0.1", gateway.port)
        w.write(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n")  # a head that never ends
        await w.drain()
        held.append((r, w))
    await eventually(lambda: gateway.open_fds() - base >= 50, within=10, what="the 50 held connections accepted")
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
    refused = await answer(reader)
    writer.close()
    assert refused.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in refused, refused
    cut = [await answer(r, within=6) for r, _ in held]  # the header timeout frees the slots
    assert all(h.startswith(b"HTTP/1.1 408") for h in cut), cut[:3]
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
    assert (await answer(reader)).startswith(b"HTTP/1.1 200")
    writer.close()


async def test_slow_requests_are_cut_off(
    tmp_path: Path, gateway_process: GatewayFactory, upstream: OpenAICompatibleEmulator
) -> None:
    """A head sent a byte at a time ends with a 408 after ``--header-timeout``; a body slower than
    ``--min-data-rate`` (averaged once 5 s have passed) too."""
    gateway = await start(tmp_path, gateway_process, upstream, "--header-timeout", "1", "--min-data-rate", "1000")
    loop = asyncio.get_running_loop()

    async def trickle(data: bytes, writer: asyncio.StreamWriter) -> None:
        for byte in data:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    began = loop.time()
    sender = asyncio.create_task(trickle(b"GET /healthz HTTP/1.1\r\nhost: gw\r\nx-pad: " + b"a" * 1000, writer))
    assert (await answer(reader, within=4)).startswith(b"HTTP/1.1 408")
    assert loop.time() - began < 3
    sender.cancel()
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer %s\r\n"
                 b"content-length: 100000\r\n\r\n" % ALLOWED.encode())
    sender = asyncio.create_task(trickle(b"x" * 1000, writer))  # 20 bytes/s
    assert (await answer(reader, within=9)).startswith(b"HTTP/1.1 408")
    sender.cancel()
    writer.close()
