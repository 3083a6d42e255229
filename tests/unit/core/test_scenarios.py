"""Routes stepped through virtual time: evaluate, feed the status back, move the clock."""

from __future__ import annotations

from typing import Any

from airoute.api import AIRoute
from airoute.core import Observations, route_entry

from .factories import (
    BEDROCK,
    BEDROCK_NEW,
    T0,
    backend,
    condition,
    failing,
    make_route,
    observe,
    ok,
    raw_route,
    run,
    spec_dict,
    step,
)


def settled(spec: dict[str, Any] | None = None) -> AIRoute:
    route = make_route(spec)
    route, _ = step(route, observe(route), T0)
    return route


def changed_bedrock(route: AIRoute, block: dict[str, Any] = BEDROCK_NEW) -> AIRoute:
    spec = spec_dict()
    spec["backends"][1] = backend("bedrock-eu", 30, block)
    return make_route(spec, route.status, generation=2)


def azure_weights(history: list[Any]) -> list[int]:
    out: list[int] = []
    for _, d in history:
        w = d.status.weights["azure-eu"]
        if not out or out[-1] != w:
            out.append(w)
    return out


def test_outage_failover_and_recovery_ramp() -> None:
    def world(route: AIRoute, now: float) -> Observations:
        if T0 + 60 <= now < T0 + 300:
            return observe(route, {"azure-eu": failing(0.42)})
        if now >= T0 + 300:
            return observe(route, {"azure-eu": ok(requests=40)})
        return observe(route)

    route, history = run(settled(), world, T0 + 15, T0 + 900)
    assert azure_weights(history) == [50, 33, 0, 9, 20, 33, 50]
    out_at = next(now for now, d in history if d.status.weights["azure-eu"] == 0)
    assert out_at == T0 + 75  # ejected on the second bad evaluation
    back_at = next(now for now, d in history if now > out_at and d.status.weights["azure-eu"] > 0)
    assert back_at >= T0 + 300
    assert route.status.weights == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    assert condition(route, "Degraded") == ("False", "AllBackendsIn")
    reasons = [e.reason for _, d in history for e in d.events if e.backend == "azure-eu"]
    assert reasons[:2] == ["BackendDegraded", "BackendEjected"]
    assert reasons[-1] == "BackendRecovered"
    assert reasons.count("BackendRecovering") == 3
    for _, d in history:
        assert sum(d.status.weights.values()) == 100


def test_canary_passes_and_is_promoted_step_by_step() -> None:
    route = changed_bedrock(settled())

    def world(route: AIRoute, now: float) -> Observations:
        return observe(route, canaries={"bedrock-eu": ok(requests=50)})

    route, history = run(route, world, T0 + 15, T0 + 15 + 4 * 300 + 60, every=30)
    shares: list[int] = []
    for _, d in history:
        share = d.status.canary_weights.get("bedrock-eu", 0)
        if not shares or shares[-1] != share:
            shares.append(share)
    assert shares == [5, 20, 50, 100, 0]
    [rollout] = route.status.rollouts
    assert (rollout.phase, rollout.failed_checks) == ("Succeeded", 0)
    stable = route.status.backend("bedrock-eu")
    assert stable is not None
    assert stable.provider == {"bedrock": {**BEDROCK_NEW["bedrock"], "insecure": False}}
    assert condition(route, "Progressing") == ("False", "RolloutSucceeded")
    [variant] = route_entry(raw_route(route.spec.to_wire(), route.status.to_wire())).backends[1].variants
    assert (variant.name, variant.provider.version_label) == (
        "stable",
        "anthropic.claude-3-7-sonnet-20250219-v1:0",
    )
    assert route.status.weights == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}


