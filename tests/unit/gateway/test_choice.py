"""Weighted choice and failover order, with seeded randomness."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from airoute.gateway.failover.choice import Choice, Pick, Slot


def slot(name: str, weight: int, *variants: tuple[str, int]) -> Slot[str]:
    picks = variants or ((f"{name}/stable", 100),)
    return Slot(name, weight, tuple(Pick(w, target) for target, w in picks))


def chi_square(observed: Counter[str], expected: dict[str, float]) -> float:
    return sum((observed[k] - e) ** 2 / e for k, e in expected.items() if e > 0)


# 99.9th percentiles of the chi-square distribution by degrees of freedom.
CHI2_999 = {1: 10.83, 2: 13.82, 3: 16.27}


def test_first_choice_follows_backend_times_variant_weights() -> None:
    choice = Choice((
        slot("azure", 50, ("azure/stable", 80), ("azure/canary", 20)),
        slot("bedrock", 30),
        slot("vertex", 20),
        slot("standby", 0),
    ))
    rng = random.Random(7)
    n = 20_000
    seen = Counter(next(choice.order(rand=rng.random))[1] for _ in range(n))
    expected = {"azure/stable": 0.40 * n, "azure/canary": 0.10 * n, "bedrock/stable": 0.30 * n,
                "vertex/stable": 0.20 * n}
    assert "standby/stable" not in seen
    assert chi_square(seen, expected) < CHI2_999[3]


def test_failover_order_tries_every_backend_once_then_standbys_in_spec_order() -> None:
    choice = Choice((slot("a", 60), slot("s1", 0), slot("b", 40), slot("s2", 0)))
    rng = random.Random(1)
    for _ in range(200):
        names = [name for name, _ in choice.order(rand=rng.random)]
        assert sorted(names[:2]) == ["a", "b"]
        assert names[2:] == ["s1", "s2"]


def test_second_choice_is_weighted_among_the_rest() -> None:
    choice = Choice((slot("a", 50), slot("b", 40), slot("c", 10)))
    rng = random.Random(3)
    after_a: Counter[str] = Counter()
    for _ in range(20_000):
        names = [name for name, _ in choice.order(rand=rng.random)]
        if names[0] == "a":
            after_a[names[1]] += 1
    total = sum(after_a.values())
    assert chi_square(after_a, {"b": total * 0.8, "c": total * 0.2}) < CHI2_999[1]


def test_excluded_backends_are_skipped() -> None:
    choice = Choice((slot("a", 90), slot("b", 10), slot("s", 0)))
    assert [n for n, _ in choice.order({"a"}, random.Random(0).random)] == ["b", "s"]
    assert [n for n, _ in choice.order({"a", "b"}, random.Random(0).random)] == ["s"]


def test_zero_weight_variant_is_never_chosen_first() -> None:
    choice = Choice((slot("a", 100, ("stable", 100), ("canary", 0)),))
    rng = random.Random(0)
    assert {next(choice.order(rand=rng.random))[1] for _ in range(500)} == {"stable"}


@pytest.mark.parametrize("weights", [(1, 99), (50, 50), (70, 30)])
def test_binomial_bound_on_two_backends(weights: tuple[int, int]) -> None:
    choice = Choice((slot("a", weights[0]), slot("b", weights[1])))
    rng = random.Random(11)
    n = 5000
    hits = sum(next(choice.order(rand=rng.random))[0] == "a" for _ in range(n))
    p = weights[0] / 100
    assert abs(hits - n * p) <= 4.5 * math.sqrt(n * p * (1 - p)) + 1


def test_priority_groups_are_tried_lowest_first_weights_within_each() -> None:
    ptu = Slot("ptu", 10, (Pick(100, "ptu"),), priority=0)
    paygo_a = Slot("paygo-a", 60, (Pick(100, "paygo-a"),), priority=1)
    paygo_b = Slot("paygo-b", 40, (Pick(100, "paygo-b"),), priority=1)
    local = Slot("local", 0, (Pick(100, "local"),), priority=0)
    choice = Choice((paygo_a, local, ptu, paygo_b))
    assert [name for name, _ in choice.order(rand=lambda: 0.99)] == ["ptu", "paygo-b", "paygo-a", "local"]
    assert [name for name, _ in choice.order(rand=lambda: 0.0)] == ["ptu", "paygo-a", "paygo-b", "local"]
    assert next(name for name, _ in choice.order({"ptu"}, rand=lambda: 0.0)) == "paygo-a"  # spilled
    narrowed = choice.restricted(lambda t: t != "paygo-a")
    assert narrowed is not None and [s.priority for s in narrowed.groups[1]] == [1]
