"""Types the Kubernetes-shaped values of charts/airoute/values.schema.json from Kubernetes' own schemas.

The fields people get wrong (security contexts, affinity, tolerations, volumes, containers,
NetworkPolicy peers and rules, HPA behavior, …) are checked against the strict JSON schemas of the
oldest Kubernetes the chart supports (Chart.yaml kubeVersion, 1.30), as shipped by the PyPI package
kubernetes-validate: ``helm install`` then refuses `runAsUSer: 1000` or `podAntiAfinity` by name.
The definitions go under "definitions" (descriptions dropped) and each listed value points at one.

    .venv/bin/python hack/chart-schema.py          # rewrite values.schema.json
    .venv/bin/python hack/chart-schema.py --check  # exit 1 when it is not current (a test runs this)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from importlib.resources import files as package_files

KUBE_VERSION = "1.30.0"
SCHEMA = Path(__file__).resolve().parents[1] / "charts" / "airoute" / "values.schema.json"
PREFIX = "io.k8s.api."

# values path (dots; "*" for every component) -> (Kubernetes definition, a list of them?)
TYPED: dict[str, tuple[str, bool]] = {
    "imagePullSecrets": ("core.v1.LocalObjectReference", True),
    "global.imagePullSecrets": ("core.v1.LocalObjectReference", True),
    "podSecurityContext": ("core.v1.PodSecurityContext", False),
    "securityContext": ("core.v1.SecurityContext", False),
    "*.podSecurityContext": ("core.v1.PodSecurityContext", False),
    "*.securityContext": ("core.v1.SecurityContext", False),
    "*.affinity": ("core.v1.Affinity", False),
    "*.tolerations": ("core.v1.Toleration", True),
    "*.topologySpreadConstraints": ("core.v1.TopologySpreadConstraint", True),
    "*.resources": ("core.v1.ResourceRequirements", False),
    "*.extraEnv": ("core.v1.EnvVar", True),
    "*.envFrom": ("core.v1.EnvFromSource", True),
    "*.extraVolumes": ("core.v1.Volume", True),
    "*.extraVolumeMounts": ("core.v1.VolumeMount", True),
    "*.initContainers": ("core.v1.Container", True),
    "*.sidecars": ("core.v1.Container", True),
    "*.lifecycle": ("core.v1.Lifecycle", False),
    "gateway.autoscaling.behavior": ("autoscaling.v2.HorizontalPodAutoscalerBehavior", False),
    "networkPolicy.ingress.gatewayFrom": ("networking.v1.NetworkPolicyPeer", True),
    "networkPolicy.ingress.metricsFrom": ("networking.v1.NetworkPolicyPeer", True),
    "networkPolicy.egress.extra": ("networking.v1.NetworkPolicyEgressRule", True),
}
COMPONENTS = ("controller", "gateway")


def kubernetes_definitions() -> dict[str, Any]:
    files = package_files("kubernetes_validate") / "kubernetes-json-schema"
    path = files / f"v{KUBE_VERSION}-local-strict" / "_definitions.json"
    defs: dict[str, Any] = json.loads(path.read_text())["$defs"]
    return defs


def _short(name: str) -> str:
    return name.removeprefix(PREFIX).removeprefix("io.k8s.apimachinery.pkg.")


def _rewrite(node: Any, defs: dict[str, Any], used: dict[str, Any]) -> Any:
    """Drops descriptions, points $refs at "#/definitions/…" and collects what they reach."""
    if isinstance(node, list):
        return [_rewrite(n, defs, used) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "description":
            continue
        if key == "$ref":
            name = value.rsplit("/", 1)[-1]
            short = _short(name)
            if short not in used:
                used[short] = None  # reserve first: definitions may be recursive
                used[short] = _rewrite(defs[name], defs, used)
            out[key] = f"#/definitions/{short}"
        else:
            out[key] = _rewrite(value, defs, used)
    return out


def _node(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
    return node


def typed_schema(schema: dict[str, Any]) -> dict[str, Any]:
    defs = kubernetes_definitions()
    used: dict[str, Any] = {}
    for pattern, (name, is_list) in TYPED.items():
        ref = _rewrite({"$ref": f"#/$defs/{PREFIX}{name}"}, defs, used)
        paths = [pattern.replace("*", c) for c in COMPONENTS] if pattern.startswith("*") else [pattern]
        for path in paths:
            node = _node(schema, path)
            keep = {k: node[k] for k in ("description", "default") if k in node}
            node.clear()
            node.update(keep)
            if is_list:
                node.update({"type": "array", "items": ref})
            else:
                node.update(ref)
    schema["definitions"] = dict(sorted(used.items()))
    return schema


def main() -> int:
    current = SCHEMA.read_text()
    text = json.dumps(typed_schema(json.loads(current)), indent=2) + "\n"
    if "--check" in sys.argv[1:]:
        if text != current:
            print(f"{SCHEMA} is not current: run `.venv/bin/python hack/chart-schema.py`", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
