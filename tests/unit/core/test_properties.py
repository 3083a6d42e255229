"""Properties of evaluate() over random specs and random observation histories."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airoute.api import AIRoute, parse_route
from airoute.core import Observations, Signals, build_table, evaluate, route_entry
from airoute.core.signals import StatusPage

from .factories import T0, raw_route

NAMES = ("azure-eu", "bedrock-eu", "vertex-eu", "local-llama", "bedrock-us")
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def block(name: str, version: int) -> dict[str, Any]:
    if name.startswith("azure"):
        return {
            "azureOpenAI": {
                "endpoint": "https://contoso.openai.azure.com",
                "deployment": f"gpt-{version}",
                "region": "westeurope",
            }
        }
    if name.startswith("vertex"):
        return {"vertexAI": {"project": "acme-prod", "location": "europe-west4", "model": f"gemini-{version}"}}
    if name.startswith("local"):
        return {"inCluster": {"service": {"name": "vllm"}, "model": f"llama-{version}"}}
    return {"bedrock": {"region": "eu-central-1", "modelId": f"anthropic.claude-{version}"}}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5, unique=True))
    weights = [draw(st.integers(0, 100)) for _ in names]
    if not any(weights):
        weights[0] = draw(st.integers(1, 100))
    return {
        "model": "support-chat",
        "backends": [
            {"name": n, "weight": w, **block(n, draw(st.integers(1, 3)))} for n, w in zip(names, weights, strict=True)
        ],
        "health": {
            "minRequests": draw(st.integers(0, 30)),
            "unhealthyAfter": draw(st.integers(1, 3)),
            "healthyAfter": draw(st.integers(1, 3)),
            "maxErrorRate": draw(st.sampled_from([0.0, 0.05, 0.5])),
            "maxLatencyP95": draw(st.sampled_from(["500ms", "8s"])),
        },
        "failover": {
            "ejectFor": draw(st.sampled_from(["15s", "2m"])),
            "recoveryRamp": draw(st.sampled_from([[100], [10, 100], [10, 25, 50, 100]])),
            "recoveryInterval": draw(st.sampled_from(["1s", "30s"])),
        },
        "rollout": {
            "steps": draw(st.sampled_from([[100], [5, 20, 50, 100], [50, 100]])),
            "interval": draw(st.sampled_from(["15s", "5m"])),
            "minRequests": draw(st.integers(0, 20)),
            "failureLimit": draw(st.integers(1, 3)),
        },
    }


PAGES: tuple[StatusPage | None, ...] = (None, "degraded", "outage")
SAMPLES = [
    Signals(n, n * e, n * t, lat, None, page)
    for n in (0.0, 2.0, 25.0, 200.0)
    for e in (0.0, 0.01, 0.3, 1.0)
    for t in (0.0, 0.5)
    for lat in (None, 0.2, 9.0)
    for page in PAGES
    if page is None or (n, e, t, lat) == (200.0, 0.0, 0.0, 0.2)
]


@st.composite
def per_backend(draw: st.DrawFn) -> dict[str, Signals]:
    chosen = draw(st.lists(st.sampled_from(NAMES), max_size=5, unique=True))
    return {n: draw(st.sampled_from(SAMPLES)) for n in chosen}


def observations() -> st.SearchStrategy[Observations]:
    return st.builds(
        Observations,
        metrics_available=st.sampled_from([True, True, True, False]),
        metrics_error=st.just("prometheus: connection refused"),
        backends=per_backend(),
        canaries=per_backend(),
        drills=st.sampled_from([{}, {}, {}, {"azure-eu": T0 + 30}, {"bedrock-eu": T0 + 600}, {"vertex-eu": T0 + 3600}]),
        promote=st.sampled_from([False, False, False, True]),
        abort=st.sampled_from([False, False, False, True]),
        client_errors=st.sampled_from([None, 3.0]),
    )


Step = tuple[float, Observations, int]
histories = st.lists(
    st.tuples(st.sampled_from([1.0, 15.0, 60.0, 300.0]), observations(), st.integers(0, 2)),
    min_size=1,
    max_size=8,
)


def parse(spec: dict[str, Any], generation: int) -> AIRoute:
    return parse_route(raw_route(spec, generation=generation))


def check(route: AIRoute, obs: Observations, now: float, spec_changed: bool = True) -> AIRoute:
    decision = evaluate(route, obs, now)
    assert decision == evaluate(route, obs, now), "same inputs, same outputs"
    s = decision.status
    assert sum(s.weights.values()) == 100
    assert list(s.weights) == [b.name for b in route.spec.backends]
    ready = s.condition("Ready")
    panic = ready is not None and ready.reason == "AllBackendsDown"
    for b in s.backends:
        assert b.effective_weight == s.weights[b.name]
        if b.ejected_until is not None and not panic:
            assert s.weights[b.name] == 0, f"ejected {b.name} routed outside panic"
    for r in s.rollouts:
        if r.phase in ("RolledBack", "Aborted"):
            assert r.canary_weight == 0
            assert s.canary_weights.get(r.backend, 0) == 0
            if r.kind == "NewBackend" and not panic:
                assert s.weights[r.backend] == 0
    explicit = spec_changed or obs.drills or obs.abort or obs.promote
    if not obs.metrics_available and not explicit and route.status.weights:
        assert s.weights == route.status.weights, "weights moved while blind"
    entry = route_entry(raw_route(route.spec.to_wire(), s.to_wire()))
    assert {b.name: b.weight for b in entry.backends} == s.weights
    return route.model_copy(update={"status": s})


@SETTINGS
@given(st.lists(specs(), min_size=1, max_size=3), histories)
def test_property_invariants_hold_over_any_history(spec_pool: list[dict[str, Any]], history: list[Step]) -> None:
    now, generation, current = T0, 1, 0
    route = parse(spec_pool[0], generation)
    changed = True
    for dt, obs, choice in history:
        if choice % len(spec_pool) != current:
            current, generation, changed = choice % len(spec_pool), generation + 1, True
            route = parse(spec_pool[current], generation).model_copy(update={"status": route.status})
        route = check(route, obs, now, changed)
        changed = False
        now += dt


@SETTINGS
@given(specs(), observations())
def test_property_evaluate_never_raises_on_a_first_evaluation(spec: dict[str, Any], obs: Observations) -> None:
    route = check(parse(spec, 1), obs, T0)
    table, problems = build_table([raw_route(route.spec.to_wire(), route.status.to_wire())])
    assert problems == []
    assert set(table.routes) == {route.spec.model}
