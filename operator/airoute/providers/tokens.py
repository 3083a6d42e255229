"""Short-lived credentials kept fresh off the event loop: bearer tokens (Microsoft Entra ID through
``azure-identity``, Google OAuth through ``google-auth``) and AWS credential snapshots (botocore's
chain), each fetched by a blocking function of the provider's library run in a thread.

:meth:`Refreshing.get` costs one clock read while the value is fresh. Within ``margin`` seconds
of its expiry a refresh starts in the background and the current value keeps serving; only a
value that is missing or expired makes a request wait (for one refresh shared by every waiting
request). A failed refresh is an :class:`~airoute.providers.errors.AuthFailed` for the requests
that needed it, scrubbed of the library's secrets, and the next request tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from airoute.providers.errors import AuthFailed, ProviderError

log = logging.getLogger(__name__)

T = TypeVar("T")

Fetch = Callable[[], tuple[T, float]]
"""Blocking: the value and when it expires (seconds since the epoch; ``math.inf``: never)."""

MARGIN = 300.0
"""Seconds before expiry at which a background refresh starts."""


class Refreshing(Generic[T]):
    """A value from ``fetch`` (run in a thread), cached until ``margin`` seconds before it
    expires. ``what`` names it in errors (``"Entra ID token"``)."""

    def __init__(self, fetch: Fetch[T], what: str, *, provider: str = "", margin: float = MARGIN,
                 secrets: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch
        self.what = what
        self.provider = provider
        self.margin = margin
        self._secrets = tuple(secrets)
        self._clock = clock
        self._value: T | None = None
        self._expires = -math.inf
        self._refresh: asyncio.Task[T] | None = None

    @property
    def expires(self) -> float:
        return self._expires

    async def get(self) -> T:
        """The current value; waits only when there is none that is still valid."""
        left = self._expires - self._clock()
        if left > self.margin and self._value is not None:
            return self._value
        if left > 0 and self._value is not None:
            self._start()  # ahead of expiry: refresh in the background, serve the current one
            return self._value
        return await asyncio.shield(self._start())

    def _start(self) -> asyncio.Task[T]:
        task = self._refresh
        if task is None or task.done():
            task = self._refresh = asyncio.get_running_loop().create_task(self._run())
            task.add_done_callback(_consume)
        return task

    async def _run(self) -> T:
        try:
            value, expires = await asyncio.to_thread(self._fetch)
        except ProviderError:
            raise
        except Exception as exc:
            log.warning("backend %s: cannot get its %s (%s)", self.provider, self.what, type(exc).__name__)
            raise AuthFailed(f"cannot get the {self.what}: {type(exc).__name__}: {exc}",
                             provider=self.provider, secrets=self._secrets) from None
        self._value, self._expires = value, expires
        return value

    async def aclose(self) -> None:
        task, self._refresh = self._refresh, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


def _consume(task: asyncio.Task[object]) -> None:
    """A background refresh nobody awaited must not log "exception was never retrieved"."""
    if not task.cancelled():
        task.exception()


class BearerHeader:
    """The header line carrying a :class:`Refreshing` token (``authorization: Bearer …``),
    rebuilt only when the token changes."""

    def __init__(self, token: Refreshing[str], name: str = "authorization", prefix: str = "Bearer ") -> None:
        self.token = token
        self._name = name
        self._prefix = prefix
        self._for: str | None = None
        self._line = b""

    async def line(self) -> bytes:
        token = await self.token.get()
        if token is not self._for:
            if any(c in token for c in "\r\n\0"):
                raise AuthFailed(f"the {self.token.what} holds a line break or NUL", provider=self.token.provider)
            self._line = f"{self._name}: {self._prefix}{token}\r\n".encode("latin-1")
            self._for = token
        return self._line

    async def aclose(self) -> None:
        await self.token.aclose()
