"""The per-gateway concurrency limit, shedding the least critical tier first (core.shedding)."""

from __future__ import annotations

from airoute.api.spec import Tier
from airoute.core.shedding import shed_tier
from airoute.gateway.metrics import GatewayMetrics


class Admission:
    """Counts chat requests in flight; :meth:`admit` refuses a tier whose share is full."""

    def __init__(self, limit: int, metrics: GatewayMetrics) -> None:
        self.limit = limit
        self.in_flight = 0
        self.metrics = metrics
        self._per_tier: dict[Tier, int] = {"critical": 0, "standard": 0, "best-effort": 0}

    def admit(self, tier: Tier) -> bool:
        if shed_tier(self.in_flight, self.limit, tier):
            self.metrics.shed.inc((tier,))
            return False
        self.in_flight += 1
        self._per_tier[tier] += 1
        self.metrics.in_flight.set((tier,), self._per_tier[tier])
        return True

    def release(self, tier: Tier) -> None:
        self.in_flight -= 1
        self._per_tier[tier] -= 1
        self.metrics.in_flight.set((tier,), self._per_tier[tier])
