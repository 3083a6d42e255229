"""One AIRoute as the gateway serves it: backends, effective weights and provider variants.

Built from a raw AIRoute object (spec + status), with no Kubernetes in the result:

* weights come from ``status.weights`` (the controller's decision); a route without status yet
  gets its spec weights normalised to 100 (standbys 0). Backends the status does not know yet
  get 0.
* a backend with an active canary (``status.canaryWeights``) has two variants: the stable block
  recorded in ``status.backends[].provider`` and the spec's (canary) block. Without an active
  canary the stable block stays in force: a changed spec block waits for the controller.
* a stable block from status is served only when it matches the spec's block of the same
  backend (:mod:`airoute.core.statustrust`); one that does not is ignored (the spec's block is
  served) and named in ``distrusted``.
* when the spec does not validate, the last good routing recorded in status (stable blocks that
  match the spec's, weights) is used, with ``from_last_good=True``, keeping the spec fields that are valid on
  their own; ``model`` and ``allowedClients`` must be among them (an access list is never
  guessed). When that is impossible: :class:`InvalidRoute`.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from airoute.api.base import parse_duration
from airoute.api.providers import ProviderBlock
from airoute.api.spec import AIRouteSpec, Backend, Embeddings, Tier
from airoute.api.status import AIRouteStatus, BackendStatus
from airoute.api.validation import FieldProblem, InvalidRoute, ObjectMeta, parse_spec, parse_status, problems_from
from airoute.core.statustrust import MOVABLE, stored_block_mismatch
from airoute.core.weights import largest_remainder, normalized

VariantName = Literal["stable", "canary"]


@dataclass(frozen=True, slots=True)
class Variant:
    """One provider block of a backend and its share of the backend's traffic (percent)."""

    name: VariantName
    weight: int
    provider_kind: str
    provider: ProviderBlock
    provider_hash: str
    cloud: str


@dataclass(frozen=True, slots=True)
class BackendEntry:
    """A backend as the gateway sees it: effective weight (0-100), deadlines, variants."""

    name: str
    weight: int
    timeout_seconds: float
    variants: tuple[Variant, ...]
    first_token_seconds: float | None = None
    stream_idle_seconds: float | None = None
    priority: int = 0


def backend_entry(backend: Backend, weight: int, variants: tuple[Variant, ...]) -> BackendEntry:
    return BackendEntry(backend.name, weight, backend.timeout_seconds, variants, backend.first_token_seconds,
                        backend.stream_idle_seconds, backend.priority)


@dataclass(frozen=True, slots=True)
class RouteEntry:
    """One AIRoute, ready to serve."""

    key: str
    namespace: str
    name: str
    model: str
    tier: Tier
    degraded_response: str | None
    allowed_clients: tuple[str, ...]
    consecutive_failures: int
    eject_seconds: float
    backends: tuple[BackendEntry, ...]
    generation: int
    from_last_good: bool = False
    embeddings: Embeddings | None = None
    """What the route's embedding models return; None for a chat route."""
    distrusted: tuple[str, ...] = ()
    """Why stable blocks recorded in status were not served (they do not match the spec)."""
    max_retries: int = 3
    retry_budget_percent: int = 100
    tokens_per_minute: int | None = None
    tokens_per_minute_per_client: int | None = None


_BLOCKS: weakref.WeakValueDictionary[tuple[str, str], ProviderBlock] = weakref.WeakValueDictionary()
"""Every provider block in use, by kind and content hash: routes that call the same deployment
(or model, or Service) share one parsed block."""


def _variant(name: VariantName, weight: int, backend: Backend) -> Variant:
    kind, digest = backend.provider_kind, backend.provider_hash()
    block = _BLOCKS.setdefault((kind, digest), backend.provider)
    return Variant(name, weight, kind, block, digest, backend.cloud)


def _stored(status: BackendStatus | None) -> Backend | None:
    """The stable block recorded in status, as a Backend (``None`` when absent or unreadable)."""
    if status is None or not status.provider:
        return None
    try:
        return Backend.model_validate({"name": status.name, "weight": 0, **status.provider})
    except ValidationError:
        return None


