"""The stream benchmark's floor: the least CPU any Python relay on uvloop can spend per chunk.

It relays each client connection's requests to the upstream on a connection of its own and writes
every byte the upstream sends back to the client as it comes: one read and one write per chunk,
one Python call in between, nothing parsed, checked, reframed or counted. It is no proxy (no
routing, no keys, no limits, no errors of its own); what the gateway spends per relayed chunk
beyond it is the gateway's own work, and what it spends itself is the kernel's (TCP over loopback,
both ways) and the event loop's.

    python tests/bench/floor_relay.py UPSTREAM_PORT PORT
"""

from __future__ import annotations

import asyncio
import sys

import uvloop


class _Upstream(asyncio.Protocol):
    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.client.is_closing():
            self.client.close()


class _Client(asyncio.Protocol):
    """Whole requests (head and Content-Length body) go upstream as they are."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.transport: asyncio.Transport | None = None
        self.upstream: _Upstream | None = None
        self.pending = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.pending += data
        head, blank, rest = self.pending.partition(b"\r\n\r\n")
        if not blank:
            return
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(rest) < length:
            return
        end = len(head) + 4 + length
        request, self.pending = self.pending[:end], self.pending[end:]
        asyncio.get_running_loop().create_task(self._forward(request))

    async def _forward(self, request: bytes) -> None:
        assert self.transport is not None
        if self.upstream is None:
            client = self.transport
            _, self.upstream = await asyncio.get_running_loop().create_connection(
                lambda: _Upstream(client), "127.0.0.1", self.upstream_port)
        assert self.upstream.transport is not None
        self.upstream.transport.write(request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


async def main(upstream_port: int, port: int) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", port, backlog=4096)
    await asyncio.Event().wait()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), int(sys.argv[2])))
