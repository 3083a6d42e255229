"""All four emulators at once: :class:`Emulators` (async) and :func:`run_emulators` (blocking)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from airoute.emulators.azure_openai import AzureOpenAIEmulator
from airoute.emulators.bedrock import BedrockEmulator
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.emulators.server import EmulatorServer
from airoute.emulators.vertex_ai import VertexAIEmulator


@dataclass(frozen=True)
class EmulatorPorts:
    """Where each emulator listens; 0 picks a free port."""

    azure: int = 0
    bedrock: int = 0
    vertex: int = 0
    openai: int = 0


class Emulators:
    """The Azure OpenAI, Bedrock, Vertex AI and OpenAI-compatible emulators, started together."""

    def __init__(self, ports: EmulatorPorts | None = None, host: str = "127.0.0.1",
                 seed: int | None = 0, openai_ssl: ssl.SSLContext | None = None) -> None:
        self.ports = ports or EmulatorPorts()
        self.host = host
        self.openai_ssl = openai_ssl
        self.azure = AzureOpenAIEmulator(seed=seed)
        self.bedrock = BedrockEmulator(seed=seed)
        self.vertex = VertexAIEmulator(seed=seed)
        self.openai = OpenAICompatibleEmulator(seed=seed)

    @property
    def all(self) -> dict[str, EmulatorServer]:
        return {"azure": self.azure, "bedrock": self.bedrock, "vertex": self.vertex,
                "openai": self.openai}

    @property
    def urls(self) -> dict[str, str]:
        return {name: emulator.base_url for name, emulator in self.all.items()}

    async def start(self) -> dict[str, str]:
        try:
            await self.azure.start(self.host, self.ports.azure)
            await self.bedrock.start(self.host, self.ports.bedrock)
            await self.vertex.start(self.host, self.ports.vertex)
            await self.openai.start(self.host, self.ports.openai, ssl_context=self.openai_ssl)
        except BaseException:
            await self.stop()
            raise
        return self.urls

    async def stop(self) -> None:
        for emulator in self.all.values():
            await emulator.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve_emulators(ports: EmulatorPorts | None = None, host: str = "127.0.0.1",
                          seed: int | None = 0,
                          ready: Callable[[dict[str, str]], None] | None = None) -> None:
    """Run the four emulators until cancelled or sent SIGINT/SIGTERM."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopped.set)
    async with Emulators(ports, host, seed) as emulators:
        if ready is not None:
            ready(emulators.urls)
        await stopped.wait()


def run_emulators(azure_port: int = 0, bedrock_port: int = 0, vertex_port: int = 0,
                  openai_port: int = 0, host: str = "127.0.0.1", seed: int | None = 0,
                  ready: Callable[[dict[str, str]], None] | None = print) -> None:
    """Blocking: start all four emulators on the given ports, report their URLs, serve until
    interrupted (for a command line)."""
    ports = EmulatorPorts(azure_port, bedrock_port, vertex_port, openai_port)
    asyncio.run(serve_emulators(ports, host, seed, ready))
