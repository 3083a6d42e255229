"""The callers of APIs that are not OpenAI's (Bedrock Converse, Vertex AI generateContent) over the
gateway's own HTTP/1.1 pool: the client's body is parsed once into a
:class:`~airoute.providers.request.ChatRequest`, translated by ``providers/translate/``, signed or
given a bearer token, sent; the answer is translated back into OpenAI bytes.

Streams are decoded as bytes arrive (:meth:`TranslatingCaller.decoder`, one per stream) and each
network read becomes at most one write to the client. Chunks that carry nothing yet (the
``role: assistant`` opening) are held back until the first one that does: an exception the
provider reports inside the stream before any content (Bedrock's ``throttlingException`` right
after ``messageStart``) then reaches the failover policy before the first byte reached the
client, and the request is retried elsewhere.

Answers above :data:`~airoute.providers.http_pool.MAX_ANSWER` bytes and error bodies above
:data:`~airoute.providers.http_pool.MAX_ERROR_BODY` bytes are refused (the connection is closed),
so a hostile endpoint cannot make the gateway buffer without bound.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from airoute.providers.caller import StreamSink
from airoute.providers.errors import BadRequest, ProviderError, connection_failure
from airoute.providers.fastjson import dumps
from airoute.providers.http_pool import MAX_ANSWER, MAX_ERROR_BODY, Origin, Pool, Pools, Response, UpstreamError
from airoute.providers.request import ChatRequest
from airoute.providers.request_codec import parse_request
from airoute.providers.sniff import Sniffed, parsed_body
from airoute.providers.streaming import carries_output, push

log = logging.getLogger(__name__)

_DONE = b"data: [DONE]\n\n"


class StreamDecoder(Protocol):
    """Provider stream bytes → ``chat.completion.chunk`` objects."""

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The chunks the bytes completed; raises ProviderError for an error inside the stream."""
        ...

    def close(self) -> None:
        """The stream ended: raises Unavailable when it ended before its finish."""
        ...


def chat_request(body: bytes, sniffed: Sniffed) -> ChatRequest:
    """The parsed request; a body that is not a valid chat request is :class:`BadRequest`."""
    try:
        return parse_request(parsed_body(body, sniffed))
    except ValueError as exc:
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(str(exc)) from None


def sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + dumps(c) + b"\n\n" for c in chunks)


@dataclass(frozen=True)
class Address:
    """Where a translated API is: the pool's origin, the Host header, and the path prefix of an
    endpoint override (``https://vpce-….amazonaws.com/prefix``)."""

    origin: Origin
    host: str
    prefix: str = ""


def address(endpoint_url: str | None, default_host: str, credential: str) -> Address:
    """The block's endpoint override, else the provider's own host over TLS."""
    if not endpoint_url:
        return Address(Origin(default_host, 443, True, credential=credential), default_host)
    url = urlsplit(endpoint_url)
    tls, host = url.scheme == "https", url.hostname or ""
    port = url.port or (443 if tls else 80)
    host_header = host if port == (443 if tls else 80) else f"{host}:{port}"
    return Address(Origin(host, port, tls, credential=credential), host_header, url.path.rstrip("/"))


class TranslatingCaller(ABC):
    """One backend of a translated API over the pool of its origin. Subclasses say where requests
    go, how they are authenticated, and how answers and errors read."""

    def __init__(self, name: str, where: Address, pools: Pools, secrets: tuple[str, ...] = ()) -> None:
        self.name = name
        self.origin = where.origin
        self._pools = pools
        self._pool: Pool = pools.acquire(where.origin)
        self._secrets = secrets
        self._static = (f"host: {where.host}\r\ncontent-type: application/json\r\naccept-encoding: identity\r\n"
                        "user-agent: airoute-gateway\r\n")

    # -- what a provider defines -------------------------------------------------------------

    @abstractmethod
    def wire(self, request: ChatRequest, stream: bool) -> tuple[str, bytes]:
        """The path (with query) and the body of the provider request."""

    @abstractmethod
    async def auth(self, path: str, body: bytes) -> str:
        """Authentication header lines for this request, each ending in CRLF."""

    @abstractmethod
    def answer(self, data: bytes, request: ChatRequest) -> dict[str, Any]:
        """A 200 answer as a ``chat.completion``; raises Unavailable when it is not one."""

    @abstractmethod
    def decoder(self, request: ChatRequest, headers: Mapping[str, str]) -> StreamDecoder:
        """The decoder of one streamed answer; raises Unavailable for a content type that is not a stream."""

    @abstractmethod
    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """The ProviderError of a non-200 answer."""

    # -- the one flow --------------------------------------------------------------------------

    async def _send(self, request: ChatRequest, stream: bool) -> Response:
        return await self.post(*self.wire(request, stream))

    async def post(self, path: str, payload: bytes) -> Response:
        """Sends one authenticated request; a non-200 answer is raised as :meth:`error`."""
        head = f"POST {path} HTTP/1.1\r\n{self._static}{await self.auth(path, payload)}"
        try:
            response = await self._pool.request(head.encode("latin-1"), payload)
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        if response.status != 200:
            raise self.error(response.status, response.headers, await self._read(response, MAX_ERROR_BODY))
        return response

    async def fetch(self, path: str, payload: bytes) -> tuple[Mapping[str, str], bytes]:
        """:meth:`post`, and the whole answer (at most :data:`MAX_ANSWER` bytes)."""
        response = await self.post(path, payload)
        return response.headers, await self._read(response, MAX_ANSWER)

    def _unavailable(self, exc: UpstreamError) -> ProviderError:
        return connection_failure(exc.kind, str(exc), provider=self.name, secrets=self._secrets)

    async def _read(self, response: Response, limit: int) -> bytes:
        """The whole body (up to ``limit``), the connection released."""
        try:
            return await response.read(limit)
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        finally:
            response.release()

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        request = chat_request(body, sniffed)
        response = await self._send(request, False)
        data = await self._read(response, MAX_ANSWER)
        return dumps(self.answer(data, request))

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        request = chat_request(body, sniffed)
        response = await self._send(request, True)
        try:
            decoder = self.decoder(request, response.headers)
            held: list[dict[str, Any]] = []
            opened = False
            async for piece in response.iter_chunks():
                chunks = decoder.feed(piece)
                if not chunks:
                    continue
                if not opened:
                    held += chunks
                    if not any(carries_output(c) for c in chunks):
                        continue
                    chunks, held, opened = held, [], True
                yield sse(chunks)
            decoder.close()
            yield sse(held) + _DONE
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        finally:
            response.release()

    async def relay(self, body: bytes, sniffed: Sniffed, sink: StreamSink) -> None:
        await push(self.stream(body, sniffed), sink)

    async def aclose(self) -> None:
        """Lets go of the pool (the last caller of an origin closes it)."""
        await self._pools.release(self.origin)
