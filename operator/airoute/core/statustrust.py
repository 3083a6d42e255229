"""Status is not trusted (issue 14.6): a provider block read from ``status`` is served only when it
matches the spec.

The gateway serves a backend's stable block from ``status.backends[].provider`` while a canary
moves that backend to the spec's block, and serves stable blocks alone when the spec does not
validate (the last good routing). Whoever can write ``airoutes/status`` chooses those blocks, so
they must not reach anything the spec does not already grant: a stored block is served only when
it is of the spec's provider kind and equal to the spec's block in every field but the ones a
canary exists to move — the model version (:data:`MOVABLE`). Endpoint, region, project,
credentials, headers, TLS settings and the in-cluster Service's namespace must be the spec's.

The same rule, written in CEL, is the chart's ``status-guard`` admission policy on
``airoutes/status``; this module is the gateway's own check, which holds whatever admitted the
status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MOVABLE: Mapping[str, frozenset[str]] = {
    "azureOpenAI": frozenset({"deployment", "apiVersion"}),
    "bedrock": frozenset({"modelId"}),
    "vertexAI": frozenset({"model"}),
    "inCluster": frozenset({"model", "service"}),
    "openAICompatible": frozenset({"model"}),
}
"""Per provider kind, the fields of a block a canary may change (wire names)."""


def _service_namespace(block: Mapping[str, Any]) -> object:
    service = block.get("service")
    return service.get("namespace") if isinstance(service, Mapping) else None


def stored_block_mismatch(
    stored_kind: str,
    stored: Mapping[str, Any],
    spec_kind: str,
    spec: Mapping[str, Any],
) -> str | None:
    """Why a stored provider block may not be served next to the spec's block; None when it may.

    Both blocks in their wire form (camelCase, defaults filled). The reason names fields, never
    their values (a header value may be a secret)."""
    if stored_kind != spec_kind:
        return f"it is a {stored_kind} block and the spec's is {spec_kind}"
    movable = MOVABLE.get(spec_kind, frozenset())
    differing = sorted(k for k in set(stored) | set(spec) if k not in movable and stored.get(k) != spec.get(k))
    if _service_namespace(stored) != _service_namespace(spec):
        differing.append("service.namespace")
    if differing:
        verb = "differs" if len(differing) == 1 else "differ"
        allowed = ", ".join(sorted(movable))
        return f"its {', '.join(differing)} {verb} from the spec's (a canary may change only {allowed})"
    return None
