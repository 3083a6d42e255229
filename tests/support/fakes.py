"""Stand-ins the tests share: a clock moved by hand, and waiting for a condition instead of
sleeping for a guessed time."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any


class FakeClock:
    """Time that moves only when a test moves it; callable (``clock()``) and a
    :class:`~airoute.ports.Clock` (``clock.now()``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.at = start

    def __call__(self) -> float:
        return self.at

    def now(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], within: float = 5.0,
                     every: float = 0.02, what: str = "") -> Any:
    """Polls ``check`` (plain or async) until it returns something true, and returns that; fails
    the test after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() >= deadline:
            raise AssertionError(f"{what or 'condition'} not met within {within}s")
        await asyncio.sleep(every)
