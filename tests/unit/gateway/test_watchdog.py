"""The clock of one attempt (issue 16.1-2): first token, idle, budget; on virtual time."""

from __future__ import annotations

import asyncio

import pytest

from airoute.gateway.failover.watchdog import Watchdog
from airoute.providers.errors import Timeout

pytestmark = pytest.mark.looptime


async def _pieces(watch: Watchdog, gaps: list[float]) -> None:
    """A stream whose pieces come after ``gaps`` seconds each (the first one begins it)."""
    loop = asyncio.get_running_loop()
    for n, gap in enumerate(gaps):
        await asyncio.sleep(gap)
        if n == 0:
            watch.begin(loop.time())
        watch.last = loop.time()
    await asyncio.sleep(3600)


async def _expires(watch: Watchdog, gaps: list[float]) -> tuple[float, str]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(Timeout) as info:
        async with watch:
            await _pieces(watch, gaps)
    return loop.time() - started, str(info.value)


async def test_no_first_token_in_time_expires_at_the_first_token_limit() -> None:
    took, why = await _expires(Watchdog(asyncio.get_running_loop(), 30.0, first_token=2.0, idle=5.0), [])
    assert took == pytest.approx(2.0) and "no first token within 2s" in why


async def test_after_the_first_token_the_idle_limit_applies_from_the_last_piece() -> None:
    watch = Watchdog(asyncio.get_running_loop(), 30.0, first_token=2.0, idle=1.0)
    took, why = await _expires(watch, [1.5, 0.9, 0.9])  # a first token within 2 s, pieces within 1 s of each other
    assert took == pytest.approx(1.5 + 0.9 + 0.9 + 1.0) and "stalled" in why


async def test_the_budget_bounds_a_stream_that_keeps_coming() -> None:
    took, why = await _expires(Watchdog(asyncio.get_running_loop(), 3.0, idle=1.0), [0.5] * 100)
    assert took == pytest.approx(3.0) and "no complete answer within 3s" in why


async def test_a_stream_the_client_reads_slowly_is_not_idle() -> None:
    """Reading from the backend is paused because the client's socket is full: the silence is
    the client's, so only the budget applies."""
    watch = Watchdog(asyncio.get_running_loop(), 10.0, idle=1.0)
    watch.holding = lambda: True
    took, why = await _expires(watch, [0.1])
    assert took == pytest.approx(10.0) and "no complete answer" in why


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    watch = Watchdog(asyncio.get_running_loop(), 10.0, first_token=5.0)

    async def guarded() -> None:
        async with watch:
            await asyncio.sleep(3600)

    task = asyncio.ensure_future(guarded())
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert watch.expired is None


async def test_an_attempt_that_ends_in_time_raises_nothing() -> None:
    async with Watchdog(asyncio.get_running_loop(), 10.0, first_token=5.0, idle=1.0) as watch:
        await asyncio.sleep(0.5)
    assert watch.expired is None
