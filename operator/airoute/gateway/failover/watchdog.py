"""The clock of one backend attempt: its deadline, and for a stream the time to its first token
and the longest silence between two events.

``async with Watchdog(...)`` around an attempt cancels it when a limit is reached and raises
:class:`~airoute.providers.errors.Timeout` instead (the way ``asyncio.timeout`` does, and with
the same care for cancellations that came from elsewhere). The limits:

* ``budget``: seconds the attempt may take in all (the backend's ``timeout``, or what is left of
  the request's deadline);
* ``first_token``: seconds from the start until the first piece of output (a stream's
  ``firstTokenTimeout``) — :meth:`Watchdog.begin` is called when it came;
* ``idle``: seconds without a piece once the first came (``streamIdleTimeout``) — whoever relays
  sets :attr:`Watchdog.last` at every piece (one attribute store: no timer is touched per piece).

Times are the event loop's (:meth:`~asyncio.AbstractEventLoop.time`, what timers run on).
One timer per attempt: when it fires before its time (a piece came meanwhile) it is set again
for the new due time, so a healthy stream of thousands of events re-arms it once per idle period.
A stream the client reads slowly (``holding()`` is true: reading from the backend is paused
because the client's socket is full) is not idle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

from airoute.providers.errors import Timeout


def _never() -> bool:
    return False


class Watchdog:
    """Cancels the attempt it guards when a limit is reached; see the module's docstring."""

    __slots__ = ("_cancelling", "_handle", "_loop", "_task", "deadline", "expired", "first", "first_token",
                 "holding", "idle", "last", "provider", "started")

    def __init__(self, loop: asyncio.AbstractEventLoop, budget: float, first_token: float | None = None,
                 idle: float | None = None, provider: str = "") -> None:
        self._loop = loop
        self.started = loop.time()
        self.deadline = self.started + budget
        self.first_token = first_token
        self.idle = idle
        self.provider = provider
        self.first = 0.0
        self.last = 0.0
        self.expired: str | None = None
        self.holding: Callable[[], bool] = _never
        self._task: asyncio.Task[object] | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._cancelling = 0

    def due(self) -> float:
        """When the attempt expires if nothing more happens (:meth:`missed` says what it missed)."""
        if not self.first:
            if self.first_token is not None and self.started + self.first_token < self.deadline:
                return self.started + self.first_token
        elif self.idle is not None and self.last + self.idle < self.deadline:
            return self.last + self.idle
        return self.deadline

    def missed(self) -> str:
        """What the attempt will have missed when it expires at :meth:`due`."""
        at = self.due()
        if at == self.deadline:
            return f"no complete answer within {self.deadline - self.started:.3g}s"
        if not self.first:
            return f"no first token within {self.first_token:g}s"
        return f"the stream stalled: no event for {self.idle:g}s"

    def _fire(self) -> None:
        self._handle = None
        at = self.due()
        now = self._loop.time()
        if now >= at and self.first and at != self.deadline and self.holding():
            self.last = now  # silent because the client reads slowly: the silence is not the backend's
            at = self.due()
        if now < at:
            self._handle = self._loop.call_at(at, self._fire)
            return
        self.expired = self.missed()
        if self._task is not None:
            self._task.cancel()

    def begin(self, now: float) -> None:
        """The first piece came (at ``now``, loop time): from here on the idle limit applies, so
        the timer moves up when that comes sooner than the time it was set for."""
        self.first = self.last = now
        if self.idle is not None and self._handle is not None and now + self.idle < self._handle.when():
            self._handle.cancel()
            self._handle = self._loop.call_at(now + self.idle, self._fire)

    async def __aenter__(self) -> Watchdog:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Watchdog must be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._handle = self._loop.call_at(self.due(), self._fire)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.expired is None or self._task is None:
            return
        if self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise Timeout(self.expired, provider=self.provider) from None
