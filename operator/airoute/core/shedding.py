"""Which requests a saturated gateway turns away first: the least critical tier.

Each tier may use only part of what the gateway has — its scarcest resource (event-loop lag,
memory, file descriptors: ``gateway/overload.py``) or an explicit in-flight cap — so the rest
stays reserved for more critical traffic:

=============  ==========================  =====================================
tier           admitted while below         so that
=============  ==========================  =====================================
best-effort    70 % of the limit           30 % stays free for standard/critical
standard       85 % of the limit           15 % stays free for critical
critical       100 % of the limit          critical is shed only when full
=============  ==========================  =====================================

A pressure is a resource's use over its limit (1 = full). An in-flight limit of 0 or less means
"no limit": nothing is shed by count.
"""

from __future__ import annotations

from airoute.api.spec import Tier

SHED_ORDER: tuple[Tier, ...] = ("best-effort", "standard", "critical")
"""Tiers in the order they are shed: best-effort first, critical last."""

SHARE_PERCENT: dict[Tier, int] = {"best-effort": 70, "standard": 85, "critical": 100}
"""Percent of the in-flight limit a tier may fill."""


def tier_capacity(limit: int, tier: Tier) -> int:
    """How many requests may be in flight when a new one of ``tier`` is still admitted."""
    return limit * SHARE_PERCENT[tier] // 100


def shed_by_pressure(pressure: float, tier: Tier) -> bool:
    """Whether a new request of ``tier`` is turned away while the scarcest resource is at
    ``pressure`` (its use over its limit)."""
    return pressure * 100 >= SHARE_PERCENT[tier]


def shed_tier(in_flight: int, limit: int, tier: Tier) -> bool:
    """Whether a new request of ``tier`` is turned away with ``in_flight`` already running."""
    if limit <= 0:
        return False
    return in_flight >= tier_capacity(limit, tier)
