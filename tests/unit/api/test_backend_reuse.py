"""Backends declared alike by many routes are validated once, and the result is what validating
each on its own gives: the same errors, at the same places, for bad ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airoute.api import InvalidRoute, parse_spec
from airoute.api import spec as spec_module


def backend(name: str = "b0", weight: int = 70, model: str = "m0") -> dict[str, Any]:
    block = {"baseURL": "https://api.example.com/v1", "model": model}
    return {"name": name, "weight": weight, "openAICompatible": block}


def spec(model: str, *backends: dict[str, Any]) -> dict[str, Any]:
    return {"model": model, "backends": [copy.deepcopy(b) for b in backends]}


@pytest.fixture(autouse=True)
def forget() -> None:
    spec_module._VALIDATED.clear()


def test_routes_declaring_the_same_backend_share_one_validated_backend() -> None:
    """Validating makes a new object: one object across 100 routes is one validation."""
    specs = [parse_spec(spec(f"model-{i}", backend("b0", 70, "m0"), backend("b1", 30, "m1"))) for i in range(100)]
    assert all(s.backends[0] is specs[0].backends[0] and s.backends[1] is specs[0].backends[1] for s in specs)
    assert len({id(b) for s in specs for b in s.backends}) == 2 and len(spec_module._VALIDATED) == 2
    assert [s.model for s in specs[:2]] == ["model-0", "model-1"]


def test_a_reused_backend_equals_one_validated_on_its_own() -> None:
    first = parse_spec(spec("a", backend(), backend("b1", 30, "m1")))
    again = parse_spec(spec("b", backend(), backend("b1", 30, "m1")))
    spec_module._VALIDATED.clear()
    fresh = parse_spec(spec("b", backend(), backend("b1", 30, "m1")))
    assert again.backends[0] is first.backends[0]
    assert again == fresh and again.backends[0].provider_hash() == fresh.backends[0].provider_hash()
    other = parse_spec(spec("c", backend(model="m9"), backend("b1", 30, "m1")))
    assert other.backends[0] is not first.backends[0] and other.backends[0].provider.model == "m9"


def test_a_bad_backend_is_never_remembered_and_named_at_its_place() -> None:
    good = backend()
    bad = {**backend("b1", 30), "openAICompatible": {"baseURL": "not a url", "model": "m1"}}
    errors = []
    for _ in range(2):
        with pytest.raises(InvalidRoute) as caught:
            parse_spec(spec("a", good, bad))
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and "spec.backends[1].openAICompatible.baseURL" in errors[0]
    assert ("backends", repr(bad)) not in spec_module._VALIDATED


def test_rules_across_backends_still_apply_to_remembered_ones() -> None:
    parse_spec(spec("a", backend(), backend("b1", 30, "m1")))
    with pytest.raises(InvalidRoute, match="duplicate backend name"):
        parse_spec(spec("b", backend(), backend()))
    with pytest.raises(InvalidRoute, match="at least one backend must have a weight above 0"):
        parse_spec(spec("c", backend(weight=0)))


def test_what_is_remembered_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_module, "MAX_REMEMBERED", 3)
    for i in range(10):
        parse_spec(spec("a", backend(model=f"m{i}")))
        assert len(spec_module._VALIDATED) <= 3


def test_policies_left_out_are_one_shared_default() -> None:
    first, second = parse_spec(spec("a", backend())), parse_spec(spec("b", backend()))
    assert first.health is second.health and first.failover is second.failover
    assert first.rollout is second.rollout and first.limits is second.limits
    assert first.health == spec_module.HealthPolicy() and first.failover == spec_module.FailoverPolicy()
    stated = parse_spec({**spec("c", backend()), "health": {"interval": "30s"}})
    assert stated.health is not first.health and stated.health.interval == "30s"


def test_policies_stated_alike_are_validated_once() -> None:
    """The API server writes the CRD's defaults into every route: the same stated policies across
    100 routes are one validated object each, equal to one validated on its own."""
    stated = {"health": {"interval": "15s", "window": "2m"}, "failover": {"ejectFor": "2m", "recoveryRamp": [50, 100]},
              "rollout": {"steps": [5, 100]}, "limits": {"tokensPerMinute": 1000}}
    specs = [parse_spec({**spec(f"model-{i}", backend()), **copy.deepcopy(stated)}) for i in range(100)]
    for policy in stated:
        assert len({id(getattr(s, policy)) for s in specs}) == 1
    spec_module._VALIDATED.clear()
    fresh = parse_spec({**spec("model-99", backend()), **copy.deepcopy(stated)})
    assert fresh == specs[99] and fresh.failover is not specs[99].failover
    assert specs[0].failover.recovery_ramp == [50, 100] and specs[0].limits.tokens_per_minute == 1000


def test_a_bad_policy_is_never_remembered_and_named_at_its_place() -> None:
    bad = {"steps": [50, 20, 100]}
    errors = []
    for _ in range(2):
        with pytest.raises(InvalidRoute) as caught:
            parse_spec({**spec("a", backend()), "rollout": copy.deepcopy(bad)})
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and "spec.rollout.steps" in errors[0] and "strictly increasing" in errors[0]
    assert ("rollout", repr(bad)) not in spec_module._VALIDATED
    other = parse_spec({**spec("b", backend()), "rollout": {"steps": [50, 100]}, "health": {"maxErrorRate": 1}})
    assert other.rollout.steps == [50, 100] and other.health.max_error_rate == 1
