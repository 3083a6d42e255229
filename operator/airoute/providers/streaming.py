"""One stream, pushed or pulled: the two adapters between :meth:`Caller.relay` (events pushed into a
:class:`~airoute.providers.caller.StreamSink`) and :meth:`Caller.stream` (events pulled by
``async for``), so that each caller implements the one that suits it and gets the other; and what
counts as *output* in a ``chat.completion.chunk`` (the pieces before it are held back).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from airoute.providers.caller import StreamSink

_OUTPUT_KEYS = ("content", "tool_calls", "function_call", "refusal", "reasoning_content", "reasoning", "audio")


def carries_output(chunk: Mapping[str, Any]) -> bool:
    """Whether a ``chat.completion.chunk`` says anything yet: text (or reasoning text), a tool
    call, a refusal, audio, a finish reason, usage. The opening ``{"role": "assistant",
    "content": ""}`` and Azure's ``choices: []`` with prompt filter results carry nothing."""
    if chunk.get("usage"):
        return True
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, Mapping):
            continue
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta")
        if isinstance(delta, Mapping) and any(delta.get(key) for key in _OUTPUT_KEYS):
            return True
    return False


def _set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def push(pieces: AsyncIterator[bytes], sink: StreamSink) -> None:
    """Pulls ``pieces`` and sends each to ``sink``, waiting while the sink is full (the
    :meth:`Caller.relay` of a caller that iterates). ``pieces`` is closed however it ends."""
    try:
        async for piece in pieces:
            if not sink.send(piece):
                writable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                sink.on_writable(functools.partial(_set, writable))
                await writable
    finally:
        close = getattr(pieces, "aclose", None)
        if close is not None:
            await close()


class _Pulled:
    """A sink that queues what it is sent, for :func:`pull`."""

    def __init__(self) -> None:
        self.pieces: deque[bytes] = deque()
        self.arrived: asyncio.Future[None] | None = None

    def send(self, piece: bytes) -> bool:
        self.pieces.append(piece)
        if self.arrived is not None and not self.arrived.done():
            self.arrived.set_result(None)
        return True

    def on_writable(self, resume: Callable[[], None]) -> None:
        resume()


async def pull(relay: Callable[[StreamSink], Awaitable[None]]) -> AsyncIterator[bytes]:
    """The pieces ``relay`` sends, as they come (the :meth:`Caller.stream` of a caller that
    pushes); raises what ``relay`` raises once the pieces before it were taken. Leaving the loop
    early cancels the relay."""
    sink = _Pulled()
    task = asyncio.ensure_future(relay(sink))
    try:
        while True:
            while sink.pieces:
                yield sink.pieces.popleft()
            if task.done():
                if sink.pieces:
                    continue
                task.result()
                return
            sink.arrived = asyncio.get_running_loop().create_future()
            await asyncio.wait((task, sink.arrived), return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)