def _distrust(stored: Backend, spec: Backend) -> str | None:
    """Why the stored stable block of ``spec``'s backend may not be served (None: it may)."""
    reason = stored_block_mismatch(stored.provider_kind, stored.provider.to_wire(),
                                   spec.provider_kind, spec.provider.to_wire())
    if reason is None:
        return None
    return f"status.backends[{spec.name}].provider does not match the spec ({reason}); not served"


def _trusted_stable(backend: Backend, status: AIRouteStatus, distrusted: list[str]) -> Backend | None:
    stable = _stored(status.backend(backend.name))
    reason = _distrust(stable, backend) if stable is not None else None
    if reason is not None:
        distrusted.append(reason)
        return None
    return stable


def _variants(backend: Backend, status: AIRouteStatus, distrusted: list[str]) -> tuple[Variant, ...]:
    stable = _trusted_stable(backend, status, distrusted)
    share = status.canary_weights.get(backend.name, 0)
    if stable is None:
        return (_variant("canary" if share > 0 else "stable", 100, backend),)
    if share <= 0 or stable.provider_hash() == backend.provider_hash():
        return (_variant("stable", 100, stable),)
    if share >= 100:
        return (_variant("canary", 100, backend),)
    return _variant("stable", 100 - share, stable), _variant("canary", share, backend)


def _weights(spec: AIRouteSpec, status: AIRouteStatus) -> dict[str, int]:
    recorded = {b.name: max(status.weights.get(b.name, 0), 0) for b in spec.backends}
    if sum(recorded.values()) > 0:
        return largest_remainder(recorded)
    return normalized({b.name: b.weight for b in spec.backends})


def _entry(
    meta: ObjectMeta,
    spec: AIRouteSpec,
    weights: Mapping[str, int],
    backends: tuple[BackendEntry, ...],
    from_last_good: bool,
    distrusted: list[str],
) -> RouteEntry:
    return RouteEntry(
        key=f"{meta.namespace}/{meta.name}",
        namespace=meta.namespace,
        name=meta.name,
        model=spec.model,
        tier=spec.tier,
        degraded_response=spec.degraded_response,
        allowed_clients=tuple(spec.allowed_clients),
        consecutive_failures=spec.failover.consecutive_failures,
        eject_seconds=spec.failover.eject_seconds,
        backends=backends,
        generation=meta.generation,
        from_last_good=from_last_good,
        embeddings=spec.embeddings,
        distrusted=tuple(distrusted),
        max_retries=spec.failover.max_retries,
        retry_budget_percent=spec.failover.retry_budget,
        tokens_per_minute=spec.limits.tokens_per_minute,
        tokens_per_minute_per_client=spec.limits.tokens_per_minute_per_client,
    )


def _meta(obj: Mapping[str, Any]) -> ObjectMeta:
    try:
        return ObjectMeta.model_validate(obj.get("metadata") or {})
    except ValidationError as exc:
        raise InvalidRoute(problems_from(exc, "metadata")) from None


_KEPT = ("model", "tier", "degradedResponse", "allowedClients", "failover")
_DEFAULT_TIMEOUT = "30s"


def _top_field(path: str) -> str:
    """``spec.allowedClients[0]`` → ``allowedClients``; ``spec`` → ``""``."""
    rest = path.removeprefix("spec").lstrip(".")
    return rest.split(".")[0].split("[")[0]


_TIMEOUTS = ("timeout", "firstTokenTimeout", "streamIdleTimeout")


