"""The callers of a route's embedding backends: the same :class:`~airoute.providers.caller.Caller`
interface (``complete`` answers, ``stream`` refuses: embeddings are not streamed), so the failover
policy, metrics and ejection treat them like any backend.

* OpenAI-format backends (Azure OpenAI, OpenAI-compatible vendors, servers in the cluster): the
  OpenAI-format caller pointed at ``…/embeddings`` (:func:`embeddings_path`), behind
  :class:`CheckedEmbeddings`;
* Bedrock: :class:`BedrockEmbedder`, InvokeModel of Titan or Cohere over the pool, SigV4-signed
  like Converse (several calls when the model takes fewer texts per call than the request has);
* Vertex AI: :class:`VertexEmbedder`, ``:predict`` or ``:embedContent`` / ``:batchEmbedContents``
  over the pool with the Google token of the chat caller.

Every answer's vectors must have the route's size (``embeddings.dimensions``): one of another
size is :class:`Unavailable` (that backend serves another model, or is misconfigured) and the
request moves on. A request that asks for another size is refused (400) before any call; models
that can shorten their vectors are asked for the route's size (``dimensions`` for OpenAI's
text-embedding-3 models, Titan v2 and Cohere v4, ``outputDimensionality`` for Vertex AI).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from airoute.api.providers import Bedrock, VertexAI
from airoute.providers.aws_auth import Keys
from airoute.providers.bedrock import BedrockCaller
from airoute.providers.caller import Caller, StreamSink
from airoute.providers.embeddings import EmbeddingsRequest, embeddings_json, parse_embeddings, vector_sizes
from airoute.providers.errors import BadRequest, Unavailable
from airoute.providers.http_pool import Pools
from airoute.providers.sniff import Sniffed, parsed_body
from airoute.providers.tokens import Refreshing
from airoute.providers.translate import openai_to_bedrock_embeddings as bedrock_embeddings
from airoute.providers.translate import openai_to_vertex_embeddings as vertex_embeddings
from airoute.providers.vertex_ai import VertexCaller

SHORTENING_FAMILIES = ("text-embedding-3",)
"""OpenAI-format model families that shorten their vectors to the ``dimensions`` asked for."""
CONCURRENT_CALLS = 8
"""Calls of one request in flight at once (Titan embeds one text per call)."""


def embeddings_path(chat_path: str) -> str:
    """``…/chat/completions[?query]`` → ``…/embeddings[?query]``."""
    path, mark, query = chat_path.partition("?")
    return path.removesuffix("/chat/completions") + "/embeddings" + mark + query


def embeddings_request(body: bytes, sniffed: Sniffed, dimensions: int) -> EmbeddingsRequest:
    """The parsed request; a size other than the route's is refused."""
    request = parse_embeddings(parsed_body(body, sniffed))
    if request.dimensions is not None and request.dimensions != dimensions:
        raise BadRequest(f"dimensions: this route returns vectors of {dimensions} dimensions, not "
                         f"{request.dimensions}", status=400)
    return request


def checked(answer: Mapping[str, Any], dimensions: int, provider: str, inputs: int) -> None:
    """Raises Unavailable unless the answer holds ``inputs`` vectors of ``dimensions``."""
    sizes = vector_sizes(answer)
    if sizes != {dimensions} or len(answer.get("data") or ()) != inputs:
        got = ", ".join(str(s) for s in sorted(sizes)) or "no"
        count = len(answer.get("data") or ())
        raise Unavailable(f"returned {count} vectors of {got} dimensions for {inputs} inputs of {dimensions}: "
                          "this backend does not serve the route's embedding model", provider=provider)


def _json_object(data: bytes, provider: str) -> dict[str, Any]:
    """A cloud's answer decoded, or Unavailable when it is not a JSON object."""
    try:
        answer = json.loads(data)
    except (ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict):
        raise Unavailable("malformed answer: not a JSON object", provider=provider)
    return answer


def _not_streamed(name: str) -> BadRequest:
    return BadRequest("embeddings are not streamed", provider=name, status=400)


