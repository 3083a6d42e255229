"""The hooks every chart has, names within 63 characters, one peering per release, monitors and
alerts as kube-prometheus-stack users expect (issue 20.4), rendered offline."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.helm import CHART, HelmError, helm, helm_binary, render, render_values, template, values_args

pytestmark = pytest.mark.helm

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Names that must be DNS labels (≤ 63): Services, and the label values the names become.
LABEL_NAMED = {"Service", "Deployment", "ServiceAccount", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


@pytest.fixture(scope="module", autouse=True)
def _helm() -> None:
    if helm_binary() is None:
        pytest.skip("helm is not available: hack/install-helm.sh could not install it")


def _pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        o["metadata"]["name"].rsplit("-", 1)[-1]: o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] == "Deployment"
    }


HOOKS = {
    "extraVolumes": [{"name": "corporate-ca", "configMap": {"name": "corporate-ca"}}],
    "extraVolumeMounts": [{"name": "corporate-ca", "mountPath": "/etc/ssl/certs/ca.crt", "subPath": "ca.crt"}],
    "envFrom": [{"secretRef": {"name": "proxy"}}],
    "extraEnv": [{"name": "SSL_CERT_FILE", "value": "/etc/ssl/certs/ca.crt"}],
    "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["true"]}],
    "sidecars": [{"name": "shipper", "image": "shipper:1"}],
    "lifecycle": {"preStop": {"sleep": {"seconds": 1}}},
}


@pytest.mark.parametrize("component", ["controller", "gateway"])
def test_every_hook_lands_where_it_belongs(component: str) -> None:
    pod = _pods(render_values({component: HOOKS}))[component]
    main = pod["containers"][0]
    assert main["name"] == component
    assert pod["volumes"][0]["name"] == "tmp" and HOOKS["extraVolumes"][0] in pod["volumes"]
    assert HOOKS["extraVolumeMounts"][0] in main["volumeMounts"]
    assert main["envFrom"] == HOOKS["envFrom"] and HOOKS["extraEnv"][0] in main["env"]
    assert main["lifecycle"] == HOOKS["lifecycle"]
    assert pod["initContainers"] == HOOKS["initContainers"]
    assert pod["containers"][1:] == HOOKS["sidecars"]
    other = "gateway" if component == "controller" else "controller"
    assert "initContainers" not in _pods(render_values({component: HOOKS}))[other], "per component"


def test_security_contexts_per_component_and_openshift_mode() -> None:
    pods = _pods(render_values({"gateway": {"podSecurityContext": {"supplementalGroups": [4000]},
                                            "securityContext": {"runAsUser": 20000}}}))  # fmt: skip
    assert pods["gateway"]["securityContext"]["supplementalGroups"] == [4000]
    assert pods["gateway"]["containers"][0]["securityContext"]["runAsUser"] == 20000
    assert pods["gateway"]["securityContext"]["runAsUser"] == 10001, "merged over the chart-wide one"
    assert pods["controller"]["containers"][0]["securityContext"]["runAsUser"] == 10001
    for mode, set_values, api_versions in [
        ("force", {"global.compatibility.openshift.adaptSecurityContext": "force"}, []),
        ("auto on OpenShift", {}, ["security.openshift.io/v1"]),
    ]:
        args = [a for v in api_versions for a in ("--api-versions", v)]
        objects = _render_with_args(set_values, args)
        for name, pod in _pods(objects).items():
            ids = {"runAsUser", "runAsGroup", "fsGroup"}
            assert not ids & set(pod["securityContext"]) and not ids & set(pod["containers"][0]["securityContext"]), (
                f"{mode}: {name} keeps a fixed id"
            )
            assert pod["securityContext"]["runAsNonRoot"] is True and pod["containers"][0]["securityContext"][
                "readOnlyRootFilesystem"
            ], f"{mode}: the rest of the lock-down stays"
    objects = _render_with_args({"global.compatibility.openshift.adaptSecurityContext": "disabled"},
                                ["--api-versions", "security.openshift.io/v1"])  # fmt: skip
    assert _pods(objects)["gateway"]["securityContext"]["runAsUser"] == 10001


def _render_with_args(set_values: dict[str, str], extra: list[str]) -> list[dict[str, Any]]:
    text = helm("template", "airoute", str(CHART), *values_args((), set_values), *extra).stdout
    return [d for d in yaml.safe_load_all(text) if d]


def test_registry_and_pull_secrets_global_and_per_chart() -> None:
    pods = _pods(render())
    assert pods["gateway"]["containers"][0]["image"] == "ghcr.io/airoute/airoute:0.1.0"
    assert "imagePullSecrets" not in pods["gateway"]
    pods = _pods(render_values({
        "global": {"imageRegistry": "mirror.corp", "imagePullSecrets": [{"name": "mirror"}]},
        "image": {"registry": "registry.example.com", "tag": "1.2.3"},
        "imagePullSecrets": [{"name": "regcred"}, {"name": "mirror"}],
    }))  # fmt: skip
    for pod in pods.values():
        assert pod["containers"][0]["image"] == "mirror.corp/airoute/airoute:1.2.3"
        assert pod["imagePullSecrets"] == [{"name": "mirror"}, {"name": "regcred"}]


@pytest.mark.parametrize("release", ["a" * 37, "b" * 53, "airoute-" + "c" * 45])
def test_names_stay_within_63_characters_for_any_release_name(release: str) -> None:
    objects = render(release=release, set_values={"networkPolicy.enabled": "true"})
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    for kind, name in names:
        if kind in LABEL_NAMED or kind == "NetworkPolicy":
            assert len(name) <= 63 and DNS_LABEL.match(name), f"{kind} {name!r} ({len(name)} characters)"
    for kind in LABEL_NAMED:
        kinds = [name for k, name in names if k == kind]
        assert len(kinds) == len(set(kinds)), f"two {kind}s share a name: {kinds}"
    for obj in (o for o in objects if o["kind"] != "KopfPeering"):
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    services = {name for kind, name in names if kind == "Service"}
    assert any(name.endswith("-controller-metrics") for name in services) and any(
        name.endswith("-gateway") for name in services
    ), "suffixes are never cut, so the names stay distinct"


def test_the_peering_is_named_per_release() -> None:
    one = render(release="blue", namespace="team-a", set_values={"namespaces": "{shared}"})
    two = render(release="blue", namespace="team-b", set_values={"namespaces": "{shared}"})
    names = []
    for objects in (one, two):
        (peering,) = [o for o in objects if o["kind"] == "KopfPeering"]
        (controller,) = [o for o in objects if o["kind"] == "Deployment" and "controller" in o["metadata"]["name"]]
        args = controller["spec"]["template"]["spec"]["containers"][0]["args"]
        assert f"--peering={peering['metadata']['name']}" in args
        names.append((peering["metadata"]["namespace"], peering["metadata"]["name"]))
    assert names[0][0] == names[1][0] == "shared" and names[0][1] != names[1][1], names


def test_service_monitor_and_pod_monitor_are_never_both_on() -> None:
    with pytest.raises(HelmError, match="enable serviceMonitor or podMonitor, not both"):
        render(set_values={"metrics.serviceMonitor.enabled": "true", "metrics.podMonitor.enabled": "true"})


def test_lint_strict_sees_no_problem_with_every_hook(tmp_path: Path) -> None:
    values = tmp_path / "hooks.yaml"
    values.write_text(yaml.safe_dump({"controller": HOOKS, "gateway": HOOKS}))
    assert "0 chart(s) failed" in helm("lint", "--strict", str(CHART), "-f", str(values)).stdout
    assert template([values]).returncode == 0
