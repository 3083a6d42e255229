"""The routes in the API server: as Kopf's watch delivers them, their status PATCHed, Events posted.

The routes are those Kopf's watch delivered (``airoute_changed`` tells :meth:`KubeRoutes.saw` each
event); the object evaluated is the newer of the one seen and the one our last PATCH returned
(the watch delivers our own writes a moment later; like client-go's mutation cache, versions are
compared as the integers the API server issues). Nothing is read or written while another
replica acts (:mod:`airoute.controller.peering`).

A status PATCH carries the resourceVersion it was computed from: if anyone changed the route
meanwhile the API server answers 409 and nothing is overwritten; the next cycle decides again
from what is stored.

Like client-go's ``WaitForCacheSync``, nothing is decided before the first listing is in: who owns
a model is decided over every route (:mod:`airoute.core.ownership`), and a decision over the first
pages alone would mark a route that loses its claim as the owner, then take it back. Whenever the
replica starts to act (at the start, on taking over from a peer, or acting again after standing
by: its Kopf lists then), it counts the stored routes (:meth:`KubeRoutes.count_stored`, one
``LIST ?limit=1`` per watched namespace) and acts once the watch has delivered as many; a route
deleted meanwhile would keep the count out of reach, so after :data:`LISTING_GRACE` seconds it acts
on what it has, and says so.

When Kopf lists again (a paused watch resumed, or its version expired), it delivers what exists and
nothing of what was deleted meanwhile: :meth:`KubeRoutes.sweep` then lists the routes itself and
drops those seen that are no longer stored (and were not seen since that listing's version).
Without it a deleted route would stay, and keep its claim on its model.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import aiohttp

from airoute.api import GROUP, PLURAL, VERSION
from airoute.api.objects import name_of, namespace_of, object_key
from airoute.controller.compact import compact, interned
from airoute.controller.peering import PeeringView
from airoute.core.events import Event
from airoute.kube import KubeClient, KubeError
from airoute.kube.paths import airoutes_path, events_path

LISTING_GRACE = 60.0
"""Seconds a starting replica waits for its first listing to bring every route counted at the start."""
SWEEP_DELAY = 5.0
"""Seconds between Kopf's first listed route of a new listing and the sweep for routes deleted while
its watch was away (the listing comes in first; more listed routes meanwhile make one sweep)."""

log = logging.getLogger("airoute.controller")

COMPONENT = "airoute-controller"


def status_patch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch from ``old`` to ``new`` status: keys that disappeared become ``None``.

    Merge patches merge maps key by key, so a backend removed from ``weights`` must be deleted
    explicitly; lists are replaced whole.
    """
    patch: dict[str, Any] = dict(new)
    for key, value in (old or {}).items():
        if key not in new:
            patch[key] = None
        elif isinstance(value, Mapping) and isinstance(new[key], Mapping):
            patch[key] = {**{k: None for k in value if k not in new[key]}, **new[key]}
    return patch


def _version(obj: Mapping[str, Any]) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


_KEPT_METADATA = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "annotations",
                  "labels")  # creationTimestamp: who owns a model (core/ownership.py)


