"""Short-lived credentials: fetched in a thread, cached, refreshed ahead of expiry in the
background, one refresh for every waiting request, failures as AuthFailed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from airoute.providers import AuthFailed
from airoute.providers.tokens import BearerHeader, Refreshing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """Hands out token-1, token-2, … valid for ``lifetime`` seconds; counts calls and threads."""

    def __init__(self, clock: Clock, lifetime: float = 3600.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0
        self.threads: set[int] = set()
        self.fail: Exception | None = None
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self) -> tuple[str, float]:
        self.gate.wait(5)
        self.threads.add(threading.get_ident())
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return f"token-{self.calls}", self.clock.now + self.lifetime


async def test_cached_until_the_margin_then_refreshed_in_the_background() -> None:
    clock = Clock()
    issuer = Issuer(clock)
    token = Refreshing(issuer, "test token", margin=300, clock=clock)
    assert await token.get() == "token-1"
    assert threading.get_ident() not in issuer.threads, "fetched off the event loop"
    clock.now += 3000  # 600 s left: still fresh
    assert await token.get() == "token-1"
    assert issuer.calls == 1
    clock.now += 400  # 200 s left: inside the margin
    assert await token.get() == "token-1", "the still-valid token serves while the refresh runs"
    await asyncio.sleep(0.05)
    for _ in range(100):
        if issuer.calls == 2:
            break
        await asyncio.sleep(0.01)
    assert await token.get() == "token-2"


async def test_an_expired_token_waits_for_one_shared_refresh() -> None:
    clock = Clock()
    issuer = Issuer(clock)
    token = Refreshing(issuer, "test token", clock=clock)
    issuer.gate.clear()
    waiting = [asyncio.ensure_future(token.get()) for _ in range(10)]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waiting)
    issuer.gate.set()
    assert await asyncio.gather(*waiting) == ["token-1"] * 10
    assert issuer.calls == 1


async def test_a_failed_refresh_is_auth_failed_scrubbed_and_retried() -> None:
    clock = Clock()
    issuer = Issuer(clock)
    issuer.fail = RuntimeError("AADSTS700016: client secret s3cr3t-value-xyz was refused")
    token = Refreshing(issuer, "Entra ID token", provider="azure-eu", clock=clock, secrets=["s3cr3t-value-xyz"])
    with pytest.raises(AuthFailed) as caught:
        await token.get()
    assert caught.value.provider == "azure-eu"
    assert "s3cr3t-value-xyz" not in str(caught.value) and "Entra ID token" in str(caught.value)
    issuer.fail = None
    assert await token.get() == "token-2"


async def test_bearer_header_line_follows_the_token() -> None:
    clock = Clock()
    issuer = Issuer(clock, lifetime=10)
    header = BearerHeader(Refreshing(issuer, "test token", margin=5, clock=clock))
    assert await header.line() == b"authorization: Bearer token-1\r\n"
    clock.now += 20
    assert await header.line() == b"authorization: Bearer token-2\r\n"


async def test_a_token_with_a_line_break_is_refused() -> None:
    header = BearerHeader(Refreshing(lambda: ("tok\r\nx-injected: 1", 1e12), "test token"))
    with pytest.raises(AuthFailed, match="line break"):
        await header.line()
