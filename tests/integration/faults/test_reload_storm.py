"""The gateway reloading its route table 100 times under load: zero failed requests.

Each reload is a different table (weights move, backends come and go, a second route appears and
disappears, a broken file is refused in between), and the test waits for every one to be in use, so
100 distinct versions are served while streaming and plain clients keep asking. Old callers and
connection pools are retired, not leaked.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig
from tests.support.fakes import eventually
from tests.support.gateway import Env, chat_body, complete, metric, post, route
from tests.support.routes import emulated, yaml_text

RELOADS = 100


def variants(e: list[OpenAICompatibleEmulator]) -> list[list[dict[str, Any]]]:
    return [
        [route([emulated("a", 100, e[0])])],
        [route([emulated("a", 50, e[0]), emulated("b", 50, e[1])])],
        [route([emulated("b", 100, e[1]), emulated("c", 0, e[2])])],
        [route([emulated("c", 70, e[2]), emulated("a", 30, e[0])]),
         route([emulated("b", 100, e[1])], name="other")],
        [route([emulated("a", 1, e[0]), emulated("b", 1, e[1]), emulated("c", 98, e[2])])],
        [route([emulated("a", 100, e[0], model="renamed-upstream-model")])],
    ]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    """Like ``gateway_env``, with the folder polled every 10 ms so that 100 reloads take seconds."""
    emulators = [OpenAICompatibleEmulator(seed=i) for i in range(3)]
    for emu in emulators:
        await emu.start()
    (tmp_path / "routes.yaml").write_text(yaml_text(variants(emulators)[0]))
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(tmp_path), poll_interval=0.01,
                                    auth_disabled=True, allow_internal_upstreams=True))
    await gateway.start()
    await gateway.wait_ready()
    async with aiohttp.ClientSession() as session:
        yield Env(tmp_path, gateway, session, emulators, None)
    await gateway.shutdown()
    for emu in emulators:
        await emu.stop()


def _refused_more_than(env: Env, count: float) -> bool:
    return env.gateway.metrics.table_failures.get(()) > count


async def test_a_hundred_reloads_under_load_lose_no_request(env: Env) -> None:
    tables = variants(env.emulators)
    statuses: list[int] = []
    done = asyncio.Event()

    async def client(stream: bool) -> None:
        while not done.is_set():
            status, body = await post(env.session, env.url, chat_body(stream=stream))
            statuses.append(status if complete(status, body, stream) else -status)

    async def reloader() -> None:
        try:
            first = env.gateway.table.live.version
            for i, routes in zip(range(RELOADS), itertools.cycle(tables[1:] + tables[:1]), strict=False):
                if i % 10 == 5:
                    refused = env.gateway.metrics.table_failures.get(())
                    env.write_text("kind: [this file is broken")  # refused: the last good table stays
                    await eventually(functools.partial(_refused_more_than, env, refused),
                                     what="the broken file to be read and refused")
                await env.reload(*routes)
            assert env.gateway.table.live.version - first >= RELOADS
        finally:
            done.set()

    started = time.monotonic()
    clients = [client(stream=i % 2 == 1) for i in range(8)]
    await asyncio.gather(reloader(), *clients)
    took = time.monotonic() - started
    failed = [s for s in statuses if s != 200]
    print(f"{RELOADS} reloads in {took:.1f}s under load: {len(statuses)} requests, {len(failed)} failed")
    assert len(statuses) > 500
    assert failed == []
    text = await env.metrics()
    assert metric(text, "airoute_gateway_route_table_load_failures_total") >= RELOADS // 10
    assert sum(emu.stats.count(outcome="ok") for emu in env.emulators) == len(statuses)
    assert len(env.gateway.table.callers.pools) <= 3, "connection pools of retired backends are let go"

    async def nothing_in_flight() -> bool:
        return env.gateway.admission.in_flight == 0

    await eventually(nothing_in_flight)


async def test_files_that_cannot_be_read_never_stop_the_reloads(env: Env) -> None:
    """Not UTF-8, nested deeper than the YAML parser recurses, a document that is not a mapping: each
    is refused (the last good table serves on), and the next good change is picked up."""
    e = env.emulators
    # 600 deep is past the parser's recursion already (RecursionError); deeper only costs more of
    # PyYAML's pure-Python scanner, which needs seconds for 5,000 on a busy machine.
    for i, junk in enumerate((b"\xff\xfe not utf-8", b"[" * 600 + b"]" * 600, b"- just\n- a list\n")):
        version = env.gateway.table.live.version
        failures = metric(await env.metrics(), "airoute_gateway_route_table_load_failures_total")
        (env.folder / "junk.yaml").write_bytes(junk)

        async def refused(before: float = failures) -> bool:
            return metric(await env.metrics(), "airoute_gateway_route_table_load_failures_total") > before

        await eventually(refused)
        assert env.gateway.table.live.version == version
        status, body = await post(env.session, env.url, chat_body())
        assert complete(status, body, False)
        (env.folder / "junk.yaml").unlink()
        await env.reload(*variants(e)[i + 1])  # the watcher still works
    assert {"chat"} <= set(env.gateway.table.live.routes)