def stored_route(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the loop needs of a stored AIRoute, compact: not the ``managedFields`` (60 % of a stored
    route in memory, read by neither Kopf nor airoute), the spec and status as
    :class:`~airoute.controller.compact.JsonObject` (a fifth of the memory of their dicts), the
    strings every route repeats shared."""
    meta = body.get("metadata") or {}
    return {
        "apiVersion": interned(body.get("apiVersion")),
        "kind": interned(body.get("kind")),
        "metadata": {k: interned(meta[k]) if k == "namespace" else meta[k] for k in _KEPT_METADATA if k in meta},
        "spec": compact(body.get("spec")),
        "status": compact(body.get("status")),
    }


class KubeRoutes:
    """A :class:`~airoute.controller.loop.RouteStore` over the routes Kopf's watch delivers."""

    def __init__(self, client: KubeClient, peering: PeeringView | None = None, instance: str | None = None,
                 namespaces: Sequence[str] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.peering = peering
        self.instance = instance or socket.gethostname()
        self.namespaces = tuple(namespaces)  # () : every namespace
        self.wake: Callable[[], None] = lambda: None  # the loop's wake-up, told when the first listing is in
        self._seen: dict[str, dict[str, Any]] = {}
        self._written: dict[str, dict[str, Any]] = {}
        self._gone: dict[str, int] = {}
        self.writes = 0
        self.conflicts = 0
        self._clock = clock
        self._counting: asyncio.Task[None] | None = None
        self._expected: int | None = None  # the routes stored when counted (count_stored)
        self._grace_until = 0.0
        self._listed = False
        self._sweeping: asyncio.Task[None] | None = None
        self._sweep_again = False
        self._stood_by = False
        self._delivered: set[str] = set()  # the routes the watch delivered since this listing began
        self.swept = 0  # routes dropped by sweeps: deleted while the watch was away

    def saw(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        """A watch event of a route (``None``: listed): kept as :func:`stored_route`, or gone."""
        key = object_key(body)
        if event_type == "DELETED":
            self._seen.pop(key, None)
            self._delivered.discard(key)
        else:
            self._seen[key] = stored_route(body)
            if not self._listed:
                self._delivered.add(key)
        if not self._listed and self._expected is not None and len(self._delivered) >= self._expected:
            self._listing_in()
            self.wake()
        elif event_type is None and self._listed:
            self._relisted()

    def acting(self) -> bool:
        """Whether this replica evaluates and writes now: while peering makes it the active replica
        (always without peering), once its first listing is in."""
        if self.peering is not None and not self.peering.acting():
            if self._listed:  # standing by, Kopf pauses its watch: acting again waits for its new listing
                self._listed, self._counting, self._expected, self._stood_by = False, None, None, True
                self._delivered = set()
            return False
        return self._listed or self._first_listing_in()

    async def count_stored(self) -> None:
        """Counts the routes stored now, by one ``LIST ?limit=1`` per watched namespace (or one for
        all); 0 when they cannot be counted (logged: then nothing is waited for)."""
        total = 0
        try:
            for path in self._scopes().values():
                page = await self.client.get(path, {"limit": "1"})
                total += len(page.get("items") or []) + int((page.get("metadata") or {}).get("remainingItemCount") or 0)
        except Exception as exc:  # whatever stops the count must not stop the deciding
            log.warning("routes not counted before the first listing (deciding over what is seen): %s", exc)
            total = 0
        self._expected, self._grace_until = total, self._clock() + LISTING_GRACE
        if len(self._delivered) >= total:
            self.wake()  # the listing came in while the count was read

    def _first_listing_in(self) -> bool:
        """Counts the stored routes the first time this replica would act; True once the watch has
        delivered as many, or :data:`LISTING_GRACE` seconds after the count."""
        if self._counting is None:
            self._counting = asyncio.get_running_loop().create_task(self.count_stored(), name="airoute route count")
            return False
        expected = self._expected
        if expected is None:
            return False
        if len(self._delivered) < expected:
            if self._clock() < self._grace_until:
                return False
            log.warning("listing incomplete %.0fs after the count (%d of %d routes; some were deleted "
                        "meanwhile): deciding over the routes seen", LISTING_GRACE, len(self._delivered), expected)
        self._listing_in()
        return True

    def _listing_in(self) -> None:
        self._listed = True
        log.info("listing in: %d routes; deciding", len(self._delivered))
        self._delivered = set()
        if self._stood_by:  # what was deleted while this replica stood by is not in the listing
            self._stood_by = False
            self._relisted()

    def _scopes(self) -> dict[str | None, str]:
        """The collection path of each served namespace (``None``: all of them)."""
        if not self.namespaces:
            return {None: f"/apis/{GROUP}/{VERSION}/{PLURAL}"}
        return {ns: airoutes_path(ns) for ns in self.namespaces}

    def _relisted(self) -> None:
        """Kopf lists again (its watch resumed after a pause, or its version expired): a listing
        says nothing of the routes deleted meanwhile, so a sweep looks for them."""
        if self._sweeping is None or self._sweeping.done():
            self._sweeping = asyncio.get_running_loop().create_task(self._sweep(), name="airoute route sweep")
        else:
            self._sweep_again = True

    async def _sweep(self) -> None:
        while True:
            self._sweep_again = False
            await asyncio.sleep(SWEEP_DELAY)
            try:
                await self.sweep()
            except Exception as exc:  # the next listing sweeps again
                log.warning("routes deleted while the watch was away not looked for: %s", exc)
            if not self._sweep_again:
                return

    async def sweep(self) -> int:
        """Drops every route seen that the API server no longer lists and that was not seen after
        that listing's version (a route created since is kept); returns how many were dropped."""
        dropped = 0
        for namespace, path in self._scopes().items():
            stored: set[str] = set()
            version = 0
            async for page, at in self.client.list_pages(path):
                stored.update(object_key(o) for o in page)
                version = int(at or 0)
            for key, seen in list(self._seen.items()):
                if (key not in stored and (namespace is None or namespace_of(seen) == namespace)
                        and _version(seen) <= version):
                    del self._seen[key]
                    self._written.pop(key, None)
                    self._gone.pop(key, None)
                    dropped += 1
        if dropped:
            self.swept += dropped
            log.info("dropped %d route(s) deleted while the watch was away", dropped)
        return dropped

    def routes(self) -> Sequence[Mapping[str, Any]]:
        """Each route seen, or the newer version our last PATCH returned."""
        out: list[Mapping[str, Any]] = []
        for key, seen in list(self._seen.items()):
            obj = self._newest(key, seen)
            if self._gone.get(key) != _version(obj):
                out.append(obj)
        return out

    def _newest(self, key: str, seen: Mapping[str, Any]) -> Mapping[str, Any]:
        mine = self._written.get(key)
        if mine is None:
            return seen
        if _version(mine) <= _version(seen):
            del self._written[key]  # the watch has caught up with our write
            return seen
        return mine

    def is_own_write(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` is the version our last PATCH produced (a watch event not worth waking for)."""
        mine = self._written.get(object_key(obj))
        return mine is not None and _version(mine) == _version(obj)

    async def write_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        key = object_key(obj)
        if not self.acting():
            return True  # handed over to another replica meanwhile: not ours to write any more
        meta = obj.get("metadata") or {}
        path = f"{airoutes_path(namespace_of(obj))}/{name_of(obj)}/status"
        patch = {
            "metadata": {"resourceVersion": meta.get("resourceVersion")},
            "status": status_patch(obj.get("status"), status),
        }
        try:
            stored = await self.client.merge_patch(path, patch)
        except KubeError as exc:
            if exc.status == 404:  # deleted meanwhile (dropped with the watch event)
                self._gone[key] = _version(obj)
                return True
            if exc.status == 409:
                self.conflicts += 1
                log.info("%s changed while it was evaluated; it is decided again from what is stored", key)
            else:
                log.warning("%s: status not written: %s", key, exc)
            return False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("%s: status not written: %s", key, type(exc).__name__)
            return False
        self.writes += 1
        self._written[key] = stored_route(stored)
        return True

    async def clear_levers(self, obj: Mapping[str, Any], levers: Mapping[str, str]) -> None:
        """Removes spent lever annotations, each only while it still has the value seen (a JSON
        patch ``test``): a lever someone set again meanwhile stays. Never raises."""
        key = object_key(obj)
        if not self.acting():
            return  # handed over to another replica meanwhile
        ops: list[dict[str, str]] = []
        for name, value in levers.items():
            pointer = "/metadata/annotations/" + name.replace("~", "~0").replace("/", "~1")
            ops += [{"op": "test", "path": pointer, "value": value}, {"op": "remove", "path": pointer}]
        try:
            stored = await self.client.json_patch(f"{airoutes_path(namespace_of(obj))}/{name_of(obj)}", ops)
        except (KubeError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("%s: spent levers %s not removed (tried again next time): %s", key, ", ".join(levers), exc)
            return
        log.info("%s: removed spent levers %s", key, ", ".join(f"{k}={v}" for k, v in levers.items()))
        self._written[key] = stored_route(stored)

    async def record(self, obj: Mapping[str, Any], event: Event) -> None:
        """A core/v1 Event about the route (never raises: an Event is worth less than the loop)."""
        meta = obj.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{name}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "AIRoute",
                "namespace": namespace,
                "name": name,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.client.create(events_path(str(namespace)), body)
        except (KubeError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("%s: Event %s not posted: %s", object_key(obj), event.reason, exc)
