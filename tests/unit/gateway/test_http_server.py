"""The raw HTTP/1.1 server and the providers' HTTP/1.1 pool, over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from airoute.gateway import http_server
from airoute.gateway.http_server import LINGER, HttpServer, Limits, Refusal, Reply, Request
from airoute.providers.egress import UpstreamPolicy
from airoute.providers.http_pool import Pool, UpstreamError
from tests.support.fakes import eventually


async def echo(request: Request, reply: Reply) -> None:
    if request.path == "/stream":
        reply.start(200)
        for part in (b"data: 1\n\n", b"data: 2\n\n"):
            await reply.write(part)
        reply.end()
    elif request.path == "/boom":
        raise RuntimeError("bug")
    else:
        reply.send(200, request.method.encode() + b" " + request.body, "text/plain")


@pytest.fixture
async def server() -> AsyncIterator[tuple[HttpServer, int]]:
    srv = HttpServer(echo, Limits(max_body=64, idle_timeout=5))
    port = await srv.listen("127.0.0.1", 0)
    yield srv, port
    await srv.drain(1)


async def exchange(port: int, data: bytes, until: bytes | None = None) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        if until is None:
            return await asyncio.wait_for(reader.read(), 5)
        out = b""
        while until not in out:
            chunk = await asyncio.wait_for(reader.read(65536), 5)
            if not chunk:
                break
            out += chunk
        return out
    finally:
        writer.close()


def post(body: bytes, extra: str = "") -> bytes:
    return f"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


async def test_keep_alive_and_pipelining_answer_in_order(server: tuple[HttpServer, int]) -> None:
    out = await exchange(server[1], post(b"one") + post(b"two") + post(b"three", "connection: close\r\n"))
    assert out.count(b"HTTP/1.1 200 OK") == 3
    assert out.index(b"POST one") < out.index(b"POST two") < out.index(b"POST three")
    assert out.rstrip().endswith(b"POST three")


async def test_body_limit_by_content_length(server: tuple[HttpServer, int]) -> None:
    out = await exchange(server[1], post(b"x" * 65))
    assert out.startswith(b"HTTP/1.1 413") and b"body_too_large" in out and b"connection: close" in out


async def test_body_limit_for_chunked_bodies(server: tuple[HttpServer, int]) -> None:
    chunk = b"x" * 40
    data = (b"POST /x HTTP/1.1\r\nhost: t\r\ntransfer-encoding: chunked\r\n\r\n"
            + (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2 + b"0\r\n\r\n")
    out = await exchange(server[1], data)
    assert out.startswith(b"HTTP/1.1 413")


async def test_malformed_request(server: tuple[HttpServer, int]) -> None:
    out = await exchange(server[1], b"NOT HTTP\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and b"malformed" in out


async def test_a_handler_bug_is_a_500_in_openai_shape(server: tuple[HttpServer, int]) -> None:
    out = await exchange(server[1], b"GET /boom HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500") and b'"type": "server_error"' in out


async def test_chunked_stream(server: tuple[HttpServer, int]) -> None:
    out = await exchange(server[1], b"GET /stream HTTP/1.1\r\nhost: t\r\n\r\n", until=b"0\r\n\r\n")
    assert b"transfer-encoding: chunked" in out
    assert out.endswith(b"9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n")


async def test_drain_closes_idle_connections_and_refuses_new_ones(server: tuple[HttpServer, int]) -> None:
    srv, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await srv.drain(1)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_pool_reuses_connections_and_survives_a_server_closing_idle_ones(
    server: tuple[HttpServer, int],
) -> None:
    srv, port = server
    pool = Pool("127.0.0.1", port, policy=UpstreamPolicy(allow_internal=True))
    head = b"POST /x HTTP/1.1\r\nhost: t\r\n"
    for body in (b"a", b"b"):
        response = await pool.request(head, body)
        assert (response.status, await response.read()) == (200, b"POST " + body)
        response.release()
    assert len(pool._all) == 1
    for conn in list(srv.connections):  # the server's keep-alive timer closes the idle connection
        conn.close()
    await asyncio.sleep(0.05)
    response = await pool.request(head, b"c")
    assert await response.read() == b"POST c"
    response.release()
    await pool.aclose()


async def test_pool_connect_error() -> None:
    pool = Pool("127.0.0.1", 1, policy=UpstreamPolicy(allow_internal=True))
    with pytest.raises(UpstreamError, match="cannot connect") as caught:
        await pool.request(b"POST / HTTP/1.1\r\n", b"")
    assert caught.value.kind == "connect"


async def test_pool_refuses_loopback_by_default() -> None:
    pool = Pool("127.0.0.1", 1)
    with pytest.raises(UpstreamError, match="is a loopback address") as caught:
        await pool.request(b"POST / HTTP/1.1\r\n", b"")
    assert caught.value.kind == "refused_target"


@pytest.fixture
async def guarded() -> AsyncIterator[tuple[HttpServer, int]]:
    srv = HttpServer(echo, Limits(max_body=1 << 20, idle_timeout=5, max_connections=3, header_timeout=0.5),
                     admit=lambda m, p, h: None if h.get("authorization") == "Bearer k" else Refusal(401, b"no key"))
    port = await srv.listen("127.0.0.1", 0)
    yield srv, port
    await srv.drain(1)


async def test_a_refused_head_is_answered_before_its_body_and_without_a_continue(
    guarded: tuple[HttpServer, int],
) -> None:
    out = await exchange(guarded[1], b"POST /x HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\n"
                                     b"content-length: 1000000\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 401") and out.endswith(b"no key") and b"100 Continue" not in out


def _slow_unauthorised_upload(port: int, pieces: int, every: float) -> bytes:
    """A client without a key that keeps sending its body slowly, then reads the answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 1000000\r\n\r\n")
        for _ in range(pieces):
            time.sleep(every)
            sock.sendall(b"x" * 4096)  # reset here if the server closed while the client still sends
        sock.settimeout(5)
        return sock.recv(100)


