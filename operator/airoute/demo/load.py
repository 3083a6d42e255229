"""A steady load of ordinary OpenAI clients, and what they experienced."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp

QUESTIONS = (
    "Where is my parcel?",
    "How do I reset my password?",
    "Can I change my delivery address?",
    "What is your refund policy?",
)


@dataclass
class Tally:
    """Every client request: when, how long, and whether it succeeded for the user."""

    ok: int = 0
    failed: int = 0
    degraded: int = 0
    failures: list[str] = field(default_factory=list)
    recent: deque[tuple[float, bool, float]] = field(default_factory=lambda: deque(maxlen=20_000))

    def record(self, at: float, good: bool, seconds: float) -> None:
        self.recent.append((at, good, seconds))

    def rate(self, now: float, window: float = 5.0) -> tuple[float, float]:
        """(requests per second, failed per second) over the last ``window`` seconds."""
        inside = [r for r in self.recent if r[0] >= now - window]
        return len(inside) / window, sum(1 for r in inside if not r[1]) / window

    def failed_between(self, start: float, end: float) -> int:
        return sum(1 for at, good, _ in self.recent if start <= at <= end and not good)


class Load:
    """``clients`` concurrent clients, each sending chat completions back to back."""

    def __init__(self, url: str, model: str, clients: int, think: float = 0.01) -> None:
        self.url = f"{url}/v1/chat/completions"
        self.model = model
        self.clients = clients
        self.think = think
        self.tally = Tally()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def _client(self, n: int) -> None:
        assert self._session is not None
        i = 0
        while True:
            i += 1
            body = {
                "model": self.model,
                "messages": [{"role": "user", "content": QUESTIONS[(n + i) % len(QUESTIONS)]}],
                "stream": i % 5 == 0,
            }
            started = time.monotonic()
            good = False
            try:
                async with self._session.post(self.url, json=body) as resp:
                    await resp.read()
                    good = resp.status == 200
                    if resp.headers.get("x-airoute-degraded") == "true":
                        self.tally.degraded += 1
                        good = False
                    if not good and len(self.tally.failures) < 20:
                        self.tally.failures.append(f"HTTP {resp.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                if len(self.tally.failures) < 20:
                    self.tally.failures.append(type(exc).__name__)
            if good:
                self.tally.ok += 1
            else:
                self.tally.failed += 1
            self.tally.record(time.time(), good, time.monotonic() - started)
            await asyncio.sleep(self.think)

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._tasks = [asyncio.create_task(self._client(n)) for n in range(self.clients)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
