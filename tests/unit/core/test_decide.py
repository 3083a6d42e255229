"""evaluate(): conditions, events with numbers, and the rules of the whole route."""

from __future__ import annotations

from airoute.api import AIRoute, BackendStatus, FieldProblem
from airoute.core import Decision, Observations, Signals, evaluate, invalid_spec_status

from .factories import (
    BEDROCK,
    T0,
    backend,
    condition,
    failing,
    make_route,
    observe,
    ok,
    spec_dict,
    step,
    weights,
)


def backend_status(route: AIRoute, name: str) -> BackendStatus:
    found = route.status.backend(name)
    assert found is not None, name
    return found


def test_first_evaluation() -> None:
    route = make_route(generation=3)
    decision = evaluate(route, observe(route), T0)
    s = decision.status
    assert s.weights == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    assert s.weights_summary == "azure-eu=50 bedrock-eu=30 vertex-eu=20 local-llama=0"
    assert (s.observed_generation, s.canary_weights, s.rollouts) == (3, {}, [])
    assert [c.type for c in s.conditions] == ["Ready", "Degraded", "Progressing", "RolledBack", "MetricsAvailable",
                                            "Served"]
    assert all(c.observed_generation == 3 for c in s.conditions)
    assert [(b.name, b.desired_weight, b.effective_weight) for b in s.backends] == [
        ("azure-eu", 50, 50),
        ("bedrock-eu", 30, 30),
        ("vertex-eu", 20, 20),
        ("local-llama", 0, 0),
    ]
    assert all(b.provider_hash and b.provider for b in s.backends)
    assert decision.events == ()


def ejected_route() -> tuple[AIRoute, Decision]:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    route, _ = step(route, observe(route, {"azure-eu": failing()}), T0 + 15)
    return step(route, observe(route, {"azure-eu": failing()}), T0 + 30)


def test_ejection_events_name_the_numbers() -> None:
    route, decision = ejected_route()
    assert weights(route) == {"azure-eu": 0, "bedrock-eu": 60, "vertex-eu": 40, "local-llama": 0}
    first = decision.events[0]
    assert (first.type, first.reason, first.backend) == ("Warning", "BackendEjected", "azure-eu")
    assert first.message == "weight of azure-eu 33→0: error rate 0.42 > 0.05 over 2m (out for 2m)"
    assert condition(route, "Degraded") == ("True", "BackendsOut")
    assert condition(route, "Ready") == ("True", "Serving")
    degraded = route.status.condition("Degraded")
    assert degraded is not None
    assert degraded.message == "azure-eu out: error rate 0.42 > 0.05 over 2m"


def test_standby_and_panic_conditions() -> None:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    down = dict.fromkeys(["azure-eu", "bedrock-eu", "vertex-eu"], failing(1.0))
    for i in (1, 2):
        route, decision = step(route, observe(route, down), T0 + 15 * i)
    assert weights(route)["local-llama"] == 100
    assert condition(route, "Ready") == ("True", "StandbyServing")
    assert condition(route, "Degraded") == ("True", "StandbyActive")
    everything = {**down, "local-llama": failing(1.0)}
    for i in (3, 4):
        route, decision = step(route, observe(route, everything), T0 + 15 * i)
    assert weights(route) == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    assert condition(route, "Ready") == ("False", "AllBackendsDown")
    assert condition(route, "Degraded") == ("True", "AllBackendsDown")
    assert "AllBackendsDown" in [e.reason for e in decision.events]


def test_metrics_unavailable_keeps_weights_and_says_why() -> None:
    route, _ = ejected_route()
    blind = Observations(metrics_available=False, metrics_error="prometheus: connection refused")
    before = weights(route)
    for i in range(40):  # 10 minutes: well past ejectFor
        route, _ = step(route, blind, T0 + 45 + 15 * i)
        assert weights(route) == before
    assert condition(route, "MetricsAvailable") == ("False", "MetricsUnavailable")
    metrics = route.status.condition("MetricsAvailable")
    assert metrics is not None
    assert metrics.message == "prometheus: connection refused"
    assert backend_status(route, "azure-eu").ejected_until is not None


def test_conditions_do_not_churn_across_evaluations() -> None:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    stamps = [c.last_transition_time for c in route.status.conditions]
    for i in range(1, 5):
        route, decision = step(route, observe(route), T0 + 15 * i)
        assert [c.last_transition_time for c in route.status.conditions] == stamps
        assert decision.events == ()


