"""The gateway's HTTP/1.1 server, on a raw ``asyncio.Protocol`` with the ``httptools`` parser.

It does what the gateway needs and nothing more: keep-alive, pipelined requests answered in
order, chunked streaming responses with write back-pressure, a graceful drain, and the limits of
:mod:`~airoute.gateway.http_limits` that keep a hostile client from costing memory: head and
body sizes, authentication before the body (``admit``), a minimum pace, no reading while the
client does not read, a connection cap. A handler gets a
:class:`~airoute.gateway.http_messages.Request` and a :class:`~airoute.gateway.http_messages.Reply`
and either sends a whole response or streams one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

import httptools

from airoute.gateway.errors import error_body
from airoute.gateway.http_limits import MAX_HEAD, MAX_PIPELINED, Limits
from airoute.gateway.http_listener import Listener
from airoute.gateway.http_messages import CHUNK, Refusal, Reply, Request, whole_response

log = logging.getLogger(__name__)

__all__ = ["MAX_HEAD", "Admit", "Handler", "HttpServer", "Limits", "Refusal", "Reply", "Request"]

_DISCARD_LIMIT_FACTOR = 4  # an oversized body is read (and dropped) up to 4 times the limit, then the connection closes
_FRAMING_PER_CHUNK = 32  # bytes of chunk framing (size line and CRLFs) allowed per chunk, beyond the head limit
LINGER = 1.0  # a refused client's further bytes are read and dropped until it sends nothing for this long …
LINGER_MAX = 10.0  # … or for this long at most (nginx's lingering_timeout / lingering_time), so it gets the answer
PACE_TICK = 1.0  # seconds between two checks of a request that is still arriving
BACKLOG = 4096
"""Connections the kernel queues until the gateway accepts them (capped by net.core.somaxconn): a
burst of new streams while the loop is busy must not overflow it (dropped handshakes cost the
client a second or more and end in resets)."""

Handler = Callable[[Request, Reply], Awaitable[None]]
Admit = Callable[[str, str, Mapping[str, str]], Refusal | None]
"""Checks a request from its method, path and headers before its body is read: a refusal is
answered at once and the connection closes."""


class HttpServer:
    """Accepts connections and runs ``handler`` for each request; see :meth:`drain` for shutdown."""

    def __init__(self, handler: Handler, limits: Limits | None = None, admit: Admit | None = None) -> None:
        self.handler = handler
        self.limits = limits or Limits()
        self.admit = admit
        self.draining = False
        self.connections: dict[_Connection, None] = {}  # oldest first
        self._servers: list[asyncio.base_events.Server] = []
        self._listeners: list[Listener] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._busy = 0

    async def listen(self, host: str, port: int, reuse_port: bool = False) -> int:
        """Starts listening; returns the bound port (useful with port 0). Connections are accepted
        by a :class:`~airoute.gateway.http_listener.Listener` (all that wait, at every turn of
        the loop), not by ``create_server``."""
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        bound: int = sock.getsockname()[1]
        self._listeners.append(Listener(sock, lambda: _Connection(self)))
        return bound

    async def listen_unix(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_unix_server(lambda: _Connection(self), path=path))

    def _track(self, conn: _Connection, busy: bool) -> None:
        """Counts connections running a request (a count, not a scan: thousands of streams end
        one by one)."""
        self._busy += 1 if busy else -1
        if busy:
            self._idle.clear()
        elif self._busy <= 0:
            self._idle.set()

    def make_room(self) -> bool:
        """At the connection cap: closes the oldest idle keep-alive connection, or else the oldest
        refused one that is only lingering (answered already, its client's late bytes dropped);
        False when there is neither."""
        for conn in self.connections:
            if conn.idle:
                conn.close()
                return True
        for conn in self.connections:
            if conn.lingering:
                conn.close()
                return True
        return False

    async def drain(self, grace: float) -> bool:
        """Stops accepting, closes idle connections, waits up to ``grace`` seconds for requests and
        streams in flight; returns True when everything finished in time."""
        self.draining = True
        for listener in self._listeners:
            listener.close()
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            if not conn.busy:
                conn.close()
        try:
            await asyncio.wait_for(self._idle.wait(), grace)
            finished = True
        except TimeoutError:
            finished = False
        for conn in list(self.connections):
            conn.close()
        return finished


class _Connection(asyncio.Protocol):
    """One client connection: parses requests, runs them one after another, writes replies.
    Slotted, and with lists rather than deques (an empty deque is 760 bytes): thousands of
    streams each hold one."""

    __slots__ = ("_began", "_body", "_chunks", "_drain_waiter", "_framing", "_head_size", "_headers", "_holds",
                 "_idle_handle", "_in_head", "_last_dropped", "_linger_end", "_pace_handle", "_parser", "_queue",
                 "_received", "_refused", "_refusing", "_reject", "_size", "_task", "_url", "busy", "limits", "paused",
                 "resume", "server", "transport")

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.limits = server.limits
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.busy = False
        self.resume: Callable[[], None] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._queue: list[tuple[Request, Refusal | None]] = []  # requests read ahead, oldest first
        self._task: asyncio.Task[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._pace_handle: asyncio.TimerHandle | None = None
        self._refused = False
        self._last_dropped = 0.0  # when a refused client last sent bytes (they are dropped)
        self._linger_end = 0.0
        self._holds: set[str] = set()  # why reading is paused: "queue", "writes", "refusal"
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._in_head = True
        self._head_size = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._framing = 0  # bytes after the head that are not body: chunk framing and trailers
        self._chunks = 0
        self._reject: Refusal | None = None  # answered in order once the request has arrived (413)
        self._refusing = False  # refused from its head: its body is dropped, the answer is sent or queued
        self._began: float | None = None  # when the first byte of the request arriving now came
        self._received = 0

    @property
    def draining(self) -> bool:
        return self.server.draining

    @property
    def lingering(self) -> bool:
        """Refused and answered, kept open only so that the answer is not lost to a reset."""
        return self._refused and self.transport is not None and not self.transport.is_closing()

    @property
    def idle(self) -> bool:
        """Open, answering nothing and with no request arriving: a keep-alive connection at rest."""
        transport = self.transport
        return (transport is not None and not transport.is_closing() and not self.busy and self._began is None
                and not self._queue)

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses; both loops set TCP_NODELAY on TCP sockets themselves.
        self.transport = cast(asyncio.Transport, transport)
        server = self.server
        cap = self.limits.max_connections
        if cap and len(server.connections) >= cap and not server.make_room():
            self._turn_away()
            return
        server.connections[self] = None
        self._arm_idle()

    def _turn_away(self) -> None:
        """At the connection cap with no idle connection to close: a 503, and close."""
        assert self.transport is not None
        self._refused = True
        self._parser = None
        body = error_body("the gateway has too many connections open; retry shortly", "server_error",
                          "too_many_connections")
        self.transport.write(whole_response(503, body, "application/json", [("retry-after", "1")], False))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.server.connections.pop(self, None)
        self._done()
        for handle in (self._idle_handle, self._pace_handle):
            if handle is not None:
                handle.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._queue.clear()
        self._parser = None  # it refers back to this protocol: free both now, not at the next full GC
        self._wake()

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if self._refused or parser is None:
            self._last_dropped = asyncio.get_running_loop().time()
            return  # answered and closing: what the client still sends is dropped
        if self._began is None:
            self._began = asyncio.get_running_loop().time()
        self._received += len(data)
        try:
            while data and self.transport is not None and not self._refused:
                if not self._in_head:
                    self._framing += len(data)  # on_body takes the body's share back out
                    parser.feed_data(data)
                    self._check_framing()
                    break
                # The parser keeps a header in memory until it is complete: feed it no more than the
                # head may hold, so that a flood of header bytes is refused instead of buffered.
                room = self.limits.max_head - self._head_size
                if room <= 0:
                    self._fail(431, f"request line and headers larger than {self.limits.max_head} bytes")
                    return
                piece, data = data[:room], data[room:]
                self._head_size += len(piece)
                parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {exc}")
        self._watch_pace()

    def _check_framing(self) -> None:
        """Chunk framing and trailers count against the head limit (trailers are kept in memory by
        the parser until each one is complete)."""
        allowed = self.limits.max_head + _FRAMING_PER_CHUNK * self._chunks
        if not self._in_head and self._framing > allowed:
            self._fail(431, f"chunk framing and trailers larger than {self.limits.max_head} bytes")

    def pause_writing(self) -> None:
        self.paused = True
        self._hold_reading("writes")  # the client does not read: read nothing more from it

    def resume_writing(self) -> None:
        self.paused = False
        self._release_reading("writes")
        self._wake()
        resume, self.resume = self.resume, None
        if resume is not None:
            resume()

    def _hold_reading(self, reason: str) -> None:
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._holds.add(reason)

    def _release_reading(self, reason: str) -> None:
        if reason not in self._holds:
            return
        self._holds.discard(reason)
        if not self._holds and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    # ------------------------------------------------------------------ httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._in_head:  # trailers of a chunked body come here too: dropped, never a header
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_headers_complete(self) -> None:
        self._in_head = False
        admit = self.server.admit
        if admit is not None:
            assert self._parser is not None  # called by the parser itself
            method = self._parser.get_method().decode("latin-1")
            refusal = admit(method, self._url.partition(b"?")[0].decode("latin-1"), self._headers)
            if refusal is not None:
                self._refuse_head(method, refusal)
                return
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.limits.max_body:
            self._reject = self._too_large()
        elif self._headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _too_large(self) -> Refusal:
        return Refusal(413, error_body(f"request body larger than {self.limits.max_body} bytes",
                                       "invalid_request_error", "body_too_large"))

    def _refuse_head(self, method: str, refusal: Refusal) -> None:
        """Answers a request refused from its head without reading its body, then closes: now when
        nothing is before it, else after the requests before it (reading stops meanwhile)."""
        self._refusing = True
        if not self.busy and not self._queue:
            self._answer_and_close(refusal)
            return
        self._queue.append((Request(method, self._url, self._headers, b"", False), refusal))
        self._hold_reading("refusal")

    def on_body(self, body: bytes) -> None:
        self._framing -= len(body)
        if self._refusing:
            return
        self._size += len(body)
        if self._size > self.limits.max_body:
            self._reject = self._too_large()
            self._body.clear()
            if self._size > self.limits.max_body * _DISCARD_LIMIT_FACTOR:
                self._fail(413, "request body too large")
        elif self._reject is None:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._refused or self._refusing:  # already answered or queued (401, 413, 431 …)
            self._reset()
            return
        parser = self._parser
        assert parser is not None  # called by the parser itself
        method = parser.get_method().decode()
        keep_alive = parser.should_keep_alive()
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self._queue.append((Request(method, self._url, self._headers, body, keep_alive), self._reject))
        self._reset()
        if len(self._queue) > MAX_PIPELINED:
            self._hold_reading("queue")  # read more once the queued requests are answered
        if self._task is None or self._task.done():
            self.busy = True
            self.server._track(self, True)
            if self._idle_handle is not None:
                self._idle_handle.cancel()
            self._task = asyncio.get_running_loop().create_task(self._run())

    # ------------------------------------------------------------------ running requests

    async def _run(self) -> None:
        while self._queue and self.transport is not None:
            if self.paused:  # answer nothing more until the client has read what it was sent
                await self.drain()
                if self.transport is None:
                    break
            request, refusal = self._queue.pop(0)
            if len(self._queue) <= MAX_PIPELINED:
                self._release_reading("queue")
            reply = Reply(self, request.keep_alive)
            try:
                if refusal is not None:
                    reply.keep_alive = False
                    reply.send(refusal.status, refusal.body, headers=refusal.headers)
                else:
                    await self.server.handler(request, reply)
            except asyncio.CancelledError:
                self.close()
                raise
            except Exception:
                log.exception("unhandled error in the gateway handler for %s %s", request.method, request.path)
                if not reply.started:
                    reply.send(500, error_body("internal gateway error", "server_error", "internal_error"))
                else:
                    reply.abort()
            if not reply.keep_alive:
                self.close()
                break
        self._done()
        if self.server.draining:
            self.close()
        else:
            self._arm_idle()

    def _done(self) -> None:
        if self.busy:
            self.busy = False
            self.server._track(self, False)

    def _arm_idle(self) -> None:
        if self.transport is not None and self.limits.idle_timeout > 0:
            self._idle_handle = asyncio.get_running_loop().call_later(self.limits.idle_timeout, self._idle_close)

    def _idle_close(self) -> None:
        if self.busy:
            return
        if self._head_size and self.transport is not None:  # a request began but did not arrive in time
            self._fail(408, f"the request did not arrive within {self.limits.idle_timeout:g}s")
        else:
            self.close()

    def _watch_pace(self) -> None:
        """Checks, while a request is still arriving, that it arrives fast enough."""
        if self._began is not None and self._pace_handle is None and self.transport is not None and not self._refused:
            tick = min(PACE_TICK, self.limits.header_timeout or PACE_TICK)
            self._pace_handle = asyncio.get_running_loop().call_later(tick, self._check_pace)

    def _check_pace(self) -> None:
        self._pace_handle = None
        if self._began is None or self.transport is None or self._refused:
            return
        now = asyncio.get_running_loop().time()
        if self._holds or self.busy:  # the server is the one not reading: the client cannot be slow
            self._began, self._received = now, 0
        else:
            why = self.limits.too_slow(self._in_head, now - self._began, self._received)
            if why is not None:
                self._fail(408, why)
                return
        self._watch_pace()

    def _fail(self, status: int, message: str) -> None:
        self._answer_and_close(Refusal(status, error_body(message, "invalid_request_error", None)))

    def _answer_and_close(self, refusal: Refusal) -> None:
        transport = self.transport
        if transport is None or self.busy or transport.is_closing():
            self.close()
            return
        Reply(self, keep_alive=False).send(refusal.status, refusal.body, headers=refusal.headers)
        # Closing now, with the client's bytes still unread, would reset the connection and lose the
        # answer: end the sending side, drop what still comes until the client pauses, then close.
        self._refused = True
        if transport.can_write_eof():
            transport.write_eof()
        self._holds.clear()
        transport.resume_reading()
        loop = asyncio.get_running_loop()
        self._last_dropped, self._linger_end = loop.time(), loop.time() + LINGER_MAX
        loop.call_later(LINGER, self._linger)

    def _linger(self) -> None:
        """Closes a refused connection once its client has sent nothing for ``LINGER`` seconds (a
        client still sending a large body would otherwise be reset before it reads the answer), or
        after ``LINGER_MAX`` seconds whatever it does."""
        now = asyncio.get_running_loop().time()
        quiet_at = self._last_dropped + LINGER
        if self.transport is None or now >= quiet_at or now >= self._linger_end:
            self.close()
            return
        asyncio.get_running_loop().call_later(min(quiet_at, self._linger_end) - now, self._linger)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing() and not self._refused:
            self.transport.write(data)

    def push(self, chunk: bytes) -> bool:
        """Writes one chunk of a started chunked answer, framed, in one write; False when the
        client reads slower than the chunks come. One call per relayed piece: kept to the least."""
        transport = self.transport
        if transport is not None and not self._refused and not transport.is_closing():
            transport.write(CHUNK % (len(chunk), chunk))
        return not self.paused

    async def drain(self) -> None:
        """Waits until the client has read enough of what it was sent; one that reads nothing for
        ``idle_timeout`` seconds is cut off (its buffered answers are dropped)."""
        loop = asyncio.get_running_loop()
        stalled = (loop.call_later(self.limits.idle_timeout, self._stalled)
                   if self.limits.idle_timeout > 0 else None)
        try:
            while self.paused and self.transport is not None:
                self._drain_waiter = loop.create_future()
                await self._drain_waiter
        finally:
            if stalled is not None:
                stalled.cancel()

    def _stalled(self) -> None:
        if self.paused and self.transport is not None:
            log.info("closing a connection whose client read nothing for %gs", self.limits.idle_timeout)
            self.transport.abort()

    def _wake(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def on_writable(self, resume: Callable[[], None]) -> None:
        """Calls ``resume`` once the client can take more (at once when it can already)."""
        if self.paused:
            self.resume = resume
        else:
            resume()
