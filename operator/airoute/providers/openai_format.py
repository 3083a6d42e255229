"""The caller of backends that speak OpenAI chat completions (``inCluster`` servers such as vLLM,
KServe or Ollama, ``openAICompatible`` vendors, and Azure OpenAI — its v1 API, or a deployment's
path with ``api-version``): the client's body goes upstream as bytes (only ``model`` is spliced
in) over a pooled keep-alive connection, and the answer comes back as bytes — no JSON parsing on
either side, so whatever the provider adds (Azure's ``prompt_filter_results`` and
``content_filter_results``) reaches the client. A credential that expires (an Entra ID token)
is a :class:`~airoute.providers.tokens.BearerHeader` added to the pre-built head per request.

Checks that keep the relay honest, each on bytes:

* a 200 answer must look like a JSON object (non-streaming) or an event stream (streaming);
* a stream must end with ``data: [DONE]``; one that ends earlier is :class:`Unavailable`;
* the events before the first output (OpenAI's ``role: assistant`` opening, Azure's prompt
  filter results) are held back and relayed with it (:data:`MAX_OPENING` at most): an error or a
  stall before the first token then reaches the failover policy with nothing sent to the client.
  Only these first events are parsed; after them the relay is byte for byte;
* an in-band error event (``data: {"error": {…}}``, how vLLM reports a failure once the stream
  began; it follows it with ``data: [DONE]``) raises the matching ProviderError instead of being
  relayed. The scan looks for ``"error"`` in whole lines only: a line still incomplete at the end
  of a chunk waits for the rest of it (up to :data:`MAX_HELD_LINE` bytes), so a key split across
  chunks is still found. The piece holding the error event is not relayed.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from airoute.providers.caller import StreamSink
from airoute.providers.errors import (
    ProviderError,
    Unavailable,
    connection_failure,
    error_for_status,
    resets_from,
    retry_after_from,
)
from airoute.providers.http_pool import MAX_ANSWER, MAX_ERROR_BODY, Origin, Pool, Pools, Response, UpstreamError
from airoute.providers.sniff import Sniffed, with_model
from airoute.providers.streaming import carries_output, pull
from airoute.providers.tokens import BearerHeader

MAX_HELD_LINE = 64 * 1024
"""Longest partial line held back for the in-band error check; a longer one is relayed unchecked."""
MAX_OPENING = 64 * 1024
"""Most bytes of a stream's opening (events without output) held back before the first output;
beyond, they are relayed as they come."""

_SSE_FIELDS = (b"data:", b":", b"event:", b"id:", b"retry:")
_TEXT = re.compile(rb'"content": ?"[^"]')
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


@dataclass(frozen=True)
class UpstreamErrorBody:
    """What an OpenAI-shaped error body says: ``{"error": {"message", "code", "param", …}}``."""

    message: str
    code: str | None = None
    param: str | None = None


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None


def error_fields(error: Mapping[str, object]) -> UpstreamErrorBody:
    message = _text(error.get("message")) or "no message"
    return UpstreamErrorBody(message, _text(error.get("code")), _text(error.get("param")))


def parse_error_body(body: bytes) -> UpstreamErrorBody:
    """The upstream's error: the fields of an OpenAI-shaped body, else its text (the caller
    scrubs, then shortens)."""
    try:
        parsed = json.loads(body)
        error = parsed["error"]
        if isinstance(error, dict):
            return error_fields(error)
        if isinstance(error, str) and error:
            return UpstreamErrorBody(error)
    except (ValueError, KeyError, TypeError, RecursionError):
        pass
    return UpstreamErrorBody(body.decode("utf-8", "replace").strip() or "no body")


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


def _says_something(piece: bytes) -> bool:
    """Whether any ``data:`` event among whole SSE lines carries output (:func:`carries_output`).
    A non-empty ``"content"`` string says so without parsing (in JSON an unescaped ``"content":"``
    is a key, and in a chunk the only string-valued one is the delta's — or the message's)."""
    if _TEXT.search(piece):
        return True
    for line in piece.splitlines():
        if not line.startswith(b"data:") or line[5:].strip() == b"[DONE]":
            continue
        try:
            event = json.loads(line[5:])
        except (ValueError, RecursionError):
            return True  # not ours to judge: relay it as it is
        if not isinstance(event, dict) or carries_output(event):
            return True
    return False


class _Events:
    """One stream being relayed: whole lines in, checked, the opening held back until output.

    :meth:`feed` runs from the connection's callbacks for every chunk of the stream: once the
    opening went out, a chunk of whole lines with no ``"error"`` key in it goes straight on."""

    __slots__ = ("_caller", "_held", "_line", "_opening", "_response", "_send", "_sink", "_tail")

    def __init__(self, caller: OpenAIFormatCaller, response: Response, sink: StreamSink) -> None:
        self._caller = caller
        self._response = response
        self._sink = sink
        self._send = sink.send
        self._line = b""  # the start of a line still arriving
        self._opening: list[bytes] | None = []  # pieces before the first output
        self._held = 0
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if self._line:
            chunk, self._line = self._line + chunk, b""
        if not chunk.endswith(b"\n"):  # hold a partial line back until it is whole
            cut = chunk.rfind(b"\n") + 1
            if len(chunk) - cut <= MAX_HELD_LINE:
                chunk, self._line = chunk[:cut], chunk[cut:]
            if not chunk:
                return
        if self._opening is not None or _ERROR_KEY in chunk:
            self._piece(chunk)
            return
        self._tail = chunk
        if not self._send(chunk):
            self._pause()

    def _pause(self) -> None:
        self._response.pause()
        self._sink.on_writable(self._response.resume)

    def _piece(self, piece: bytes) -> None:
        caller = self._caller
        opening = self._opening
        if opening is not None and not opening and not piece.lstrip(b"\r\n").startswith(_SSE_FIELDS):
            raise caller._garbage("the answer is not an event stream", self._response.headers)
        if _ERROR_KEY in piece and (error := in_band_error(piece)) is not None:
            raise caller._in_band(error)
        if opening is not None:
            opening.append(piece)
            self._held += len(piece)
            if self._held <= MAX_OPENING and not _says_something(piece):
                return
            piece, self._opening = b"".join(opening), None
        self._tail = piece
        if not self._send(piece):
            self._pause()

    def end(self) -> None:
        """The body ended: relays what is held, or raises when it ended before ``data: [DONE]``."""
        tail = self._tail[-64:]
        if self._line:
            line, self._line = self._line, b""
            self._piece(line)
            tail = (tail + line)[-64:]
        if self._opening is not None:  # no output at all: relay the opening as it is
            piece, self._opening = b"".join(self._opening), None
            if piece:
                tail = piece[-64:]
                self._sink.send(piece)
        if b"[DONE]" not in tail:  # ended cleanly but early: the client must not take it for whole
            raise Unavailable("the stream ended before data: [DONE]", provider=self._caller.name)


class OpenAIFormatCaller:
    """Calls one OpenAI-format backend through the pool of its origin."""

    def __init__(self, name: str, endpoint: Endpoint, pools: Pools, secrets: tuple[bytes, ...] = (),
                 auth: BearerHeader | None = None) -> None:
        self.name = name
        self.endpoint = endpoint
        self._pools = pools
        self._pool: Pool = pools.acquire(endpoint.origin)
        self._head = endpoint.head()
        self._secrets = secrets
        self._auth = auth

    async def _request_head(self) -> bytes:
        return self._head if self._auth is None else self._head + await self._auth.line()

    def _error(self, status: int, body: bytes, headers: Mapping[str, str]) -> ProviderError:
        found = parse_error_body(body)
        return error_for_status(status, found.message, provider=self.name, code=found.code, param=found.param,
                                retry_after=retry_after_from(headers), resets=resets_from(headers),
                                secrets=self._secrets)

    def _unavailable(self, exc: UpstreamError) -> ProviderError:
        return connection_failure(exc.kind, str(exc), provider=self.name, secrets=self._secrets)

    def _garbage(self, what: str, headers: Mapping[str, str]) -> ProviderError:
        content_type = headers.get("content-type", "none")
        return Unavailable(f"{what} (content-type {content_type[:64]})", provider=self.name)

    def _in_band(self, error: Mapping[str, object]) -> ProviderError:
        code = error.get("code")
        status = code if isinstance(code, int) and 400 <= code < 600 else 500
        found = error_fields(error)
        return error_for_status(status, found.message, provider=self.name, code=found.code, param=found.param,
                                in_band=True, secrets=self._secrets)

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        """The whole answer (JSON bytes) of a non-streaming request; raises ProviderError."""
        try:
            response = await self._pool.request(await self._request_head(),
                                                with_model(body, sniffed, self.endpoint.model))
            try:
                data = await response.read(MAX_ANSWER if response.status == 200 else MAX_ERROR_BODY)
            finally:
                response.release()
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        if response.status != 200:
            raise self._error(response.status, data, response.headers)
        if not _looks_like_json_object(data, response.headers):  # an HTML error page, a cut or empty body …
            raise self._garbage("the answer is not a JSON object", response.headers)
        return data

    async def relay(self, body: bytes, sniffed: Sniffed, sink: StreamSink) -> None:
        """Relays the answer's SSE events into ``sink`` from the connection's callbacks, in whole
        lines, the opening held back until the first output; raises ProviderError (after the
        first piece too, when the stream is cut or reports an error)."""
        try:
            response = await self._pool.request(await self._request_head(),
                                                with_model(body, sniffed, self.endpoint.model))
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        try:
            if response.status != 200:
                raise self._error(response.status, await response.read(MAX_ERROR_BODY), response.headers)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise self._garbage("the answer is not an event stream", response.headers)
            events = _Events(self, response, sink)
            await response.deliver(events.feed)
            events.end()
        except UpstreamError as exc:
            raise self._unavailable(exc) from None
        finally:
            response.release()

    def stream(self, body: bytes, sniffed: Sniffed) -> AsyncIterator[bytes]:
        return pull(lambda sink: self.relay(body, sniffed, sink))

    async def aclose(self) -> None:
        """Lets go of the pool (the last caller of an origin closes it) and of the token."""
        await self._pools.release(self.endpoint.origin)
        if self._auth is not None:
            await self._auth.aclose()
