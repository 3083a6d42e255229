"""SIGTERM to an ``airoute gateway`` process while many streams and requests are open.

Everything in flight completes (every stream ends with ``[DONE]``), nothing new is accepted, the
process exits 0. When streams outlast ``--shutdown-grace`` the process still exits on time.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import GatewayFactory, chat_body, complete, route
from tests.support.routes import emulated, yaml_text

pytestmark = pytest.mark.slow


def routes(tmp_path: Path, emus: list[OpenAICompatibleEmulator]) -> Path:
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "chat.yaml").write_text(yaml_text([route([emulated("a", 50, emus[0]), emulated("b", 50, emus[1])])]))
    return folder


async def ask(session: aiohttp.ClientSession, url: str, stream: bool, opened: asyncio.Event) -> tuple[int, bytes]:
    async with session.post(f"{url}/v1/chat/completions", json=chat_body(stream=stream, content="a long story")) as r:
        first = await r.content.readany() if stream else b""
        opened.set()
        return r.status, first + await r.read()


async def test_sigterm_lets_every_open_stream_and_request_finish(
    tmp_path: Path, emulators: list[OpenAICompatibleEmulator], gateway_process: GatewayFactory
) -> None:
    for emu in emulators:
        await emu.set_faults(chunk_delay=0.15, latency=0.3)  # a stream lasts about 2 s
    gateway = await gateway_process(routes(tmp_path, emulators), "--no-auth", "--shutdown-grace", "20")
    async with aiohttp.ClientSession() as session:
        opened = [asyncio.Event() for _ in range(40)]
        calls = [asyncio.create_task(ask(session, gateway.url, i % 4 != 0, opened[i])) for i in range(40)]
        await asyncio.wait_for(asyncio.gather(*(o.wait() for o in opened[1::4])), 10)  # streams are open
        assert gateway.proc is not None
        gateway.proc.send_signal(15)
        signalled = time.monotonic()
        await asyncio.sleep(0.3)
        with pytest.raises(aiohttp.ClientConnectionError):  # nothing new is accepted
            async with aiohttp.ClientSession() as late, late.get(f"{gateway.url}/healthz"):
                pass
        answers = await asyncio.gather(*calls)
    assert all(complete(status, body, i % 4 != 0) for i, (status, body) in enumerate(answers)), [
        (s, b[-80:]) for s, b in answers if not b.rstrip().endswith(b"[DONE]") and b[:1] != b"{"]
    code = await asyncio.wait_for(gateway.proc.wait(), 20)
    print(f"40 requests in flight at SIGTERM (30 streams): all complete; exit {code} "
          f"{time.monotonic() - signalled:.1f}s after the signal")
    assert code == 0


async def test_streams_longer_than_the_grace_period_do_not_hold_the_exit(
    tmp_path: Path, emulators: list[OpenAICompatibleEmulator], gateway_process: GatewayFactory
) -> None:
    for emu in emulators:
        await emu.set_faults(chunk_delay=2.0)  # a stream would last about 30 s
    gateway = await gateway_process(routes(tmp_path, emulators), "--no-auth", "--shutdown-grace", "1")
    async with aiohttp.ClientSession() as session:
        opened = asyncio.Event()
        stream = asyncio.create_task(ask(session, gateway.url, True, opened))
        await asyncio.wait_for(opened.wait(), 10)
        assert gateway.proc is not None
        gateway.proc.send_signal(15)
        started = time.monotonic()
        code = await asyncio.wait_for(gateway.proc.wait(), 10)
        waited = time.monotonic() - started
        with pytest.raises(aiohttp.ClientPayloadError):
            await stream  # cut: the client sees an incomplete body, never a false [DONE]
    assert waited < 4.0, f"the process took {waited:.1f}s to exit with a 1s grace period"
    assert code == 1  # "grace period ran out"
