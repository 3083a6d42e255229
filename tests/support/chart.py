"""The chart installed into the test API server: what a release is, how it is installed, and the
values files the tests install it with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.fakes import wait_for
from tests.support.helm import CHART, values_args
from tests.support.paths import REPO_ROOT

MAXIMAL = REPO_ROOT / "tests" / "unit" / "chart" / "values-maximal.yaml"
MONITORING_CRDS = REPO_ROOT / "tests" / "integration" / "chart" / "monitoring-crds.yaml"


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
