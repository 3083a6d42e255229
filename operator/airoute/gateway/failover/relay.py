"""The client side of one streamed attempt: the :class:`~airoute.providers.caller.StreamSink` a
caller pushes the backend's events into.

The first piece starts the client's ``200 text/event-stream`` answer (callers hold a stream's
opening back until its first output, so nothing reaches the client before the first token, and
the attempt can still fail over until then). Every piece is written as one HTTP chunk at once,
from the upstream connection's callbacks for the OpenAI-format caller; when the client's socket
is full the caller stops reading from the backend until it drains (back-pressure end to end).
What the relay keeps per piece is two attribute stores: the time (for the
:class:`~airoute.gateway.failover.watchdog.Watchdog`) and the piece (the last two hold the usage).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from airoute.gateway.failover.watchdog import Watchdog
from airoute.gateway.http_server import Reply

SSE_HEADERS = [("x-accel-buffering", "no")]


class Relay:
    """Relays one stream to the client; ``started`` once anything was sent."""

    __slots__ = ("_clock", "_loop", "_push", "_reply", "_time", "_watch", "before", "first_at", "started", "tail")

    def __init__(self, reply: Reply, watch: Watchdog, loop: asyncio.AbstractEventLoop,
                 clock: Callable[[], float]) -> None:
        self._reply = reply
        self._watch = watch
        self._loop = loop
        self._clock = clock
        self._time = loop.time
        self._push = reply.pusher
        self.first_at = 0.0
        """When the first piece went out, by ``clock`` (the one metrics are measured with)."""
        self.started = False
        self.before = b""
        self.tail = b""
        watch.holding = lambda: reply.paused

    def send(self, piece: bytes) -> bool:
        self._watch.last = now = self._time()
        self.before, self.tail = self.tail, piece
        if self.started:
            return self._push(piece)
        self._start(now, piece)  # the head and the first piece in one write
        return not self._reply.paused

    def on_writable(self, resume: Callable[[], None]) -> None:
        self._reply.on_writable(resume)

    def end(self) -> None:
        """The stream ended cleanly (``[DONE]`` was relayed): the client's answer ends too; an
        answer without a single piece is an empty 200 stream."""
        if not self.started:
            self._start(self._loop.time())
        self._reply.end()

    def _start(self, now: float, first: bytes = b"") -> None:
        self.started = True
        self.first_at = self._clock()
        self._watch.begin(now)
        self._reply.start(200, headers=SSE_HEADERS, first=first)

    @property
    def last_bytes(self) -> bytes:
        """The end of the stream, where usage is reported."""
        return self.before[-512:] + self.tail
