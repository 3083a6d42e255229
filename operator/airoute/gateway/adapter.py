"""Backends behind a provider adapter (Azure OpenAI, Bedrock, Vertex AI): the body is parsed
into a :class:`ChatRequest`, the adapter translates, and its OpenAI-shaped answer is encoded back.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Mapping

from airoute.core.routetable import Variant
from airoute.gateway.binder import AdapterFactory
from airoute.gateway.sniff import Sniffed, parsed_body
from airoute.gateway.table import Caller
from airoute.providers import make_provider
from airoute.providers.base import ChatProvider
from airoute.providers.errors import BadRequest, ProviderError, Unavailable
from airoute.providers.request import ChatRequest

log = logging.getLogger(__name__)


def _request(body: bytes, sniffed: Sniffed) -> ChatRequest:
    try:
        return ChatRequest.parse(parsed_body(body, sniffed))
    except ValueError as exc:
        if isinstance(exc, BadRequest):
            raise
        raise BadRequest(str(exc)) from None


def _surprise(provider: ChatProvider, exc: Exception) -> Unavailable:
    """An SDK failure the adapter did not classify: this backend failed, the next one is tried."""
    log.warning("backend %s: unexpected %s from its SDK", provider.name, type(exc).__name__)
    log.debug("backend %s: unexpected SDK failure", provider.name, exc_info=True)
    return Unavailable(f"unexpected failure in the provider SDK ({type(exc).__name__})", provider=provider.name)


class AdapterCaller:
    """A :class:`ChatProvider` seen as a gateway :class:`~airoute.gateway.table.Caller`."""

    passthrough = False

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
        yield b"data: [DONE]\n\n"

    async def aclose(self) -> None:
        await self.provider.aclose()


def default_adapters(timeout: float = 120.0) -> AdapterFactory:
    """The provider package's adapters, built on first use of each backend."""

    def build(variant: Variant, backend: str, namespace: str, secrets: Mapping[str, bytes]) -> Caller:
        def lookup(name: str, key: str) -> bytes | None:
            return secrets.get(f"{name}/{key}")

        provider = make_provider(backend, variant.provider_kind, variant.provider, lookup, namespace)
        return AdapterCaller(provider, timeout)

    return build
