"""Faults on real parts: the gateway (in this process, or as an ``airoute gateway`` process whose memory
is measured), the emulators with their run-time fault injection, and small misbehaving servers.

``gateway_env`` and its helpers come from ``tests/integration/gateway/conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators import OpenAICompatibleEmulator

from ..gateway.conftest import (  # noqa: F401  (gateway_env is a fixture used by the tests here)
    CLIENT_KEYS,
    Env,
    EnvFactory,
    backend_yaml,
    gateway_env,
    metric,
    route_yaml,
    until,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    return free_port()


class GatewayProcess:
    """``airoute gateway --routes DIR`` as a child process; stderr (the logs) goes to a file."""

    def __init__(self, routes: Path, log: Path, *args: str) -> None:
        self.routes = routes
        self.log = log
        self.args = args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, within: float = 20.0) -> None:
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "airoute.gateway", "--routes", str(self.routes), "--host", "127.0.0.1",
                "--port", str(self.port), "--poll-interval", "0.1", *self.args,
                stdout=asyncio.subprocess.DEVNULL, stderr=err,
            )
        async with aiohttp.ClientSession() as session, asyncio.timeout(within):
            while True:
                assert self.proc.returncode is None, f"the gateway exited: {self.logs()[-2000:]}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        """Resident memory of the gateway process, in MiB (from /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc/<pid>/status")

    def open_fds(self) -> int:
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def stop(self, grace: float = 20.0) -> int:
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc is not None and self.proc.returncode is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise


GatewayFactory = Callable[..., Awaitable[GatewayProcess]]


@pytest.fixture
async def gateway_process(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Starts ``airoute gateway`` processes over a route folder; stops them at the end."""
    started: list[GatewayProcess] = []

    async def make(routes: Path, *args: str) -> GatewayProcess:
        gateway = GatewayProcess(routes, tmp_path / f"gateway-{len(started)}.log", *args)
        started.append(gateway)
        await gateway.start()
        return gateway

    yield make
    for gateway in started:
        with contextlib.suppress(Exception):
            await gateway.stop()


async def post(session: aiohttp.ClientSession, url: str, body: object, stream: bool = False,
               key: str | None = None) -> tuple[int, bytes]:
    """A chat request; the status and the whole body (a stream read to its end)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as r:
        return r.status, await r.read()


def chat_body(model: str = "chat", stream: bool = False, content: str = "hello") -> dict[str, object]:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return body


def complete(status: int, body: bytes, stream: bool) -> bool:
    """A whole, successful answer: 200 and, for a stream, its final ``data: [DONE]``."""
    if status != 200:
        return False
    return body.rstrip().endswith(b"data: [DONE]") if stream else body.lstrip().startswith(b"{")


@pytest.fixture
async def emulators() -> AsyncIterator[list[OpenAICompatibleEmulator]]:
    """Two OpenAI-compatible emulators, stopped after the test."""
    emus = [OpenAICompatibleEmulator(seed=i) for i in range(2)]
    for emu in emus:
        await emu.start()
    yield emus
    for emu in emus:
        await emu.stop()
