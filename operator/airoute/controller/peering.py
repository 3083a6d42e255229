"""Which replica acts: Kopf's peering rule, read from the KopfPeering objects Kopf keeps alive.

Kopf pauses a replica's watches and handlers while a peer of higher (or equal) priority is alive,
but has no hook for work that runs outside its handlers, like the one evaluation loop. This view
reads the same objects — ``KopfPeering/<name>`` in every served namespace, or
``ClusterKopfPeering/<name>`` cluster-wide — and applies the same rule (``kopf._core.engines.
peering.process_peering_event``): this replica acts when its own keepalive is there and no other
live peer has its priority or a higher one. A peer is alive until its ``lastseen`` + ``lifetime``.
A replica that dies without saying goodbye blocks the others until then: the failover time is
the peering lifetime (``--peering-lifetime``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from airoute.kube import KubeClient, Reflector, Store

log = logging.getLogger("airoute.controller")


def _deadline(info: Mapping[str, Any]) -> float:
    try:
        seen = dt.datetime.fromisoformat(str(info["lastseen"]))
        if seen.tzinfo is None:  # Kopf writes UTC (iso8601 reads a naive stamp as UTC too)
            seen = seen.replace(tzinfo=dt.UTC)
        return seen.timestamp() + float(info.get("lifetime", 60))
    except (KeyError, TypeError, ValueError):
        return float("-inf")


def acting(peers: Mapping[str, Any], identity: str, priority: int, now: float) -> bool:
    """Kopf's rule for one peering object's ``status`` (identity → priority, lifetime, lastseen)."""
    mine = peers.get(identity)
    if not isinstance(mine, Mapping) or _deadline(mine) <= now:
        return False  # our own keepalive is not there (yet): Kopf has not resumed either
    for other, info in peers.items():
        if other == identity or not isinstance(info, Mapping) or _deadline(info) <= now:
            continue
        if int(info.get("priority", 0)) >= priority:
            return False
    return True


def peering_paths(name: str, namespaces: list[str]) -> list[tuple[str, dict[str, str]]]:
    """Where the peering objects are: per served namespace, or the cluster-wide one."""
    selector = {"fieldSelector": f"metadata.name={name}"}
    if not namespaces:
        return [("/apis/kopf.dev/v1/clusterkopfpeerings", selector)]
    return [(f"/apis/kopf.dev/v1/namespaces/{ns}/kopfpeerings", selector) for ns in namespaces]


class PeeringView:
    """Watches the peering objects; :meth:`acting` says whether this replica acts now."""

    def __init__(
        self,
        client: KubeClient,
        name: str,
        namespaces: list[str],
        identity: str,
        priority: int,
        clock: Callable[[], float],
    ) -> None:
        self.identity = identity
        self.priority = priority
        self.clock = clock
        self._reflectors = [
            Reflector(client, path, lambda _: None, params=params) for path, params in peering_paths(name, namespaces)
        ]
        self._was: bool | None = None

    def acting(self) -> bool:
        now = self.clock()
        stores: list[Store] = [r.store for r in self._reflectors]
        ready = all(r.synced.is_set() and r.last_error is None for r in self._reflectors) and all(stores)
        verdict = ready and all(
            acting((obj.get("status") or {}), self.identity, self.priority, now) for s in stores for obj in s.values()
        )
        if verdict != self._was:
            log.info("this replica %s", "acts" if verdict else "stands by (a peer of higher priority acts)")
            self._was = verdict
        return verdict

    async def run(self) -> None:
        await asyncio.gather(*(r.run() for r in self._reflectors))
