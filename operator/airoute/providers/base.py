"""The one interface every provider adapter implements, and the pass-through fast path.

Timeouts are in seconds. For :meth:`ChatProvider.chat` it bounds the whole call; for
:meth:`ChatProvider.stream` and streamed :meth:`PassThroughProvider.forward` it bounds the wait
for the first chunk and for every next one (a long answer that keeps flowing is not cut).
Every failure is a :class:`~airoute.providers.errors.ProviderError`. Answers carry the backend's
own ``model`` name (deployment, model ID); the gateway decides what the client sees.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from airoute.providers.request import ChatRequest

SecretLookup = Callable[[str, str], bytes | None]
"""``(secret name, key) -> value`` in the AIRoute's namespace; ``None`` when it is missing."""


@runtime_checkable
class ChatProvider(Protocol):
    """One backend: OpenAI chat-completions in and out, whatever the provider speaks."""

    name: str

    async def chat(self, req: ChatRequest, timeout: float) -> dict[str, Any]:
        """A ``chat.completion`` object."""
        ...

    def stream(self, req: ChatRequest, timeout: float) -> AsyncIterator[dict[str, Any]]:
        """``chat.completion.chunk`` objects; the last carries ``finish_reason`` (and, when
        ``include_usage`` was asked, a final chunk with ``usage`` and no choices follows)."""
        ...

    async def probe(self, timeout: float) -> None:
        """A health check that raises ProviderError when the backend is not usable: a one-token
        completion on the clouds, ``GET …/models`` on OpenAI-compatible servers."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


class RawResponse:
    """An upstream answer relayed as bytes: ``body`` for a plain answer; a streamed one is read
    with :meth:`chunks` (``body`` is then ``None``). Always :meth:`aclose` it."""

    __slots__ = ("_chunks", "_release", "body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], *, body: bytes | None = None,
                 chunks: AsyncIterator[bytes] | None = None,
                 release: Callable[[], None] | None = None) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self._chunks = chunks
        self._release = release

    @property
    def streamed(self) -> bool:
        return self._chunks is not None

    def chunks(self) -> AsyncIterator[bytes]:
        """The answer's bytes as they arrive; raises ProviderError if the stream breaks off."""
        if self._chunks is None:
            raise RuntimeError("this response is not streamed; read .body")
        return self._chunks

    async def aclose(self) -> None:
        """Stop relaying and give the connection back."""
        close = getattr(self._chunks, "aclose", None)
        if close is not None:
            await close()
        if self._release is not None:
            self._release()


@runtime_checkable
class PassThroughProvider(Protocol):
    """A backend that already speaks OpenAI: bodies are relayed, not re-encoded."""

    async def forward(self, body: bytes, stream: bool, timeout: float) -> RawResponse:
        """Send ``body`` (its ``model`` rewritten to the backend's model) upstream. Returns only
        on a 2xx answer; any other status raises the matching ProviderError."""
        ...
