"""The chart on the real API server: one release shared by the RBAC and scenario tests.

The release ``airoute`` is installed with the maximal values into ``airoute-chart`` and serves
``airoute-chart-routes`` and ``airoute-chart-routes-b``; it is uninstalled at the end of the
session. There are no nodes: Deployments exist, pods never run; the tests run the controller and
the gateway as local processes with the chart's ServiceAccounts' tokens instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.helm import CHART, helm, helm_binary, values_args

HERE = Path(__file__).parent
MAXIMAL = HERE.parents[1] / "unit" / "chart" / "values-maximal.yaml"
MONITORING_CRDS = HERE / "monitoring-crds.yaml"


@dataclass(frozen=True)
class Release:
    """An installed release and what the tests need to know about it."""

    name: str
    namespace: str
    served: tuple[str, ...]
    api_keys_secret: str
    controller_sa: str
    gateway_sa: str
    controller_kubeconfig: Path
    gateway_kubeconfig: Path

    @property
    def peering(self) -> str:
        """The KopfPeering the chart names for this release (``--peering``)."""
        return f"{self.name}.{self.namespace}"


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, every: float = 0.25) -> Any:
    """Polls ``check`` until it returns something truthy; fails with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


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


# The session's API server has the CRDs of crds/ applied at start: releases installed there leave
# them alone (crds.install=false, as every release but the one that owns the CRD would);
# test_lifecycle.py installs the CRD with the chart on API servers of its own.
SHARED_CLUSTER = {"crds.install": "false"}


def install_args(release: str, namespace: str, values: list[Path], set_values: dict[str, str]) -> list[str]:
    return [
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        *values_args(values, set_values),
        "--timeout",
        "60s",
    ]


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


def wait_for_spec_guard(apiserver: Any, release: Release) -> None:
    """ValidatingAdmissionPolicies are picked up asynchronously: wait until the spec guard denies
    (a server-side dry run of a spec change as the controller)."""
    ns = release.served[0]
    probe = {
        "apiVersion": "airoute.dev/v1alpha1",
        "kind": "AIRoute",
        "metadata": {"name": "spec-guard-probe", "namespace": ns},
        "spec": {
            "model": "spec-guard-probe",
            "backends": [{"name": "local", "weight": 100, "inCluster": {"service": {"name": "llm"}, "model": "m"}}],
        },
    }
    apiserver.apply(probe)

    def denied() -> bool:
        done = apiserver.kubectl(
            "patch", "airoute", "spec-guard-probe", "-n", ns, "--type=merge", "--dry-run=server",
            "-p", json.dumps({"spec": {"tier": "critical"}}),
            kubeconfig=release.controller_kubeconfig, check=False,
        )  # fmt: skip
        return done.returncode != 0 and "ValidatingAdmissionPolicy" in done.stderr

    wait_for("the spec guard ValidatingAdmissionPolicy to take effect", denied, timeout=30)
    apiserver.kubectl("delete", "airoute", "spec-guard-probe", "-n", ns)
