"""The one interface every backend is called through, whatever it speaks.

A caller takes a client's OpenAI chat-completions body as bytes (with what
:func:`~airoute.providers.sniff.sniff` read from it) and gives back OpenAI bytes: the answer's
JSON, or its SSE events ending in ``data: [DONE]``. How it gets there is its own business: the
OpenAI-format caller relays bytes over the shared HTTP/1.1 pool
(:mod:`~airoute.providers.openai_format`); the translating callers (Bedrock Converse, Vertex AI
generateContent: :mod:`~airoute.providers.translating`) parse, translate, send over the same pool
and encode back. Each is built by :func:`~airoute.providers.factory.make_caller`.

Every failure is a :class:`~airoute.providers.errors.ProviderError`, with secrets scrubbed. The
deadline of an attempt belongs to whoever calls: a caller may be cancelled at any ``await`` and
must leave nothing behind that a later request could trip over (the pool drops a connection
it was cancelled on).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol

from airoute.providers.sniff import Sniffed


class Caller(Protocol):
    """How one backend variant is called."""

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        """The whole answer of a non-streaming request (a ``chat.completion`` JSON object)."""
        ...

    def stream(self, body: bytes, sniffed: Sniffed) -> AsyncGenerator[bytes, None]:
        """The answer's SSE bytes as they come; raises when the stream breaks off, also after
        the first bytes (the caller of the stream then knows the answer is incomplete)."""
        ...

    async def aclose(self) -> None:
        """Releases connections, clients and threads; called once no route uses the caller."""
        ...
