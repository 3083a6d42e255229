"""The callers of the live route table, cached: a variant whose provider block and Secret values
did not change keeps its caller (and its connections) across changes, shared by every route
bound to it.

Callers are built by :func:`~airoute.providers.make_caller`; the cache only decides when to
build one again and when one is no longer used (:meth:`CallerCache.release`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from airoute.api.objects import CREDENTIALS_SELECTOR, SecretData
from airoute.api.providers import OpenAICompatible, ProviderBlock
from airoute.api.spec import Embeddings
from airoute.core.routetable import RouteEntry, Variant
from airoute.providers import Caller, Pools, ProviderConfigError, make_caller

CallerKey = tuple[str, str, str, str, str, str]
"""(provider kind, provider block hash, namespace, backend, digest of the Secret values, what it
serves: ``chat`` or ``embeddings:<family>:<dimensions>``)."""


class BindError(ValueError):
    """A backend cannot be called as configured (a Secret or key is missing, a URL is wrong).

    ``reason``: a CamelCase code from a bounded set (published as a metric label, see
    :data:`airoute.api.metrics.UNSERVABLE_REASONS`); ``backend``: the backend at fault."""

    def __init__(self, message: str, reason: str = "SecretNotFound", backend: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.backend = backend


def secret_names(block: ProviderBlock) -> list[str]:
    """The names of the Secrets ``block`` references (in its route's own namespace)."""
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
    for name in secret_names(block):
        data = secrets.get(f"{namespace}/{name}")
        if data is None:
            raise BindError(
                f"Secret {namespace}/{name} not found: a route may use only Secrets of its own namespace, "
                f"in a namespace this gateway serves, labelled {CREDENTIALS_SELECTOR} (and never the "
                "gateway's client keys)"
            )
        out.update({f"{name}/{k}": v for k, v in data.items()})
    return out


class CallerCache:
    """Callers by what they were built from, counted by the routes bound to them: :meth:`bind`
    reuses one or builds it, :meth:`release` hands back the ones no route uses any more."""

    def __init__(self, pools: Pools, service_hosts: Mapping[str, str] | None = None) -> None:
        self.pools = pools
        self.service_hosts = dict(service_hosts or {})
        self._callers: dict[CallerKey, Caller] = {}
        self._keys: dict[int, CallerKey] = {}  # id of a caller -> its key
        self._uses: dict[CallerKey, int] = {}

    def __len__(self) -> int:
        return len(self._callers)

    def _caller(self, variant: Variant, backend: str, namespace: str, secrets: Mapping[str, SecretData],
                embeddings: Embeddings | None = None) -> Caller:
        values = referenced_secrets(variant.provider, namespace, secrets)
        digest = hashlib.sha256(repr(sorted(values.items())).encode()).hexdigest()
        serves = "chat" if embeddings is None else f"embeddings:{embeddings.family}:{embeddings.dimensions}"
        key = (variant.provider_kind, variant.provider_hash, namespace, backend, digest, serves)
        if key not in self._callers:
            self._callers[key] = made = make_caller(
                backend, variant.provider_kind, variant.provider, lambda name, k: values.get(f"{name}/{k}"),
                namespace, pools=self.pools, service_hosts=self.service_hosts, embeddings=embeddings)
            self._keys[id(made)] = key
        self._uses[key] = self._uses.get(key, 0) + 1
        return self._callers[key]

    def bind(self, entry: RouteEntry, secrets: Mapping[str, SecretData]) -> dict[tuple[str, str], Caller]:
        """A caller for every variant of ``entry``, each counted as used once more until
        :meth:`release`; raises :class:`BindError` naming the backend (and counts nothing)."""
        out: dict[tuple[str, str], Caller] = {}
        try:
            for backend in entry.backends:
                for variant in backend.variants:
                    out[(backend.name, variant.name)] = self._bound(entry, backend.name, variant, secrets)
        except BindError:
            self.release(out.values())
            raise
        return out

    def _bound(self, entry: RouteEntry, backend: str, variant: Variant, secrets: Mapping[str, SecretData]) -> Caller:
        try:
            return self._caller(variant, backend, entry.namespace, secrets, entry.embeddings)
        except (BindError, ProviderConfigError) as exc:
            reason = exc.reason if isinstance(exc, BindError) else "InvalidProviderConfig"
            raise BindError(f"backend {backend}: {exc}", reason, backend) from None
        except Exception as exc:  # a caller that cannot be built is this route's problem only
            raise BindError(f"backend {backend}: cannot build its {variant.provider_kind} client: "
                            f"{type(exc).__name__}: {exc}", "ClientBuildFailed", backend) from None

    def release(self, callers: Iterable[Caller]) -> list[Caller]:
        """Counts each of ``callers`` as used once less; removes and returns those no route uses
        any more (close them after a grace period: requests may still be using them)."""
        gone = []
        for caller in callers:
            key = self._keys.get(id(caller))
            if key is None:
                continue
            self._uses[key] -= 1
            if self._uses[key] <= 0:
                del self._uses[key], self._keys[id(caller)], self._callers[key]
                gone.append(caller)
        return gone

    async def close(self) -> None:
        callers, self._callers, self._keys, self._uses = list(self._callers.values()), {}, {}, {}
        for caller in callers:
            await caller.aclose()
        await self.pools.aclose()
