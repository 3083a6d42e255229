"""Vertex AI's ``generateContent`` and ``streamGenerateContent`` over the gateway's own pool, with a
Google OAuth token from ``google-auth``.

``POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent``
(``:streamGenerateContent?alt=sse``) on ``{location}-aiplatform.googleapis.com``
(``aiplatform.googleapis.com`` for ``global``) or the block's ``endpointURL``. The body is
``translate.openai_to_vertex.to_generate_content``, which equals what ``google-genai`` sends for
the same input (``tests/integration/providers/test_vertex_wire.py``). The token comes from the
credentials object (a service-account key, or Application Default Credentials), refreshed in a
thread five minutes ahead of expiry (:mod:`~airoute.providers.tokens`). Errors: Google's
``{"error": {"code", "message", "status"}}`` with ``status`` (``RESOURCE_EXHAUSTED``, …) kept as
the code; Vertex AI sends no ``Retry-After``. The SSE stream is decoded line by line as it
arrives; an ``error`` object inside it raises (``in_band``).
"""

from __future__ import annotations

import calendar
import json
import math
import time
from collections.abc import Mapping
from typing import Any

from airoute.api.providers import VertexAI
from airoute.providers.credentials import GOOGLE_SCOPES
from airoute.providers.errors import ProviderError, Unavailable, error_for_status
from airoute.providers.fastjson import dumps, loads
from airoute.providers.http_pool import Pools
from airoute.providers.request import ChatRequest
from airoute.providers.tokens import BearerHeader, Refreshing
from airoute.providers.translate.common import completion_id
from airoute.providers.translate.openai_to_vertex import (
    GenerateContentStreamTranslator,
    from_generate_content,
    to_generate_content,
)
from airoute.providers.translating import StreamDecoder, TranslatingCaller, address

MAX_LINE = 16 * 1024 * 1024


def google_token(credentials: Any, provider: str) -> Refreshing[str]:
    """An access token of a ``google.auth`` credentials object (``None``: Application Default
    Credentials, found on first use), refreshed in a thread."""
    found: list[Any] = [] if credentials is None else [credentials]

    def fetch() -> tuple[str, float]:
        if not found:
            import google.auth

            found.append(google.auth.default(scopes=list(GOOGLE_SCOPES))[0])
        credentials = found[0]
        if not credentials.valid:
            from google.auth.transport.requests import Request

            credentials.refresh(Request())
        expiry = getattr(credentials, "expiry", None)
        expires = calendar.timegm(expiry.utctimetuple()) if expiry is not None else math.inf
        return str(credentials.token), float(expires)

    return Refreshing(fetch, "Google access token", provider=provider)


def google_error(status: int, body: bytes | Mapping[str, Any], provider: str, *, in_band: bool = False,
                 secrets: tuple[str, ...] = ()) -> ProviderError:
    """The ProviderError of a Google API error object (or body)."""
    error: Any = body
    if isinstance(body, bytes):
        try:
            error = json.loads(body)
        except (ValueError, RecursionError):
            error = None
    if isinstance(error, list) and error:  # some Google front ends wrap the error in a list
        error = error[0]
    found = error.get("error") if isinstance(error, Mapping) else None
    if not isinstance(found, Mapping):
        text = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else ""
        return error_for_status(status, text or "no body", provider=provider, in_band=in_band, secrets=secrets)
    code = found.get("code")
    if in_band and isinstance(code, int) and 400 <= code < 600:
        status = code
    label = found.get("status")
    message = str(found.get("message") or "no message")
    return error_for_status(status, f"{label}: {message}" if label else message, provider=provider,
                            code=str(label) if label else None, in_band=in_band, secrets=secrets)


