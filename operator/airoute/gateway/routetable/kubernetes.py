"""Route source in a cluster: list + watch of AIRoutes (spec and status) and of the Secrets
labelled ``airoute.dev/credentials=true`` in the namespaces the gateway serves (no other Secret is
ever listed, held or decoded); a route's Secrets are only ever read from its own namespace, and
the Secrets ``withheld`` (the client keys) are never a route's.

Changes are debounced (``debounce`` seconds) so that a burst of events builds one table. The
first snapshot is reported once every watch has listed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from airoute.api.objects import CREDENTIALS_SELECTOR, SecretData, SecretDataError, secret_data
from airoute.gateway.routetable.snapshot import OnFailure, OnSnapshot, Snapshot
from airoute.kube import KubeClient, Reflector, Store, airoutes_path, secrets_path

log = logging.getLogger(__name__)


class KubeSource:
    """Watches ``namespaces`` (at least one) through ``client``."""

    def __init__(self, client: KubeClient, namespaces: tuple[str, ...], debounce: float = 0.05,
                 withheld: frozenset[str] = frozenset()) -> None:
        if not namespaces:
            raise ValueError("the Kubernetes route source needs at least one namespace to serve")
        self.client = client
        self.namespaces = namespaces
        self.debounce = debounce
        self.withheld = withheld
        self._routes: dict[str, Store] = {}
        self._secrets: dict[str, Store] = {}
        self._pending: asyncio.TimerHandle | None = None
        self._reflectors: list[Reflector] = []

    def __str__(self) -> str:
        return f"Kubernetes namespaces {', '.join(self.namespaces)}"

    def snapshot(self) -> Snapshot:
        routes = tuple(o for store in self._routes.values() for o in store.values())
        secrets: dict[str, SecretData] = {}
        for store in self._secrets.values():
            for key, secret in store.items():
                if key in self.withheld:
                    continue
                try:
                    secrets[key] = secret_data(secret)
                except SecretDataError as exc:
                    log.warning("Secret %s ignored: %s", key, exc)
        return Snapshot(routes, secrets, str(self))

    async def run(self, on_snapshot: OnSnapshot, on_failure: OnFailure) -> None:
        """Runs the watches until cancelled. ``on_failure`` is never called: the reflectors retry
        watch errors (the last good table stays), and a Secret that cannot be decoded is left out
        with a warning (the routes that need it say so)."""
        loop = asyncio.get_running_loop()

        def changed(_: Store) -> None:
            if not all(r.synced.is_set() for r in self._reflectors):
                return
            if self._pending is None:
                self._pending = loop.call_later(self.debounce, report)

        def report() -> None:
            self._pending = None
            on_snapshot(self.snapshot())

        for ns in self.namespaces:
            self._reflectors.append(Reflector(self.client, airoutes_path(ns), self._store(self._routes, ns, changed)))
            self._reflectors.append(Reflector(self.client, secrets_path(ns), self._store(self._secrets, ns, changed),
                                              params={"labelSelector": CREDENTIALS_SELECTOR}))
        try:
            await asyncio.gather(*(r.run() for r in self._reflectors))
        finally:
            if self._pending is not None:
                self._pending.cancel()

    @staticmethod
    def _store(stores: dict[str, Store], ns: str, changed: Callable[[Store], None]) -> Callable[[Store], None]:
        def update(store: Store) -> None:
            stores[ns] = store
            changed(store)

        return update

