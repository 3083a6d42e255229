"""The NetworkPolicies, rendered for each combination of peers and signal sources (issue 20.1).

Each peer list stands on its own: gatewayFrom restricts the gateway's API port to those clients;
metricsFrom restricts the metrics port of both components (the gateway serves /metrics there
alone) and never reaches the API port; an empty list never opens what another restricts. With
egress restricted, the controller reaches the port of each URL it is given (and only that
Service's namespace when the URL names one).
tests/integration/chart/test_drain_and_policy.py applies them to the real API server.
"""

from __future__ import annotations

import itertools
from typing import Any

import kubernetes_validate
import pytest

from tests.support.helm import HelmError, helm_binary, render_values

pytestmark = pytest.mark.helm

CLIENTS = {"namespaceSelector": {"matchLabels": {"airoute.dev/client": "true"}}}
MONITORING = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
CONTROLLER_PODS = {
    "podSelector": {
        "matchLabels": {
            "app.kubernetes.io/component": "controller",
            "app.kubernetes.io/instance": "airoute",
            "app.kubernetes.io/name": "airoute",
        }
    }
}


@pytest.fixture(scope="module", autouse=True)
def _helm() -> None:
    if helm_binary() is None:
        pytest.skip("helm is not available: hack/install-helm.sh could not install it")


def policies(set_values: dict[str, str], ingress: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    values = {"networkPolicy": {"enabled": True, "ingress": ingress or {}}}
    objects = render_values(values, set_values)
    found = {o["metadata"]["name"].removeprefix("airoute-"): o for o in objects if o["kind"] == "NetworkPolicy"}
    assert set(found) == {"controller", "gateway"}
    for policy in found.values():
        kubernetes_validate.validate(policy, "1.30.0", strict=True)
    return found


def _ingress(policy: dict[str, Any]) -> dict[str, list[Any] | None]:
    """Each port named in the ingress rules → the peers it admits (None: any)."""
    found: dict[str, list[Any] | None] = {}
    for rule in policy["spec"]["ingress"]:
        (port,) = rule["ports"]
        found[port["port"]] = rule.get("from")
    return found


@pytest.mark.parametrize(
    ("gateway_from", "metrics_from"), list(itertools.product([[], [CLIENTS]], [[], [MONITORING]]))
)
def test_each_peer_list_stands_on_its_own(gateway_from: list[Any], metrics_from: list[Any]) -> None:
    found = policies({}, {"gatewayFrom": gateway_from, "metricsFrom": metrics_from})
    # The API port: any client when gatewayFrom is empty, else those clients; the scrapers never.
    # The metrics ports: the scrapers when listed, else open.
    assert _ingress(found["gateway"]) == {"http": gateway_from or None, "metrics": metrics_from or None}
    assert _ingress(found["controller"]) == {"metrics": metrics_from or None}
    assert [p for p in found.values() if "Egress" in p["spec"]["policyTypes"]] == [], "egress left alone by default"


def test_the_controller_scraping_gateways_directly_may_reach_their_metrics_port_only() -> None:
    found = policies(
        {"controller.prometheus.url": "", "controller.gatewayMetrics[0]": "http://airoute-gateway.ns.svc:8081/metrics"},
        {"gatewayFrom": [CLIENTS], "metricsFrom": [MONITORING]},
    )
    assert _ingress(found["gateway"]) == {"http": [CLIENTS], "metrics": [MONITORING, CONTROLLER_PODS]}


def _egress(policy: dict[str, Any]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = policy["spec"]["egress"]
    return rules


FIXED = [
    {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
    {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},
    {"ports": [{"port": 443, "protocol": "TCP"}]},
]


def _in(namespace: str, port: int) -> dict[str, Any]:
    selector = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
    return {"to": [selector], "ports": [{"port": port, "protocol": "TCP"}]}


EGRESS_CASES: dict[str, tuple[dict[str, str], list[dict[str, Any]]]] = {
    "default prometheus url (9090 in monitoring)": ({}, [_in("monitoring", 9090)]),
    "prometheus with the cluster domain": (
        {"controller.prometheus.url": "https://prom.observability.svc.cluster.local:9443"},
        [_in("observability", 9443)],
    ),
    "external prometheus on its scheme's port": (
        {"controller.prometheus.url": "http://prometheus.example.com"},
        [{"ports": [{"port": 80, "protocol": "TCP"}]}],
    ),
    "prometheus by address": (
        {"controller.prometheus.url": "http://10.20.30.40:9090"},
        [{"to": [{"ipBlock": {"cidr": "10.20.30.40/32"}}], "ports": [{"port": 9090, "protocol": "TCP"}]}],
    ),
    "gateways scraped directly, and a status page on 8443": (
        {
            "controller.prometheus.url": "",
            "controller.gatewayMetrics[0]": "http://airoute-gateway.airoute-system.svc:8081/metrics",
            "controller.statusPages[0].name": "azure",
            "controller.statusPages[0].url": "https://status.example.com:8443/api/v2/summary.json",
        },
        [_in("airoute-system", 8081), {"ports": [{"port": 8443, "protocol": "TCP"}]}],
    ),
    "a status page on 443 adds nothing": (
        {"controller.statusPages[0].name": "aws", "controller.statusPages[0].url": "https://status.aws.example.com/"},
        [_in("monitoring", 9090)],
    ),
}


@pytest.mark.parametrize("case", sorted(EGRESS_CASES))
def test_controller_egress_is_derived_from_its_urls(case: str) -> None:
    set_values, derived = EGRESS_CASES[case]
    found = policies({"networkPolicy.egress.restrict": "true", **set_values})
    assert _egress(found["controller"]) == FIXED + derived
    assert _egress(found["gateway"]) == FIXED, "the gateway's egress: DNS, the API server, HTTPS"
    for policy in found.values():
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_extra_egress_and_api_ports_are_added_to_both() -> None:
    extra = {
        "networkPolicy.egress.extra[0].ports[0].port": "8000",
        "networkPolicy.egress.extra[0].to[0].namespaceSelector.matchLabels.team": "models",
        "networkPolicy.egress.kubernetesAPIPorts": "{16443}",
    }
    found = policies({"networkPolicy.egress.restrict": "true", **extra})
    rule = {"ports": [{"port": 8000}], "to": [{"namespaceSelector": {"matchLabels": {"team": "models"}}}]}
    for policy in found.values():
        assert _egress(policy)[1] == {"ports": [{"port": 16443, "protocol": "TCP"}]}
        assert _egress(policy)[-1] == rule


def test_a_url_whose_port_cannot_be_told_refuses_to_render() -> None:
    with pytest.raises(HelmError, match="cannot tell the host and port"):
        policies({"networkPolicy.egress.restrict": "true", "controller.statusPages[0].name": "x",
                  "controller.statusPages[0].url": "http:///summary.json"})  # fmt: skip


def test_the_gateway_reaches_its_otlp_receiver_when_egress_is_restricted() -> None:
    found = policies({"networkPolicy.egress.restrict": "true",
                      "gateway.otlp.endpoint": "http://otel-collector.observability.svc:4318"})
    assert _egress(found["gateway"]) == [*FIXED, _in("observability", 4318)]
    assert _egress(found["controller"]) == [*FIXED, _in("monitoring", 9090)], "the controller's egress unchanged"
