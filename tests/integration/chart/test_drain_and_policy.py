"""The chart's NetworkPolicies and PodDisruptionBudgets on the real API server (issue 20.1, 20.2).

What an API server without nodes can prove: the policies of every peer combination pass its
admission and validation and are stored as rendered; and the eviction API, which the API server
itself runs (`kubectl drain` calls it), lets a drain evict a crash-looping gateway pod under the
chart's budget while it refuses the same eviction under an IfHealthyBudget one (the drain would
hang until someone fixed the gateway). There is no disruption controller here: the budget's
status is written by the test as that controller would compute it (3 pods expected, 1 healthy,
2 desired), and the pods' status as a kubelet would report it.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from tests.support.fakes import wait_for
from tests.support.helm import render

pytestmark = [pytest.mark.cluster, pytest.mark.helm]

CLIENTS = "{namespaceSelector: {matchLabels: {airoute.dev/client: 'true'}}}"
MONITORING = "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}"


def _policy_values(gateway_from: bool, metrics_from: bool, restrict: bool) -> dict[str, str]:
    values = {"networkPolicy.enabled": "true", "networkPolicy.egress.restrict": str(restrict).lower()}
    if gateway_from:
        values["networkPolicy.ingress.gatewayFrom[0].namespaceSelector.matchLabels.team"] = "clients"
    if metrics_from:
        values["networkPolicy.ingress.metricsFrom[0].namespaceSelector.matchLabels.team"] = "monitoring"
    return values


def test_every_network_policy_combination_is_accepted_as_rendered(apiserver: Any, helm_ready: str) -> None:
    for i, (gateway_from, metrics_from, restrict) in enumerate(itertools.product([False, True], repeat=3)):
        namespace = f"chart-netpol-{i}"
        apiserver.ensure_namespace(namespace)
        values = _policy_values(gateway_from, metrics_from, restrict)
        policies = [o for o in render(set_values=values, namespace=namespace) if o["kind"] == "NetworkPolicy"]
        assert len(policies) == 2
        apiserver.apply(*policies)
        for policy in policies:
            live = json.loads(apiserver.kubectl(
                "get", "networkpolicy", policy["metadata"]["name"], "-n", namespace, "-o", "json").stdout)  # fmt: skip
            assert live["spec"] == policy["spec"], f"{values}: stored differently than rendered"
        apiserver.kubectl("delete", "networkpolicy", "--all", "-n", namespace)


def _pod(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"containers": [{"name": "gateway", "image": "ghcr.io/airoute/airoute:0.1.0"}]},
    }


def _report(apiserver: Any, namespace: str, name: str, ready: bool) -> None:
    """The pod's status as a kubelet would write it: Running, Ready or not."""
    condition = {"type": "Ready", "status": "True" if ready else "False"}
    status = {"status": {"phase": "Running", "conditions": [condition]}}
    apiserver.kubectl("patch", "pod", name, "-n", namespace, "--subresource=status", "--type=merge",
                      "-p", json.dumps(status))  # fmt: skip


def _evict(apiserver: Any, namespace: str, name: str) -> tuple[int, str]:
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": namespace}}
    done = apiserver.kubectl("create", "--raw", f"/api/v1/namespaces/{namespace}/pods/{name}/eviction",
                             "-f", "-", input=json.dumps(body), check=False)  # fmt: skip
    return done.returncode, done.stderr


@pytest.mark.parametrize("policy", ["AlwaysAllow", "IfHealthyBudget"])
def test_a_drain_evicts_an_unready_gateway_under_the_charts_budget(
    apiserver: Any, helm_ready: str, policy: str
) -> None:
    namespace = f"chart-drain-{policy.lower()}"
    apiserver.ensure_namespace(namespace)
    objects = render(set_values={"gateway.podDisruptionBudget.unhealthyPodEvictionPolicy": policy}, namespace=namespace)
    (pdb,) = [o for o in objects if o["kind"] == "PodDisruptionBudget" and o["metadata"]["name"] == "airoute-gateway"]
    labels = pdb["spec"]["selector"]["matchLabels"]
    pods = {"gateway-ready": True, "gateway-crashing-1": False, "gateway-crashing-2": False}
    apiserver.apply(pdb, *(_pod(namespace, name, labels) for name in pods))
    for name, ready in pods.items():
        _report(apiserver, namespace, name, ready)
    live = json.loads(apiserver.kubectl("get", "pdb", "airoute-gateway", "-n", namespace, "-o", "json").stdout)
    assert live["spec"]["maxUnavailable"] == 1 and live["spec"]["unhealthyPodEvictionPolicy"] == policy
    # What the disruption controller would write: 3 expected, 1 healthy, 3 - maxUnavailable 1 = 2 desired.
    status = {"status": {"observedGeneration": live["metadata"]["generation"], "expectedPods": 3,
                         "currentHealthy": 1, "desiredHealthy": 2, "disruptionsAllowed": 0}}  # fmt: skip
    apiserver.kubectl("patch", "pdb", "airoute-gateway", "-n", namespace, "--subresource=status", "--type=merge",
                      "-p", json.dumps(status))  # fmt: skip

    code, stderr = _evict(apiserver, namespace, "gateway-ready")
    assert code != 0 and "disruption budget" in stderr, "the budget protects the last Ready gateway"
    code, stderr = _evict(apiserver, namespace, "gateway-crashing-1")
    if policy == "AlwaysAllow":
        assert code == 0, f"the chart's budget blocked a drain on a pod that is not Ready: {stderr}"
        wait_for("the evicted pod to be deleted", lambda: _gone(apiserver, namespace, "gateway-crashing-1"))
    else:
        assert code != 0 and "disruption budget" in stderr, "IfHealthyBudget waits for the unready pod"
    apiserver.kubectl("delete", "pods,pdb", "--all", "-n", namespace, "--wait=false")


def _gone(apiserver: Any, namespace: str, name: str) -> bool:
    done = apiserver.kubectl("get", "pod", name, "-n", namespace, "-o", "json", check=False)
    return done.returncode != 0 or bool(json.loads(done.stdout)["metadata"].get("deletionTimestamp"))
