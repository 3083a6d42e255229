"""CRD upgrades (issue 20.3), offline: the templated CRD behind crds.install / crds.keep, and the
controller's start-up verdict on a CRD older than itself. The same on the real API server, with
`helm install/upgrade/uninstall` and the controller process: tests/integration/chart/test_lifecycle.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from airoute.api.crd import custom_resource_definition
from airoute.controller.crdcheck import missing_fields, verdict
from tests.support.helm import helm_binary, render
from tests.support.paths import REPO_ROOT


def _crds(set_values: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [o for o in render(set_values=set_values) if o["kind"] == "CustomResourceDefinition"]


@pytest.mark.helm
def test_the_crd_is_a_template_kept_on_uninstall() -> None:
    if helm_binary() is None:
        pytest.skip("helm is not available")
    (crd,) = _crds()
    source = yaml.safe_load((REPO_ROOT / "crds" / "airoute.dev_airoutes.yaml").read_text())
    assert crd["spec"] == source["spec"], "the chart installs exactly crds/airoute.dev_airoutes.yaml"
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert crd["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    (dropped,) = _crds({"crds.keep": "false"})
    assert "helm.sh/resource-policy" not in (dropped["metadata"].get("annotations") or {})
    assert _crds({"crds.install": "false"}) == []


def _without(crd: dict[str, Any], *path: str) -> dict[str, Any]:
    older = copy.deepcopy(crd)
    node = older["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for part in path[:-1]:
        node = node["properties"][part] if part != "[]" else node["items"]
    del node["properties"][path[-1]]
    return older


def test_the_current_crd_passes() -> None:
    assert missing_fields(custom_resource_definition(), custom_resource_definition()) == []
    assert verdict(custom_resource_definition()) is None


def test_a_crd_without_a_field_is_older() -> None:
    current = custom_resource_definition()
    older = _without(_without(current, "status", "rollouts"), "spec", "backends", "[]", "weight")
    missing = missing_fields(older, current)
    assert missing is not None and missing[0] == "spec.backends[].weight" and "status.rollouts" in missing
    assert all(m.startswith("status.rollouts") for m in missing[1:]), missing
    reason = verdict(older)
    assert reason is not None
    assert "older than this controller" in reason and "spec.backends[].weight" in reason
    assert "helm upgrade" in reason and "kubectl apply --server-side -f crds/airoute.dev_airoutes.yaml" in reason


def test_a_crd_without_an_enum_value_is_older() -> None:
    current = custom_resource_definition()
    older = copy.deepcopy(current)
    tier = older["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["tier"]
    tier["enum"] = [v for v in tier["enum"] if v != "best-effort"]
    assert missing_fields(older, current) == ["spec.tier=best-effort"]


def test_a_newer_crd_is_fine() -> None:
    current = custom_resource_definition()
    newer = copy.deepcopy(current)
    newer["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["future"] = {
        "type": "string"
    }
    assert verdict(newer) is None


def test_a_missing_crd_or_version_is_refused() -> None:
    reason = verdict(None)
    assert reason is not None and "not installed" in reason and "helm upgrade" in reason
    other = copy.deepcopy(custom_resource_definition())
    other["spec"]["versions"][0]["name"] = "v1alpha0"
    reason = verdict(other)
    assert reason is not None and "does not serve v1alpha1" in reason
