"""Status is not trusted (issue 14.6): a stable block from status is served only when it matches
the spec's block, differing at most in the model version a canary moves."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airoute.api import Backend, BackendStatus
from airoute.core import route_entry, step_rollout
from airoute.core.rollout import provider_wire
from airoute.core.statustrust import stored_block_mismatch

from .factories import AZURE, BEDROCK, T0, backend, make_route, observe, raw_route, spec_dict, step
from .test_rollout import POLICY, gates


def _tampered(block: dict[str, Any], **changes: Any) -> dict[str, Any]:
    (kind, fields), = copy.deepcopy(block).items()
    return {kind: {**fields, **changes}}


def _with_stable(stable: dict[str, Any], canary_share: int = 0, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    route = make_route()
    route, _ = step(route, observe(route), T0)
    status = route.status.to_wire()
    for b in status["backends"]:
        if b["name"] == "azure-eu":
            b["provider"] = stable
    if canary_share:
        status["canaryWeights"] = {"azure-eu": canary_share}
    return raw_route(spec if spec is not None else route.spec.to_wire(), status)


def _azure_variants(obj: dict[str, Any]) -> list[tuple[str, str, int]]:
    entry = route_entry(obj)
    [azure] = [b for b in entry.backends if b.name == "azure-eu"]
    return [(v.name, v.provider.to_wire()["endpoint"], v.weight) for v in azure.variants]  # type: ignore[index]


@pytest.mark.parametrize("share", [0, 40])
def test_a_stored_block_pointing_elsewhere_is_never_served(share: int) -> None:
    attacker = _tampered(AZURE, endpoint="https://attacker.example.com")
    obj = _with_stable(attacker, share)
    assert _azure_variants(obj) == [("canary" if share else "stable", "https://contoso.openai.azure.com", 100)]
    assert route_entry(obj).distrusted == (
        "status.backends[azure-eu].provider does not match the spec (its endpoint differs from the spec's "
        "(a canary may change only apiVersion, deployment)); not served",)


@pytest.mark.parametrize("field", ["region", "credentialsSecretRef", "insecure"])
def test_region_credentials_and_tls_are_the_specs(field: str) -> None:
    value = {"region": "eastus", "credentialsSecretRef": {"name": "other-team"}, "insecure": True}[field]
    entry = route_entry(_with_stable(_tampered(AZURE, **{field: value}), 40))
    assert entry.distrusted and field in entry.distrusted[0]


def test_a_stored_block_of_another_kind_is_never_served() -> None:
    entry = route_entry(_with_stable(copy.deepcopy(BEDROCK), 40))
    assert "it is a bedrock block and the spec's is azureOpenAI" in entry.distrusted[0]


def test_a_canary_of_a_model_version_keeps_its_stable_block() -> None:
    obj = _with_stable(_tampered(AZURE, deployment="gpt-4o-2024-05-13"), 40)
    assert _azure_variants(obj) == [("stable", "https://contoso.openai.azure.com", 60),
                                    ("canary", "https://contoso.openai.azure.com", 40)]
    assert route_entry(obj).distrusted == ()


def test_the_last_good_routing_serves_only_matching_stable_blocks() -> None:
    spec = spec_dict(tier="urgent")  # invalid: the gateway falls back to status
    entry = route_entry(_with_stable(_tampered(AZURE, endpoint="https://attacker.example.com"), spec=spec))
    assert entry.from_last_good and "azure-eu" not in {b.name for b in entry.backends}
    assert "status.backends[azure-eu].provider does not match the spec" in entry.distrusted[0]


def test_the_in_cluster_service_may_move_but_not_to_another_namespace() -> None:
    block = {"service": {"name": "vllm", "namespace": "models", "port": 8000}, "model": "llama"}
    moved = {**block, "service": {"name": "vllm-v2", "namespace": "models", "port": 8000}}
    elsewhere = {**block, "service": {"name": "vllm", "namespace": "payments", "port": 8000}}
    assert stored_block_mismatch("inCluster", moved, "inCluster", block) is None
    assert "service.namespace" in (stored_block_mismatch("inCluster", elsewhere, "inCluster", block) or "")


def test_a_change_no_canary_may_make_is_adopted_at_once() -> None:
    stable = Backend.model_validate(backend("azure-eu", 50, AZURE))
    moved = Backend.model_validate(backend("azure-eu", 50, _tampered(AZURE, endpoint="https://fabrikam.openai.azure.com")))
    known = BackendStatus(name="azure-eu", provider_hash=stable.provider_hash(), provider=provider_wire(stable))
    out = step_rollout(POLICY, moved, known, None, gates(), first=False, now=T0)
    assert (out.rollout, out.stable_hash) == (None, moved.provider_hash())
    assert [e.reason for e in out.events] == ["ChangeAdopted"]
