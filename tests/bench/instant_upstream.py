"""The benchmarks' instant upstream: each provider's emulator behind a replaying front.

The first request with a given method, path and body goes to the real emulator (which checks it
the way the provider would: the request is valid, the model exists); a 200 answer is kept, and
every identical request after it gets those bytes back at once — no JSON, no reply computed
again. Streams are kept whole and replayed with a Content-Length. Errors are never kept (each
failing request reaches the emulator), nor are token requests.

Two fronts: ``aiohttp`` (default) answers through aiohttp's HTTP stack, as fast as the
OpenAI-compatible emulator answering from its cache of prepared bytes — the upstream the issue's
pass-through figures were taken against, now for every provider API (the Azure, Bedrock and
Vertex emulators alone compute every answer and are several times slower). ``httptools`` is a
bare asyncio/httptools server several times faster again (~80k requests/s here), for a harsher
ratio that is nearly the gateway's own ceiling.

    python tests/bench/instant_upstream.py [--front aiohttp|httptools] PORT_OPENAI PORT_AZURE PORT_BEDROCK PORT_VERTEX
"""

from __future__ import annotations

import argparse
import asyncio

import aiohttp
import httptools
from aiohttp import web

from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, OpenAICompatibleEmulator, VertexAIEmulator
from airoute.emulators.server import EmulatorServer

_KEPT_HEADERS = ("content-type", "x-amzn-requestid")


class _Front(asyncio.Protocol):
    def __init__(self, replay: Replay) -> None:
        self.replay = replay
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []
        self.headers: list[tuple[bytes, bytes]] = []
        self.queue: asyncio.Queue[tuple[bytes, bytes, bytes, list[tuple[bytes, bytes]]]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        key = (method, self.url, b"".join(self.body))
        self.url, self.body, headers, self.headers = b"", [], self.headers, []
        answer = self.replay.kept.get(key)
        if answer is not None and self.queue is None and self.transport is not None:
            self.transport.write(answer)
            return
        if self.queue is None:
            self.queue = asyncio.Queue()
            asyncio.get_running_loop().create_task(self._pump())
        self.queue.put_nowait((*key, headers))

    async def _pump(self) -> None:
        assert self.queue is not None
        while not self.queue.empty():
            method, url, body, headers = await self.queue.get()
            answer = self.replay.kept.get((method, url, body)) or await self.replay.forward(method, url, body, headers)
            if self.transport is None or self.transport.is_closing():
                return
            self.transport.write(answer)
        self.queue = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class Replay:
    """One emulator and its replaying front."""

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        self.kept: dict[tuple[bytes, bytes, bytes], bytes] = {}
        self.answers: dict[tuple[bytes, bytes, bytes], tuple[int, dict[str, str], bytes]] = {}
        self.session: aiohttp.ClientSession | None = None

    async def start(self, port: int, front: str) -> None:
        await self.emulator.start("127.0.0.1", 0)
        self.session = aiohttp.ClientSession(auto_decompress=False)
        if front == "httptools":
            loop = asyncio.get_running_loop()
            await loop.create_server(lambda: _Front(self), "127.0.0.1", port, backlog=1024)
            return
        server = web.Server(self._handle, access_log=None)
        runner = web.ServerRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        body = await request.read()
        key = (request.method.encode(), request.raw_path.encode("latin-1"), body)
        found = self.answers.get(key)
        if found is None:
            await self.forward(*key, [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()])
            found = self.answers.pop(key) if key not in self.kept else self.answers[key]
        status, headers, data = found
        return web.Response(status=status, body=data, headers=headers)

    async def forward(self, method: bytes, url: bytes, body: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
        assert self.session is not None
        sent = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers
                if k.lower() not in (b"host", b"content-length", b"connection", b"transfer-encoding")}
        async with self.session.request(method.decode(), self.emulator.base_url + url.decode("latin-1"),
                                        data=body, headers=sent) as response:
            data = await response.read()
            kept = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
            head = [f"HTTP/1.1 {response.status} {response.reason}", *(f"{k}: {v}" for k, v in kept.items()),
                    f"content-length: {len(data)}"]
            answer = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data
            key = (method, url, body)
            self.answers[key] = (response.status, kept, data)
            if response.status == 200 and not url.endswith(b"/token"):
                self.kept[key] = answer
            return answer


async def main(ports: list[int], front: str) -> None:
    emulators = [OpenAICompatibleEmulator(), AzureOpenAIEmulator(), BedrockEmulator(), VertexAIEmulator()]
    for emulator, port in zip(emulators, ports, strict=True):
        await Replay(emulator).start(port, front)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    import uvloop

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--front", choices=["aiohttp", "httptools"], default="aiohttp")
    parser.add_argument("ports", type=int, nargs=4)
    args = parser.parse_args()
    uvloop.run(main(args.ports, args.front))
