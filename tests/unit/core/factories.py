"""Builders for core tests: a realistic AIRoute, signal snapshots, and a virtual-time driver."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from airoute.api import AIRoute, AIRouteStatus, parse_route
from airoute.core import Decision, Observations, Signals, evaluate
from tests.support.routes import route_object

T0 = 1_795_341_600.0  # 2026-11-22T10:00:00Z

AZURE = {
    "azureOpenAI": {
        "endpoint": "https://contoso.openai.azure.com",
        "deployment": "gpt-4o",
        "region": "westeurope",
        "credentialsSecretRef": {"name": "azure-eu", "key": "api-key"},
    }
}
BEDROCK = {
    "bedrock": {
        "region": "eu-central-1",
        "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
        "credentialsSecretRef": {"name": "aws-eu"},
    }
}
BEDROCK_NEW = {
    "bedrock": {
        "region": "eu-central-1",
        "modelId": "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "credentialsSecretRef": {"name": "aws-eu"},
    }
}
BEDROCK_NEWER = {
    "bedrock": {
        "region": "eu-central-1",
        "modelId": "anthropic.claude-sonnet-4-20250514-v1:0",
        "credentialsSecretRef": {"name": "aws-eu"},
    }
}
VERTEX = {"vertexAI": {"project": "acme-prod", "location": "europe-west4", "model": "gemini-1.5-pro-002"}}
LOCAL = {
    "inCluster": {
        "service": {"name": "vllm-llama", "namespace": "models", "port": 8000},
        "model": "meta-llama/Llama-3.1-8B-Instruct",
    }
}


def backend(name: str, weight: int, block: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": name, "weight": weight, **copy.deepcopy(dict(block))}


def spec_dict(**overrides: Any) -> dict[str, Any]:
    """The DESIGN.md support-chat route (azure 50, bedrock 30, vertex 20, local standby)."""
    spec: dict[str, Any] = {
        "model": "support-chat",
        "tier": "critical",
        "backends": [
            backend("azure-eu", 50, AZURE),
            backend("bedrock-eu", 30, BEDROCK),
            backend("vertex-eu", 20, VERTEX),
            backend("local-llama", 0, LOCAL),
        ],
        "health": {
            "interval": "15s",
            "window": "2m",
            "maxErrorRate": 0.05,
            "maxLatencyP95": "8s",
            "minRequests": 20,
            "unhealthyAfter": 2,
            "healthyAfter": 2,
        },
        "failover": {"ejectFor": "2m", "recoveryRamp": [10, 25, 50, 100], "recoveryInterval": "30s"},
        "rollout": {
            "steps": [5, 20, 50, 100],
            "interval": "5m",
            "maxErrorRate": 0.02,
            "maxLatencyP95": "6s",
            "minRequests": 10,
            "failureLimit": 2,
        },
        "degradedResponse": "Our assistant is briefly unavailable; a person will answer you shortly.",
    }
    spec.update(overrides)
    return spec


def raw_route(
    spec: Mapping[str, Any] | None = None,
    status: Mapping[str, Any] | None = None,
    name: str = "support-chat",
    namespace: str = "support",
    generation: int = 1,
    created: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"generation": generation}
    if created is not None:
        meta["creationTimestamp"] = created
    return route_object(spec if spec is not None else spec_dict(), name, namespace, status, **meta)


def make_route(
    spec: Mapping[str, Any] | None = None, status: AIRouteStatus | None = None, generation: int = 1
) -> AIRoute:
    route = parse_route(raw_route(spec, generation=generation))
    return route.model_copy(update={"status": status}) if status is not None else route


def ok(requests: float = 200, errors: float = 0, throttled: float = 0, latency: float | None = 1.2) -> Signals:
    return Signals(requests=requests, errors=errors, throttled=throttled, latency_p95=latency)


def failing(rate: float = 0.42, requests: float = 200) -> Signals:
    return Signals(requests=requests, errors=rate * requests, throttled=0, latency_p95=1.2)


def observe(route: AIRoute, overrides: Mapping[str, Signals | None] | None = None, **kw: Any) -> Observations:
    """Every backend of the route healthy, except ``overrides`` (``None`` = no series)."""
    signals: dict[str, Signals] = {b.name: ok() for b in route.spec.backends}
    for name, s in (overrides or {}).items():
        if s is None:
            signals.pop(name, None)
        else:
            signals[name] = s
    kw.setdefault("metrics_available", True)
    return Observations(backends=signals, **kw)


def step(route: AIRoute, obs: Observations, now: float) -> tuple[AIRoute, Decision]:
    decision = evaluate(route, obs, now)
    return route.model_copy(update={"status": decision.status}), decision


def run(
    route: AIRoute, obs: Callable[[AIRoute, float], Observations], start: float, until: float, every: float = 15.0
) -> tuple[AIRoute, list[tuple[float, Decision]]]:
    """Evaluate every ``every`` seconds from ``start`` up to ``until``, feeding the status back."""
    history: list[tuple[float, Decision]] = []
    now = start
    while now <= until:
        route, decision = step(route, obs(route, now), now)
        history.append((now, decision))
        now += every
    return route, history


def weights(route: AIRoute) -> dict[str, int]:
    return dict(route.status.weights)


def condition(route: AIRoute, type_: str) -> tuple[str, str]:
    c = route.status.condition(type_)
    assert c is not None, type_
    return c.status, c.reason
