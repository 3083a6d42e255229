"""The gateway's HTTP/1.1 server, on a raw ``asyncio.Protocol`` with the ``httptools`` parser.

It does what the gateway needs and nothing more: keep-alive, pipelined requests answered in
order, a request-body size limit checked before the body is read, chunked streaming responses
with write back-pressure, and a graceful drain. A handler gets a :class:`Request` and a
:class:`Reply` and either sends a whole response or streams one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

import httptools

from airoute.gateway.errors import error_body

log = logging.getLogger(__name__)

_REASONS = {
    200: b"OK",
    204: b"No Content",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Payload Too Large",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Timeout",
}
_MAX_PIPELINED = 32  # requests read ahead on one connection before reading pauses
_DISCARD_LIMIT_FACTOR = 4  # an oversized body is read (and dropped) up to 4 times the limit, then the connection closes
MAX_HEAD = 64 * 1024  # request line and headers of one request, in bytes: a header flood gets a 431, not memory
LINGER = 1.0  # seconds a refused client's further bytes are read and dropped, so that it gets the answer


class Request:
    """One parsed request. Header names are lower-case."""

    __slots__ = ("body", "headers", "keep_alive", "method", "path", "query")

    def __init__(self, method: str, target: bytes, headers: dict[str, str], body: bytes, keep_alive: bool) -> None:
        path, _, query = target.partition(b"?")
        self.method = method
        self.path = path.decode("latin-1")
        self.query = query.decode("latin-1")
        self.headers = headers
        self.body = body
        self.keep_alive = keep_alive


class Reply:
    """The response side of one request: :meth:`send` a whole response, or :meth:`start` a stream."""

    __slots__ = ("_conn", "keep_alive", "started", "status")

    def __init__(self, conn: _Connection, keep_alive: bool) -> None:
        self._conn = conn
        self.keep_alive = keep_alive
        self.started = False
        self.status = 0

    def _head(self, status: int, headers: list[tuple[str, str]] | None, extra: bytes) -> bytes:
        self.started = True
        self.status = status
        if self._conn.server.draining:
            self.keep_alive = False
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown")), extra]
        if headers:
            parts.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
        parts.append(b"\r\n" if self.keep_alive else b"connection: close\r\n\r\n")
        return b"".join(parts)

    def send(self, status: int, body: bytes, content_type: str = "application/json",
             headers: list[tuple[str, str]] | None = None) -> None:
        """Sends a complete response (status line, headers, body) in one write."""
        extra = b"content-type: %s\r\ncontent-length: %d\r\n" % (content_type.encode(), len(body))
        self._conn.write(self._head(status, headers, extra) + body)

    def start(self, status: int, content_type: str = "text/event-stream",
              headers: list[tuple[str, str]] | None = None) -> None:
        """Begins a chunked response; follow with :meth:`write` and :meth:`end`."""
        extra = b"content-type: %s\r\ntransfer-encoding: chunked\r\ncache-control: no-cache\r\n" % content_type.encode()
        self._conn.write(self._head(status, headers, extra))

    def write_nowait(self, chunk: bytes) -> None:
        """Writes one chunk of a started stream without waiting for the client."""
        if chunk:
            self._conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))

    async def write(self, chunk: bytes) -> None:
        """Writes one chunk of a started stream, waiting while the client reads slowly."""
        if chunk:
            self._conn.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if self._conn.paused:
                await self._conn.drain()

    def end(self) -> None:
        """Ends a started stream cleanly (the terminating zero-length chunk)."""
        self._conn.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Ends a started stream by closing the connection (the client sees an incomplete body)."""
        self.keep_alive = False
        self._conn.close()


Handler = Callable[[Request, Reply], Awaitable[None]]


