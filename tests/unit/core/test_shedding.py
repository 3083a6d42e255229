from __future__ import annotations

import pytest

from airoute.api import TIERS, Tier
from airoute.core import SHED_ORDER, shed_tier, tier_capacity


def test_shed_order_covers_every_tier_least_critical_first() -> None:
    assert set(SHED_ORDER) == set(TIERS)
    assert SHED_ORDER == ("best-effort", "standard", "critical")


@pytest.mark.parametrize(
    ("tier", "in_flight", "shed"),
    [
        ("best-effort", 69, False),
        ("best-effort", 70, True),
        ("standard", 84, False),
        ("standard", 85, True),
        ("critical", 99, False),
        ("critical", 100, True),
    ],
)
def test_reserved_headroom_per_tier(tier: Tier, in_flight: int, shed: bool) -> None:
    assert shed_tier(in_flight, 100, tier) is shed


@pytest.mark.parametrize("tier", TIERS)
def test_no_limit_sheds_nothing(tier: Tier) -> None:
    assert shed_tier(10_000, 0, tier) is False


@pytest.mark.parametrize("in_flight", range(0, 25))
def test_a_more_critical_tier_is_never_shed_before_a_less_critical_one(in_flight: int) -> None:
    shed = [shed_tier(in_flight, 20, t) for t in SHED_ORDER]
    assert shed == sorted(shed, reverse=True)


def test_capacity() -> None:
    assert [tier_capacity(10, t) for t in SHED_ORDER] == [7, 8, 10]
