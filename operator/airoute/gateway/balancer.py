"""Which backend variant a request goes to, in which order the others are tried, and local
outlier ejection.

A request picks a backend at random in proportion to its effective weight, then a variant
(stable / canary) in proportion to the variant's share of that backend: the chance of a variant
is backend weight x variant weight. After a failure the next backend is drawn the same way from
those not tried yet; standby backends (weight 0) come last, in spec order. Ejected backends are
skipped. Randomness and time are parameters, so all of this is tested without sleeping.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Container, Iterator, Sequence
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


@dataclass(frozen=True)
class Choice(Generic[T]):
    """The backends of one route, ready for :meth:`order`."""

    slots: tuple[Slot[T], ...]
    weighted: tuple[Slot[T], ...] = field(init=False)
    standby: tuple[Slot[T], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "weighted", tuple(s for s in self.slots if s.weight > 0))
        object.__setattr__(self, "standby", tuple(s for s in self.slots if s.weight <= 0))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.slots)

    def order(self, excluded: Container[str] = _NONE, rand: Random | None = None) -> Iterator[tuple[str, T]]:
        """``(backend, target)`` in the order to try them: weighted draws without replacement,
        then standby backends; backends in ``excluded`` (ejected) are skipped."""
        rand = rand or random.random
        pool = [s for s in self.weighted if s.name not in excluded]
        while pool:
            slot = _draw(pool, rand) if len(pool) > 1 else pool[0]
            pool.remove(slot)
            yield slot.name, slot.pick(rand)
        for slot in self.standby:
            if slot.name not in excluded:
                yield slot.name, slot.pick(rand)


class Ejector:
    """Consecutive failures per backend, and backends ejected from this gateway until a time.

    Keys are ``(route key, backend name)`` so the state survives route-table reloads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._streaks: dict[tuple[str, str], int] = {}
        self._until: dict[str, dict[str, float]] = {}

    def excluded(self, route: str) -> Container[str]:
        """Backends of ``route`` ejected right now."""
        ejected = self._until.get(route)
        if not ejected:
            return _NONE
        now = self.clock()
        for name in [n for n, until in ejected.items() if until <= now]:
            del ejected[name]
        if not ejected:
            del self._until[route]
            return _NONE
        return ejected

    def success(self, route: str, backend: str) -> None:
        if self._streaks:
            self._streaks.pop((route, backend), None)

    def failure(self, route: str, backend: str, threshold: int, eject_for: float, backends: Sequence[str]) -> bool:
        """Counts a failure; returns True when it ejects the backend. The last backend of the
        route that is not ejected is never ejected (its streak keeps counting)."""
        key = (route, backend)
        streak = self._streaks.get(key, 0) + 1
        self._streaks[key] = streak
        if streak < threshold:
            return False
        ejected = self.excluded(route)
        if backend in ejected:
            return False
        if not any(b != backend and b not in ejected for b in backends):
            return False
        self._until.setdefault(route, {})[backend] = self.clock() + eject_for
        self._streaks.pop(key, None)
        return True

    def ejected(self) -> dict[str, dict[str, float]]:
        """Seconds left per ejected backend per route (for /debug and tests)."""
        now = self.clock()
        return {r: {b: until - now for b, until in e.items() if until > now} for r, e in self._until.items()}
