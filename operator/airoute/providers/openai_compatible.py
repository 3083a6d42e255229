"""OpenAI-compatible backends (in-cluster vLLM/KServe/Ollama, and OpenAI, xAI, Mistral …).

The fast path, :meth:`OpenAICompatibleProvider.forward`, relays request and answer bytes: only
the ``model`` of the body is rewritten, and a streamed answer is passed on chunk by chunk. One
``aiohttp`` session with a keep-alive connection pool serves every request of the backend.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from typing import Any

import aiohttp

from airoute.providers.base import RawResponse
from airoute.providers.errors import ProviderError, Unavailable, error_for_status, retry_after_from
from airoute.providers.model_field import rewrite_model
from airoute.providers.request import ChatRequest
from airoute.providers.sse import SSEDecoder
from airoute.providers.transport import transport_error

RELAYED_HEADERS = ("content-type", "x-request-id", "openai-processing-ms", "openai-version")
_ERROR_BODY_LIMIT = 8192


class OpenAICompatibleProvider:
    """``base_url`` includes the version path (``…/v1``); ``headers`` are sent with every call."""

    def __init__(self, name: str, base_url: str, model: str, *,
                 headers: Mapping[str, str] | None = None, secrets: tuple[str, ...] = (),
                 ssl_context: ssl.SSLContext | None = None, max_connections: int = 256) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._url = f"{self.base_url}/chat/completions"
        self._headers = {"Content-Type": "application/json", "User-Agent": "airoute",
                         **(headers or {})}
        self._secrets = secrets
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl,
                                             keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=True,
                                                  skip_auto_headers=("User-Agent",))
        return self._session

    async def forward(self, body: bytes, stream: bool, timeout: float,
                      ) -> RawResponse:
        """Relay an OpenAI request body; see :class:`~airoute.providers.base.PassThroughProvider`."""
        return await self._send(rewrite_model(body, self.model), stream, timeout)

    async def _send(self, body: bytes, stream: bool, timeout: float) -> RawResponse:
        limits = (aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
                  if stream else aiohttp.ClientTimeout(total=timeout))
        try:
            response = await self._client().post(self._url, data=body, headers=self._headers,
                                                 timeout=limits)
            if response.status >= 300:
                raise await self._status_error(response)
            headers = {k: v for k in RELAYED_HEADERS if (v := response.headers.get(k))}
            if not stream:
                async with response:
                    return RawResponse(response.status, headers, body=await response.read())
        except Exception as exc:
            raise self._error(exc) from exc
        return RawResponse(response.status, headers, chunks=self._relay(response),
                           release=response.release)

    async def _relay(self, response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
        tail = b""
        try:
            async for data in response.content.iter_any():
                tail = (tail + data)[-32:]
                yield data
        except Exception as exc:
            raise self._error(exc) from exc
        finally:
            response.release()
        if b"[DONE]" not in tail:
            raise Unavailable("the stream ended before data: [DONE]", provider=self.name)

    async def chat(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        body = replace(req, stream=False, include_usage=False).to_openai(self.model)
        raw = await self._send(json.dumps(body).encode(), False, timeout)
        try:
            answer: dict[str, Any] = json.loads(raw.body or b"")
        except ValueError as exc:
            raise Unavailable(f"the answer is not JSON: {exc}", provider=self.name) from exc
        return answer

    async def stream(self, req: ChatRequest, timeout: float,
                     ) -> AsyncIterator[dict[str, Any]]:
        body = replace(req, stream=True).to_openai(self.model)
        raw = await self._send(json.dumps(body).encode(), True, timeout)
        decoder = SSEDecoder()
        done = False
        try:
            async for data in raw.chunks():
                for event in decoder.feed(data):
                    if event.strip() == "[DONE]":
                        done = True
                        continue
                    yield self._chunk(event)
        finally:
            await raw.aclose()
        if not done:
            raise Unavailable("the stream ended before data: [DONE]", provider=self.name)

    async def probe(self, timeout: float) -> None:
        try:
            async with self._client().get(f"{self.base_url}/models", headers=self._headers,
                                          timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                if resp.status >= 300:
                    raise await self._status_error(resp)
                await resp.read()
        except Exception as exc:
            raise self._error(exc) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _chunk(self, event: str) -> dict[str, Any]:
        try:
            chunk: dict[str, Any] = json.loads(event)
        except ValueError as exc:
            raise Unavailable(f"a stream event is not JSON: {exc}", provider=self.name) from exc
        if isinstance(chunk.get("error"), Mapping):  # how vLLM reports a failure mid-stream
            error = chunk["error"]
            code = error.get("code")
            status = code if isinstance(code, int) and 400 <= code < 600 else 500
            raise error_for_status(status, str(error.get("message", "stream error")),
                                   provider=self.name, secrets=self._secrets)
        return chunk

    async def _status_error(self, response: aiohttp.ClientResponse) -> ProviderError:
        async with response:
            text = (await response.content.read(_ERROR_BODY_LIMIT)).decode("utf-8", "replace")
        return error_for_status(response.status, _error_message(text) or response.reason or "",
                                provider=self.name, retry_after=retry_after_from(response.headers),
                                secrets=self._secrets)

    def _error(self, exc: Exception) -> ProviderError:
        found = transport_error(exc, self.name, self._secrets)
        if found is None:
            raise exc
        return found


def _error_message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, Mapping):
        return str(error.get("message") or error)
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return text.strip()[:500]
