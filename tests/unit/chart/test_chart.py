"""charts/airoute offline: lint, rendering validated against Kubernetes schemas, values schema,
security defaults, least-privilege RBAC and the copies kept identical to their sources."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.helm import CHART, HelmError, helm, helm_binary, render, render_values, template
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.helm

HERE = Path(__file__).parent
MAXIMAL = HERE / "values-maximal.yaml"
VALUES = {"default": [], "maximal": [MAXIMAL]}
# Custom resources kubernetes-validate has no schema for (checked elsewhere: the CRDs on the API
# server in tests/integration/chart, promtool for the rules).
CUSTOM_KINDS = {"KopfPeering", "ServiceMonitor", "PodMonitor", "PrometheusRule"}
# The maximal values with PodMonitors instead of ServiceMonitors (never both).
POD_MONITORS = {"metrics.serviceMonitor.enabled": "false", "metrics.podMonitor.enabled": "true"}
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion), the test API server's, the newest known.
KUBE_VERSIONS = ["1.30.0", "1.34.0", kubernetes_validate.utils.latest_version()]


@pytest.fixture(scope="module", autouse=True)
def _helm() -> None:
    if helm_binary() is None:
        pytest.skip("helm is not available: hack/install-helm.sh could not install it")


@pytest.fixture(scope="module", params=sorted(VALUES))
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(VALUES[request.param], namespace="airoute-system")


def _containers(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(Deployment name, pod spec, main container) of each Deployment (sidecars are the user's)."""
    for obj in objects:
        if obj["kind"] == "Deployment":
            pod = obj["spec"]["template"]["spec"]
            yield obj["metadata"]["name"], pod, pod["containers"][0]


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


# --------------------------------------------------------------------------- lint and schemas


@pytest.mark.parametrize("values", sorted(VALUES))
def test_helm_lint_strict(values: str) -> None:
    args = ["lint", "--strict", str(CHART)]
    for path in VALUES[values]:
        args += ["-f", str(path)]
    out = helm(*args).stdout
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_rendered_objects_are_valid_kubernetes(rendered: tuple[str, list[dict[str, Any]]], version: str) -> None:
    _, objects = rendered
    skipped = set()
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            skipped.add(obj["kind"])
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} is invalid for Kubernetes {version}: {exc}")
    assert skipped <= CUSTOM_KINDS, f"no schema for {skipped - CUSTOM_KINDS}"


def test_maximal_values_render_every_kind() -> None:
    kinds = {o["kind"] for o in render([MAXIMAL])} | {o["kind"] for o in render([MAXIMAL], POD_MONITORS)}
    assert kinds == {
        "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service",
        "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy", "KopfPeering", "ServiceMonitor",
        "PodMonitor", "PrometheusRule", "ConfigMap", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "CustomResourceDefinition",
    }  # fmt: skip


