"""One route as the failover policy serves it: core's :class:`RouteEntry` with every backend
variant bound to its caller and its capability declaration (a :class:`Target`), the weights
compiled into a :class:`~airoute.gateway.failover.choice.Choice`, and metric labels pre-built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(eq=False, slots=True)
class LiveRoute:
    """One route as served: its entry, its compiled choice and its label tuples.

    ``reads_needs``: some variant refuses some feature, so a request's needs decide where it
    may go (a route of pass-through backends only never reads them); ``narrowings`` caches the
    choice per needs mask (:mod:`~airoute.gateway.failover.narrowing`)."""

    entry: RouteEntry
    choice: Choice[Target]
    labels: Labels5 = field(init=False)
    reads_needs: bool = field(init=False)
    first_group: tuple[str, ...] = field(init=False)
    """The backends of the route's lowest priority: an answer from any other backend is *spilled*
    (whether the first group throttled, failed, was ejected or taken out by the controller)."""
    narrowings: dict[int, Narrowing] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = (self.entry.namespace, self.entry.name, "", "", "")
        first = min((s.priority for s in self.choice.slots), default=0)
        self.first_group = tuple(s.name for s in self.choice.slots if s.priority == first)
        self.reads_needs = self.entry.embeddings is None and any(
            p.target.capabilities.refuses for s in self.choice.slots for p in s.variants)

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
    """Binds every variant of ``entry`` to its caller from ``callers`` (keyed by backend, variant)."""
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
    return LiveRoute(entry, Choice(tuple(slots)))
