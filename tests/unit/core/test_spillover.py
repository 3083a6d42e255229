"""The share spilled out of the first priority group (issue 16.4), read from the backends' status."""

from __future__ import annotations

from airoute.api.spec import AIRouteSpec
from airoute.api.status import BackendStatus
from airoute.core import Signals, evaluate
from airoute.core.spillover import spilled_share

from .factories import AZURE, BEDROCK, T0, backend, make_route, observe, spec_dict


def _spec(priorities: dict[str, int]) -> AIRouteSpec:
    return AIRouteSpec.model_validate({"model": "chat", "backends": [
        {"name": n, "weight": 50, "priority": p,
         "openAICompatible": {"baseURL": "https://api.example.com/v1", "model": "m"}}
        for n, p in priorities.items()]})


def test_the_share_answered_outside_the_lowest_group() -> None:
    spec = _spec({"ptu": 0, "paygo": 1, "other-cloud": 2})
    backends = [
        BackendStatus(name="ptu", requests=100, throttle_rate=0.4),  # 60 answered, 40 throttled: spilled
        BackendStatus(name="paygo", requests=30),
        BackendStatus(name="other-cloud", requests=10, error_rate=0.0),
    ]
    assert spilled_share(spec, backends) == round(40 / 100, 4)


def test_one_group_or_no_traffic_says_nothing() -> None:
    assert spilled_share(_spec({"a": 0, "b": 0}), [BackendStatus(name="a", requests=10)]) is None
    assert spilled_share(_spec({"a": 0, "b": 1}), [BackendStatus(name="a"), BackendStatus(name="b")]) is None


def test_the_controller_writes_the_share_spilled_to_status() -> None:
    route = make_route(spec_dict(backends=[{**backend("ptu", 100, AZURE), "priority": 0},
                                           {**backend("paygo", 100, BEDROCK), "priority": 1}]))
    obs = observe(route, {"ptu": Signals(100, 0, 25, 1.0), "paygo": Signals(25, 0, 0, 1.0)})
    assert evaluate(route, obs, T0).status.spilled_share == 0.25
    assert evaluate(make_route(), observe(make_route()), T0).status.spilled_share is None  # one group
