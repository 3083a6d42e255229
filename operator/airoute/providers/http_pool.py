"""The one async HTTP/1.1 client every caller of the request path shares, on ``asyncio.Protocol`` +
httptools.

:class:`Pools` holds one :class:`Pool` per :class:`Origin` — host, port, TLS and trusted CA bundle,
**and the credentials** the requests carry (a digest): callers of the same origin with the same
credentials share connections, so a connection that a request's answer could have been smuggled
into (a header injection upstream) is never reused for another tenant's request. A pool closes
when the last caller using it closes, and keeps idle connections for reuse; an idle connection
that receives any byte is closed at once (nothing may arrive between answers: such bytes would be
read as the next request's answer).

Connections go only where the :class:`~airoute.providers.egress.UpstreamPolicy` allows: the host
is resolved, every address is checked (loopback, link-local, the Kubernetes API are refused by
default), and the connection is made to the address that passed — DNS rebinding cannot swap it.

A request writes a pre-built head and the body in one write; the response is read as a whole (up
to a limit) or chunk by chunk. A reused connection that the server had already closed (its
keep-alive timer) fails before any response byte; such a request is sent again once on a new
connection, as HTTP clients customarily do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import cast

import httptools

from airoute.providers.egress import UpstreamPolicy
from airoute.providers.errors import ProviderConfigError

log = logging.getLogger(__name__)

_HIGH_WATER = 64  # buffered body chunks before reading from the backend pauses
MAX_ANSWER = 32 * 1024 * 1024
"""The largest whole (non-streamed) answer the callers read; a larger one is refused."""
MAX_ERROR_BODY = 64 * 1024
"""The largest error body the callers read (they need its code and message, nothing more)."""


def _close_delimited(headers: dict[str, str]) -> bool:
    return "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "")


class UpstreamError(Exception):
    """The connection failed: ``kind`` is ``connect``, ``reset`` or ``protocol``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Conn(asyncio.Protocol):
    __slots__ = ("_waiter", "body_bytes", "chunks", "complete", "delivered", "error", "headers", "idle", "keep_alive",
                 "parser", "pool", "received", "sink", "status", "transport")

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[None] | None = None
        self.error: UpstreamError | None = None
        self.idle = False
        self._begin()

    def _begin(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: list[bytes] = []  # not a deque: an empty one is 760 bytes, and few chunks ever wait here
        self.body_bytes = 0
        self.complete = False
        self.received = False
        self.keep_alive = True
        self.sink: Callable[[bytes], None] | None = None
        self.delivered: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses; both loops set TCP_NODELAY on TCP sockets themselves.
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pool._forget(self)
        if self.status and exc is None and _close_delimited(self.headers):
            self.complete, self.keep_alive = True, False  # the body ended with the connection
        if not self.complete and self.error is None:
            self.error = UpstreamError("reset", f"connection to {self.pool.name} closed: {exc or 'EOF'}")
        self.parser = None  # it refers back to this protocol: free both now, not at the next full GC
        self._wake()

    def data_received(self, data: bytes) -> None:
        if self.idle:  # between answers nothing may arrive: it would be read as the next answer
            log.warning("closed an idle connection to %s that received %d unexpected bytes", self.pool.name, len(data))
            self.pool._forget(self)
            self.close()
            return
        self.received = True
        if self.parser is None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = UpstreamError("protocol", f"malformed HTTP response from {self.pool.name}: {exc}")
            self.close()
            self._wake()

    def eof_received(self) -> bool | None:
        if self.parser is not None:
            with contextlib.suppress(httptools.HttpParserError):
                self.parser.feed_data(b"")
        return None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        parser = self.parser
        assert parser is not None  # called by the parser itself
        self.status = parser.get_status_code()
        self.keep_alive = parser.should_keep_alive()
        self._wake()

    def on_body(self, body: bytes) -> None:
        sink = self.sink
        if sink is not None:
            try:
                sink(body)
            except Exception as exc:  # the receiver refused the stream (an in-band error …): stop reading
                self.sink = None
                self._deliver_failed(exc)
                self.close()
            return
        self.chunks.append(body)
        self.body_bytes += len(body)
        if len(self.chunks) > _HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()  # the client reads slower than the backend writes
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        delivered = self.delivered
        if delivered is not None and not delivered.done():
            if self.complete:
                delivered.set_result(None)
            elif self.error is not None:
                delivered.set_exception(self.error)

    def _deliver_failed(self, exc: BaseException) -> None:
        delivered = self.delivered
        if delivered is not None and not delivered.done():
            delivered.set_exception(exc)

    async def wait(self) -> None:
        if self.error is not None:
            raise self.error
        self._waiter = asyncio.get_running_loop().create_future()
        await self._waiter
        if self.error is not None and not self.complete:
            raise self.error

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Response:
    """The answer of one upstream request. Read it with :meth:`read` or :meth:`iter_chunks`,
    then :meth:`release` it (returns the connection to the pool when it is reusable)."""

    __slots__ = ("_conn", "headers", "status")

    def __init__(self, conn: _Conn) -> None:
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; more than ``limit`` bytes closes the connection and raises
        :class:`UpstreamError` (``too_large``)."""
        conn = self._conn
        while not conn.complete:
            if limit is not None and conn.body_bytes > limit:
                conn.close()
                raise UpstreamError("too_large", f"the answer from {conn.pool.name} is larger than {limit} bytes")
            if conn.transport is not None:
                conn.transport.resume_reading()
            await conn.wait()
        if limit is not None and conn.body_bytes > limit:
            conn.close()
            raise UpstreamError("too_large", f"the answer from {conn.pool.name} is larger than {limit} bytes")
        chunks = conn.chunks
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            while conn.chunks:
                yield conn.chunks.pop(0)
            if conn.transport is not None and not conn.complete:
                conn.transport.resume_reading()
            if conn.complete:
                return
            await conn.wait()

    def deliver(self, sink: Callable[[bytes], None]) -> asyncio.Future[None]:
        """Hands every body chunk to ``sink`` as it arrives, called from the connection's own
        callbacks (chunks already read first); the future is done when the body ended, or fails
        with :class:`UpstreamError` — or with what ``sink`` raised, which also stops the reading
        and drops the connection. :meth:`pause` and :meth:`resume` hold the chunks back meanwhile."""
        conn = self._conn
        while conn.chunks:
            sink(conn.chunks.pop(0))
        done = conn.delivered = asyncio.get_running_loop().create_future()
        if conn.complete:
            done.set_result(None)
        elif conn.error is not None:
            done.set_exception(conn.error)
        else:
            conn.sink = sink
            if conn.transport is not None:
                conn.transport.resume_reading()
        return done

    def pause(self) -> None:
        """Stops reading from the upstream (the receiver of a delivery is full)."""
        if self._conn.transport is not None:
            self._conn.transport.pause_reading()

    def resume(self) -> None:
        if self._conn.transport is not None and not self._conn.complete:
            self._conn.transport.resume_reading()

    def release(self) -> None:
        conn = self._conn
        conn.sink = None
        delivered = conn.delivered
        if delivered is not None:
            if not delivered.done():
                delivered.cancel()
            elif not delivered.cancelled():
                delivered.exception()  # retrieved: whoever awaited it has it already
        if conn.complete and conn.keep_alive and conn.transport is not None and not conn.transport.is_closing():
            conn.pool._put(conn)
        else:
            conn.close()


class OpenConnections:
    """How many connections a process's pools hold open (each a file descriptor), counted as they
    open and close: the overload check reads it for every request, so it must not walk the pools
    (10,000 routes can mean thousands of origins)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


class Pool:
    """Connections to one origin (``host:port``, optionally TLS), made where ``policy`` allows;
    ``opened`` counts them with those of the process's other pools."""

    def __init__(self, host: str, port: int, tls: ssl.SSLContext | None = None, max_idle: int = 256,
                 policy: UpstreamPolicy | None = None, opened: OpenConnections | None = None) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.max_idle = max_idle
        self.policy = policy or UpstreamPolicy()
        self.name = f"{host}:{port}"
        self._idle: list[_Conn] = []
        self._all: set[_Conn] = set()
        self._opened = opened or OpenConnections()

    async def _addresses(self) -> list[str]:
        """The addresses of the host that the policy allows; raises when there are none."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UpstreamError("resolve", f"cannot resolve {self.host}: {exc.strerror or exc}") from None
        allowed, refused = [], []
        for *_, sockaddr in infos:
            address = str(sockaddr[0])
            problem = self.policy.address_problem(address)
            if problem is None:
                allowed.append(address)
            else:
                refused.append(f"{address} is {problem}")
        if not allowed:
            raise UpstreamError("refused_target", f"the gateway does not connect to {self.host}: "
                                f"{'; '.join(dict.fromkeys(refused))} (--allow-internal-upstreams allows it)")
        return list(dict.fromkeys(allowed))

    async def _connect(self) -> _Conn:
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        for address in await self._addresses():
            try:
                _, conn = await loop.create_connection(
                    lambda: _Conn(self), address, self.port, ssl=self.tls,
                    server_hostname=self.host if self.tls is not None else None,
                )
            except ssl.SSLCertVerificationError as exc:
                raise UpstreamError("tls", f"cannot verify the certificate of {self.name}: "
                                           f"{exc.verify_message or exc}") from None
            except OSError as exc:
                failure = exc
                continue
            self._all.add(conn)
            self._opened.count += 1
            return conn
        detail = failure.strerror or failure if failure is not None else "no address"
        raise UpstreamError("connect", f"cannot connect to {self.name}: {detail}")

    def _put(self, conn: _Conn) -> None:
        if len(self._idle) < self.max_idle:
            conn._begin()
            conn.idle = True
            self._idle.append(conn)
        else:
            conn.close()

    def _forget(self, conn: _Conn) -> None:
        if conn in self._all:
            self._all.remove(conn)
            self._opened.count -= 1
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    async def request(self, head: bytes, body: bytes) -> Response:
        """Sends ``head`` (request line and headers, without Content-Length and the blank line)
        and ``body``; returns once the response's status and headers are in."""
        data = b"%scontent-length: %d\r\n\r\n%s" % (head, len(body), body)
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._connect()
        conn.idle = False
        try:
            return await self._send(conn, data)
        except UpstreamError:
            if not reused or conn.received:
                raise
        conn = await self._connect()
        return await self._send(conn, data)

    async def _send(self, conn: _Conn, data: bytes) -> Response:
        transport = conn.transport
        if transport is None:
            raise conn.error or UpstreamError("reset", f"connection to {self.name} closed")
        try:
            transport.write(data)
            while not conn.status:
                await conn.wait()
        except BaseException:
            conn.close()
            raise
        return Response(conn)

    async def aclose(self) -> None:
        """Closes every connection; requests still using one see it reset."""
        for conn in list(self._all):
            conn.close()
        self._idle.clear()


@dataclass(frozen=True)
class Origin:
    """Where a pool connects and with whose credentials: requests with the same origin and the
    same credentials share connections."""

    host: str
    port: int
    tls: bool
    ca_bundle: str | None = None
    """PEM certificates trusted instead of the system's (TLS only)."""
    credential: str = ""
    """A digest of the credentials (and namespace) of the requests: pools are never shared across them."""

    def tls_context(self) -> ssl.SSLContext | None:
        """None for plain HTTP; raises ProviderConfigError for a CA bundle that is not PEM."""
        if not self.tls:
            return None
        if not self.ca_bundle:
            return ssl.create_default_context()
        try:  # the bundle alone: a certificate from a CA of the system store is not enough
            return ssl.create_default_context(cadata=self.ca_bundle)
        except (ssl.SSLError, ValueError) as exc:
            raise ProviderConfigError(f"caBundle is not a PEM bundle ({type(exc).__name__})") from None


class Pools:
    """The pools of one process, one per origin; :meth:`acquire` and :meth:`release` count the
    callers using each, and the last release closes it."""

    def __init__(self, policy: UpstreamPolicy | None = None) -> None:
        self.policy = policy or UpstreamPolicy()
        self._pools: dict[Origin, Pool] = {}
        self._users: dict[Origin, int] = {}
        self._opened = OpenConnections()

    def __len__(self) -> int:
        return len(self._pools)

    def open_connections(self) -> int:
        """Connections open in every pool (each holds a file descriptor)."""
        return self._opened.count

    def acquire(self, origin: Origin) -> Pool:
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = Pool(origin.host, origin.port, origin.tls_context(), policy=self.policy,
                                              opened=self._opened)
        self._users[origin] = self._users.get(origin, 0) + 1
        return pool

    async def release(self, origin: Origin) -> None:
        users = self._users.get(origin, 0) - 1
        if users > 0:
            self._users[origin] = users
            return
        self._users.pop(origin, None)
        pool = self._pools.pop(origin, None)
        if pool is not None:
            await pool.aclose()

    async def aclose(self) -> None:
        pools, self._pools, self._users = list(self._pools.values()), {}, {}
        for pool in pools:
            await pool.aclose()