BAD_VALUES = {
    "negative replicas": ({"gateway.replicas": "0"}, "/gateway/replicas"),
    "unknown field": ({"controller.replica": "2"}, "additional properties 'replica' not allowed"),
    "bad pull policy": ({"image.pullPolicy": "Sometimes"}, "/image/pullPolicy"),
    "bad webhook format": ({"controller.notifications.format": "teams"}, "/controller/notifications/format"),
    "namespace not a DNS label": ({"namespaces[0]": "Support_Team"}, "/namespaces/0"),
    "prometheus url without scheme": ({"controller.prometheus.url": "prometheus:9090"}, "/controller/prometheus/url"),
    "auth required not a boolean": ({"gateway.auth.required": "maybe"}, "/gateway/auth/required"),
    # Kubernetes-shaped values are typed by Kubernetes' own schemas (hack/chart-schema.py).
    "misspelt security context field": ({"gateway.securityContext.runAsUSer": "1"}, "'runAsUSer' not allowed"),
    "misspelt affinity": ({"controller.affinity.podAntiAfinity.x": "1"}, "'podAntiAfinity' not allowed"),
    "network peer not a peer": ({"networkPolicy.ingress.metricsFrom[0].namespace": "x"}, "'namespace' not allowed"),
    "volume mount without a path": ({"gateway.extraVolumeMounts[0].name": "ca"}, "/gateway/extraVolumeMounts/0"),
    "toleration effect not a string": ({"gateway.tolerations[0].effect.x": "1"}, "/gateway/tolerations/0/effect"),
    "openshift mode unknown": ({"global.compatibility.openshift.adaptSecurityContext": "yes"}, "adaptSecurityContext"),
    "maxUnavailable zero": ({"gateway.podDisruptionBudget.maxUnavailable": "0"}, "podDisruptionBudget/maxUnavailable"),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_values_schema_rejects_a_bad_value(case: str) -> None:
    set_values, where = BAD_VALUES[case]
    done = template(set_values=set_values, check=False)
    assert done.returncode != 0, f"{case}: accepted"
    assert where in done.stderr, done.stderr


def test_the_controller_needs_a_signal_source() -> None:
    with pytest.raises(HelmError, match="needs a health signal source"):
        template(set_values={"controller.prometheus.url": ""})
    objects = render(
        set_values={"controller.prometheus.url": "", "controller.gatewayMetrics[0]": "http://gw:8080/metrics"}
    )
    (controller,) = [c for name, _, c in _containers(objects) if name.endswith("controller")]
    assert "--gateway-metrics=http://gw:8080/metrics" in controller["args"]
    assert not any(a.startswith("--prometheus-url") for a in controller["args"])


# --------------------------------------------------------------------------- secure by default


def test_containers_are_locked_down(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    found = list(_containers(objects))
    assert len(found) == 2
    for name, pod, container in found:
        psc, sc = pod["securityContext"], container["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert sc["runAsNonRoot"] is True, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], name
        assert sc["seccompProfile"]["type"] == "RuntimeDefault", name
        assert container["resources"]["requests"] and container["resources"]["limits"], name
        assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/tmp"}, name
        assert pod["automountServiceAccountToken"] is True, name
        assert "hostNetwork" not in pod and "hostPID" not in pod, name


def test_service_accounts_do_not_automount_their_token(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, objects = rendered
    accounts = _by_kind(objects, "ServiceAccount")
    assert len(accounts) == 2
    assert all(sa["automountServiceAccountToken"] is False for sa in accounts)


def test_gateway_requires_client_keys_by_default() -> None:
    objects = render(namespace="airoute-system")
    (gateway,) = [c for name, _, c in _containers(objects) if name.endswith("gateway")]
    assert "--api-keys-secret=airoute-system/airoute-gateway-api-keys" in gateway["args"]
    assert "--no-auth" not in gateway["args"]
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert gateway["livenessProbe"]["httpGet"]["path"] == "/healthz"
    opened = render(set_values={"gateway.auth.required": "false"})
    (gateway,) = [c for name, _, c in _containers(opened) if name.endswith("gateway")]
    assert "--no-auth" in gateway["args"]
    assert not any(r["metadata"]["name"].endswith("-api-keys") for r in _by_kind(opened, "Role"))


def test_ambient_identity_is_off_by_default_and_opted_in_per_namespace() -> None:
    """The gateway's own cloud identity is used by no namespace unless the values list it."""
    from airoute.cli import build_parser
    from airoute.gateway.cli import config_from

    (gateway,) = [c for name, _, c in _containers(render(namespace="airoute-system")) if name.endswith("gateway")]
    assert not any(a.startswith("--ambient-identity") for a in gateway["args"])
    assert "--allow-internal-upstreams" not in gateway["args"]
    opted = render_values({"gateway": {"ambientIdentity": {"namespaces": ["support", "marketing"],
                                                           "allowEndpointOverrides": True}}})
    (gateway,) = [c for name, _, c in _containers(opted) if name.endswith("gateway")]
    config = config_from(build_parser().parse_args(gateway["args"]))
    assert config.ambient_identity_namespaces == ("support", "marketing")
    assert config.ambient_identity_overrides and not config.allow_internal_upstreams


def test_the_cli_accepts_the_arguments_the_chart_passes(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """The chart's container arguments parse with the real `airoute` command line, and the
    gateway's settings pass its own consistency check (flags drift between chart and code)."""
    from airoute.cli import build_parser
    from airoute.gateway.config import GatewayConfig

    _, objects = rendered
    parser = build_parser()
    for name, _, container in _containers(objects):
        args = parser.parse_args(container["args"])
        assert args.command == ("gateway" if name.endswith("gateway") else "controller"), name
        if args.command == "gateway":
            from airoute.gateway.cli import config_from

            config: GatewayConfig = config_from(args)
            config.check()
            assert config.kubernetes and config.namespaces and not config.auth_disabled
        else:
            assert args.namespace and (args.prometheus_url or args.gateway_metrics)


def test_controller_runs_two_peered_replicas_by_default() -> None:
    objects = render(namespace="airoute-system")
    (deployment,) = [o for o in _by_kind(objects, "Deployment") if o["metadata"]["name"] == "airoute-controller"]
    assert deployment["spec"]["replicas"] == 2
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--standalone" not in args and not any(a.startswith("--priority") for a in args)
    (peering,) = _by_kind(objects, "KopfPeering")
    meta = peering["metadata"]
    assert (meta["name"], meta["namespace"]) == ("airoute.airoute-system", "airoute-system")
    assert "--peering=airoute.airoute-system" in args
    gateway = next(o for o in _by_kind(objects, "Deployment") if o["metadata"]["name"] == "airoute-gateway")
    assert "replicas" not in gateway["spec"], "the HPA owns the gateway's replica count"
    (hpa,) = _by_kind(objects, "HorizontalPodAutoscaler")
    assert hpa["spec"]["minReplicas"] >= 2
    assert {p["metadata"]["name"] for p in _by_kind(objects, "PodDisruptionBudget")} == {
        "airoute-controller",
        "airoute-gateway",
    }


# --------------------------------------------------------------------------- least privilege


def _rules(objects: list[dict[str, Any]], kind: str, name_part: str) -> list[tuple[str | None, dict[str, Any]]]:
    return [
        (o["metadata"].get("namespace"), rule)
        for o in _by_kind(objects, kind)
        if name_part in o["metadata"]["name"]
        for rule in o["rules"]
    ]


def test_rbac_is_least_privilege() -> None:
    objects = render([MAXIMAL], namespace="airoute-chart")
    served = {"airoute-chart-routes", "airoute-chart-routes-b"}
    for _, rule in _rules(objects, "Role", "") + _rules(objects, "ClusterRole", ""):
        assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule["apiGroups"], rule
        assert not {"delete", "deletecollection", "update", "escalate", "bind", "impersonate"} & set(rule["verbs"])
        if "create" in rule["verbs"]:
            assert rule["resources"] == ["events"], rule
    # Cluster-wide: Kopf's read-only discovery of namespaces and CRDs, and the AIRoute CRD by name.
    cluster = _rules(objects, "ClusterRole", "")
    assert {r for _, rule in cluster for r in rule["resources"]} == {"namespaces", "customresourcedefinitions"}
    assert all(rule["verbs"] == ["list", "watch"] for _, rule in cluster if "resourceNames" not in rule)
    assert [rule for _, rule in cluster if "resourceNames" in rule] == [
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
         "resourceNames": ["airoutes.airoute.dev"], "verbs": ["get"]}
    ]  # fmt: skip
    # The controller never touches Secrets; the gateway reads them only where it serves, plus one by name.
    assert not any("secrets" in rule["resources"] for _, rule in _rules(objects, "Role", "controller"))
    secret_rules = [(ns, rule) for ns, rule in _rules(objects, "Role", "gateway") if "secrets" in rule["resources"]]
    assert {ns for ns, rule in secret_rules if "resourceNames" not in rule} == served
    assert [(ns, rule["resourceNames"]) for ns, rule in secret_rules if "resourceNames" in rule] == [
        ("airoute-chart", ["client-keys"])
    ]
    assert all(set(rule["verbs"]) <= {"get", "list", "watch"} for _, rule in _rules(objects, "Role", "gateway"))
    # Every binding points at the chart's own ServiceAccounts.
    for binding in _by_kind(objects, "RoleBinding") + _by_kind(objects, "ClusterRoleBinding"):
        assert [(s["kind"], s["namespace"]) for s in binding["subjects"]] == [("ServiceAccount", "airoute-chart")]


def test_served_namespaces_drive_roles_arguments_and_peerings() -> None:
    objects = render(set_values={"namespaces": "{support,marketing}"}, namespace="airoute-system")
    roles = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in _by_kind(objects, "Role")}
    for ns in ("support", "marketing"):
        assert {(ns, "airoute-controller"), (ns, "airoute-gateway")} <= roles
    assert ("airoute-system", "airoute-controller") not in roles, "the release namespace is not served"
    for name, _, container in _containers(objects):
        assert [a for a in container["args"] if a.startswith("--namespace=")] == [
            "--namespace=support",
            "--namespace=marketing",
        ], name
    assert sorted(p["metadata"]["namespace"] for p in _by_kind(objects, "KopfPeering")) == ["marketing", "support"]


def test_spec_and_status_guards_match_the_copies_in_policies() -> None:
    rendered = [o for o in render(namespace="airoute-system") if o["kind"].startswith("ValidatingAdmissionPolicy")]
    copy = [o for name in ("controller-spec-guard", "controller-status-guard")
            for o in yaml.safe_load_all((REPO_ROOT / f"policies/admission/{name}.yaml").read_text())]
    assert sorted((o["kind"], o["metadata"]["name"], json.dumps(o["spec"])) for o in rendered) == sorted(
        (o["kind"], o["metadata"]["name"], json.dumps(o["spec"])) for o in copy
    )
    policy = rendered[0]
    assert (
        "system:serviceaccount:airoute-system:airoute-controller" in policy["spec"]["matchConditions"][0]["expression"]
    )


def test_kustomization_lists_every_governance_policy() -> None:
    policies = REPO_ROOT / "policies"
    listed = set(yaml.safe_load((policies / "kustomization.yaml").read_text())["resources"])
    files = {f"admission/{p.name}" for p in (policies / "admission").glob("*.yaml")}
    # The spec and status guards come with the chart (they name the release's ServiceAccount).
    assert listed == files - {"admission/controller-spec-guard.yaml", "admission/controller-status-guard.yaml"}


# --------------------------------------------------------------------------- copies and observability


@pytest.mark.parametrize(
    ("copy", "name"), [("files/crds", "airoute.dev_airoutes.yaml"), ("crds", "kopf.dev_peerings.yaml")]
)
def test_chart_crds_are_identical_to_crds(copy: str, name: str) -> None:
    assert (CHART / copy / name).read_bytes() == (REPO_ROOT / "crds" / name).read_bytes(), "run `make crd`"
    assert [p.name for p in (CHART / copy).iterdir()] == [name]
    assert sorted(p.name for p in (REPO_ROOT / "crds").iterdir()) == [
        "airoute.dev_airoutes.yaml",
        "kopf.dev_peerings.yaml",
    ]


def test_chart_rules_are_identical_to_policies() -> None:
    source = REPO_ROOT / "policies" / "alerts" / "airoute.rules.yaml"
    assert (CHART / "files" / "airoute.rules.yaml").read_bytes() == source.read_bytes(), (
        "copy policies/alerts/airoute.rules.yaml to charts/airoute/files/"
    )


def test_prometheus_rule_renders_the_rules_with_runbook_base() -> None:
    source = yaml.safe_load((REPO_ROOT / "policies/alerts/airoute.rules.yaml").read_text())
    source_rules = [r for g in source["groups"] for r in g["rules"]]
    (rule,) = [o for o in render() if o["kind"] == "PrometheusRule"] or [None]
    assert rule is None, "off by default"
    (rule,) = [o for o in render(set_values={"prometheusRule.enabled": "true"}) if o["kind"] == "PrometheusRule"]
    assert [r for g in rule["spec"]["groups"] for r in g["rules"]] == source_rules, "the rules, unchanged"
    # The maximal values: one alert disabled, labels added (the alert's own severity wins), runbooks moved.
    (rule,) = [o for o in render([MAXIMAL]) if o["kind"] == "PrometheusRule"]
    rendered = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    kept = [r for r in source_rules if r["alert"] != "AIRouteCriticalSingleCloud"]
    assert [r["alert"] for r in rendered] == [r["alert"] for r in kept]
    for r, original in zip(rendered, kept, strict=True):
        assert r["labels"] == {**original["labels"], "team": "platform"}
        assert r["expr"] == original["expr"] and r.get("for") == original.get("for")
        assert r["annotations"]["runbook_url"].startswith("https://wiki.example.com/airoute/runbooks#")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_monitors_keep_the_routes_namespace_label() -> None:
    objects = render([MAXIMAL]) + render([MAXIMAL], POD_MONITORS)
    monitors = [o for o in objects if o["kind"] in ("ServiceMonitor", "PodMonitor")]
    assert sorted(m["kind"] for m in monitors) == ["PodMonitor"] * 2 + ["ServiceMonitor"] * 2
    for monitor in monitors:
        endpoints = monitor["spec"].get("endpoints") or monitor["spec"]["podMetricsEndpoints"]
        assert all(e["honorLabels"] is True for e in endpoints), monitor["metadata"]["name"]


def test_dashboard_configmap_carries_the_sidecar_label_and_the_json() -> None:
    (cm,) = [o for o in render() if o["kind"] == "ConfigMap"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["airoute.json"])
    assert dashboard == json.loads((CHART / "files" / "dashboard.json").read_text())
    assert dashboard["uid"] == "airoute-overview"


def test_values_are_documented_field_by_field() -> None:
    """Every leaf of values.yaml has a comment right above it or above one of its parents."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    undocumented = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):(.*)$", line)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = i > 0 and lines[i - 1].strip().startswith("#")
        inherited = any(doc for _, doc in stack)
        is_leaf = match.group(3).strip() != ""
        if is_leaf and not (documented or inherited):
            undocumented.append(f"values.yaml:{i + 1}: {match.group(2)}")
        stack.append((indent, documented))
    assert not undocumented, "\n".join(undocumented)


def test_values_schema_types_kubernetes_fields_with_kubernetes_schemas() -> None:
    """The Kubernetes-shaped values (security contexts, affinity, NetworkPolicy peers, volumes,
    containers, …) are typed by Kubernetes' own schemas, embedded by hack/chart-schema.py."""
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "hack" / "chart-schema.py"), "--check"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    schema = json.loads((CHART / "values.schema.json").read_text())
    gateway = schema["properties"]["gateway"]["properties"]
    assert gateway["securityContext"]["$ref"] == "#/definitions/core.v1.SecurityContext"
    assert schema["definitions"]["core.v1.SecurityContext"]["additionalProperties"] is False


def test_otlp_export_is_off_by_default_and_its_endpoint_reaches_the_gateway() -> None:
    from airoute.cli import build_parser
    from airoute.gateway.cli import config_from

    (gateway,) = [c for name, _, c in _containers(render()) if name.endswith("gateway")]
    assert not any(a.startswith("--otlp") for a in gateway["args"])
    on = render_values({"gateway": {"otlp": {"endpoint": "http://otel-collector.monitoring:4318", "interval": 30}}})
    (gateway,) = [c for name, _, c in _containers(on) if name.endswith("gateway")]
    config = config_from(build_parser().parse_args(gateway["args"]))
    assert (config.otlp_endpoint, config.otlp_interval) == ("http://otel-collector.monitoring:4318", 30.0)
    config.check()
    with pytest.raises(HelmError, match="otlp"):
        render_values({"gateway": {"otlp": {"endpoint": "otel-collector:4318"}}})
