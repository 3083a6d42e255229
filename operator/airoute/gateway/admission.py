"""Admission: a chat request is turned away (429) when the gateway is saturated, the least
critical tier first (``core.shedding``). Saturated means its scarcest resource — event-loop lag,
memory, file descriptors (:mod:`~airoute.gateway.overload`) — is near its limit, or, when
``--max-in-flight`` sets one, too many requests are in flight."""

from __future__ import annotations

from airoute.api.spec import Tier
from airoute.core.shedding import shed_by_pressure, shed_tier
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.overload import Overload

_WORDS = {"event_loop_lag": "event-loop lag", "memory": "memory", "file_descriptors": "open files"}


class Admission:
    """Counts chat requests in flight; :meth:`admit` refuses a tier whose share is full."""

    def __init__(self, limit: int, metrics: GatewayMetrics, overload: Overload | None = None) -> None:
        self.limit = limit
        self.in_flight = 0
        self.metrics = metrics
        self.overload = overload
        self._per_tier: dict[Tier, int] = {"critical": 0, "standard": 0, "best-effort": 0}

    def refusal(self, tier: Tier) -> str | None:
        """Why a new request of ``tier`` is turned away now, or None when it is admitted."""
        if shed_tier(self.in_flight, self.limit, tier):
            return f"{self.in_flight} requests in flight (--max-in-flight {self.limit})"
        if self.overload is not None:
            pressure, resource = self.overload.pressure()
            if shed_by_pressure(pressure, tier):
                return f"{_WORDS[resource]} at {pressure:.0%} of its limit"
        return None

    def admit(self, tier: Tier) -> str | None:
        """Admits a request of ``tier`` (None), or says why not (and counts it as shed)."""
        refused = self.refusal(tier)
        if refused is not None:
            self.metrics.shed.inc((tier,))
            return refused
        self.in_flight += 1
        self._per_tier[tier] += 1
        self.metrics.in_flight.set((tier,), self._per_tier[tier])
        return None

    def release(self, tier: Tier) -> None:
        self.in_flight -= 1
        self._per_tier[tier] -= 1
        self.metrics.in_flight.set((tier,), self._per_tier[tier])
