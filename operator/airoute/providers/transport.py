"""Deadlines and transport failures common to every adapter (asyncio, aiohttp, sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable
from typing import TypeVar

import aiohttp

from airoute.providers.errors import ProviderError, Timeout, Unavailable

T = TypeVar("T")


def transport_error(exc: BaseException, provider: str,
                    secrets: Iterable[str] = ()) -> ProviderError | None:
    """The ProviderError for a network-level failure, or None when ``exc`` is not one."""
    if isinstance(exc, ProviderError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
        return Timeout(f"no answer in time ({name})", provider=provider)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Unavailable(f"cannot connect: {exc.os_error.strerror or name}", provider=provider,
                           secrets=secrets)
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return Unavailable(f"the connection broke off mid-answer ({name})", provider=provider)
    if isinstance(exc, (aiohttp.ClientError, ConnectionError, OSError)):
        return Unavailable(f"transport failure: {name}: {exc}", provider=provider,
                           secrets=secrets)
    return None


async def within(awaitable: Awaitable[T], seconds: float, provider: str) -> T:
    """``await awaitable`` but give up after ``seconds`` with :class:`Timeout`."""
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError as exc:
        raise Timeout(f"no answer within {seconds:g}s", provider=provider) from exc


async def paced(items: AsyncIterable[T], seconds: float, provider: str) -> AsyncIterator[T]:
    """Items of ``items``, each of which must arrive within ``seconds`` of the last."""
    iterator = aiter(items)
    while True:
        try:
            async with asyncio.timeout(seconds):
                item = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise Timeout(f"no next chunk within {seconds:g}s", provider=provider) from exc
        yield item


async def close_quietly(items: object) -> None:
    """``aclose()`` an async iterator if it has one (SDK stream objects vary)."""
    close = getattr(items, "aclose", None)
    if close is not None:
        await close()