class _SseDecoder:
    """``streamGenerateContent?alt=sse`` bytes → ``GenerateContentResponse`` objects → chunks."""

    def __init__(self, model: str, include_usage: bool, provider: str, secrets: tuple[str, ...], n: int = 1) -> None:
        self._buffer = b""
        self._model = model
        self._include_usage = include_usage
        self._n = n
        self._provider = provider
        self._secrets = secrets
        self._translator: GenerateContentStreamTranslator | None = None

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        buffer = self._buffer + data
        cut = buffer.rfind(b"\n") + 1
        self._buffer = buffer[cut:]
        if len(self._buffer) > MAX_LINE:
            raise Unavailable("an event of the stream is too long", provider=self._provider)
        out: list[dict[str, Any]] = []
        for line in buffer[:cut].splitlines():
            if line.startswith(b"data:"):
                out += self._event(line[5:])
        return out

    def _event(self, data: bytes) -> list[dict[str, Any]]:
        try:
            response = loads(data)
        except (ValueError, RecursionError):
            raise Unavailable("malformed event in the stream", provider=self._provider) from None
        if not isinstance(response, dict):
            raise Unavailable("malformed event in the stream", provider=self._provider)
        if "error" in response:
            raise google_error(500, response, self._provider, in_band=True, secrets=self._secrets)
        if self._translator is None:
            id_ = completion_id(str(response.get("responseId") or time.time_ns()))
            self._translator = GenerateContentStreamTranslator(self._model, id_, int(time.time()), self._include_usage,
                                                               self._n)
        return self._translator.feed(response)

    def close(self) -> None:
        tail = self._buffer.strip()
        if tail.startswith(b"data:"):
            self._buffer = b""
            self._event(tail[5:])
        if self._translator is None:
            raise Unavailable("the stream ended before any chunk", provider=self._provider)
        try:
            self._translator.close()
        except Unavailable as exc:
            raise Unavailable(exc.message, provider=self._provider) from None


class VertexCaller(TranslatingCaller):
    """One publisher model in one Vertex AI project and location."""

    def __init__(self, name: str, block: VertexAI, token: Refreshing[str], pools: Pools,
                 secrets: tuple[str, ...] = (), credential: str = "") -> None:
        own = ("aiplatform.googleapis.com" if block.location == "global"
               else f"{block.location}-aiplatform.googleapis.com")
        where = address(block.endpoint_url, own, credential)
        super().__init__(name, where, pools, secrets)
        self.block = block
        self._bearer = BearerHeader(token)
        self._path = (f"{where.prefix}/v1/projects/{block.project}/locations/{block.location}/publishers/google/"
                      f"models/{block.model}")

    def wire(self, request: ChatRequest, stream: bool) -> tuple[str, bytes]:
        action = ":streamGenerateContent?alt=sse" if stream else ":generateContent"
        return self._path + action, dumps(to_generate_content(request))

    async def auth(self, path: str, body: bytes) -> str:
        return (await self._bearer.line()).decode("latin-1")

    def answer(self, data: bytes, request: ChatRequest) -> dict[str, Any]:
        try:
            response = loads(data)
        except (ValueError, RecursionError):
            response = None
        if not isinstance(response, dict) or ("candidates" not in response and "promptFeedback" not in response):
            raise Unavailable("malformed answer: neither candidates nor promptFeedback", provider=self.name)
        id_ = completion_id(str(response.get("responseId") or time.time_ns()))
        return from_generate_content(response, self.block.model, id_, int(time.time()))

    def decoder(self, request: ChatRequest, headers: Mapping[str, str]) -> StreamDecoder:
        content_type = headers.get("content-type", "none")
        if not content_type.startswith("text/event-stream"):
            raise Unavailable(f"the answer is not an event stream (content-type {content_type[:64]})",
                              provider=self.name)
        return _SseDecoder(self.block.model, request.include_usage, self.name, self._secrets, request.n or 1)

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        return google_error(status, body, self.name, secrets=self._secrets)

    async def aclose(self) -> None:
        await super().aclose()
        await self._bearer.aclose()
