"""Route source in a cluster: list + watch of AIRoutes (spec and status) and of the Secrets
labelled ``airoute.dev/credentials=true`` in the namespaces the gateway serves (no other Secret is
ever listed, held or decoded); a route's Secrets are only ever read from its own namespace, and
the Secrets ``withheld`` (the client keys) are never a route's.

Every watch event is reported as it comes, as a :class:`Change` of that object alone; the
Secrets are listed before the routes, so that routes are bound with their Secrets at hand. Of an
AIRoute only what the table reads is kept (:func:`~airoute.core.tablestate.route_input`: no
managedFields, conditions or health figures), and only until the table has built it; of a Secret,
its decoded data. The change that follows the last first list says ``synced``.
"""

from __future__ import annotations

import asyncio
import logging

from airoute.api.objects import CREDENTIALS_SELECTOR, SecretData, SecretDataError, secret_data
from airoute.core.tablestate import route_input
from airoute.gateway.routetable.snapshot import Change, OnChange, OnFailure
from airoute.kube import Delta, KubeClient, Reflector, airoutes_path, secrets_path

log = logging.getLogger(__name__)


class KubeSource:
    """Watches ``namespaces`` (at least one) through ``client``."""

    def __init__(self, client: KubeClient, namespaces: tuple[str, ...],
                 withheld: frozenset[str] = frozenset()) -> None:
        if not namespaces:
            raise ValueError("the Kubernetes route source needs at least one namespace to serve")
        self.client = client
        self.namespaces = namespaces
        self.withheld = withheld
        self._reflectors: list[Reflector] = []

    def __str__(self) -> str:
        return f"Kubernetes namespaces {', '.join(self.namespaces)}"

    def _secrets(self, delta: Delta) -> dict[str, SecretData | None]:
        out: dict[str, SecretData | None] = {}
        for key, secret in delta.items():
            if key in self.withheld:
                continue
            try:
                out[key] = secret_data(secret) if secret is not None else None
            except SecretDataError as exc:
                log.warning("Secret %s ignored: %s", key, exc)
                out[key] = None
        return out

    async def run(self, on_change: OnChange, on_failure: OnFailure) -> None:
        """Runs the watches until cancelled. ``on_failure`` is never called: the reflectors retry
        watch errors (the table stays as it is), and a Secret that cannot be decoded is left out
        with a warning (the routes that need it say so)."""
        origin = str(self)

        def secrets(delta: Delta) -> None:
            if found := self._secrets(delta):
                on_change(Change(secrets=found, origin=origin))

        def routes(delta: Delta) -> None:
            on_change(Change(routes=delta, origin=origin))

        secret_reflectors = [Reflector(self.client, secrets_path(ns), on_delta=secrets,
                                       params={"labelSelector": CREDENTIALS_SELECTOR}) for ns in self.namespaces]
        route_reflectors = [Reflector(self.client, airoutes_path(ns), on_delta=routes, transform=route_input)
                            for ns in self.namespaces]
        self._reflectors = [*secret_reflectors, *route_reflectors]
        tasks = [asyncio.create_task(r.run()) for r in secret_reflectors]
        try:
            await asyncio.gather(*(r.synced.wait() for r in secret_reflectors))
            tasks += [asyncio.create_task(r.run()) for r in route_reflectors]
            await asyncio.gather(*(r.synced.wait() for r in route_reflectors))
            on_change(Change(synced=True, origin=origin))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
