"""The governance policies of ``policies/admission``, offline: the same rules, the same messages.

The ValidatingAdmissionPolicies decide in the cluster; this lets ``airoute validate --policies``
give a GitOps repository the same verdict before anything is merged. Parameters come from the
same ConfigMap the policies read (``policies/admission/governance-params.yaml``). A test runs
every policy case of the chart's tests through both and expects the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airoute.api import AIRoute, Backend

CLOUD_NAMES = "azure, aws, gcp, in-cluster, external"


class PolicyParamsError(ValueError):
    """The governance ConfigMap cannot be used; the message says which key is wrong."""


def _list(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in str(data.get(key, "")).split(",") if p.strip())


@dataclass(frozen=True)
class GovernanceParams:
    allowed_regions: tuple[str, ...]
    approved_providers: tuple[str, ...]
    unapproved_max_percent: int
    endpoint_hosts: tuple[str, ...] = ()
    insecure_namespaces: tuple[str, ...] = ()
    critical_namespaces: tuple[str, ...] = ()

    @classmethod
    def from_configmap(cls, doc: Mapping[str, Any]) -> GovernanceParams:
        if not isinstance(doc, Mapping) or doc.get("kind") != "ConfigMap":
            raise PolicyParamsError("expected the governance ConfigMap (policies/admission/governance-params.yaml)")
        data = doc.get("data") or {}
        try:
            cap = int(str(data.get("unapprovedMaxPercent", "0")).strip())
        except ValueError:
            raise PolicyParamsError("data.unapprovedMaxPercent: must be an integer percentage") from None
        return cls(_list(data, "allowedRegions"), _list(data, "approvedProviders"), cap, _list(data, "endpointHosts"),
                   _list(data, "insecureNamespaces"), _list(data, "criticalNamespaces"))


def _region(b: Backend) -> str | None:
    if b.azure_open_ai is not None:
        return b.azure_open_ai.region
    if b.bedrock is not None:
        return b.bedrock.region
    if b.vertex_ai is not None:
        return b.vertex_ai.location
    if b.in_cluster is not None:
        return b.in_cluster.region
    return b.open_ai_compatible.region if b.open_ai_compatible is not None else None


def _outside(b: Backend, allowed: tuple[str, ...]) -> bool:
    region = _region(b)
    if b.in_cluster is not None and region is None:
        return False  # a model in the cluster without a region stays in the cluster
    return region not in allowed


AZURE_DOMAINS = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


def _listed(host: str, hosts: tuple[str, ...]) -> bool:
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in hosts)


def _off_host(b: Backend, hosts: tuple[str, ...]) -> bool:
    """The backend sends prompts to a host that does not show its region (and is not listed)."""
    if b.azure_open_ai is not None:
        host = _host(b.azure_open_ai.endpoint)
        return not (_listed(host, hosts) or host.endswith(AZURE_DOMAINS))
    if b.bedrock is not None and b.bedrock.endpoint_url:
        host, region = _host(b.bedrock.endpoint_url), b.bedrock.region
        own = (f".{region}.amazonaws.com", f".{region}.vpce.amazonaws.com")
        return not (_listed(host, hosts) or host.endswith(own))
    if b.vertex_ai is not None and b.vertex_ai.endpoint_url:
        host = _host(b.vertex_ai.endpoint_url)
        return not (_listed(host, hosts) or host == f"{b.vertex_ai.location}-aiplatform.googleapis.com")
    if b.open_ai_compatible is not None:
        return not _listed(_host(b.open_ai_compatible.base_url), hosts)
    return False


def _insecure(b: Backend) -> bool:
    block = b.azure_open_ai or b.bedrock or b.vertex_ai or b.open_ai_compatible
    return bool(getattr(block, "insecure", False))


def _residency(route: AIRoute, params: GovernanceParams) -> list[str]:
    name = route.metadata.name
    problems = []
    outside = [b.name for b in route.spec.backends if _outside(b, params.allowed_regions)]
    if outside:
        problems.append(
            f"data residency: backend(s) {', '.join(outside)} of AIRoute {name} send prompts outside the allowed "
            f"regions ({', '.join(params.allowed_regions)})"
        )
    off_host = [b.name for b in route.spec.backends if _off_host(b, params.endpoint_hosts)]
    if off_host:
        problems.append(
            f"data residency: backend(s) {', '.join(off_host)} of AIRoute {name} send prompts to a host that does not "
            "show their region: use the provider's own regional endpoint or a host listed in endpointHosts "
            f"({', '.join(params.endpoint_hosts)})"
        )
    return problems


def _namespaces(route: AIRoute, params: GovernanceParams) -> list[str]:
    """insecure: true and tier: critical, each allowed only in the namespaces its parameter lists."""
    name, namespace = route.metadata.name, route.metadata.namespace
    problems = []
    insecure = [b.name for b in route.spec.backends if _insecure(b)]
    if insecure and namespace not in params.insecure_namespaces:
        problems.append(
            f"backend(s) {', '.join(insecure)} of AIRoute {name} set insecure: true (plain http), allowed only in the "
            f"namespaces listed in insecureNamespaces ({', '.join(params.insecure_namespaces)})"
        )
    if route.spec.tier == "critical" and not ({"*", namespace} & set(params.critical_namespaces)):
        problems.append(
            f"AIRoute {name} may not be tier: critical in namespace {namespace}: critical routes are allowed only in "
            f"the namespaces listed in criticalNamespaces ({', '.join(params.critical_namespaces)})"
        )
    return problems


def check(route: AIRoute, params: GovernanceParams) -> list[str]:
    """The message of every policy the route breaks (empty when it complies)."""
    spec, name = route.spec, route.metadata.name
    problems = [*_residency(route, params), *_namespaces(route, params)]
    if spec.tier == "critical":
        clouds = [b.cloud for b in spec.backends]
        if all(c == clouds[0] for c in clouds):
            problems.append(
                f"critical AIRoute {name} must span at least two clouds ({CLOUD_NAMES}): "
                f"all its backends are on {clouds[0]}"
            )
        if len(spec.rollout.steps) < 2:
            problems.append(
                f"critical AIRoute {name} must declare a progressive rollout: "
                "spec.rollout.steps needs at least one canary step before 100"
            )
        if not (spec.degraded_response or "").strip():
            problems.append(
                f"critical AIRoute {name} must set spec.degradedResponse: the answer customers get when every "
                "provider is down"
            )
    total = sum(b.weight for b in spec.backends)
    cap = params.unapproved_max_percent
    over = [
        b.name
        for b in spec.backends
        if b.provider_kind not in params.approved_providers and cap < 100
        and (b.weight == 0 or b.weight * 100 > cap * total)
    ]
    if over:
        problems.append(
            f"backend(s) {', '.join(over)} of AIRoute {name} use a provider that is not approved "
            f"({', '.join(params.approved_providers)}) and may take at most {cap}% of the declared weights, and may "
            "not be a standby (weight 0), which takes every request when the others fail"
        )
    return problems
