"""Backends reached through their provider SDK (Azure OpenAI, Bedrock, Vertex AI): the body is
parsed into a :class:`ChatRequest`, the SDK adapter translates and calls, and its OpenAI-shaped
answer is encoded back into bytes (:class:`SdkCaller`).

Each adapter implements :class:`ChatProvider`. Timeouts are in seconds: for :meth:`ChatProvider.chat`
it bounds the whole call; for :meth:`ChatProvider.stream` the wait for the first chunk and for
every next one. Every failure is a :class:`~airoute.providers.errors.ProviderError`. Answers carry
the backend's own ``model`` name (deployment, model ID); the gateway decides what the client sees.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

from airoute.providers.errors import BadRequest, ProviderError, Unavailable
from airoute.providers.request import ChatRequest
from airoute.providers.request_codec import parse_request
from airoute.providers.sniff import Sniffed, parsed_body
from airoute.providers.transport import close_quietly

log = logging.getLogger(__name__)


class ChatProvider(Protocol):
    """One backend behind its SDK: OpenAI chat-completions in and out, parsed."""

    name: str

    async def chat(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        """A ``chat.completion`` object."""
        ...

    def stream(self, req: ChatRequest, timeout: float) -> AsyncIterator[dict[str, Any]]:
        """``chat.completion.chunk`` objects; the last carries ``finish_reason`` (and, when
        ``include_usage`` was asked, a final chunk with ``usage`` and no choices follows)."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


def _request(body: bytes, sniffed: Sniffed) -> ChatRequest:
    try:
        return parse_request(parsed_body(body, sniffed))
    except ValueError as exc:
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(str(exc)) from None


def _surprise(provider: ChatProvider, exc: Exception) -> Unavailable:
    """An SDK failure the adapter did not classify: this backend failed, the next one is tried."""
    log.warning("backend %s: unexpected %s from its SDK", provider.name, type(exc).__name__)
    log.debug("backend %s: unexpected SDK failure", provider.name, exc_info=True)
    return Unavailable(f"unexpected failure in the provider SDK ({type(exc).__name__})", provider=provider.name)


class SdkCaller:
    """A :class:`ChatProvider` seen as a :class:`~airoute.providers.caller.Caller`; ``timeout``
    bounds the SDK's own calls (the gateway's failover may cancel an attempt sooner)."""

    def __init__(self, provider: ChatProvider, timeout: float) -> None:
        self.provider = provider
        self.timeout = timeout

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        request = _request(body, sniffed)
        try:
            answer = await self.provider.chat(request, self.timeout)
        except (ProviderError, asyncio.CancelledError):
            raise
        except Exception as exc:
            raise _surprise(self.provider, exc) from None
        return json.dumps(answer).encode()

    async def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        chunks = self.provider.stream(_request(body, sniffed), self.timeout)
        try:
            async for chunk in chunks:
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
        except (ProviderError, asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as exc:
            raise _surprise(self.provider, exc) from None
        finally:
            await close_quietly(chunks)  # a stream abandoned early stops the SDK's reading too
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        await self.provider.aclose()

