"""The gateway as a process: graceful shutdown with an open stream, several workers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import metric, route
from tests.support.net import free_port
from tests.support.routes import emulated, yaml_text


@pytest.fixture
async def emulator() -> AsyncIterator[OpenAICompatibleEmulator]:
    emu = OpenAICompatibleEmulator()
    await emu.start()
    yield emu
    await emu.stop()


async def start_gateway(
    tmp_path: Path, emu: OpenAICompatibleEmulator, *args: str, env: dict[str, str] | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    routes = tmp_path / "routes"
    routes.mkdir()
    (routes / "chat.yaml").write_text(yaml_text([route([emulated("a", 100, emu)])]))
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "airoute.gateway", "--routes", str(routes), "--no-auth", "--host", "127.0.0.1",
        "--port", str(port), "--poll-interval", "0.1", "--allow-internal-upstreams", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as session, asyncio.timeout(20):
        while True:
            try:
                async with session.get(f"{url}/readyz") as r:
                    if r.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_sigterm_finishes_an_open_stream_then_exits(tmp_path: Path, emulator: OpenAICompatibleEmulator) -> None:
    await emulator.set_faults(chunk_delay=0.25)
    proc, url = await start_gateway(tmp_path, emulator, "--shutdown-delay", "0.5", "--shutdown-grace", "10")
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "tell me a long story"}]}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{url}/v1/chat/completions", json=body) as r:
            first = await r.content.readany()
            assert first.startswith(b"data: ")
            proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.1)
            async with aiohttp.ClientSession() as other, other.get(f"{url}/readyz") as ready:
                assert ready.status == 503
            rest = await r.content.read()
        assert (first + rest).rstrip().endswith(b"data: [DONE]")
        with pytest.raises(aiohttp.ClientConnectionError):
            async with aiohttp.ClientSession() as late, late.get(f"{url}/healthz"):
                pass
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def _worker_requests(sock: Path) -> float:
    """Requests one worker counted, read from that worker's own metrics socket."""
    reader, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(b"GET /metrics HTTP/1.1\r\nhost: local\r\nconnection: close\r\n\r\n")
    data = await reader.read()
    writer.close()
    return metric(data.partition(b"\r\n\r\n")[2].decode(), "airoute_requests_total", outcome="success")


@pytest.mark.slow
async def test_several_workers_share_the_port_and_one_scrape_sees_them_all(
    tmp_path: Path, emulator: OpenAICompatibleEmulator
) -> None:
    """With --workers 2 both worker processes serve requests (each one's own metrics, read from its
    socket, count some; the upstream sees a connection from each worker's pool), and one scrape of
    /metrics (on --metrics-port, which the workers share too) counts the requests of both. With
    one worker there is no second worker to count."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    metrics_port = free_port()
    proc, url = await start_gateway(tmp_path, emulator, "--workers", "2", "--metrics-port", str(metrics_port),
                                    env={"TMPDIR": str(tmp)})
    try:
        body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        sent, per_worker = 0, [0.0]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with asyncio.timeout(30):  # fresh connections, until the kernel gave each worker some
                while len(per_worker) < 2 or min(per_worker) == 0:
                    for _ in range(10):
                        async with session.post(f"{url}/v1/chat/completions", json=body) as r:
                            assert r.status == 200
                        sent += 1
                    socks = sorted(tmp.glob("airoute-gateway-*/worker-*.sock"))
                    per_worker = [await _worker_requests(s) for s in socks]
            assert [s.name for s in socks] == ["worker-0.sock", "worker-1.sock"]
            assert sum(per_worker) == sent
            async with session.get(f"http://127.0.0.1:{metrics_port}/metrics") as r:  # any worker answers
                text = await r.text()
            assert metric(text, "airoute_requests_total", outcome="success") == sent, per_worker
            assert metric(text, "airoute_gateway_route_table_version") == 1
        assert emulator.connections >= 2, "each worker's own upstream pool"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
