"""The one interface every backend is called through, whatever it speaks.

A caller takes a client's OpenAI chat-completions body as bytes (with what
:func:`~airoute.providers.sniff.sniff` read from it) and gives back OpenAI bytes: the answer's
JSON, or its SSE events ending in ``data: [DONE]``. How it gets there is its own business: the
OpenAI-format caller relays bytes over the shared HTTP/1.1 pool
(:mod:`~airoute.providers.openai_format`); the translating callers (Bedrock Converse, Vertex AI
generateContent: :mod:`~airoute.providers.translating`) parse, translate, send over the same pool
and encode back. Each is built by :func:`~airoute.providers.factory.make_caller`.

A stream is *pushed*: :meth:`Caller.relay` hands whole SSE events to a :class:`StreamSink` as
they arrive (from the connection's own callbacks where it can, so that relaying an event costs
no task switch) and returns when the stream ended cleanly. :meth:`Caller.stream` is the same
stream pulled, for code that iterates (tests, tools); one of the two is each caller's own, the
other comes from :mod:`~airoute.providers.streaming`. Either way **the first piece carries
output** — content, a tool call, a refusal, a finish, usage: openings that carry nothing (the
``role: assistant`` chunk, Azure's prompt filter results) are held back and go with it. So a
stream that fails or says nothing before its first token (an in-band error, a stall) has sent
the client nothing, and the request can still go to another backend; and the time to the first
piece is the time to the first token.

Every failure is a :class:`~airoute.providers.errors.ProviderError`, with secrets scrubbed. The
deadline of an attempt belongs to whoever calls: a caller may be cancelled at any ``await`` and
must leave nothing behind that a later request could trip over (the pool drops a connection
it was cancelled on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from airoute.providers.sniff import Sniffed


class StreamSink(Protocol):
    """Where :meth:`Caller.relay` puts a stream's events (the gateway's client side)."""

    def send(self, piece: bytes) -> bool:
        """Passes whole SSE events on; False when the receiver reads slower than they come: send
        no more until :meth:`on_writable` calls back."""
        ...

    def on_writable(self, resume: Callable[[], None]) -> None:
        """Calls ``resume`` once the receiver takes more (at once when it already does)."""
        ...


class Caller(Protocol):
    """How one backend variant is called."""

    async def complete(self, body: bytes, sniffed: Sniffed) -> bytes:
        """The whole answer of a non-streaming request (a ``chat.completion`` JSON object)."""
        ...

    async def relay(self, body: bytes, sniffed: Sniffed, sink: StreamSink) -> None:
        """Streams the answer's SSE events into ``sink``, the first piece carrying output;
        returns once the stream ended cleanly (``data: [DONE]`` sent); raises ProviderError when
        it breaks off or reports an error, before or after the first piece (``sink`` then knows
        whether anything was sent). Cancelling it drops the upstream connection."""
        ...

    def stream(self, body: bytes, sniffed: Sniffed) -> AsyncIterator[bytes]:
        """The same stream as :meth:`relay`, pulled piece by piece."""
        ...

    async def aclose(self) -> None:
        """Releases connections, clients and threads; called once no route uses the caller."""
        ...
