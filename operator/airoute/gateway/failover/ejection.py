"""Local outlier ejection: a backend that fails several requests in a row is skipped by this
gateway for a while (like Envoy's outlier detection), without waiting for the controller.

Time is a parameter (``clock``), so ejection is tested without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Sequence

_NONE: frozenset[str] = frozenset()


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
