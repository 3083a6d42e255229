"""What the chart's ServiceAccounts may and may not do, asked of the real API server with their own
tokens (`kubectl auth can-i`), printed as a matrix; and the spec guard that does what RBAC cannot.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.chart.can_i_matrix import HOME, MATRIX, SERVED, table
from tests.support.chart import Release
from tests.support.paths import EXAMPLES

pytestmark = [pytest.mark.cluster, pytest.mark.helm]


def _can(apiserver: Any, kubeconfig: Path, args: list[str]) -> bool:
    done = apiserver.kubectl("auth", "can-i", *args, kubeconfig=kubeconfig, check=False)
    answer = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert answer in ("yes", "no"), f"kubectl auth can-i {' '.join(args)}: {done.stdout!r} {done.stderr!r}"
    return answer == "yes"


def test_can_i_matrix(apiserver: Any, chart_release: Release, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = [
        (kc, args)
        for _, args, _, _ in MATRIX
        for kc in (chart_release.controller_kubeconfig, chart_release.gateway_kubeconfig)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda job: _can(apiserver, *job), jobs))
    rows, wrong = [], []
    for i, (what, _, controller_may, gateway_may) in enumerate(MATRIX):
        controller, gateway = answers[2 * i], answers[2 * i + 1]
        rows.append((what, controller, gateway))
        if controller != controller_may:
            wrong.append(f"controller: {what}: {controller} (expected {controller_may})")
        if gateway != gateway_may:
            wrong.append(f"gateway: {what}: {gateway} (expected {gateway_may})")
    lines = [
        f"kubectl auth can-i, as the chart's ServiceAccounts ({chart_release.namespace}/{chart_release.controller_sa}, "
        f"{chart_release.namespace}/{chart_release.gateway_sa}):",
        *table(rows),
    ]
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert not wrong, "\n".join(wrong)


def _route(namespace: str, name: str) -> dict[str, Any]:
    route: dict[str, Any] = yaml.safe_load((EXAMPLES / "marketing-copy.yaml").read_text())
    route["metadata"] = {"name": name, "namespace": namespace}
    return route


def test_the_controller_may_patch_metadata_and_status_but_never_the_spec(
    apiserver: Any, chart_release: Release
) -> None:
    """RBAC allows the controller's patch of AIRoutes (Kopf needs annotations); the spec guard
    ValidatingAdmissionPolicy is what denies a spec change."""
    apiserver.apply(_route(SERVED, "guarded"))
    as_controller = {"kubeconfig": chart_release.controller_kubeconfig, "check": False}

    spec = apiserver.kubectl(
        "patch",
        "airoute",
        "guarded",
        "-n",
        SERVED,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"tier": "critical"}}),
        **as_controller,
    )
    assert spec.returncode != 0
    assert "denied request: the airoute controller writes its decisions to status only" in spec.stderr
    assert f"airoute-controller-spec-guard.{chart_release.namespace}" in spec.stderr

    backends = apiserver.kubectl(
        "patch", "airoute", "guarded", "-n", SERVED, "--type=json",
        "-p", json.dumps([{"op": "replace", "path": "/spec/backends/0/weight", "value": 0}]), **as_controller,
    )  # fmt: skip
    assert backends.returncode != 0 and "ValidatingAdmissionPolicy" in backends.stderr

    annotation = apiserver.kubectl(
        "patch", "airoute", "guarded", "-n", SERVED, "--type=merge",
        "-p", json.dumps({"metadata": {"annotations": {"airoute.dev/last-handled-configuration": "{}"}}}),
        **as_controller,
    )  # fmt: skip
    assert annotation.returncode == 0, annotation.stderr

    status = apiserver.kubectl(
        "patch", "airoute", "guarded", "-n", SERVED, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"weightsSummary": "bedrock-eu=100 vertex-eu=0"}}), **as_controller,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr

    delete = apiserver.kubectl("delete", "airoute", "guarded", "-n", SERVED, **as_controller)
    assert delete.returncode != 0 and "forbidden" in delete.stderr.lower()

    stored = json.loads(apiserver.kubectl("get", "airoute", "guarded", "-n", SERVED, "-o", "json").stdout)
    assert stored["spec"]["tier"] == "standard" and stored["spec"]["backends"][0]["weight"] == 70
    assert stored["status"]["weightsSummary"] == "bedrock-eu=100 vertex-eu=0"
    # A person (here the admin) still changes the spec freely: the guard matches only the controller.
    apiserver.kubectl(
        "patch", "airoute", "guarded", "-n", SERVED, "--type=merge", "-p", '{"spec":{"tier":"best-effort"}}'
    )
    apiserver.kubectl("delete", "airoute", "guarded", "-n", SERVED)


def test_the_gateway_reads_its_key_secret_by_name_only(apiserver: Any, chart_release: Release) -> None:
    """The client-key Secret is granted by resourceNames: the gateway's watch with a
    metadata.name field selector works; listing the release namespace's Secrets does not."""
    for name in ("client-keys", "unrelated"):
        apiserver.apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "namespace": HOME},
                "stringData": {"a": "b"},
            }
        )
    as_gateway = {"kubeconfig": chart_release.gateway_kubeconfig, "check": False}
    by_name = apiserver.kubectl(
        "get", "secrets", "-n", HOME, "--field-selector=metadata.name=client-keys", "-o", "name", **as_gateway
    )
    assert by_name.returncode == 0 and by_name.stdout.split() == ["secret/client-keys"], by_name.stderr
    everything = apiserver.kubectl("get", "secrets", "-n", HOME, **as_gateway)
    assert everything.returncode != 0 and "forbidden" in everything.stderr.lower()
    other = apiserver.kubectl("get", "secret", "unrelated", "-n", HOME, **as_gateway)
    assert other.returncode != 0 and "forbidden" in other.stderr.lower()
