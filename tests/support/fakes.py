"""Stand-ins the tests share: a clock moved by hand, a metrics source whose answers the test
scripts, a scripted backend caller and a recorded reply for the failover policy, and waiting for
a condition instead of sleeping for a guessed time."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from airoute.api.objects import name_of, namespace_of
from airoute.core.signals import Signals
from airoute.ports import MetricsSnapshot, RouteQuery, SeriesKey
from airoute.providers.caller import StreamSink
from airoute.providers.errors import ProviderError
from airoute.providers.sniff import Sniffed
from airoute.providers.streaming import push

T0 = 1_800_000_000.0
"""A fixed start time (2027-01-15), far from the epoch and from today."""


class FakeClock:
    """Time that moves only when a test moves it (``clock.t += 5`` or :meth:`advance`); both a
    :class:`~airoute.ports.Clock` (``clock.now()``) and a plain callable (``clock()``)."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class ScriptedMetrics:
    """A :class:`~airoute.ports.MetricsSource` whose answers the test sets; it records every batch
    it was asked for (``calls``). ``available = False`` plays a Prometheus outage; ``snapshot``,
    when set, is the whole answer."""

    def __init__(self) -> None:
        self.calls: list[list[RouteQuery]] = []
        self.series: dict[SeriesKey, Signals] = {}
        self.available = True
        self.client_errors: dict[tuple[str, str], float] = {}
        self.snapshot: MetricsSnapshot | None = None

    async def collect(self, routes: Sequence[RouteQuery]) -> MetricsSnapshot:
        self.calls.append(list(routes))
        if self.snapshot is not None:
            return self.snapshot
        if not self.available:
            return MetricsSnapshot(available=False, error="Prometheus at http://prom unavailable: ConnectionError")
        return MetricsSnapshot(
            available=True, series=dict(self.series), queries=5, client_errors=dict(self.client_errors)
        )

    def set(self, key: SeriesKey, requests: float, errors: float, latency_p95: float = 0.4) -> None:
        """The signals of one (namespace, route, backend, variant) over the health window."""
        self.series[key] = Signals(requests, errors, 0.0, latency_p95)

    def healthy(self, routes: Iterable[Mapping[str, Any]], latency_p95: float = 0.3) -> None:
        """Every backend of ``routes`` (AIRoute objects) serves well."""
        for obj in routes:
            for backend in obj["spec"]["backends"]:
                self.set((namespace_of(obj), name_of(obj), backend["name"], "stable"), 500.0, 0.0, latency_p95)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.2) -> Any:
    """Polls ``check`` until it returns something true, and returns that; fails the test naming
    ``what`` (and the last value seen) after ``timeout`` seconds. For tests outside an event loop."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")
        time.sleep(every)


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], within: float = 5.0,
                     every: float = 0.02, what: str = "") -> Any:
    """:func:`wait_for` inside an event loop: polls ``check`` (plain or async) without blocking
    the loop, and returns what it returned once true."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {within}s")
        await asyncio.sleep(every)


class FakeReply:
    """The gateway's HTTP reply, recorded: status, headers, body, whether it ended."""

    def __init__(self) -> None:
        self.started = False
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.ended = False

    def send(self, status: int, body: bytes, content_type: str = "", headers: Any = None) -> None:
        self.started, self.status, self.body, self.headers = True, status, body, list(headers or [])

    def start(self, status: int, content_type: str = "", headers: Any = None, first: bytes = b"") -> None:
        self.started, self.status, self.headers = True, status, list(headers or [])
        self.body += first

    async def write(self, chunk: bytes) -> None:
        self.body += chunk

    def write_nowait(self, chunk: bytes) -> None:
        self.body += chunk

    def push(self, chunk: bytes) -> bool:
        self.body += chunk
        return True

    @property
    def pusher(self) -> Any:
        return self.push

    paused = False

    def on_writable(self, resume: Any) -> None:
        resume()

    def end(self) -> None:
        self.ended = True


class FakeCaller:
    """A backend caller that follows a script: bytes to answer, a ProviderError to raise, "hang",
    or (streams) a list of chunks and errors; ``calls`` counts the attempts."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls = 0

    def _next(self) -> Any:
        self.calls += 1
        step = self.script[min(self.calls, len(self.script)) - 1]
        if isinstance(step, ProviderError):
            raise step
        return step

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        step = self._next()
        if step == "hang":
            await asyncio.sleep(3600)
        return bytes(step)

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        for item in self._next():
            if isinstance(item, ProviderError):
                raise item
            if item == "hang":
                await asyncio.sleep(3600)
            yield item

    async def relay(self, body: bytes, sniffed: Sniffed, sink: StreamSink) -> None:
        await push(self.stream(body, sniffed), sink)

    async def aclose(self) -> None:
        pass
