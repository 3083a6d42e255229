"""Which backend variant a request goes to, and in which order the others are tried.

A request picks a backend at random in proportion to its effective weight, then a variant
(stable / canary) in proportion to the variant's share of that backend: the chance of a variant
is backend weight x variant weight — among the backends of the lowest *priority* group that has
one left (issue 16.4: a PTU deployment before pay-as-you-go before another cloud). After a failure
the next backend is drawn the same way from those of its group not tried yet, then from the next
group; standby backends (weight 0) come last, in spec order. Backends ejected
locally (:mod:`~airoute.gateway.failover.ejection`) are skipped. A choice can be restricted to
some variants (:meth:`Choice.restricted`, how :mod:`~airoute.gateway.failover.narrowing` keeps
only the backends that can serve a request): the draw then renormalises the weights among those
left. Randomness is a parameter, so all of this is tested without chance.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
Random = Callable[[], float]
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Pick(Generic[T]):
    """One variant of a backend with its share (percent of the backend's traffic)."""

    weight: int
    target: T


@dataclass(frozen=True, slots=True)
class Slot(Generic[T]):
    """One backend: its effective weight and its variants."""

    name: str
    weight: int
    variants: tuple[Pick[T], ...]
    priority: int = 0

    def pick(self, rand: Random) -> T:
        if len(self.variants) == 1:
            return self.variants[0].target
        total = sum(v.weight for v in self.variants)
        if total <= 0:
            return self.variants[0].target
        x = rand() * total
        for v in self.variants:
            x -= v.weight
            if x < 0:
                return v.target
        return self.variants[-1].target


def _draw(pool: list[Slot[T]], rand: Random) -> Slot[T]:
    x = rand() * sum(s.weight for s in pool)
    for slot in pool:
        x -= slot.weight
        if x < 0:
            return slot
    return pool[-1]


@dataclass(frozen=True, slots=True)
class Choice(Generic[T]):
    """The backends of one route, ready for :meth:`order`."""

    slots: tuple[Slot[T], ...]
    weighted: tuple[Slot[T], ...] = field(init=False)
    """Backends with a weight, by priority (spec order within one)."""
    standby: tuple[Slot[T], ...] = field(init=False)
    groups: tuple[tuple[Slot[T], ...], ...] = field(init=False)
    """The weighted backends by priority group, lowest first."""

    def __post_init__(self) -> None:
        weighted = sorted((s for s in self.slots if s.weight > 0), key=lambda s: s.priority)
        object.__setattr__(self, "weighted", tuple(weighted))
        object.__setattr__(self, "standby", tuple(s for s in self.slots if s.weight <= 0))
        levels = sorted({s.priority for s in weighted})
        object.__setattr__(self, "groups", tuple(tuple(s for s in weighted if s.priority == p) for p in levels))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    def restricted(self, keep: Callable[[T], bool]) -> Choice[T] | None:
        """The same choice among the variants ``keep`` accepts: a backend keeps its weight and
        those of its variants that are kept (their shares renormalised by the draw); a backend
        with none left is gone. None when nothing is left."""
        slots = []
        for slot in self.slots:
            variants = tuple(v for v in slot.variants if keep(v.target))
            if variants:
                whole = len(variants) == len(slot.variants)
                slots.append(slot if whole else Slot(slot.name, slot.weight, variants, slot.priority))
        return Choice(tuple(slots)) if slots else None

    def order(self, excluded: Container[str] = _NONE, rand: Random | None = None) -> Iterator[tuple[str, T]]:
        """``(backend, target)`` in the order to try them: weighted draws without replacement
        within each priority group, lowest group first, then standby backends; backends in
        ``excluded`` (ejected, held off) are skipped."""
        rand = rand or random.random
        for group in self.groups:
            pool = [s for s in group if s.name not in excluded]
            while pool:
                slot = _draw(pool, rand) if len(pool) > 1 else pool[0]
                pool.remove(slot)
                yield slot.name, slot.pick(rand)
        for slot in self.standby:
            if slot.name not in excluded:
                yield slot.name, slot.pick(rand)

