"""One route as the failover policy serves it: core's :class:`RouteEntry` with every backend
variant bound to its caller (a :class:`Target`), the weights compiled into a
:class:`~airoute.gateway.failover.choice.Choice`, and metric labels pre-built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from airoute.api.metrics import Outcome
from airoute.core.routetable import RouteEntry
from airoute.gateway.failover.choice import Choice, Pick, Slot
from airoute.providers import Caller

Labels5 = tuple[str, str, str, str, str]


@dataclass(eq=False, slots=True)
class Target:
    """One backend variant, ready to call; ``labels`` = (namespace, route, backend, variant, provider)."""

    backend: str
    variant: str
    provider: str
    timeout: float
    caller: Caller
    labels: Labels5
    token_labels: tuple[tuple[str, str, str, str], tuple[str, str, str, str]]


@dataclass(eq=False)
class LiveRoute:
    """One route as served: its entry, its compiled choice and its label tuples."""

    entry: RouteEntry
    choice: Choice[Target]
    labels: Labels5 = field(init=False)

    def __post_init__(self) -> None:
        self.labels = (self.entry.namespace, self.entry.name, "", "", "")

    @property
    def key(self) -> str:
        return self.entry.key

    def outcome(self, outcome: Outcome) -> tuple[str, ...]:
        """Labels of a request-level outcome the gateway decided itself (backend="")."""
        return (*self.labels, outcome)


def compile_route(entry: RouteEntry, callers: Mapping[tuple[str, str], Caller]) -> LiveRoute:
    """Binds every variant of ``entry`` to its caller from ``callers`` (keyed by backend, variant)."""
    slots = []
    for backend in entry.backends:
        picks = []
        for variant in backend.variants:
            labels = (entry.namespace, entry.name, backend.name, variant.name, variant.provider_kind)
            tokens = (
                (entry.namespace, entry.name, backend.name, "in"),
                (entry.namespace, entry.name, backend.name, "out"),
            )
            target = Target(backend.name, variant.name, variant.provider_kind, backend.timeout_seconds,
                            callers[(backend.name, variant.name)], labels, tokens)
            picks.append(Pick(variant.weight, target))
        slots.append(Slot(backend.name, backend.weight, tuple(picks)))
    return LiveRoute(entry, Choice(tuple(slots)))