class HttpServer:
    """Accepts connections and runs ``handler`` for each request; see :meth:`drain` for shutdown."""

    def __init__(self, handler: Handler, max_body: int = 1 << 20, idle_timeout: float = 75.0) -> None:
        self.handler = handler
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.draining = False
        self.connections: set[_Connection] = set()
        self._servers: list[asyncio.base_events.Server] = []
        self._idle = asyncio.Event()
        self._idle.set()

    async def listen(self, host: str, port: int, reuse_port: bool = False) -> int:
        """Starts listening; returns the bound port (useful with port 0)."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
        server = await loop.create_server(lambda: _Connection(self), sock=sock)
        self._servers.append(server)
        bound: int = sock.getsockname()[1]
        return bound

    async def listen_unix(self, path: str) -> None:
        loop = asyncio.get_running_loop()
        self._servers.append(await loop.create_unix_server(lambda: _Connection(self), path=path))

    def _track(self, conn: _Connection, busy: bool) -> None:
        if busy:
            self._idle.clear()
        elif not any(c.busy for c in self.connections):
            self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Stops accepting, closes idle connections, waits up to ``grace`` seconds for requests and
        streams in flight; returns True when everything finished in time."""
        self.draining = True
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
    """One client connection: parses requests, runs them one after another, writes replies."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.paused = False
        self.busy = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._parser: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self._queue: deque[tuple[Request, int]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._idle_handle: asyncio.TimerHandle | None = None
        self._refused = False
        self._reset()

    def _reset(self) -> None:
        self._url = b""
        self._in_head = True
        self._head_size = 0
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._reject = 0

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        sock = self.transport.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.server.connections.discard(self)
        if self._idle_handle is not None:
            self._idle_handle.cancel()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._queue.clear()
        self._parser = None  # it refers back to this protocol: free both now, not at the next full GC
        self._wake()

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if self._refused or parser is None:
            return  # answered and closing: what the client still sends is dropped
        try:
            while data and self.transport is not None:
                if not self._in_head:
                    parser.feed_data(data)
                    return
                # The parser keeps a header in memory until it is complete: feed it no more than the
                # head may hold, so that a flood of header bytes is refused instead of buffered.
                room = MAX_HEAD - self._head_size
                if room <= 0:
                    self._fail(431, f"request line and headers larger than {MAX_HEAD} bytes")
                    return
                piece, data = data[:room], data[room:]
                self._head_size += len(piece)
                parser.feed_data(piece)
        except httptools.HttpParserUpgrade:
            self._fail(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed HTTP request: {exc}")

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake()

    # ------------------------------------------------------------------ httptools callbacks

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._in_head = False
        length = self._headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.server.max_body:
            self._reject = 413
        elif self._headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.server.max_body:
            self._reject = 413
            self._body.clear()
            if self._size > self.server.max_body * _DISCARD_LIMIT_FACTOR:
                self._fail(413, "request body too large")
        elif not self._reject:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if self._refused:  # already answered (413, 431 …) while this request was still arriving
            self._reset()
            return
        parser = self._parser
        assert parser is not None  # called by the parser itself
        method = parser.get_method().decode()
        keep_alive = parser.should_keep_alive()
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = Request(method, self._url, self._headers, body, keep_alive)
        self._queue.append((request, self._reject))
        self._reset()
        if len(self._queue) > _MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()  # read more once the queued requests are answered
        if self._task is None or self._task.done():
            self.busy = True
            self.server._track(self, True)
            if self._idle_handle is not None:
                self._idle_handle.cancel()
            self._task = asyncio.get_running_loop().create_task(self._run())

    # ------------------------------------------------------------------ running requests

    async def _run(self) -> None:
        while self._queue and self.transport is not None:
            request, reject = self._queue.popleft()
            if len(self._queue) == _MAX_PIPELINED:
                self.transport.resume_reading()
            reply = Reply(self, request.keep_alive)
            try:
                if reject:
                    reply.keep_alive = False
                    reply.send(reject, error_body(f"request body larger than {self.server.max_body} bytes",
                                                  "invalid_request_error", "body_too_large"))
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
        self.busy = False
        self.server._track(self, False)
        if self.server.draining:
            self.close()
        else:
            self._arm_idle()

    def _arm_idle(self) -> None:
        if self.transport is not None and self.server.idle_timeout > 0:
            self._idle_handle = asyncio.get_running_loop().call_later(self.server.idle_timeout, self._idle_close)

    def _idle_close(self) -> None:
        if self.busy:
            return
        if self._head_size and self.transport is not None:  # a request began but did not arrive in time
            self._fail(408, f"the request did not arrive within {self.server.idle_timeout:g}s")
        else:
            self.close()

    def _fail(self, status: int, message: str) -> None:
        transport = self.transport
        if transport is None or self.busy or transport.is_closing():
            self.close()
            return
        Reply(self, keep_alive=False).send(status, error_body(message, "invalid_request_error", None))
        # Closing now, with the client's bytes still unread, would reset the connection and lose the
        # answer: end the sending side, drop what still comes for a moment, then close.
        self._refused = True
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER, self.close)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing() and not self._refused:
            self.transport.write(data)

    async def drain(self) -> None:
        while self.paused and self.transport is not None:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            await self._drain_waiter

    def _wake(self) -> None:
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
