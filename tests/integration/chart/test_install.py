"""`helm install` of charts/airoute into the real API server, then `helm uninstall`.

No nodes: the API server accepts and stores every object (schema, admission, RBAC), pods never
run. Every object `helm template` renders must exist after the install and be gone after the
uninstall (the CRDs stay: Helm never deletes them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.chart import MAXIMAL, SHARED_CLUSTER, install_args
from tests.support.helm import helm, render

pytestmark = [pytest.mark.cluster, pytest.mark.helm]

PROFILES: dict[str, tuple[list[Path], dict[str, str]]] = {
    "default": ([], SHARED_CLUSTER),
    "maximal": ([MAXIMAL], {"namespaces": "{chart-install-maximal-a,chart-install-maximal-b}", **SHARED_CLUSTER}),
    "long-release-name": ([], {"networkPolicy.enabled": "true", **SHARED_CLUSTER}),
}
# Helm's longest release name (53): every name the chart derives still fits in 63 characters.
RELEASES = {"long-release-name": "a-release-name-of-fifty-three-characters-for-airoutes"}


def _manifest(objects: list[dict[str, Any]], tmp_path: Path) -> Path:
    path = tmp_path / "rendered.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    return path


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_install_creates_every_object_and_uninstall_removes_them(
    apiserver: Any, helm_ready: str, monitoring_crds: None, profile: str, tmp_path: Path
) -> None:
    values, set_values = PROFILES[profile]
    release = RELEASES.get(profile, "airoute")
    namespace = f"chart-install-{profile}"
    served = [namespace]
    if "namespaces" in set_values:
        served = set_values["namespaces"].strip("{}").split(",")
    for ns in {namespace, *served}:
        apiserver.ensure_namespace(ns)
    objects = render(values, set_values, namespace=namespace, release=release)
    # `helm template` leaves namespaced objects without a namespace to the install's namespace.
    for obj in objects:
        if obj["kind"] not in (
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ClusterRole",
            "ClusterRoleBinding",
        ):
            obj["metadata"].setdefault("namespace", namespace)
    manifest = _manifest(objects, tmp_path)

    helm(*install_args(release, namespace, values, set_values), env=apiserver.env())
    try:
        status = json.loads(helm("status", release, "-n", namespace, "-o", "json", env=apiserver.env()).stdout)
        assert status["info"]["status"] == "deployed"
        live = json.loads(apiserver.kubectl("get", "-f", str(manifest), "-o", "json").stdout)["items"]
        expected = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects}
        found = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in live}
        assert found == expected
        for obj in live:
            assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", obj["metadata"]["name"]
        deployments = {o["metadata"]["name"]: o for o in live if o["kind"] == "Deployment"}
        assert {name.rsplit("-", 1)[-1] for name in deployments} == {"controller", "gateway"}
        assert {o["kind"] for o in live} >= {
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "KopfPeering",
            "ValidatingAdmissionPolicy",
            "Role",
            "RoleBinding",
            "ConfigMap",
        }
    finally:
        helm("uninstall", release, "-n", namespace, env=apiserver.env())

    left = apiserver.kubectl("get", "-f", str(manifest), "--ignore-not-found", "-o", "name").stdout.split()
    assert left == [], f"left behind by helm uninstall: {left}"
    crds = apiserver.kubectl("get", "crd", "airoutes.airoute.dev", "-o", "name").stdout.strip()
    assert crds == "customresourcedefinition.apiextensions.k8s.io/airoutes.airoute.dev", "Helm keeps CRDs"


def test_install_refuses_a_bad_value_before_touching_the_cluster(apiserver: Any, helm_ready: str) -> None:
    apiserver.ensure_namespace("chart-install-bad")
    done = helm(
        *install_args("airoute", "chart-install-bad", [], {"gateway.autoscaling.minReplicas": "0"}),
        env=apiserver.env(),
        check=False,
    )
    assert done.returncode != 0 and "/gateway/autoscaling/minReplicas" in done.stderr
    assert helm("list", "-n", "chart-install-bad", "-q", env=apiserver.env()).stdout.strip() == ""
