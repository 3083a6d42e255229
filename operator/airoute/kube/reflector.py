"""Keeps a local copy of one collection in sync with list + watch (client-go's "reflector").

The store maps ``namespace/name`` to the object. After the first list and after every change the
``on_change`` callback gets the whole store; it should be cheap (the gateway debounces it).
Watches resume from the last resourceVersion (bookmarks keep it fresh); ``410 Gone`` relists;
other errors back off and retry, keeping the last store.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping

import aiohttp

from airoute.api.objects import object_key
from airoute.kube.client import Gone, KubeClient, KubeError, KubeObject

log = logging.getLogger(__name__)

Store = dict[str, KubeObject]


class Reflector:
    """List + watch of ``path`` (a collection URL path) into :attr:`store`."""

    def __init__(
        self,
        client: KubeClient,
        path: str,
        on_change: Callable[[Store], None],
        watch_timeout: int = 300,
        backoff: tuple[float, float] = (0.5, 30.0),
        params: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.params = dict(params or {})
        self.on_change = on_change
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self.store: Store = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.relists = 0
        self.last_error: str | None = None

    async def run(self) -> None:
        """Runs until cancelled."""
        delay = self.backoff[0]
        while True:
            try:
                if not self.resource_version:
                    await self._list()
                await self._watch()
                delay = self.backoff[0]
            except Gone:
                log.info("watch of %s expired (410 Gone); listing again", self.path)
                self.resource_version = ""
            except (KubeError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
                self.last_error = str(exc) or type(exc).__name__
                log.warning("list/watch of %s failed: %s; retrying in %.1fs", self.path, self.last_error, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.backoff[1])

    async def _list(self) -> None:
        items, version = await self.client.list(self.path, self.params)
        self.store = {object_key(o): o for o in items}
        self.resource_version = version
        self.relists += 1
        self.last_error = None
        self.synced.set()
        self.on_change(self.store)

    async def _watch(self) -> None:
        async for event in self.client.watch(self.path, self.resource_version, self.watch_timeout, self.params):
            obj = event.get("object") or {}
            version = (obj.get("metadata") or {}).get("resourceVersion")
            kind = event.get("type")
            if kind in ("ADDED", "MODIFIED"):
                self.store[object_key(obj)] = obj
            elif kind == "DELETED":
                self.store.pop(object_key(obj), None)
            if version:
                self.resource_version = str(version)
            if kind != "BOOKMARK":
                self.on_change(self.store)
