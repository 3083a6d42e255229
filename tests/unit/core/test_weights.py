from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airoute.core import effective_weights, largest_remainder, normalized

SPEC = {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}


@pytest.mark.parametrize(
    ("factors", "expected"),
    [
        ({}, {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}),
        ({"azure-eu": 0.0}, {"azure-eu": 0, "bedrock-eu": 60, "vertex-eu": 40, "local-llama": 0}),
        ({"azure-eu": 0.1}, {"azure-eu": 9, "bedrock-eu": 55, "vertex-eu": 36, "local-llama": 0}),
        ({"azure-eu": 0.5}, {"azure-eu": 33, "bedrock-eu": 40, "vertex-eu": 27, "local-llama": 0}),
        (
            {"azure-eu": 0.5, "bedrock-eu": 0.5, "vertex-eu": 0.5},
            {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0},
        ),
    ],
)
def test_desired_times_health_factor(factors: dict[str, float], expected: dict[str, int]) -> None:
    plan = effective_weights(SPEC, factors)
    assert (dict(plan.weights), plan.panic, plan.standby_active) == (expected, False, False)


def test_a_usable_backend_never_rounds_down_to_zero() -> None:
    plan = effective_weights({"big": 100, "new": 10}, {"new": 0.05})
    assert dict(plan.weights) == {"big": 99, "new": 1}


def test_standby_takes_over_when_every_weighted_backend_is_out() -> None:
    plan = effective_weights(SPEC, {"azure-eu": 0, "bedrock-eu": 0, "vertex-eu": 0})
    assert dict(plan.weights) == {"azure-eu": 0, "bedrock-eu": 0, "vertex-eu": 0, "local-llama": 100}
    assert (plan.standby_active, plan.panic) == (True, False)


def test_standbys_split_evenly_and_skip_unusable_ones() -> None:
    desired = {"a": 10, "s1": 0, "s2": 0, "s3": 0}
    plan = effective_weights(desired, {"a": 0, "s3": 0})
    assert dict(plan.weights) == {"a": 0, "s1": 50, "s2": 50, "s3": 0}
    three = effective_weights(desired, {"a": 0})
    assert dict(three.weights) == {"a": 0, "s1": 34, "s2": 33, "s3": 33}


def test_standby_is_idle_while_any_weighted_backend_serves() -> None:
    plan = effective_weights(SPEC, {"azure-eu": 0, "bedrock-eu": 0, "vertex-eu": 0.1})
    assert plan.weights["vertex-eu"] == 100
    assert plan.weights["local-llama"] == 0


def test_panic_spreads_by_desired_weights() -> None:
    plan = effective_weights(SPEC, dict.fromkeys(SPEC, 0.0))
    assert dict(plan.weights) == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    assert (plan.panic, plan.standby_active) == (True, False)


def test_nothing_to_route_gives_zeros() -> None:
    assert dict(effective_weights({}, {}).weights) == {}
    assert effective_weights({}, {}).panic is False


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ({"a": 1, "b": 1, "c": 1}, {"a": 34, "b": 33, "c": 33}),
        ({"c": 1, "b": 1, "a": 1}, {"a": 34, "b": 33, "c": 33}),
        ({"a": 2, "b": 1}, {"a": 67, "b": 33}),
        ({"a": 0, "b": 0}, {"a": 0, "b": 0}),
        (
            {"a": 1, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1, "g": 1},
            {"a": 15, "b": 15, "c": 14, "d": 14, "e": 14, "f": 14, "g": 14},
        ),
    ],
)
def test_largest_remainder_ties_broken_by_name(shares: dict[str, float], expected: dict[str, int]) -> None:
    assert largest_remainder(shares) == expected


def test_normalized_spec_weights() -> None:
    assert normalized({"a": 1, "b": 1, "standby": 0}) == {"a": 50, "b": 50, "standby": 0}
    assert normalized({"a": 7, "b": 3}) == {"a": 70, "b": 30}


def test_summary_in_spec_order() -> None:
    plan = effective_weights(SPEC, {"azure-eu": 0})
    assert plan.summary(list(SPEC)) == "azure-eu=0 bedrock-eu=60 vertex-eu=40 local-llama=0"


names = st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=8, unique=True)
FACTORS = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0])


@st.composite
def inputs(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, float]]:
    ns = draw(names)
    desired = {n: draw(st.integers(0, 100)) for n in ns}
    factors = {n: draw(FACTORS) for n in ns}
    return desired, factors


@settings(max_examples=200, deadline=None)
@given(inputs())
def test_property_sum_is_exactly_100_and_ejected_get_nothing_outside_panic(
    case: tuple[dict[str, int], dict[str, float]],
) -> None:
    desired, factors = case
    plan = effective_weights(desired, factors)
    assert set(plan.weights) == set(desired)
    assert all(0 <= w <= 100 for w in plan.weights.values())
    assert sum(plan.weights.values()) == 100
    if not plan.panic:
        assert all(plan.weights[n] == 0 for n in desired if factors[n] == 0)
    else:
        assert all(factors[n] == 0 for n in desired)
    if plan.standby_active:
        assert all(plan.weights[n] == 0 for n in desired if desired[n] > 0)
    if not plan.panic and not plan.standby_active:
        assert all(plan.weights[n] >= 1 for n in desired if desired[n] > 0 and factors[n] > 0)


@settings(max_examples=200, deadline=None)
@given(inputs())
def test_property_deterministic_and_order_independent(case: tuple[dict[str, int], dict[str, float]]) -> None:
    desired, factors = case
    reordered = dict(reversed(list(desired.items())))
    assert dict(effective_weights(desired, factors).weights) == dict(effective_weights(reordered, factors).weights)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z]{1,4}", fullmatch=True), st.floats(0, 1000), min_size=1, max_size=10))
def test_property_largest_remainder_is_within_one_of_the_exact_quota(shares: dict[str, float]) -> None:
    out = largest_remainder(shares)
    total = sum(shares.values())
    if total <= 0:
        assert set(out.values()) == {0}
        return
    assert sum(out.values()) == 100
    assert all(abs(out[n] - shares[n] * 100 / total) < 1 for n in shares)


def test_normalized_weights_are_worked_out_once_per_set_and_handed_out_fresh() -> None:
    from airoute.core import weights

    weights._normalized.cache_clear()
    first = normalized({"a": 70, "b": 30})
    first["a"] = 0  # a caller's copy: the next one is not touched
    assert [normalized({"a": 70, "b": 30}) for _ in range(3)] == [{"a": 70, "b": 30}] * 3
    assert weights._normalized.cache_info().misses == 1 and weights._normalized.cache_info().hits == 3
    assert normalized({"b": 30, "a": 70}) == {"b": 30, "a": 70}
