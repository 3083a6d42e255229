"""Hot reload of the route table while requests flow."""

from __future__ import annotations

import asyncio
import itertools
import time

from tests.support.fakes import eventually
from tests.support.gateway import EnvFactory, metric, route
from tests.support.routes import emulated


async def test_hot_reload_under_load_loses_no_request(gateway_env: EnvFactory) -> None:
    env = await gateway_env(3, lambda e: [route([emulated("a", 100, e[0])])])
    e = env.emulators
    variants = [
        [route([emulated("a", 100, e[0])])],
        [route([emulated("a", 50, e[0]), emulated("b", 50, e[1])])],
        [route([emulated("b", 100, e[1]), emulated("c", 0, e[2])])],
        [route([emulated("c", 100, e[2])], status={"weights": {"c": 100}})],
        "kind: [this file is broken",  # refused: the last good table stays
        [route([emulated("a", 30, e[0]), emulated("c", 70, e[2])]),
         route([emulated("b", 100, e[1])], name="other")],
    ]
    statuses: list[int] = []
    stop = time.monotonic() + 2.0

    async def client(stream: bool) -> None:
        while time.monotonic() < stop:
            status, _, body = await env.chat(stream=stream)
            statuses.append(status)
            if stream:
                assert body.rstrip().endswith(b"data: [DONE]")

    async def reloader() -> None:
        for routes in itertools.cycle(variants):
            if time.monotonic() >= stop:
                return
            if isinstance(routes, str):
                env.write_text(routes)
            else:
                env.write(*routes)
            await asyncio.sleep(0.1)

    await asyncio.gather(reloader(), *(client(stream=i % 2 == 1) for i in range(8)))
    assert len(statuses) > 100
    assert set(statuses) == {200}
    assert env.gateway.table.live.version >= 5
    text = await env.metrics()
    assert metric(text, "airoute_gateway_route_table_load_failures_total") >= 1
    assert sum(emu.stats.count(outcome="ok") for emu in e) == len(statuses)


async def test_a_broken_file_keeps_the_last_good_table(gateway_env: EnvFactory) -> None:
    env = await gateway_env(1, lambda e: [route([emulated("a", 100, e[0])])])
    version = env.gateway.table.live.version
    env.write_text("kind: [broken")

    async def refused() -> bool:
        return metric(await env.metrics(), "airoute_gateway_route_table_load_failures_total") >= 1

    await eventually(refused)
    assert env.gateway.table.live.version == version
    assert (await env.chat())[0] == 200
    await env.reload(route([emulated("a", 100, env.emulators[0])], name="renamed", model="chat"))
    assert (await env.chat())[0] == 200
    assert env.gateway.table.live.routes["chat"].key == "team/renamed"
