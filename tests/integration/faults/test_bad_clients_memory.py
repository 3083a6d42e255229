"""Hostile clients against an ``airoute gateway`` process: its memory stays bounded, good clients are served.

Rounds of near-limit and over-limit bodies, chunked floods, header floods, broken and deeply nested
JSON and half-sent requests held open, all at once with well-behaved clients. The gateway's RSS is read
from /proc before (after a warm-up) and after; the figures are printed for docs/operations/proof.md.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import CLIENT_KEYS, GatewayFactory, GatewayProcess, chat_body, complete, post, route
from tests.support.routes import emulated, yaml_text

pytestmark = pytest.mark.slow

KEY = CLIENT_KEYS["support-bot"]
LIMIT = 4 * 1024 * 1024  # the gateway's default --max-body-bytes


async def raw(port: int, data: bytes, hold: float = 0.0) -> bytes:
    """Sends bytes and reads the answer (or holds a half-sent request open for ``hold`` seconds).
    Like curl, it reads while it sends and stops sending once an answer has come (a 401 or 413
    answered from the head while the body is still on its way)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.ensure_future(reader.read(512))
    try:
        for at in range(0, len(data), 1 << 20):
            if answer.done():
                break
            writer.write(data[at:at + (1 << 20)])
            await writer.drain()
        if hold:
            await asyncio.sleep(hold)
            return b""
        return await asyncio.wait_for(answer, 30)
    except ConnectionError:
        if answer.done() and not answer.cancelled() and answer.exception() is None and answer.result():
            return answer.result()
        return b"reset"
    finally:
        answer.cancel()
        writer.close()


def request(body: bytes, extra: bytes = b"") -> bytes:
    return (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer %s\r\n%s"
            b"content-length: %d\r\n\r\n%s" % (KEY.encode(), extra, len(body), body))


async def bounded(jobs: list[asyncio.Future[bytes] | asyncio.Task[bytes]] | list, limit: int) -> list[bytes]:  # type: ignore[type-arg]
    semaphore = asyncio.Semaphore(limit)

    async def one(job):  # type: ignore[no-untyped-def]
        async with semaphore:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


def near_limit_body() -> bytes:
    filler = "x" * (LIMIT - 200)
    return json.dumps({"model": "no-such-model", "messages": [{"role": "user", "content": filler}]}).encode()


async def abuse(gateway: GatewayProcess) -> dict[str, int]:
    port = gateway.port
    near = request(near_limit_body())
    over = request(b"x" * (LIMIT + 1024 * 1024))
    chunk = b"x" * (1024 * 1024)
    chunked = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n"
               + b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n")
    chunked_with_key = chunked.replace(b"host: gw\r\n", b"host: gw\r\nauthorization: Bearer %s\r\n" % KEY.encode())
    header_flood = b"GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-flood: " + b"a" * 1_000_000 + b"\r\n\r\n"
    deep = request(b'{"model": "chat", "model": "chat", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    broken = request(b'{"model": "chat", "messages": [')
    half = b"POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 100000\r\n\r\n" + b"x" * 1000
    rounds = {
        "near-limit bodies (4 MiB, unknown model)": ([lambda: raw(port, near)] * 200, 20, b"404"),
        "over-limit bodies (5 MiB)": ([lambda: raw(port, over)] * 100, 20, b"413"),
        "chunked bodies (20 MiB), no key": ([lambda: raw(port, chunked)] * 20, 10, b"401"),
        "chunked bodies (20 MiB)": ([lambda: raw(port, chunked_with_key)] * 20, 10, b"413"),
        "1 MB header floods": ([lambda: raw(port, header_flood)] * 300, 30, b"431"),
        "100,000-deep JSON": ([lambda: raw(port, deep)] * 200, 20, b"400"),
        "broken JSON": ([lambda: raw(port, broken)] * 500, 50, b"400"),
        "half-sent requests held 2 s": ([lambda: raw(port, half, hold=2.0)] * 500, 500, b""),
    }
    counts = {}
    for name, (jobs, limit, expected) in rounds.items():
        answers = await bounded(jobs, limit)
        if expected:
            wrong = [a[:60] for a in answers if not a.startswith(b"HTTP/1.1 " + expected)]
            assert not wrong, f"{name}: {wrong[:3]}"
        counts[name] = len(answers)
    return counts


async def test_hostile_clients_leave_memory_flat_and_good_clients_served(
    tmp_path: Path, emulators: list[OpenAICompatibleEmulator], gateway_process: GatewayFactory
) -> None:
    folder = tmp_path / "routes"
    folder.mkdir()
    backends = [emulated("a", 50, emulators[0]), emulated("b", 50, emulators[1])]
    (folder / "chat.yaml").write_text(yaml_text([route(backends)]))
    keys = tmp_path / "keys.yaml"
    keys.write_text("".join(f"{k}: {v}\n" for k, v in CLIENT_KEYS.items()))
    gateway = await gateway_process(folder, "--api-keys-file", str(keys))
    async with aiohttp.ClientSession() as session:
        for i in range(300):  # warm-up: code paths, pools, allocator arenas
            status, body = await post(session, gateway.url, chat_body(stream=i % 2 == 1), key=KEY)
            assert complete(status, body, i % 2 == 1)
        before = gateway.rss_mb()
        stop = asyncio.Event()
        good: list[int] = []

        async def client(stream: bool) -> None:
            while not stop.is_set():
                status, body = await post(session, gateway.url, chat_body(stream=stream), key=KEY)
                good.append(status if complete(status, body, stream) else -status)

        started = time.monotonic()
        clients = [asyncio.create_task(client(i % 2 == 1)) for i in range(8)]
        counts = await abuse(gateway)
        peak = gateway.rss_mb()
        stop.set()
        await asyncio.gather(*clients)
        took = time.monotonic() - started
    await asyncio.sleep(1.0)
    after = gateway.rss_mb()
    print(f"bad requests: {sum(counts.values())} ({counts}); good requests meanwhile: {len(good)}, "
          f"failed: {len([s for s in good if s != 200])}; RSS before {before:.1f} MiB, right after the abuse "
          f"{peak:.1f} MiB, 1 s later {after:.1f} MiB; {took:.1f}s")
    assert good and set(good) == {200}
    assert after - before < 15, f"RSS grew from {before:.1f} to {after:.1f} MiB"
