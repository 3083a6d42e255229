from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airoute.api import AIRoute, InvalidRoute
from airoute.core import build_table, route_entry

from .factories import BEDROCK, BEDROCK_NEW, T0, backend, failing, make_route, observe, raw_route, spec_dict, step


def with_status(route: AIRoute, spec: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return raw_route(spec if spec is not None else route.spec.to_wire(), route.status.to_wire(), **meta)


def evaluated(spec: dict[str, Any] | None = None) -> AIRoute:
    route = make_route(spec)
    route, _ = step(route, observe(route), T0)
    return route


def canary_spec() -> dict[str, Any]:
    spec = spec_dict()
    spec["backends"][1] = backend("bedrock-eu", 30, BEDROCK_NEW)
    return spec


def weights_of(entry: Any) -> dict[str, int]:
    return {b.name: b.weight for b in entry.backends}


def test_route_without_status_uses_normalized_spec_weights() -> None:
    spec = spec_dict()
    spec["backends"][0]["weight"] = 10  # 10/30/20 → 17/50/33
    entry = route_entry(raw_route(spec))
    assert weights_of(entry) == {"azure-eu": 17, "bedrock-eu": 50, "vertex-eu": 33, "local-llama": 0}
    assert (entry.key, entry.model, entry.tier, entry.from_last_good) == (
        "support/support-chat",
        "support-chat",
        "critical",
        False,
    )
    assert (entry.consecutive_failures, entry.eject_seconds, entry.generation) == (3, 120.0, 1)
    bedrock = entry.backends[1]
    assert (bedrock.timeout_seconds, [(v.name, v.weight, v.provider_kind, v.cloud) for v in bedrock.variants]) == (
        30.0,
        [("stable", 100, "bedrock", "aws")],
    )


def test_weights_come_from_status() -> None:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    route, _ = step(route, observe(route, {"azure-eu": failing()}), T0 + 15)
    route, _ = step(route, observe(route, {"azure-eu": failing()}), T0 + 30)
    assert weights_of(route_entry(with_status(route))) == {
        "azure-eu": 0,
        "bedrock-eu": 60,
        "vertex-eu": 40,
        "local-llama": 0,
    }


def test_canary_split_from_status() -> None:
    route = evaluated()
    route, _ = step(make_route(canary_spec(), route.status), observe(route), T0 + 15)
    assert route.status.canary_weights == {"bedrock-eu": 5}
    bedrock = route_entry(with_status(route)).backends[1]
    variants = [(v.name, v.weight, v.provider.version_label) for v in bedrock.variants]
    assert variants == [
        ("stable", 95, "anthropic.claude-3-5-sonnet-20240620-v1:0"),
        ("canary", 5, "anthropic.claude-3-7-sonnet-20250219-v1:0"),
    ]
    assert bedrock.variants[0].provider_hash != bedrock.variants[1].provider_hash


def test_changed_spec_waits_for_the_controller_on_the_stable_block() -> None:
    route = evaluated()
    [variant] = route_entry(with_status(route, canary_spec())).backends[1].variants
    assert (variant.name, variant.provider.version_label) == (
        "stable",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
    )


def test_new_backend_is_all_canary_and_a_backend_unknown_to_status_gets_nothing() -> None:
    route = evaluated()
    spec = spec_dict()
    spec["backends"].append(backend("bedrock-us", 10, BEDROCK))
    assert weights_of(route_entry(with_status(route, spec)))["bedrock-us"] == 0
    route, _ = step(make_route(spec, route.status), observe(route), T0 + 15)
    entry = route_entry(with_status(route))
    [variant] = entry.backends[-1].variants
    assert (variant.name, variant.weight) == ("canary", 100)
    assert entry.backends[-1].weight == 1  # 5 % of its desired 10, normalised


def test_invalid_spec_falls_back_to_last_good_routing() -> None:
    route = evaluated()
    spec = spec_dict(tier="urgent")
    spec["backends"][0]["weight"] = 500
    entry = route_entry(with_status(route, spec))
    assert entry.from_last_good is True
    assert weights_of(entry) == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    assert entry.tier == "standard"  # the invalid field falls back to its default
    assert entry.degraded_response == spec_dict()["degradedResponse"]  # valid fields are kept
    assert all(len(b.variants) == 1 and b.variants[0].name == "stable" for b in entry.backends)


@pytest.mark.parametrize(
    ("spec", "status", "words"),
    [
        (spec_dict(backends=[]), None, "no last good routing"),
        (spec_dict(model="bad model!"), "evaluated", "model and allowedClients must be valid"),
        (spec_dict(allowedClients=["Not A Label"]), "evaluated", "model and allowedClients must be valid"),
    ],
)
def test_invalid_spec_without_a_usable_fallback_raises(spec: dict[str, Any], status: str | None, words: str) -> None:
    obj = with_status(evaluated(), spec) if status else raw_route(spec)
    with pytest.raises(InvalidRoute, match=words):
        route_entry(obj)


def test_invalid_metadata_raises() -> None:
    obj = raw_route()
    obj["metadata"] = {"name": ""}
    with pytest.raises(InvalidRoute, match=r"metadata\.name"):
        route_entry(obj)


def test_duplicate_model_older_route_wins() -> None:
    older = raw_route(name="b-route", created="2026-01-01T00:00:00Z")
    newer = raw_route(name="a-route", created="2026-06-01T00:00:00Z")
    table, problems = build_table([newer, older])
    assert table.routes["support-chat"].key == "support/b-route"
    assert [(p.key, p.message) for p in problems] == [
        ("support/a-route", "spec.model 'support-chat' belongs to support/b-route since 2026-01-01T00:00:00Z, "
                            "which claimed it first; this route is not served until it names another model or "
                            "that route is gone"),
    ]


def test_duplicate_model_without_timestamps_first_by_name_wins() -> None:
    table, problems = build_table([raw_route(name="zeta"), raw_route(name="alpha")])
    assert table.routes["support-chat"].key == "support/alpha"
    assert len(problems) == 1


def test_version_bumps_only_when_content_changes() -> None:
    first, _ = build_table([raw_route()])
    same, _ = build_table([raw_route()], first)
    assert (first.version, same.version, same.hash) == (1, 1, first.hash)
    changed, _ = build_table([raw_route(generation=2)], same)
    assert changed.version == 2
    assert changed.hash != first.hash


def test_unusable_route_keeps_its_previous_entry_or_is_left_out() -> None:
    table, _ = build_table([raw_route()])
    broken = raw_route(spec_dict(backends=[]))
    kept, problems = build_table([broken], table)
    assert kept.routes["support-chat"].from_last_good is True
    assert "previous entry kept" in problems[0].message
    empty, problems = build_table([broken])
    assert (dict(empty.routes), "left out" in problems[0].message) == ({}, True)


def test_fallback_is_reported_as_a_problem() -> None:
    _, problems = build_table([with_status(evaluated(), spec_dict(tier="urgent"))])
    assert [p.message for p in problems] == ["spec is invalid; serving the last good routing from status"]


def test_empty_table() -> None:
    table, problems = build_table([])
    assert (table.version, dict(table.routes), problems) == (1, {}, [])


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 500) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(["model", "tier", "backends", "failover", "allowedClients", "degradedResponse", "health"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(FIELDS, JSONISH, max_size=4))
def test_property_garbage_in_the_spec_gives_an_entry_or_invalid_route(garbage: dict[str, Any]) -> None:
    good = evaluated()
    obj = with_status(good, {**spec_dict(), **garbage})
    try:
        entry = route_entry(obj)
    except InvalidRoute:
        return
    assert sum(b.weight for b in entry.backends) == 100
    assert entry.model == (garbage.get("model") if isinstance(garbage.get("model"), str) else "support-chat")
