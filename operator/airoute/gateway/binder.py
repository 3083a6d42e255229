"""Turns route-table variants into callers, reusing callers (and their connections) across
reloads while the provider block and the Secret data it uses stay the same.

``inCluster`` and ``openAICompatible`` variants get the byte pass-through
(:class:`~airoute.gateway.passthrough.PassThrough`) over pooled connections; the others go
through a provider adapter (:class:`~airoute.gateway.adapter.AdapterCaller`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from airoute.api.providers import InCluster, OpenAICompatible, ProviderBlock
from airoute.core.routetable import RouteEntry, Variant
from airoute.gateway.passthrough import (
    BindError,
    Endpoint,
    PassThrough,
    in_cluster_endpoint,
    open_ai_compatible_endpoint,
    tls_context,
)
from airoute.gateway.snapshot import SecretData
from airoute.gateway.table import Caller
from airoute.gateway.upstream import Pool


class Closable(Protocol):
    async def aclose(self) -> None: ...


AdapterFactory = Callable[[Variant, str, str, Mapping[str, bytes]], Caller]
"""``(variant, backend name, namespace, secret values by "name/key") -> Caller``."""


def _referenced(block: ProviderBlock) -> list[str]:
    names = []
    ref = getattr(block, "credentials_secret_ref", None)
    if ref is not None:
        names.append(ref.name)
    if isinstance(block, OpenAICompatible):
        names.extend(h.value_from.name for h in block.headers if h.value_from is not None)
    return sorted(set(names))


def referenced_secrets(block: ProviderBlock, namespace: str, secrets: Mapping[str, SecretData]) -> dict[str, bytes]:
    """Every key of every Secret the block references, as ``"name/key"`` → value."""
    out: dict[str, bytes] = {}
    for name in _referenced(block):
        data = secrets.get(f"{namespace}/{name}")
        if data is None:
            raise BindError(
                f"Secret {namespace}/{name} not found (Secrets are read only from the route's namespace, "
                "and only in the namespaces this gateway serves)"
            )
        out.update({f"{name}/{k}": v for k, v in data.items()})
    return out


class Binder:
    """Callers by identity; :meth:`bind` reuses, :meth:`retire` hands back the ones to close."""

    def __init__(self, adapters: AdapterFactory | None = None, service_hosts: Mapping[str, str] | None = None) -> None:
        self.adapters = adapters
        self.service_hosts = dict(service_hosts or {})
        self.pools: dict[tuple[str, int, bool, str | None], Pool] = {}
        self._callers: dict[Any, Caller] = {}
        self._used: set[Any] = set()

    def _pool(self, endpoint: Endpoint) -> Pool:
        pool = self.pools.get(endpoint.origin)
        if pool is None:
            tls = tls_context(endpoint.ca_bundle) if endpoint.tls else None
            pool = self.pools[endpoint.origin] = Pool(endpoint.host, endpoint.port, tls)
        return pool

    def _endpoint(self, variant: Variant, namespace: str, secrets: Mapping[str, SecretData]) -> Endpoint | None:
        block = variant.provider
        if isinstance(block, InCluster):
            return in_cluster_endpoint(block, namespace, secrets, self.service_hosts)
        if isinstance(block, OpenAICompatible):
            return open_ai_compatible_endpoint(block, namespace, secrets)
        return None

    def caller(self, variant: Variant, backend: str, namespace: str, secrets: Mapping[str, SecretData]) -> Caller:
        endpoint = self._endpoint(variant, namespace, secrets)
        if endpoint is not None:
            key: Any = ("passthrough", endpoint, backend)
            if key not in self._callers:
                # Scrub both the header values ("Bearer <key>") and the Secret values themselves: a
                # provider that quotes the bare key back in an error must not get it to a client or a log.
                values = (*(v.encode() for _, v in endpoint.headers),
                          *referenced_secrets(variant.provider, namespace, secrets).values())
                self._callers[key] = PassThrough(endpoint, self._pool(endpoint), backend, values)
        else:
            values_by_ref = referenced_secrets(variant.provider, namespace, secrets)
            digest = hashlib.sha256(repr(sorted(values_by_ref.items())).encode()).hexdigest()
            key = ("adapter", variant.provider_kind, variant.provider_hash, namespace, backend, digest)
            if key not in self._callers:
                if self.adapters is None:
                    raise BindError(f"no adapter available for {variant.provider_kind} backends")
                self._callers[key] = self.adapters(variant, backend, namespace, values_by_ref)
        self._used.add(key)
        return self._callers[key]

    def bind(self, entry: RouteEntry, secrets: Mapping[str, SecretData]) -> dict[tuple[str, str], Caller]:
        """A caller for every variant of ``entry``; raises :class:`BindError` naming the backend."""
        out: dict[tuple[str, str], Caller] = {}
        for backend in entry.backends:
            for variant in backend.variants:
                try:
                    out[(backend.name, variant.name)] = self.caller(variant, backend.name, entry.namespace, secrets)
                except BindError as exc:
                    raise BindError(f"backend {backend.name}: {exc}") from None
                except Exception as exc:  # an adapter that cannot be built is this route's problem only
                    raise BindError(f"backend {backend.name}: cannot build its {variant.provider_kind} client: "
                                    f"{type(exc).__name__}: {exc}") from None
        return out

    def begin(self) -> None:
        """Starts a new binding round; callers not bound again until :meth:`retire` are retired."""
        self._used = set()

    def keep(self, callers: Mapping[tuple[str, str], Caller]) -> None:
        """Marks callers of a route kept from the previous table as still in use."""
        ids = {id(c) for c in callers.values()}
        self._used.update(k for k, c in self._callers.items() if id(c) in ids)

    def retire(self) -> list[Closable]:
        """Removes and returns the callers no route uses any more, and the connection pools no
        caller uses any more (close them after a grace period)."""
        gone: list[Closable] = [self._callers.pop(k) for k in [k for k in self._callers if k not in self._used]]
        used = {c.endpoint.origin for c in self._callers.values() if isinstance(c, PassThrough)}
        for origin in [o for o in self.pools if o not in used]:
            gone.append(self.pools.pop(origin))
        return gone

    async def close(self) -> None:
        for caller in self._callers.values():
            await caller.aclose()
        self._callers.clear()
        for pool in self.pools.values():
            await pool.aclose()
