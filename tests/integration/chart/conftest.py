"""The chart on the real API server: one release shared by the RBAC and scenario tests.

The release ``airoute`` is installed with the maximal values into ``airoute-chart`` and serves
``airoute-chart-routes`` and ``airoute-chart-routes-b``; it is uninstalled at the end of the
session. There are no nodes: Deployments exist, pods never run; the tests run the controller and
the gateway as local processes with the chart's ServiceAccounts' tokens instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.chart import MAXIMAL, MONITORING_CRDS, SHARED_CLUSTER, Release, install_args, wait_for_spec_guard
from tests.support.helm import helm, helm_binary


@pytest.fixture(scope="session")
def helm_ready() -> str:
    binary = helm_binary()
    if binary is None:
        pytest.skip("helm is not available: hack/install-helm.sh could not install it")
    return binary


@pytest.fixture(scope="session")
def monitoring_crds(apiserver: Any) -> None:
    """Stand-in Prometheus Operator CRDs, so that ServiceMonitor & co. can be installed."""
    apiserver.kubectl("apply", "--server-side", "--field-manager=airoute-tests", "-f", str(MONITORING_CRDS))
    apiserver.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s",
        "crd/servicemonitors.monitoring.coreos.com", "crd/podmonitors.monitoring.coreos.com",
        "crd/prometheusrules.monitoring.coreos.com",
    )  # fmt: skip


@pytest.fixture(scope="session")
def chart_release(apiserver: Any, helm_ready: str, monitoring_crds: None) -> Iterator[Release]:
    namespace, served = "airoute-chart", ("airoute-chart-routes", "airoute-chart-routes-b")
    for ns in (namespace, *served):
        apiserver.ensure_namespace(ns)
    set_values = {
        "namespaces": "{" + ",".join(served) + "}",
        "gateway.auth.apiKeysSecret": "client-keys",
        "controller.clusterDiscovery": "false",  # the default: the matrix shows what ships
        **SHARED_CLUSTER,
    }
    helm(*install_args("airoute", namespace, [MAXIMAL], set_values), env=apiserver.env())
    try:
        # The maximal values name the controller's ServiceAccount "airoute-operator".
        release = Release(
            name="airoute",
            namespace=namespace,
            served=served,
            api_keys_secret="client-keys",
            controller_sa="airoute-operator",
            gateway_sa="airoute-gateway",
            controller_kubeconfig=apiserver.service_account_kubeconfig(namespace, "airoute-operator"),
            gateway_kubeconfig=apiserver.service_account_kubeconfig(namespace, "airoute-gateway"),
        )
        wait_for_spec_guard(apiserver, release)
        yield release
    finally:
        helm("uninstall", "airoute", "--namespace", namespace, env=apiserver.env())
