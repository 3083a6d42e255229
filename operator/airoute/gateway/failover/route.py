"""One route as the failover policy serves it: core's :class:`RouteEntry` with every backend
variant bound to its caller and its capability declaration (a :class:`Target`), the weights
compiled into a :class:`~airoute.gateway.failover.choice.Choice`, and metric labels pre-built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airoute.api.metrics import GEN_AI_PROVIDER_NAMES, Outcome
from airoute.core.routetable import RouteEntry
from airoute.gateway.failover.choice import Choice, Pick, Slot
from airoute.providers import Caller
from airoute.providers.capabilities import Capabilities, capabilities_of

if TYPE_CHECKING:
    from airoute.gateway.failover.narrowing import Narrowing

Labels5 = tuple[str, str, str, str, str]


@dataclass(eq=False, slots=True)
class Target:
    """One backend variant, ready to call; ``labels`` = (namespace, route, backend, variant, provider);
    ``first_token`` and ``stream_idle``: the backend's stream limits in seconds (None: unset)."""

    backend: str
    variant: str
    provider: str
    timeout: float
    caller: Caller
    labels: Labels5
    token_labels: tuple[tuple[str, str, str, str], tuple[str, str, str, str]]
    capabilities: Capabilities
    first_token: float | None = None
    stream_idle: float | None = None
    gen_ai: tuple[str, ...] = ()
    """Values of ``GEN_AI_LABELS``: ``labels`` and the GenAI conventions' attributes."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    """What serving a route reads, made from its entry and callers on first use."""

    choice: Choice[Target]
    labels: Labels5
    reads_needs: bool
    first_group: tuple[str, ...]


class LiveRoute:
    """One route as served: its entry, the callers its variants are bound to, and — made on the
    first request that reads them, not when the route is loaded (most of the 10,000 routes of a
    big table may wait long for one) — its compiled choice and label tuples.

    ``reads_needs``: some variant refuses some feature, so a request's needs decide where it
    may go (a route of pass-through backends only never reads them); ``first_group``: the
    backends of the route's lowest priority (an answer from any other backend is *spilled*);
    ``narrowings`` caches the choice per needs mask (:mod:`~airoute.gateway.failover.narrowing`)."""

    __slots__ = ("_compiled", "callers", "entry", "narrowings")

    def __init__(self, entry: RouteEntry, callers: Mapping[tuple[str, str], Caller]) -> None:
        self.entry = entry
        self.callers = callers
        """The caller of every variant, by (backend, variant)."""
        self.narrowings: dict[int, Narrowing] = {}
        self._compiled: _Compiled | None = None

    @property
    def compiled(self) -> bool:
        """Whether a request has read the route yet (its choice is made)."""
        return self._compiled is not None

    def _made(self) -> _Compiled:
        if self._compiled is None:
            self._compiled = _compile(self.entry, self.callers)
        return self._compiled

    @property
    def choice(self) -> Choice[Target]:
        return self._made().choice

    @property
    def labels(self) -> Labels5:
        return self._made().labels

    @property
    def reads_needs(self) -> bool:
        return self._made().reads_needs

    @property
    def first_group(self) -> tuple[str, ...]:
        return self._made().first_group

    @property
    def key(self) -> str:
        return self.entry.key

    def outcome(self, outcome: Outcome) -> tuple[str, ...]:
        """Labels of a request-level outcome the gateway decided itself (backend="")."""
        return (*self.labels, outcome)


def provider_name(kind: str) -> str:
    """``gen_ai.provider.name`` of a provider kind."""
    return GEN_AI_PROVIDER_NAMES.get(kind, kind)


def configured_model(block: object) -> str:
    """The model a provider block names: Azure's deployment, Bedrock's model ID, the model."""
    fields = getattr(type(block), "model_fields", {})
    for attribute in ("deployment", "model_id", "model"):
        value = getattr(block, attribute, None) if attribute in fields else None
        if isinstance(value, str):
            return value
    return ""


def compile_route(entry: RouteEntry, callers: Mapping[tuple[str, str], Caller]) -> LiveRoute:
    """``entry`` served through ``callers`` (keyed by backend, variant; every variant must have
    one); its choice is made on first use."""
    missing = [key for b in entry.backends for v in b.variants if (key := (b.name, v.name)) not in callers]
    if missing:
        raise KeyError(f"no caller for {missing}")
    return LiveRoute(entry, callers)


def _compile(entry: RouteEntry, callers: Mapping[tuple[str, str], Caller]) -> _Compiled:
    """Every variant of ``entry`` as a :class:`Target` bound to its caller, in a choice."""
    slots = []
    operation = "chat" if entry.embeddings is None else "embeddings"
    for backend in entry.backends:
        picks = []
        for variant in backend.variants:
            labels = (entry.namespace, entry.name, backend.name, variant.name, variant.provider_kind)
            tokens = (
                (entry.namespace, entry.name, backend.name, "in"),
                (entry.namespace, entry.name, backend.name, "out"),
            )
            target = Target(backend.name, variant.name, variant.provider_kind, backend.timeout_seconds,
                            callers[(backend.name, variant.name)], labels, tokens,
                            capabilities_of(variant.provider_kind, variant.provider),
                            backend.first_token_seconds, backend.stream_idle_seconds,
                            (*labels, operation, provider_name(variant.provider_kind), entry.model,
                             configured_model(variant.provider)))
            picks.append(Pick(variant.weight, target))
        slots.append(Slot(backend.name, backend.weight, tuple(picks), backend.priority))
    choice = Choice(tuple(slots))
    first = min((s.priority for s in choice.slots), default=0)
    return _Compiled(
        choice,
        (entry.namespace, entry.name, "", "", ""),
        entry.embeddings is None and any(p.target.capabilities.refuses for s in choice.slots for p in s.variants),
        tuple(s.name for s in choice.slots if s.priority == first),
    )
