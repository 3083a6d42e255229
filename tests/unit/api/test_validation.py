"""Validation errors name the field path and what is wrong; defaults are explicit."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from airoute.api import InvalidRoute, parse_duration, parse_route, parse_spec
from tests.support.paths import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))

BASE: dict[str, Any] = {
    "apiVersion": "airoute.dev/v1alpha1",
    "kind": "AIRoute",
    "metadata": {"name": "r", "namespace": "ns"},
    "spec": {
        "model": "chat",
        "backends": [
            {
                "name": "a",
                "weight": 60,
                "azureOpenAI": {
                    "endpoint": "https://a.openai.azure.com",
                    "deployment": "gpt-4o",
                    "region": "westeurope",
                },
            },
            {"name": "b", "weight": 40, "bedrock": {"region": "eu-central-1", "modelId": "anthropic.claude-v2"}},
        ],
    },
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(BASE)
    node: Any = obj
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return obj


_DELETE = object()


@pytest.mark.parametrize("path", [str(p) for p in EXAMPLE_FILES])
def test_examples_are_valid(path: str) -> None:
    route = parse_route(yaml.safe_load(Path(path).read_text()), path)
    assert route.spec.backends


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("spec.tier", "gold", "spec.tier: should be 'critical', 'standard' or 'best-effort' (got 'gold')"),
        ("spec.backends.0.weight", 101, "spec.backends[0].weight: should be less than or equal to 100 (got 101)"),
        ("spec.backends.0.weight", -1, "spec.backends[0].weight: should be greater than or equal to 0 (got -1)"),
        ("spec.backends.1.name", "B_2", "spec.backends[1].name: should match pattern"),
        ("spec.backends.1.name", "a", "spec.backends[1].name: duplicate backend name 'a'"),
        (
            "spec.backends.0.azureOpenAI.endpoint",
            "http://a.example",
            "spec.backends[0].azureOpenAI: endpoint must use https:// (set insecure: true to allow plain http)",
        ),
        (
            "spec.backends.0.azureOpenAI.region",
            _DELETE,
            "spec.backends[0].azureOpenAI.region: required field is missing",
        ),
        (
            "spec.backends.0.bedrock",
            {"region": "eu-central-1", "modelId": "m"},
            "spec.backends[0]: exactly one provider block must be set",
        ),
        ("spec.backends.0.azureOpenAI", _DELETE, "spec.backends[0]: exactly one provider block must be set"),
        ("spec.backends.0.weight", 0, None),
        ("spec.health.window", "two minutes", "spec.health.window: 'two minutes' is not a duration"),
        ("spec.health.maxErrorRate", 1.5, "spec.health.maxErrorRate: should be less than or equal to 1"),
        ("spec.rollout.steps", [5, 50, 20, 100], "spec.rollout.steps: steps must be strictly increasing"),
        ("spec.rollout.steps", [5, 50], "spec.rollout.steps: steps must end at 100"),
        ("spec.rollout.steps", [], "spec.rollout.steps: should have at least 1 item"),
        ("spec.failover.recoveryRamp", [50, 20, 100], "spec.failover.recoveryRamp: recoveryRamp must be increasing"),
        ("spec.backends.0.colour", "blue", "spec.backends[0].colour: unknown field"),
        ("spec.model", "", "spec.model: should have at least 1 character"),
        ("spec.degradedResponse", "x" * 5000, "spec.degradedResponse: should have at most 4096 characters"),
        ("apiVersion", "airoute.dev/v1", "apiVersion: must be airoute.dev/v1alpha1 (got 'airoute.dev/v1')"),
    ],
)
def test_invalid_specs_name_the_field(path: str, value: Any, expected: str | None) -> None:
    obj = with_change(path, value)
    if path == "spec.backends.0.weight" and value == 0:
        obj["spec"]["backends"][1]["weight"] = 0
        expected = "spec.backends: at least one backend must have a weight above 0"
    with pytest.raises(InvalidRoute) as info:
        parse_route(obj, "route.yaml")
    messages = [str(p) for p in info.value.problems]
    assert any(m.startswith(expected or "") for m in messages), messages
    assert str(info.value).startswith("route.yaml: ")


def test_every_problem_is_reported_at_once() -> None:
    obj = with_change("spec.tier", "gold")
    obj["spec"]["backends"][0]["weight"] = 500
    obj["spec"]["health"] = {"window": "soon"}
    with pytest.raises(InvalidRoute) as info:
        parse_route(obj)
    paths = {p.path for p in info.value.problems}
    assert paths == {"spec.tier", "spec.backends[0].weight", "spec.health.window"}


def test_defaults_are_explicit() -> None:
    spec = parse_spec(BASE["spec"])
    assert spec.tier == "standard"
    assert (spec.health.window, spec.health.max_error_rate, spec.health.min_requests) == ("2m", 0.05, 20)
    assert spec.failover.recovery_ramp == [10, 25, 50, 100]
    assert spec.rollout.steps == [5, 20, 50, 100]
    assert spec.rollout.failure_limit == 2
    assert spec.backends[0].azure_open_ai is not None
    assert spec.backends[0].azure_open_ai.api_version is None  # the v1 API, no api-version
    assert spec.backends[0].timeout_seconds == 30.0


def test_provider_hash_changes_only_with_the_provider_block() -> None:
    spec = parse_spec(BASE["spec"])
    other = with_change("spec.backends.0.weight", 10)
    moved = with_change("spec.backends.0.azureOpenAI.deployment", "gpt-4o-2")
    assert parse_spec(other["spec"]).backends[0].provider_hash() == spec.backends[0].provider_hash()
    assert parse_spec(moved["spec"]).backends[0].provider_hash() != spec.backends[0].provider_hash()


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("1h30m", 5400), ("500ms", 0.5), ("1.5s", 1.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "2 m", "m2", "1d", "-1s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
