"""Sustained load on an ``airoute gateway`` process while one of its two backends flaps down and up.

For a bounded time (``AIROUTE_LOAD_SECONDS``, 24 s by default) clients keep asking — plain and
streamed — while backend ``a`` goes down every 2 s (connections refused, then answering 503) and comes
back 2 s later; ``b`` stays healthy. No client sees an error, and the gateway's memory stays flat:
its RSS after a warm-up and at the end are printed (the figures of docs/operations/proof.md).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators.faults import Faults
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.gateway import GatewayFactory, chat_body, complete, route
from tests.support.routes import emulated, yaml_text

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("AIROUTE_LOAD_SECONDS", "24"))
FLAP = 2.0
CLIENTS = 16


async def test_load_with_a_flapping_backend_loses_nothing_and_memory_stays_flat(
    tmp_path: Path, emulators: list[OpenAICompatibleEmulator], gateway_process: GatewayFactory
) -> None:
    a, b = emulators
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "chat.yaml").write_text(yaml_text([route(
        [emulated("a", 50, a, timeout="5s"), emulated("b", 50, b, timeout="5s")],
        failover={"ejectFor": "1s", "consecutiveFailures": 3})]))
    gateway = await gateway_process(folder, "--no-auth")
    ok = errors = streams = 0
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(i: int, until: float) -> None:
            nonlocal ok, errors, streams
            while time.monotonic() < until:
                stream = i % 4 == 0
                async with session.post(f"{gateway.url}/v1/chat/completions", json=chat_body(stream=stream)) as r:
                    status, body = r.status, await r.read()
                if complete(status, body, stream):
                    ok += 1
                    streams += stream
                else:
                    errors += 1
                    failures.append(f"{status} {body[-120:]!r}")

        warm_until = time.monotonic() + 3.0
        await asyncio.gather(*(client(i, warm_until) for i in range(CLIENTS)))
        start_rss = gateway.rss_mb()
        ok = errors = streams = 0
        flaps = 0

        async def flapper(until: float) -> None:
            nonlocal flaps
            down_modes = [Faults(down="refuse"), Faults(error_rate=1.0, error_status=503)]
            while time.monotonic() < until - FLAP:
                await a.set_faults(down_modes[flaps % 2])
                flaps += 1
                await asyncio.sleep(FLAP)
                await a.set_faults()
                await asyncio.sleep(FLAP)

        started = time.monotonic()
        until = started + SECONDS
        await asyncio.gather(flapper(until), *(client(i, until) for i in range(CLIENTS)))
        took = time.monotonic() - started
        end_rss = gateway.rss_mb()
    served_by_a = a.stats.count(outcome="ok")
    print(f"load: {ok + errors} requests ({streams} streams) in {took:.1f}s = {(ok + errors) / took:.0f}/s, "
          f"{errors} client-visible errors; backend a went down {flaps} times and served {served_by_a} "
          f"(b: {b.stats.count(outcome='ok')}); gateway RSS {start_rss:.1f} MiB after warm-up, "
          f"{end_rss:.1f} MiB at the end ({end_rss - start_rss:+.1f})")
    assert errors == 0, failures[:5]
    assert flaps >= SECONDS / (2 * FLAP) - 1
    assert served_by_a > 0, "a came back between outages"
    assert end_rss - start_rss < 15, f"RSS {start_rss:.1f} → {end_rss:.1f} MiB"
