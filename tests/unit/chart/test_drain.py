"""Rollouts that never cut a stream, drains that never block (issue 20.2), rendered offline.

tests/integration/chart/test_drain_and_policy.py shows the same budgets to the real API server's
eviction API.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.helm import HelmError, helm_binary, render

pytestmark = pytest.mark.helm


@pytest.fixture(scope="module", autouse=True)
def _helm() -> None:
    if helm_binary() is None:
        pytest.skip("helm is not available: hack/install-helm.sh could not install it")


def _deployment(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith(component)]
    return found


def _pod(objects: list[dict[str, Any]], component: str) -> dict[str, Any]:
    pod: dict[str, Any] = _deployment(objects, component)["spec"]["template"]["spec"]
    return pod


def _arg(container: dict[str, Any], flag: str) -> float:
    (value,) = [a.split("=", 1)[1] for a in container["args"] if a.startswith(f"--{flag}=")]
    return float(value)


@pytest.mark.parametrize(
    ("set_values", "grace"),
    [({}, 120), ({"gateway.requestTimeout": "300"}, 300), ({"gateway.shutdownGrace": "45"}, 45)],
    ids=["default", "longer timeout", "explicit grace"],
)
def test_streams_get_the_request_timeout_to_finish(set_values: dict[str, str], grace: float) -> None:
    pod = _pod(render(set_values=set_values), "gateway")
    gateway = pod["containers"][0]
    assert _arg(gateway, "shutdown-grace") == grace
    delay = _arg(gateway, "shutdown-delay")
    # The kubelet's SIGKILL comes only after the whole drain: the delay, the grace, and room to exit.
    assert pod["terminationGracePeriodSeconds"] == delay + grace + 5
    if "gateway.shutdownGrace" not in set_values:
        assert grace >= _arg(gateway, "request-timeout"), "a rollout would cut the longest streams"


def test_readiness_flips_before_the_listener_closes() -> None:
    gateway = _pod(render(), "gateway")["containers"][0]
    readiness = gateway["readinessProbe"]
    assert readiness["httpGet"]["path"] == "/readyz"
    assert readiness["periodSeconds"] * readiness["failureThreshold"] <= _arg(gateway, "shutdown-delay")
    with pytest.raises(HelmError, match=r"shutdownDelay 3 is shorter than the 4s the readiness probe needs"):
        render(set_values={"gateway.shutdownDelay": "3"})


@pytest.mark.parametrize("component", ["controller", "gateway"])
def test_a_startup_probe_and_no_dead_initial_delay(component: str) -> None:
    container = _pod(render(), component)["containers"][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert "initialDelaySeconds" not in container.get(probe, {}), f"{component} {probe}"


@pytest.mark.parametrize("component", ["controller", "gateway"])
def test_pods_prefer_to_spread_over_zones_by_default(component: str) -> None:
    (spread,) = _pod(render(), component)["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["whenUnsatisfiable"] == "ScheduleAnyway", "a soft spread: a one-zone cluster still schedules"
    assert spread["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
    assert spread["matchLabelKeys"] == ["pod-template-hash"]
    own = {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}
    objects = render(set_values={f"{component}.topologySpreadConstraints[0].{k}": str(v) for k, v in own.items()})
    assert _pod(objects, component)["topologySpreadConstraints"] == [own]


def _budgets(set_values: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"].removeprefix("airoute-"): o["spec"]
        for o in render(set_values=set_values)
        if o["kind"] == "PodDisruptionBudget"
    }


def test_budgets_let_one_pod_go_and_never_wait_for_an_unhealthy_one() -> None:
    budgets = _budgets()
    assert set(budgets) == {"controller", "gateway"}
    for spec in budgets.values():
        assert spec["maxUnavailable"] == 1 and "minAvailable" not in spec
        assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


REFUSED = {
    "controller minAvailable = replicas": ({"controller.podDisruptionBudget.minAvailable": "2"}, "keeps all 2"),
    "gateway minAvailable = minReplicas": ({"gateway.podDisruptionBudget.minAvailable": "2"}, "keeps all 2"),
    "gateway minAvailable above replicas": (
        {"gateway.autoscaling.enabled": "false", "gateway.replicas": "3"}
        | {"gateway.podDisruptionBudget.minAvailable": "4"},
        "keeps all 3",
    ),
    "a percentage that rounds up to all": ({"gateway.podDisruptionBudget.minAvailable": "60%"}, "keeps all 2"),
    "both set": (
        {"gateway.podDisruptionBudget.minAvailable": "1", "gateway.podDisruptionBudget.maxUnavailable": "1"},
        "not both",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_budget_that_would_block_every_drain_is_refused(case: str) -> None:
    set_values, message = REFUSED[case]
    with pytest.raises(HelmError, match=message):
        render(set_values=set_values)


def test_budgets_that_leave_room_are_kept_as_given() -> None:
    budgets = _budgets({
        "controller.replicas": "3", "controller.podDisruptionBudget.minAvailable": "2",
        "gateway.podDisruptionBudget.minAvailable": "50%",
        "gateway.podDisruptionBudget.unhealthyPodEvictionPolicy": "IfHealthyBudget",
    })  # fmt: skip
    assert budgets["controller"]["minAvailable"] == 2 and "maxUnavailable" not in budgets["controller"]
    assert budgets["gateway"]["minAvailable"] == "50%"
    assert budgets["gateway"]["unhealthyPodEvictionPolicy"] == "IfHealthyBudget"
    single = _budgets({"controller.replicas": "1", "controller.peering.enabled": "false"})
    assert "controller" not in single, "one replica: a budget would block drains or protect nothing"


def _hpa(set_values: dict[str, str] | None = None) -> dict[str, Any]:
    (hpa,) = [o for o in render(set_values=set_values) if o["kind"] == "HorizontalPodAutoscaler"]
    spec: dict[str, Any] = hpa["spec"]
    return spec


def test_the_autoscaler_scales_down_slowly() -> None:
    down = _hpa()["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] >= 300
    assert down["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}] and down["selectPolicy"] == "Min"
    assert "scaleUp" not in _hpa()["behavior"], "scale up at Kubernetes' default pace"


def test_the_autoscaler_can_scale_on_requests_in_flight() -> None:
    assert [m["type"] for m in _hpa()["metrics"]] == ["Resource"]
    metrics = _hpa({"gateway.autoscaling.inFlightRequests.enabled": "true"})["metrics"]
    (pods,) = [m for m in metrics if m["type"] == "Pods"]
    assert pods["pods"] == {
        "metric": {"name": "airoute_gateway_in_flight_requests"},
        "target": {"type": "AverageValue", "averageValue": "200"},
    }
