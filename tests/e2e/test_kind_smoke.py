"""On a kind cluster: the chart installs, the controller runs, the examples' AIRoutes get Ready."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.e2e


def kubectl(kubeconfig, *args: str) -> str:
    return subprocess.run(
        ["kubectl", f"--kubeconfig={kubeconfig}", *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def test_controller_is_available(kind_cluster):
    deployments = json.loads(kubectl(kind_cluster, "get", "deployments", "-n", "airoute-system", "-o", "json"))
    assert deployments["items"], "the chart installed no Deployment"
    for deployment in deployments["items"]:
        status = deployment.get("status", {})
        assert status.get("availableReplicas", 0) >= 1, deployment["metadata"]["name"]


def test_every_example_airoute_is_ready_with_weights(kind_cluster):
    routes = json.loads(kubectl(kind_cluster, "get", "airoutes", "-A", "-o", "json"))["items"]
    assert routes, "examples/ created no AIRoute"
    for route in routes:
        status = route.get("status", {})
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", route["metadata"]["name"]
        assert status.get("weights"), route["metadata"]["name"]
