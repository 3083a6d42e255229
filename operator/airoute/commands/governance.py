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

    @classmethod
    def from_configmap(cls, doc: Mapping[str, Any]) -> GovernanceParams:
        if not isinstance(doc, Mapping) or doc.get("kind") != "ConfigMap":
            raise PolicyParamsError("expected the governance ConfigMap (policies/admission/governance-params.yaml)")
        data = doc.get("data") or {}
        try:
            cap = int(str(data.get("unapprovedMaxPercent", "0")).strip())
        except ValueError:
            raise PolicyParamsError("data.unapprovedMaxPercent: must be an integer percentage") from None
        return cls(_list(data, "allowedRegions"), _list(data, "approvedProviders"), cap)


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


def check(route: AIRoute, params: GovernanceParams) -> list[str]:
    """The message of every policy the route breaks (empty when it complies)."""
    spec, name = route.spec, route.metadata.name
    problems = []
    outside = [b.name for b in spec.backends if _outside(b, params.allowed_regions)]
    if outside:
        problems.append(
            f"data residency: backend(s) {', '.join(outside)} of AIRoute {name} send prompts outside the allowed "
            f"regions ({', '.join(params.allowed_regions)})"
        )
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
        if b.provider_kind not in params.approved_providers and b.weight * 100 > cap * total
    ]
    if over:
        problems.append(
            f"backend(s) {', '.join(over)} of AIRoute {name} use a provider that is not approved "
            f"({', '.join(params.approved_providers)}) and may take at most {cap}% of the declared weights"
        )
    return problems