def test_removed_backend_leaves_status_and_spec_weight_change_is_explained() -> None:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    spec = spec_dict()
    spec["backends"] = [spec["backends"][0], backend("bedrock-eu", 50, BEDROCK)]
    route, decision = step(make_route(spec, route.status, generation=2), observe(route), T0 + 15)
    assert [b.name for b in route.status.backends] == ["azure-eu", "bedrock-eu"]
    assert weights(route) == {"azure-eu": 50, "bedrock-eu": 50}
    assert "weight of bedrock-eu 30→50: spec weight 30→50" in [e.message for e in decision.events]
    assert route.status.observed_generation == 2


def test_invalid_spec_keeps_the_last_good_routing() -> None:
    route, _ = ejected_route()
    problems = [FieldProblem("spec.backends[0].weight", "should be less than or equal to 100 (got 500)")]
    decision = invalid_spec_status(route.status, problems, 7, T0 + 60)
    s = decision.status
    assert (s.weights, s.backends, s.rollouts) == (route.status.weights, route.status.backends, route.status.rollouts)
    ready = s.condition("Ready")
    assert ready is not None
    assert (ready.status, ready.reason, ready.observed_generation) == ("False", "InvalidSpec", 7)
    assert ready.message == "spec.backends[0].weight: should be less than or equal to 100 (got 500)"
    assert s.observed_generation == 7
    assert [e.reason for e in decision.events] == ["InvalidSpec"]
    again = invalid_spec_status(s, problems, 7, T0 + 75)
    assert again.events == ()
    assert again.status.condition("Ready") == ready


def test_valid_again_after_invalid_spec() -> None:
    route, _ = ejected_route()
    broken = invalid_spec_status(route.status, ["bad"], 2, T0 + 45).status
    route, decision = step(make_route(status=broken, generation=3), observe(route, {"azure-eu": failing()}), T0 + 60)
    assert condition(route, "Ready") == ("True", "Serving")
    assert ("Normal", "Serving") in [(e.type, e.reason) for e in decision.events]


def test_drill_through_evaluate() -> None:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    obs = observe(route, drills={"vertex-eu": T0 + 120})
    route, decision = step(route, obs, T0 + 15)
    assert weights(route) == {"azure-eu": 63, "bedrock-eu": 37, "vertex-eu": 0, "local-llama": 0}
    assert [d.phase for d in route.status.drills] == ["Running"]
    assert {"DrillStarted", "BackendDrilled"} <= {e.reason for e in decision.events}
    assert backend_status(route, "vertex-eu").reason == "Drill"


def test_throttled_backend_is_degraded_and_gets_half() -> None:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    route, decision = step(route, observe(route, {"bedrock-eu": Signals(200, 0, 100, 1.0)}), T0 + 15)
    assert backend_status(route, "bedrock-eu").health == "Degraded"
    assert weights(route) == {"azure-eu": 59, "bedrock-eu": 18, "vertex-eu": 23, "local-llama": 0}
    assert any(e.reason == "BackendDegraded" for e in decision.events)
    route, _ = step(route, observe(route, {"bedrock-eu": ok()}), T0 + 30)
    route, _ = step(route, observe(route, {"bedrock-eu": ok()}), T0 + 45)
    assert weights(route)["bedrock-eu"] == 30


def test_a_route_the_gateways_cannot_serve_is_not_ready_and_says_why() -> None:
    """Issue 18.3: Served from what the gateways publish, folded into Ready (and its column)."""
    route, _ = step(make_route(), observe(make_route()), T0)
    assert condition(route, "Served") == ("True", "ServedByGateways")
    route, decision = step(route, observe(route, unservable=("azure-eu", "SecretNotFound")), T0 + 15)
    assert condition(route, "Served") == ("False", "SecretNotFound")
    assert condition(route, "Ready") == ("False", "SecretNotFound")
    ready = route.status.condition("Ready")
    assert ready is not None and "backend azure-eu: SecretNotFound" in ready.message and "503" in ready.message
    assert "SecretNotFound" in {e.reason for e in decision.events}
    route, _ = step(route, observe(route), T0 + 30)
    assert condition(route, "Served") == ("True", "ServedByGateways") and condition(route, "Ready")[0] == "True"
