"""A steady load of ordinary OpenAI clients, and what they experienced."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

import aiohttp

_ERROR_EVENT = b'data: {"error"'
QUESTIONS = (
    "Where is my parcel?",
    "How do I reset my password?",
    "Can I change my delivery address?",
    "What is your refund policy?",
)


@dataclass(frozen=True)
class Answer:
    """What one client got back: the HTTP status, whether it was the route's prepared fallback, the body."""

    status: int
    degraded: bool
    body: bytes


@dataclass(frozen=True)
class Seen:
    """How the user experienced one request: answered, or not (``failure`` says why).

    The route's prepared fallback answer (``degraded``) keeps the service going but is not an
    answer from a model: it counts as a failure, and is also counted apart.
    """

    failure: str | None = None
    degraded: bool = False

    @property
    def good(self) -> bool:
        return self.failure is None


def judge(answer: Answer, streamed: bool) -> Seen:
    """One request as the user saw it. Every rule of what counts as a failure lives here.

    A stream is judged by its content too: one that ends in an error event, or without
    ``data: [DONE]`` (cut, stalled), is a failure even with status 200 — an OpenAI SDK raises on it.
    """
    if answer.status != 200:
        return Seen(failure=f"HTTP {answer.status}")
    if answer.degraded:
        return Seen(degraded=True, failure="degraded answer")
    if streamed:
        end = answer.body.rstrip()[-512:]
        if _ERROR_EVENT in end:
            return Seen(failure="stream ended with an error event")
        if not end.endswith(b"data: [DONE]"):
            return Seen(failure="stream ended before data: [DONE]")
    return Seen()


@dataclass
class Tally:
    """Every client request: when, how long, and whether it succeeded for the user."""

    ok: int = 0
    failed: int = 0
    degraded: int = 0
    failures: list[str] = field(default_factory=list)
    recent: deque[tuple[float, bool, float]] = field(default_factory=lambda: deque(maxlen=50_000))

    def add(self, at: float, seen: Seen, seconds: float) -> None:
        if seen.good:
            self.ok += 1
        else:
            self.failed += 1
            self.degraded += seen.degraded
            if seen.failure is not None and len(self.failures) < 20:
                self.failures.append(seen.failure)
        self.recent.append((at, seen.good, seconds))

    @property
    def total(self) -> int:
        return self.ok + self.failed

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
            try:
                async with self._session.post(self.url, json=body) as resp:
                    answer = Answer(resp.status, resp.headers.get("x-airoute-degraded") == "true", await resp.read())
                    seen = judge(answer, streamed=bool(body["stream"]))
            except (aiohttp.ClientError, TimeoutError) as exc:
                seen = Seen(failure=type(exc).__name__)
            self.tally.add(time.time(), seen, time.monotonic() - started)
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
