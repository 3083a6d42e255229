"""Gateways in front of real emulators, over real HTTP on loopback ports.

``gateway_env`` starts OpenAI-compatible emulators and a gateway (in this process, on its own
port) that reads a route folder; tests rewrite the folder to reload routes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig

CLIENT_KEYS = {"support-bot": "sk-support-0001", "marketing": "sk-marketing-0002"}


def backend_yaml(name: str, weight: int, emulator: OpenAICompatibleEmulator, model: str | None = None,
                 timeout: str = "10s") -> str:
    return (
        f"    - name: {name}\n      weight: {weight}\n      timeout: {timeout}\n"
        f"      openAICompatible: {{baseURL: '{emulator.base_url}/v1', model: {model or name}, insecure: true}}\n"
    )


def route_yaml(backends: Sequence[str], name: str = "chat", model: str | None = None, tier: str = "critical",
               namespace: str = "team", extra: str = "") -> str:
    return (
        f"apiVersion: airoute.dev/v1alpha1\nkind: AIRoute\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
        f"spec:\n  model: {model or name}\n  tier: {tier}\n  backends:\n{''.join(backends)}{extra}"
    )


@dataclasses.dataclass
class Env:
    folder: Path
    gateway: Gateway
    session: aiohttp.ClientSession
    emulators: list[OpenAICompatibleEmulator]
    key: str | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    def write(self, *routes: str, name: str = "routes.yaml") -> None:
        """Replaces a route file atomically (write, then rename), as the convention asks."""
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text("---\n".join(routes))
        os.replace(tmp, self.folder / name)

    async def reload(self, *routes: str, name: str = "routes.yaml") -> None:
        """Writes routes and waits until the gateway serves a new table."""
        version = self.gateway.table.live.version
        hash_ = self.gateway.table.live.table.hash
        self.write(*routes, name=name)

        async def swapped() -> bool:
            live = self.gateway.table.live
            return live.table.hash != hash_ or live.version != version

        await until(swapped)

    def headers(self, key: str | None = None) -> dict[str, str]:
        key = key or self.key
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def chat(self, model: str = "chat", stream: bool = False, key: str | None = None,
                   content: str = "hello", extra: dict[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
        body = {"model": model, "messages": [{"role": "user", "content": content}], **(extra or {})}
        if stream:
            body["stream"] = True
        async with self.session.post(f"{self.url}/v1/chat/completions", json=body, headers=self.headers(key)) as r:
            return r.status, dict(r.headers), await r.read()

    async def metrics(self) -> str:
        async with self.session.get(f"{self.url}/metrics") as r:
            return await r.text()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


def completion_text(body: bytes) -> str:
    return str(json.loads(body)["choices"][0]["message"]["content"])


EnvFactory = Callable[..., Awaitable[Env]]


async def until(check: Callable[[], Awaitable[bool]], within: float = 5.0, every: float = 0.02) -> None:
    """Polls ``check`` until it is true; fails the test after ``within`` seconds."""
    for _ in range(max(1, int(within / every))):
        if await check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met within {within}s")


@pytest.fixture
async def gateway_env(tmp_path: Path) -> AsyncIterator[EnvFactory]:
    started: list[Env] = []

    async def make(emulators: int = 2, routes: Callable[[list[OpenAICompatibleEmulator]], list[str]] | None = None,
                   auth: bool = False, wait: bool = True, **settings: Any) -> Env:
        emus = [OpenAICompatibleEmulator(seed=i) for i in range(emulators)]
        for emu in emus:
            await emu.start()
        folder = tmp_path / f"routes-{len(started)}"
        folder.mkdir()
        keys = tmp_path / "keys.yaml"
        keys.write_text("".join(f"{k}: {v}\n" for k, v in CLIENT_KEYS.items()))
        if routes is not None:
            (folder / "routes.yaml").write_text("---\n".join(routes(emus)))
        config = GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(folder), poll_interval=0.05,
                               auth_disabled=not auth, api_keys_file=str(keys) if auth else None,
                               shutdown_grace=5, **settings)
        gateway = Gateway(config)
        await gateway.start()
        env = Env(folder, gateway, aiohttp.ClientSession(), emus, CLIENT_KEYS["support-bot"] if auth else None)
        started.append(env)
        if routes is not None and wait:
            await gateway.wait_ready()
        return env

    yield make
    for env in started:
        await env.session.close()
        await env.gateway.shutdown()
        for emu in env.emulators:
            await emu.stop()
