"""Running a blocking SDK (boto3) from async code: calls in a bounded thread pool, and streams
relayed from a worker thread to the event loop through a queue, never blocking the loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()


class BlockingRunner:
    """A bounded pool of threads for one provider's blocking calls."""

    def __init__(self, workers: int, name: str) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    async def relay(self, items: Iterable[T], close: Callable[[], None] | None = None,
                    ) -> AsyncIterator[T]:
        """Iterate the blocking ``items`` in a worker thread, yielding each on the loop.

        Closing the generator early stops the worker (``close`` is called to unblock it).
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def put(item: Any) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def pump() -> None:
            try:
                for item in items:
                    if stop.is_set():
                        return
                    put(item)
            except Exception as exc:  # relayed to the consumer below
                if not stop.is_set():
                    put(_Failure(exc))
                return
            put(_END)

        future = loop.run_in_executor(self._pool, pump)
        try:
            while (item := await queue.get()) is not _END:
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
        finally:
            stop.set()
            if close is not None and not future.done():
                close()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: Exception) -> None:
        self.exc = exc