class CheckedEmbeddings:
    """An OpenAI-format embeddings caller whose answers are checked for the route's size;
    requests for a shortening model family get ``dimensions`` when they do not say it."""

    def __init__(self, inner: Caller, name: str, family: str, dimensions: int) -> None:
        self.inner = inner
        self.name = name
        self.dimensions = dimensions
        self.shortens = family.startswith(SHORTENING_FAMILIES)

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        request = embeddings_request(body, sniffed, self.dimensions)
        if self.shortens and request.dimensions is None:
            asked = dict(parsed_body(body, sniffed)) | {"dimensions": self.dimensions}
            body, sniffed = json.dumps(asked).encode(), Sniffed(sniffed.model, False, None, asked)
        data = await self.inner.complete(body, sniffed)
        try:
            answer = json.loads(data)
        except (ValueError, RecursionError):
            raise Unavailable("malformed answer: not JSON", provider=self.name) from None
        checked(answer if isinstance(answer, dict) else {}, self.dimensions, self.name, len(request.texts))
        return data

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        raise _not_streamed(self.name)
        yield b""  # pragma: no cover

    async def relay(self, body: bytes, sniffed: Sniffed, sink: StreamSink) -> None:
        raise _not_streamed(self.name)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def bounded(calls: Sequence[Callable[[], Awaitable[Any]]], limit: int = CONCURRENT_CALLS) -> list[Any]:
    """Runs the calls at most ``limit`` at a time; their results in order (the first failure raises)."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(c) for c in calls)))


class BedrockEmbedder(BedrockCaller):
    """A Titan or Cohere embedding model on Bedrock (InvokeModel), answering in OpenAI's shape."""

    def __init__(self, name: str, block: Bedrock, keys: Refreshing[Keys], pools: Pools, dimensions: int,
                 secrets: tuple[str, ...] = (), credential: str = "") -> None:
        bedrock_embeddings.check_model(block.model_id, dimensions)
        super().__init__(name, block, keys, pools, secrets, credential)
        self.dimensions = dimensions
        self._invoke_path = self._model_path + "/invoke"

    async def _invoke(self, payload: dict[str, Any]) -> tuple[dict[str, Any], int]:
        headers, data = await self.fetch(self._invoke_path, json.dumps(payload).encode())
        answer = _json_object(data, self.name)
        count = headers.get("x-amzn-bedrock-input-token-count", "0")
        return answer, int(count) if count.isdigit() else 0

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        request = embeddings_request(body, sniffed, self.dimensions)
        bodies = bedrock_embeddings.invoke_bodies(request, self.block.model_id, self.dimensions)
        results = await bounded([functools.partial(self._invoke, b) for b in bodies])
        vectors = bedrock_embeddings.vectors_of(self.block.model_id, [answer for answer, _ in results])
        answer = embeddings_json(vectors, self.block.model_id, sum(n for _, n in results), request.encoding_format)
        checked(answer, self.dimensions, self.name, len(request.texts))
        return json.dumps(answer, separators=(",", ":")).encode()

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        raise _not_streamed(self.name)
        yield b""  # pragma: no cover


class VertexEmbedder(VertexCaller):
    """A text-embedding or Gemini embedding model on Vertex AI, answering in OpenAI's shape."""

    def __init__(self, name: str, block: VertexAI, token: Refreshing[str], pools: Pools, dimensions: int,
                 secrets: tuple[str, ...] = (), credential: str = "") -> None:
        vertex_embeddings.check_model(block.model, dimensions)
        super().__init__(name, block, token, pools, secrets, credential)
        self.dimensions = dimensions

    async def _call(self, method: str, payload: dict[str, Any]) -> tuple[list[list[float]], int]:
        _, data = await self.fetch(f"{self._path}:{method}", json.dumps(payload).encode())
        answer = _json_object(data, self.name)
        return vertex_embeddings.vectors_of(method, answer)

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        request = embeddings_request(body, sniffed, self.dimensions)
        calls = vertex_embeddings.embed_requests(request, self.block.model, self.dimensions)
        results = await bounded([functools.partial(self._call, method, payload) for method, payload in calls])
        vectors = [vector for found, _ in results for vector in found]
        answer = embeddings_json(vectors, self.block.model, sum(n for _, n in results), request.encoding_format)
        checked(answer, self.dimensions, self.name, len(request.texts))
        return json.dumps(answer, separators=(",", ":")).encode()

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        raise _not_streamed(self.name)
        yield b""  # pragma: no cover