def test_canary_fails_rolls_back_and_then_gets_no_traffic() -> None:
    route = changed_bedrock(settled())

    def world(route: AIRoute, now: float) -> Observations:
        return observe(route, canaries={"bedrock-eu": failing(0.30, requests=50)})

    route, history = run(route, world, T0 + 15, T0 + 15 + 3600, every=60)
    rolled = [(now, e) for now, d in history for e in d.events if e.reason == "CanaryRolledBack"]
    assert len(rolled) == 1
    now, event = rolled[0]
    assert now == T0 + 15 + 600  # two failed checks, one interval apart
    assert event.message == "canary of bedrock-eu rolled back: canary error rate 0.30 > 0.02 (2 failed checks)"
    after = [d for t, d in history if t >= now]
    assert all(d.status.canary_weights == {} for d in after)
    assert all(d.status.rollouts[0].phase == "RolledBack" for d in after)
    assert condition(route, "RolledBack") == ("True", "CanaryRolledBack")
    stable = route.status.backend("bedrock-eu")
    assert stable is not None
    assert stable.provider == {"bedrock": {**BEDROCK["bedrock"], "insecure": False}}
    [variant] = route_entry(raw_route(route.spec.to_wire(), route.status.to_wire())).backends[1].variants
    assert variant.name == "stable"
    assert variant.provider.version_label == "anthropic.claude-3-5-sonnet-20240620-v1:0"
    reverted, decision = step(make_route(spec_dict(), route.status, generation=3), observe(route), T0 + 7200)
    assert reverted.status.rollouts == []
    assert condition(reverted, "RolledBack") == ("False", "NoRollback")
    assert [e.reason for e in decision.events] == ["CanaryCleared"]


def test_prometheus_gap_pauses_the_canary_and_it_resumes() -> None:
    route = changed_bedrock(settled())
    gap = (T0 + 400, T0 + 1000)

    def world(route: AIRoute, now: float) -> Observations:
        if gap[0] <= now < gap[1]:
            return Observations(metrics_available=False, metrics_error="prometheus: connection refused")
        return observe(route, canaries={"bedrock-eu": ok(requests=50)})

    route, history = run(route, world, T0 + 15, T0 + 3000, every=15)
    during = [d for now, d in history if gap[0] <= now < gap[1]]
    assert all(d.status.rollouts[0].phase == "Paused" for d in during)
    assert {d.status.rollouts[0].step for d in during} == {1}
    assert all(d.status.rollouts[0].failed_checks == 0 for d in during)
    assert all(d.status.weights == during[0].status.weights for d in during)
    assert all(condition_of(d, "Progressing") == ("True", "RolloutPaused") for d in during)
    resumed = [now for now, d in history for e in d.events if e.reason == "CanaryResumed"]
    assert resumed == [min(now for now, _ in history if now >= gap[1])]
    [rollout] = route.status.rollouts
    assert (rollout.phase, rollout.failed_checks) == ("Succeeded", 0)


def condition_of(decision: Any, type_: str) -> tuple[str, str]:
    c = decision.status.condition(type_)
    return c.status, c.reason


def test_new_backend_ramps_in_as_a_canary() -> None:
    route = settled()
    spec = spec_dict()
    spec["backends"].append(backend("bedrock-us", 20, {"bedrock": {**BEDROCK["bedrock"], "region": "us-east-1"}}))
    route = make_route(spec, route.status, generation=2)

    def world(route: AIRoute, now: float) -> Observations:
        return observe(route, canaries={"bedrock-us": ok(requests=50)})

    route, history = run(route, world, T0 + 15, T0 + 15 + 4 * 300 + 60, every=60)
    seen: list[int] = []
    for _, d in history:
        w = d.status.weights["bedrock-us"]
        if not seen or seen[-1] != w:
            seen.append(w)
    assert seen == [1, 4, 9, 17]  # 5 %, 20 %, 50 %, 100 % of a desired 20 next to 100
    assert route.status.rollouts[0].phase == "Succeeded"
    assert route.status.canary_weights == {}


def test_drill_report() -> None:
    def world(route: AIRoute, now: float) -> Observations:
        return observe(route, drills={"azure-eu": T0 + 300}, client_errors=0)

    route, history = run(settled(), world, T0 + 60, T0 + 900)
    events = [e for _, d in history for e in d.events if e.reason.startswith("Drill")]
    assert [e.reason for e in events] == ["DrillStarted", "DrillCompleted"]
    assert events[1].message == (
        "outage drill of azure-eu completed: traffic shifted away after 0s, "
        "full weight back 90s after the drill ended, 0 client-visible errors"
    )
    [drill] = route.status.drills
    assert (drill.phase, drill.weight_shifted_after, drill.recovered_after) == ("Completed", 0.0, 90.0)
    assert route.status.weights["azure-eu"] == 50
