"""The client side of a streamed attempt: what reaches the client's connection, write by write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from airoute.gateway.failover.relay import Relay
from airoute.gateway.failover.watchdog import Watchdog
from airoute.gateway.http_messages import Reply


class RecordingConnection:
    """A client connection that records each write (the :class:`Connection` a Reply needs)."""

    draining = False
    paused = False

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def push(self, chunk: bytes) -> bool:
        self.writes.append(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        return not self.paused

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None

    def on_writable(self, resume: Callable[[], None]) -> None:
        resume()


async def test_the_head_and_the_first_piece_go_out_in_one_write() -> None:
    loop = asyncio.get_running_loop()
    conn = RecordingConnection()
    relay = Relay(Reply(conn, keep_alive=True), Watchdog(loop, 30), loop, loop.time)
    first, second = b'data: {"choices":[{"delta":{"content":"Hi"}}]}\n\n', b"data: [DONE]\n\n"
    assert relay.send(first) and relay.send(second)
    relay.end()
    assert len(conn.writes) == 3  # head + first piece, second piece, end: not four
    head, _, chunk = conn.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in head
    assert chunk == b"%x\r\n%s\r\n" % (len(first), first)
    assert conn.writes[1:] == [b"%x\r\n%s\r\n" % (len(second), second), b"0\r\n\r\n"]
    assert relay.started and relay.last_bytes == first + second


async def test_an_answer_without_pieces_is_an_empty_stream() -> None:
    loop = asyncio.get_running_loop()
    conn = RecordingConnection()
    relay = Relay(Reply(conn, keep_alive=True), Watchdog(loop, 30), loop, loop.time)
    relay.end()
    assert conn.writes[0].endswith(b"\r\n\r\n") and conn.writes[1:] == [b"0\r\n\r\n"]
