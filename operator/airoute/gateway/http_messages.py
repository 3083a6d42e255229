"""The two sides of one exchange on the gateway's HTTP/1.1 server: the parsed :class:`Request`,
and the :class:`Reply` a handler answers through (a whole response, or a chunked stream that waits
while the client reads slowly). :class:`Refusal` is an answer decided from the request head alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

CHUNK = b"%x\r\n%s\r\n"
"""One chunk of a chunked answer: ``CHUNK % (len(data), data)``."""
REASONS = {
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


class Refusal(NamedTuple):
    """An answer given from the head alone (no key, a wrong key …): the body is never read."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] | None = None


class Connection(Protocol):
    """What a :class:`Reply` needs from its connection."""

    @property
    def draining(self) -> bool: ...

    @property
    def paused(self) -> bool: ...

    def write(self, data: bytes) -> None: ...

    def push(self, chunk: bytes) -> bool: ...

    async def drain(self) -> None: ...

    def close(self) -> None: ...

    def on_writable(self, resume: Callable[[], None]) -> None: ...


def response_head(status: int, headers: list[tuple[str, str]] | None, extra: bytes, keep_alive: bool) -> bytes:
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, b"Unknown")), extra]
    if headers:
        parts.extend(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers)
    parts.append(b"\r\n" if keep_alive else b"connection: close\r\n\r\n")
    return b"".join(parts)


def whole_response(status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None,
                   keep_alive: bool) -> bytes:
    extra = b"content-type: %s\r\ncontent-length: %d\r\n" % (content_type.encode(), len(body))
    return response_head(status, headers, extra, keep_alive) + body


class Reply:
    """The response side of one request: :meth:`send` a whole response, or :meth:`start` a stream."""

    __slots__ = ("_conn", "keep_alive", "started", "status")

    def __init__(self, conn: Connection, keep_alive: bool) -> None:
        self._conn = conn
        self.keep_alive = keep_alive
        self.started = False
        self.status = 0

    def _begin(self, status: int) -> None:
        self.started = True
        self.status = status
        if self._conn.draining:
            self.keep_alive = False

    def send(self, status: int, body: bytes, content_type: str = "application/json",
             headers: list[tuple[str, str]] | None = None) -> None:
        """Sends a complete response (status line, headers, body) in one write."""
        self._begin(status)
        self._conn.write(whole_response(status, body, content_type, headers, self.keep_alive))

    def start(self, status: int, content_type: str = "text/event-stream",
              headers: list[tuple[str, str]] | None = None, first: bytes = b"") -> None:
        """Begins a chunked response; follow with :meth:`write` and :meth:`end`. A ``first``
        chunk goes out in the same write as the head (one packet, not two)."""
        self._begin(status)
        extra = b"content-type: %s\r\ntransfer-encoding: chunked\r\ncache-control: no-cache\r\n" % content_type.encode()
        head = response_head(status, headers, extra, self.keep_alive)
        self._conn.write(head + CHUNK % (len(first), first) if first else head)

    def write_nowait(self, chunk: bytes) -> None:
        """Writes one chunk of a started stream without waiting for the client."""
        if chunk:
            self._conn.write(CHUNK % (len(chunk), chunk))

    async def write(self, chunk: bytes) -> None:
        """Writes one chunk of a started stream, waiting while the client reads slowly."""
        if chunk:
            self._conn.write(CHUNK % (len(chunk), chunk))
            if self._conn.paused:
                await self._conn.drain()

    @property
    def pusher(self) -> Callable[[bytes], bool]:
        """The connection's ``push``, called for every relayed piece without this object in
        between: writes one chunk of a started stream at once; False when the client reads slower
        than the chunks come (then wait for :meth:`on_writable` before pushing more)."""
        return self._conn.push

    @property
    def paused(self) -> bool:
        """The client's socket is full: it reads slower than the answer comes."""
        return self._conn.paused

    def on_writable(self, resume: Callable[[], None]) -> None:
        """Calls ``resume`` once the client can take more (at once when it can already)."""
        self._conn.on_writable(resume)

    def end(self) -> None:
        """Ends a started stream cleanly (the terminating zero-length chunk)."""
        self._conn.write(b"0\r\n\r\n")

    def abort(self) -> None:
        """Ends a started stream by closing the connection (the client sees an incomplete body)."""
        self.keep_alive = False
        self._conn.close()
