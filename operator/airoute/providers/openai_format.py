"""The caller of backends that speak OpenAI chat completions (``inCluster`` servers such as vLLM,
KServe or Ollama, and ``openAICompatible`` vendors): the client's body goes upstream as bytes (only
``model`` is spliced in) over a pooled keep-alive connection, and the answer comes back as bytes —
no JSON parsing on either side.

Checks that keep the relay honest, each on bytes:

* a 200 answer must look like a JSON object (non-streaming) or an event stream (streaming);
* a stream must end with ``data: [DONE]``; one that ends earlier is :class:`Unavailable`;
* an in-band error event (``data: {"error": {…}}``, how vLLM reports a failure once the stream
  began; it follows it with ``data: [DONE]``) raises the matching ProviderError instead of being
  relayed. The scan looks for ``"error"`` in whole lines only: a line still incomplete at the end
  of a chunk waits for the rest of it (up to :data:`MAX_HELD_LINE` bytes), so a key split across
  chunks is still found. The piece holding the error event is not relayed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

from airoute.providers.errors import ProviderError, Unavailable, error_for_status, retry_after_from
from airoute.providers.http_pool import Origin, Pool, Pools, UpstreamError
from airoute.providers.sniff import Sniffed, with_model

MAX_HELD_LINE = 64 * 1024
"""Longest partial line held back for the in-band error check; a longer one is relayed unchecked."""

_SSE_FIELDS = (b"data:", b":", b"event:", b"id:", b"retry:")
_ERROR_KEY = b'"error"'


@dataclass(frozen=True)
class Endpoint:
    """Where a backend's chat-completions API is and what to send along with every request."""

    origin: Origin
    path: str
    headers: tuple[tuple[str, str], ...]
    model: str

    def head(self) -> bytes:
        """The request line and headers, without Content-Length and the blank line."""
        lines = [f"POST {self.path} HTTP/1.1", f"host: {self.origin.host}:{self.origin.port}",
                 "content-type: application/json", "accept-encoding: identity", "user-agent: airoute-gateway"]
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def _looks_like_json_object(data: bytes, headers: Mapping[str, str]) -> bool:
    """A cheap check (no parsing) that a 200 answer is what OpenAI-compatible servers send."""
    body = data.strip()
    return "json" in headers.get("content-type", "") and body[:1] == b"{" and body[-1:] == b"}"


def _message(body: bytes) -> str:
    """The upstream's error message: ``error.message`` of an OpenAI-shaped body, else the text."""
    try:
        parsed = json.loads(body)
        message = parsed["error"]["message"] if isinstance(parsed["error"], dict) else parsed["error"]
        if isinstance(message, str) and message:
            return message[:2000]
    except (ValueError, KeyError, TypeError):
        pass
    text = body[:2000].decode("utf-8", "replace").strip()
    return text or "no body"


def in_band_error(lines: bytes) -> Mapping[str, object] | None:
    """The ``error`` object of the first ``data: {"error": {…}}`` event among whole SSE lines."""
    for line in lines.splitlines():
        if not line.startswith(b"data:") or _ERROR_KEY not in line:
            continue
        try:
            event = json.loads(line[5:])
        except (ValueError, RecursionError):
            continue
        error = event.get("error") if isinstance(event, dict) else None
        if isinstance(error, Mapping):
            return error
    return None


class OpenAIFormatCaller:
    """Calls one OpenAI-format backend through the pool of its origin."""

    def __init__(self, name: str, endpoint: Endpoint, pools: Pools, secrets: tuple[bytes, ...] = ()) -> None:
        self.name = name
        self.endpoint = endpoint
        self._pools = pools
        self._pool: Pool = pools.acquire(endpoint.origin)
        self._head = endpoint.head()
        self._secrets = secrets

    def _error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        return error_for_status(status, _message(body), provider=self.name,
                                retry_after=retry_after_from(dict(headers)), secrets=self._secrets)

    def _unavailable(self, exc: UpstreamError) -> ProviderError:
        return Unavailable(str(exc), provider=self.name, secrets=self._secrets)

    def _garbage(self, what: str, headers: Mapping[str, str]) -> ProviderError:
        content_type = headers.get("content-type", "none")
        return Unavailable(f"{what} (content-type {content_type[:64]})", provider=self.name)

    def _in_band(self, error: Mapping[str, object]) -> ProviderError:
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
        return error_for_status(status, str(error.get("message") or "error event in the stream"),
                                provider=self.name, secrets=self._secrets)

    def _check(self, piece: bytes, first: bool, headers: Mapping[str, str]) -> None:
        """Raises when the first piece of a stream is not SSE, or a piece holds an error event."""
        if first and not piece.lstrip(b"\r\n").startswith(_SSE_FIELDS):
            raise self._garbage("the answer is not an event stream", headers)
        if _ERROR_KEY in piece and (error := in_band_error(piece)) is not None:
            raise self._in_band(error)

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        """The whole answer (JSON bytes) of a non-streaming request; raises ProviderError."""
        try:
            response = await self._pool.request(self._head, with_model(body, sniffed, self.endpoint.model))
            try:
                data = await response.read()
            finally:
                response.release()
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        if response.status != 200:
            raise self._error(response.status, data, response.headers)
        if not _looks_like_json_object(data, response.headers):  # an HTML error page, a cut or empty body …
            raise self._garbage("the answer is not a JSON object", response.headers)
        return data

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        """The answer's SSE bytes as they arrive, in whole lines; raises ProviderError (after the
        first chunk too, when the stream is cut or reports an error)."""
        try:
            response = await self._pool.request(self._head, with_model(body, sniffed, self.endpoint.model))
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        try:
            if response.status != 200:
                raise self._error(response.status, await response.read(), response.headers)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise self._garbage("the answer is not an event stream", response.headers)
            tail = held = b""
            async for chunk in response.iter_chunks():
                if held:
                    chunk, held = held + chunk, b""
                if chunk[-1:] != b"\n":  # hold a partial line back until it is whole
                    cut = chunk.rfind(b"\n") + 1
                    if len(chunk) - cut <= MAX_HELD_LINE:
                        chunk, held = chunk[:cut], chunk[cut:]
                    if not chunk:
                        continue
                self._check(chunk, not tail, response.headers)
                tail = chunk[-64:] if len(chunk) >= 64 else (tail + chunk)[-64:]
                yield chunk
            if held:
                self._check(held, not tail, response.headers)
                tail = (tail + held)[-64:]
                yield held
            if b"[DONE]" not in tail:  # ended cleanly but early: the client must not take it for whole
                raise Unavailable("the stream ended before data: [DONE]", provider=self.name)
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        finally:
            response.release()

    async def aclose(self) -> None:
        """Lets go of the pool (the last caller of an origin closes it)."""
        await self._pools.release(self.endpoint.origin)
