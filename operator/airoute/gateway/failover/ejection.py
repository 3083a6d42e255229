"""Local outlier ejection: a backend that fails several requests in a row is skipped by this
gateway for a while (like Envoy's outlier detection), without waiting for the controller.

A backend that answered 429 is *held off* instead (:class:`Until`, kept by the failover policy):
set aside for as long as it asked, without counting as a failure (``core.retries``).

Time is a parameter (``clock``), so ejection is tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

_EMPTY: Mapping[str, float] = {}


class Until:
    """Backends of each route set aside until a time (ejected, or held off after a 429); a
    backend's time passed, it is back. Keys survive route-table reloads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[str, dict[str, float]] = {}

    def current(self, route: str) -> Mapping[str, float]:
        """Backends of ``route`` set aside right now, and until when."""
        aside = self._until.get(route)
        if not aside:
            return _EMPTY
        now = self.clock()
        for name in [n for n, until in aside.items() if until <= now]:
            del aside[name]
        if not aside:
            del self._until[route]
            return _EMPTY
        return aside

    def all(self) -> dict[str, list[str]]:
        """Route key → the backends set aside right now (for the metrics)."""
        for route in list(self._until):
            self.current(route)  # drops the times that have passed
        return {route: sorted(aside) for route, aside in self._until.items()}

    def set_aside(self, route: str, backend: str, seconds: float) -> None:
        """Sets ``backend`` aside for ``seconds`` from now (a longer time already set stays)."""
        until = self.clock() + seconds
        aside = self._until.setdefault(route, {})
        aside[backend] = max(aside.get(backend, until), until)


class Ejector:
    """Consecutive failures per backend, and backends ejected from this gateway until a time.

    Keys are ``(route key, backend name)`` so the state survives route-table reloads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._streaks: dict[tuple[str, str], int] = {}
        self._ejected = Until(clock)

    def excluded(self, route: str) -> Mapping[str, float]:
        """Backends of ``route`` ejected right now, and until when."""
        return self._ejected.current(route)

    def ejected(self) -> dict[str, list[str]]:
        """Route key → the backends ejected right now (for the metrics)."""
        return self._ejected.all()

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
        self._ejected.set_aside(route, backend, eject_for)
        self._streaks.pop(key, None)
        return True