async def test_a_refused_client_still_sending_gets_the_answer_not_a_reset(guarded: tuple[HttpServer, int]) -> None:
    # Bytes keep coming for longer than LINGER: the server drops them and closes only once the
    # client pauses (or after LINGER_MAX), so the client reads its 401 instead of a reset.
    every = LINGER / 2
    pieces = int(LINGER * 2.5 / every)
    out = await asyncio.to_thread(_slow_unauthorised_upload, guarded[1], pieces, every)
    assert out.startswith(b"HTTP/1.1 401")


def _endless_unauthorised_upload(port: int, most: int, every: float) -> tuple[bool, bool]:
    """A client without a key that never stops sending (up to ``most`` pieces): whether the
    server closed on it before it was done, and whether it was answered first."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 100000000\r\n\r\n")
        sock.setblocking(False)
        answer = b""
        for _ in range(most):
            time.sleep(every)
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(4096)
            try:
                sock.send(b"x")
            except OSError:
                return True, answer.startswith(b"HTTP/1.1 401")
        return False, answer.startswith(b"HTTP/1.1 401")


async def test_a_refused_client_that_never_pauses_is_closed_after_linger_max(
    guarded: tuple[HttpServer, int], monkeypatch: pytest.MonkeyPatch,
) -> None:
    # LINGER keeps a refused connection open while its client sends; LINGER_MAX ends that, or a
    # client trickling a byte now and then would hold a connection slot for as long as it likes.
    monkeypatch.setattr(http_server, "LINGER_MAX", 3 * LINGER)
    every, most = LINGER / 4, 200  # without LINGER_MAX: open for all 200 pieces (50 LINGERs)
    closed, answered = await asyncio.to_thread(_endless_unauthorised_upload, guarded[1], most, every)
    assert closed, "the connection stayed open for as long as the client trickled"
    assert answered, "the client got its 401 before the connection closed"


async def test_a_refusal_after_a_pipelined_request_waits_its_turn(guarded: tuple[HttpServer, int]) -> None:
    out = await exchange(guarded[1], post(b"one", "authorization: Bearer k\r\n") + post(b"two"))
    assert out.index(b"POST one") < out.index(b"HTTP/1.1 401") and b"POST two" not in out


async def test_trailers_are_dropped(guarded: tuple[HttpServer, int]) -> None:
    seen: list[Mapping[str, str]] = []

    async def headers(request: Request, reply: Reply) -> None:
        seen.append(request.headers)
        reply.send(200, b"ok", "text/plain")

    guarded[0].handler = headers
    await exchange(guarded[1], b"POST /x HTTP/1.1\r\nhost: t\r\nauthorization: Bearer k\r\n"
                               b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                               b"1\r\na\r\n0\r\nauthorization: Bearer other\r\nx-t: 1\r\n\r\n")
    assert seen[0]["authorization"] == "Bearer k" and "x-t" not in seen[0]


async def test_at_the_cap_an_idle_connection_makes_room_and_otherwise_a_503(guarded: tuple[HttpServer, int]) -> None:
    port = guarded[1]
    idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    out = await exchange(port, b"GET /x HTTP/1.1\r\nhost: t\r\nauthorization: Bearer k\r\nconnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200") and await asyncio.wait_for(idle[0][0].read(), 1) == b""
    busy = []
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\n")
        busy.append((reader, writer))
    await asyncio.sleep(0.1)
    out = await exchange(port, b"GET /x HTTP/1.1\r\nhost: t\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 503") and b"too_many_connections" in out
    for _, writer in [*idle, *busy]:
        writer.close()


async def test_at_the_cap_a_refused_connection_that_only_lingers_makes_room(guarded: tuple[HttpServer, int]) -> None:
    """Refused clients that go on sending their bodies are answered and kept open a while (so that
    the answer is not lost to a reset); at the cap one of them gives way to a new client, which is
    served instead of turned away."""
    port = guarded[1]
    refused = []
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nhost: t\r\ncontent-length: 1000000\r\n\r\n")
        assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)).startswith(b"HTTP/1.1 401")
        refused.append((reader, writer))

    async def keep_sending() -> None:  # a client still sending keeps its refused connection lingering
        while True:
            for _, writer in refused:
                if not writer.is_closing():
                    writer.write(b"x" * 100)
            await asyncio.sleep(0.05)

    sender = asyncio.create_task(keep_sending())
    try:
        out = await exchange(port, b"GET /x HTTP/1.1\r\nhost: t\r\nauthorization: Bearer k\r\n"
                                   b"connection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200"), out[:60]
    finally:
        sender.cancel()
        for _, writer in refused:
            writer.close()


async def test_a_client_that_reads_nothing_stops_being_read(guarded: tuple[HttpServer, int]) -> None:
    srv, port = guarded
    big = b"GET /big HTTP/1.1\r\nhost: t\r\nauthorization: Bearer k\r\n\r\n"

    async def large(request: Request, reply: Reply) -> None:
        reply.send(200, b"x" * 1_000_000, "text/plain")

    srv.handler = large
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(big * 200)
    await eventually(lambda: any(c.paused for c in srv.connections), what="writing paused")
    (conn,) = srv.connections
    assert "writes" in conn._holds and conn.busy
    transport = conn.transport
    assert transport is not None and transport.get_write_buffer_size() < 20_000_000
    writer.close()


def test_every_waiting_connection_is_accepted_at_once_on_uvloop() -> None:
    """libuv (uvloop) accepts one connection per turn of the loop; a gateway busy relaying streams
    turns it a few times a second, and new streams waited seconds in the kernel's accept queue.
    The listener takes every connection waiting: 200 queued ones are in within a few turns."""
    import uvloop

    async def scenario() -> int:
        srv = HttpServer(echo, Limits(idle_timeout=5))
        port = await srv.listen("127.0.0.1", 0)
        # Blocking connects: the kernel completes each handshake while the loop accepts nothing.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        try:
            for _ in range(10):
                await asyncio.sleep(0)
            return len(srv.connections)
        finally:
            for client in clients:
                client.close()
            await srv.drain(1)

    assert uvloop.run(scenario()) == 200


async def test_out_of_file_descriptors_pauses_accepting_then_takes_the_waiting_clients(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """EMFILE stops accepting for a while (the clients wait in the backlog; the loop does not spin
    on a socket it cannot accept from), then every waiting client is taken."""
    import resource

    from airoute.gateway import http_listener

    monkeypatch.setattr(http_listener, "RETRY_SECONDS", 0.2)
    srv = HttpServer(echo, Limits(idle_timeout=5))
    port = await srv.listen("127.0.0.1", 0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        lowest_free = os.dup(clients[0].fileno())  # the kernel hands out the lowest free descriptor
        os.close(lowest_free)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowest_free, hard))  # no new descriptor fits
        try:
            await eventually(lambda: srv._listeners[0]._retry is not None, what="accepting paused")
            assert not srv.connections
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        await eventually(lambda: len(srv.connections) == 3, what="the waiting clients accepted")
    finally:
        for client in clients:
            client.close()
        await srv.drain(1)


async def test_the_pools_count_their_open_connections_as_they_open_and_close(
    server: tuple[HttpServer, int],
) -> None:
    """What the overload check reads per request: every pool's open connections, counted as they
    open and close (a server closing one, an idle one receiving stray bytes, a pool closed)."""
    from airoute.providers.http_pool import Origin, Pools

    srv, port = server
    pools = Pools(UpstreamPolicy(allow_internal=True))
    first, second = (pools.acquire(Origin("127.0.0.1", port, False, credential=c)) for c in ("a", "b"))
    head = b"POST /x HTTP/1.1\r\nhost: t\r\n"
    responses = [await pool.request(head, b"x") for pool in (first, first, second)]  # two at once on `first`
    for response in responses:
        await response.read()
        response.release()
    assert pools.open_connections() == 3 == sum(len(p._all) for p in (first, second))

    class Unwalkable(dict[Origin, Pool]):  # thousands of origins at 10,000 routes: never walked per request
        def values(self) -> Any:
            raise AssertionError("open_connections walked every pool")

    walkable, pools._pools = pools._pools, Unwalkable(pools._pools)
    assert pools.open_connections() == 3
    pools._pools = walkable
    stray = second._idle[0]
    stray.data_received(b"HTTP/1.1 200 OK\r\n")  # bytes between answers: forgotten and closed, counted once
    await eventually(lambda: stray.transport is None, within=5, what="the stray connection lost")
    assert pools.open_connections() == 2 == sum(len(p._all) for p in (first, second))
    for conn in list(srv.connections):  # the server closes the other two
        conn.close()
    await eventually(lambda: pools.open_connections() == 0, within=5, what="the server's closes counted")
    assert not first._all and not second._all
    response = await first.request(head, b"y")  # a new one after that
    await response.read()
    response.release()
    assert pools.open_connections() == 1
    await pools.aclose()
    await eventually(lambda: pools.open_connections() == 0, within=5, what="every connection closed")
