"""Keeps a local copy of one collection in sync with list + watch (client-go's "reflector").

Two ways to follow it, as client-go's informers offer: ``on_change`` gets the whole store
(``namespace/name`` → object) after the first list and after every change — it should be cheap;
``on_delta`` gets only what changed (``namespace/name`` → object, None when deleted), page by page
while listing, and keeps no store at all (``transform`` may shrink each object first). Watches
resume from the last resourceVersion (bookmarks keep it fresh); ``410 Gone`` relists (the delta
of a relist names every object listed, and None for those gone meanwhile); other errors back off
and retry, keeping what was known.

With ``on_delta``, the first state comes from a *watch list* where the API server offers one
(Kubernetes 1.27 and later, the ``WatchList`` feature, as client-go does): one watch that streams
every object from the API server's cache as an ``ADDED`` event, then a bookmark annotated
``k8s.io/initial-events-end``, then the changes — each object decoded on its own, never a list of
them all at once. A server that refuses it (the feature gate off) or is older is listed instead.
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
Delta = dict[str, KubeObject | None]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
PAGE = 64
"""Objects of a watch list handed to ``on_delta`` at once."""


class Reflector:
    """List + watch of ``path`` (a collection URL path) into :attr:`store` (with ``on_change``)
    or into ``on_delta`` (:attr:`keys` only)."""

    def __init__(
        self,
        client: KubeClient,
        path: str,
        on_change: Callable[[Store], None] | None = None,
        watch_timeout: int = 300,
        backoff: tuple[float, float] = (0.5, 30.0),
        params: Mapping[str, str] | None = None,
        on_delta: Callable[[Delta], None] | None = None,
        transform: Callable[[KubeObject], KubeObject] | None = None,
    ) -> None:
        self.client = client
        self.path = path
        self.params = dict(params or {})
        self.on_change = on_change
        self.on_delta = on_delta
        self.transform = transform
        self.watch_timeout = watch_timeout
        self.backoff = backoff
        self.store: Store = {}
        self.keys: set[str] = set()
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.relists = 0
        self.last_error: str | None = None
        self.watch_list: bool | None = None if on_delta is not None else False
        """Whether the first state comes from a watch list (None: not known yet)."""

    async def run(self) -> None:
        """Runs until cancelled."""
        delay = self.backoff[0]
        while True:
            try:
                if not self.resource_version and not await self._watch_list():
                    await self._list()
                if self.resource_version:
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

    def _kept(self, obj: KubeObject) -> KubeObject:
        return self.transform(obj) if self.transform is not None else obj

    async def _list(self) -> None:
        listed: set[str] = set()
        store: Store = {}
        version = ""
        async for items, at in self.client.list_pages(self.path, self.params):
            version = at
            page: Delta = {}
            for obj in items:
                key = object_key(obj)
                listed.add(key)
                page[key] = kept = self._kept(obj)
                if self.on_change is not None:
                    store[key] = kept
            if self.on_delta is not None and page:
                self.on_delta(page)
        gone = self.keys - listed
        self.keys, self.store, self.resource_version = listed, store, version
        self.relists += 1
        self.last_error = None
        if self.on_delta is not None and gone:
            self.on_delta(dict.fromkeys(gone))
        self.synced.set()
        if self.on_change is not None:
            self.on_change(self.store)

    async def _watch(self) -> None:
        async for event in self.client.watch(self.path, self.resource_version, self.watch_timeout, self.params):
            self._event(event)

    def _event(self, event: KubeObject) -> None:
        obj = event.get("object") or {}
        version = (obj.get("metadata") or {}).get("resourceVersion")
        kind = event.get("type")
        key = object_key(obj)
        if kind in ("ADDED", "MODIFIED"):
            self.keys.add(key)
            kept = self._kept(obj)
            if self.on_change is not None:
                self.store[key] = kept
            if self.on_delta is not None:
                self.on_delta({key: kept})
        elif kind == "DELETED":
            self.keys.discard(key)
            self.store.pop(key, None)
            if self.on_delta is not None:
                self.on_delta({key: None})
        if version:
            self.resource_version = str(version)
        if kind != "BOOKMARK" and self.on_change is not None:
            self.on_change(self.store)

    async def _watch_list(self) -> bool:
        """The first state, and the changes after it, from one watch (see the module's docstring);
        False when the server offers no watch list (the caller lists)."""
        if self.watch_list is None:
            self.watch_list = await self._offers_watch_list()
        if not self.watch_list or self.on_delta is None:
            return False
        params = {**self.params, "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan"}
        listed: set[str] = set()
        page: Delta = {}
        synced = False
        try:
            async for event in self.client.watch(self.path, "", self.watch_timeout, params):
                if synced:
                    self._event(event)
                    continue
                obj = event.get("object") or {}
                meta = obj.get("metadata") or {}
                if event.get("type") == "ADDED":
                    key = object_key(obj)
                    listed.add(key)
                    page[key] = self._kept(obj)
                    if len(page) >= PAGE:
                        self.on_delta(page)
                        page = {}
                elif event.get("type") == "BOOKMARK" and (meta.get("annotations") or {}).get(INITIAL_EVENTS_END):
                    self._synced(listed, page, str(meta.get("resourceVersion") or ""))
                    synced = True
        except KubeError as exc:
            if synced or exc.status not in (400, 403, 422):
                raise
            log.info("watch list of %s refused (%s); listing instead", self.path, exc)
            self.watch_list = False
            return False
        return synced

    def _synced(self, listed: set[str], page: Delta, version: str) -> None:
        assert self.on_delta is not None
        page.update(dict.fromkeys(self.keys - listed))
        self.keys, self.resource_version = listed, version
        if page:
            self.on_delta(page)
        self.relists += 1
        self.last_error = None
        self.synced.set()

    async def _offers_watch_list(self) -> bool:
        """Whether the API server is one that may stream initial events (1.27 or later)."""
        try:
            version = await self.client.get("/version")
            return (int(version.get("major", "0")), int(str(version.get("minor", "0")).rstrip("+"))) >= (1, 27)
        except (KubeError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("cannot read the API server's version (%s): listing %s", exc, self.path)
            return False