def _raw_timeouts(raw: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The valid durations of each backend of a raw spec, by backend name."""
    out: dict[str, dict[str, str]] = {}
    listed = raw.get("backends")
    for b in listed if isinstance(listed, list) else []:
        if not isinstance(b, Mapping) or not isinstance(b.get("name"), str):
            continue
        found = out.setdefault(b["name"], {})
        for key in _TIMEOUTS:
            value = b.get(key)
            if isinstance(value, str):
                try:
                    parse_duration(value)
                except ValueError:
                    continue
                found[key] = value
    return out


def _raw_embeddings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Each backend's ``embeddings`` as the spec states it (validated with the route)."""
    listed = raw.get("backends")
    return {b["name"]: b["embeddings"] for b in (listed if isinstance(listed, list) else [])
            if isinstance(b, Mapping) and isinstance(b.get("name"), str) and isinstance(b.get("embeddings"), Mapping)}


def _raw_backend(raw: Mapping[str, Any], stored: Backend) -> Backend | None:
    """The spec's provider block for ``stored``'s backend, parsed on its own, with the fields a
    canary may move taken from ``stored`` when the spec's own do not parse (None when the spec
    declares no such backend, or its block is invalid elsewhere)."""
    listed = raw.get("backends")
    found = [b for b in (listed if isinstance(listed, list) else [])
             if isinstance(b, Mapping) and b.get("name") == stored.name]
    kind = stored.provider_kind
    block = found[0].get(kind) if found else None
    if not isinstance(block, Mapping):
        return None
    moved = {k: v for k, v in stored.provider.to_wire().items() if k in MOVABLE.get(kind, ())}
    for candidate in (block, {**block, **moved}):
        try:
            return Backend.model_validate({"name": stored.name, "weight": 0, kind: dict(candidate)})
        except ValidationError:
            continue
    return None


def _matching_stables(raw: Mapping[str, Any], status: AIRouteStatus,
                      distrusted: list[str]) -> list[tuple[BackendStatus, Backend]]:
    """The stable blocks of status whose backend the spec still declares, validly and alike."""
    out = []
    for st in status.backends:
        stored = _stored(st)
        if stored is None:
            continue
        declared = _raw_backend(raw, stored)
        reason = (_distrust(stored, declared) if declared is not None
                  else f"status.backends[{st.name}].provider: the spec declares no valid backend {st.name}; not served")
        if reason is None:
            out.append((st, stored))
        else:
            distrusted.append(reason)
    return out


def _last_good(obj: Mapping[str, Any], meta: ObjectMeta, status: AIRouteStatus, exc: InvalidRoute) -> RouteEntry:
    """The route as last routed: stable blocks that match the spec's and weights from status,
    valid spec fields kept."""
    raw = obj.get("spec")
    raw = raw if isinstance(raw, Mapping) else {}
    bad = {_top_field(p.path) for p in exc.problems}
    if bad & {"model", "allowedClients"}:
        raise InvalidRoute([*exc.problems, FieldProblem("spec", "model and allowedClients must be valid to fall back")])
    distrusted: list[str] = []
    stables = _matching_stables(raw, status, distrusted)
    recorded = {st.name: max(status.weights.get(st.name, 0), 0) for st, _ in stables}
    if sum(recorded.values()) <= 0:
        raise InvalidRoute([*exc.problems, *(FieldProblem("status", d) for d in distrusted),
                            FieldProblem("status", "no last good routing to fall back to")])
    timeouts, embeddings = _raw_timeouts(raw), _raw_embeddings(raw)
    candidate = {k: raw[k] for k in _KEPT if k in raw and k not in bad}
    candidate["backends"] = [
        {
            "name": st.name,
            "weight": recorded[st.name],
            "timeout": _DEFAULT_TIMEOUT,
            **timeouts.get(st.name, {}),
            **({"embeddings": embeddings[st.name]} if st.name in embeddings else {}),
            **(st.provider or {}),
        }
        for st, _ in stables
    ]
    try:
        spec = parse_spec(candidate)
    except InvalidRoute as again:
        raise InvalidRoute([*exc.problems, *again.problems]) from None
    weights = largest_remainder(recorded)
    backends = tuple(
        backend_entry(b, weights[b.name], (_variant("stable", 100, b),)) for b in spec.backends
    )
    return _entry(meta, spec, weights, backends, True, distrusted)


def route_entry(obj: Mapping[str, Any]) -> RouteEntry:
    """The table entry for one raw AIRoute object; raises :class:`InvalidRoute` when unusable."""
    meta = _meta(obj)
    status, _ = parse_status(obj.get("status") or {})
    try:
        spec = parse_spec(obj.get("spec") or {})
    except InvalidRoute as exc:
        return _last_good(obj, meta, status, exc)
    weights = _weights(spec, status)
    distrusted: list[str] = []
    backends = tuple(
        backend_entry(b, weights[b.name], _variants(b, status, distrusted)) for b in spec.backends
    )
    return _entry(meta, spec, weights, backends, False, distrusted)
