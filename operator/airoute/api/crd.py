"""The AIRoute CustomResourceDefinition, generated from the models (``airoute crd``)."""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from airoute.api.base import GROUP, KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION
from airoute.api.spec import AIRouteSpec
from airoute.api.status import AIRouteStatus

CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_FILE = f"{GROUP}_{PLURAL}.yaml"

# Lists whose items are objects with a unique key: merged by key in server-side apply.
_LIST_MAP_KEYS = {
    ("spec", "backends"): "name",
    ("status", "backends"): "name",
    ("status", "rollouts"): "backend",
    ("status", "drills"): "backend",
    ("status", "conditions"): "type",
}

PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Model", "type": "string", "jsonPath": ".spec.model", "description": "Model name clients send."},
    {"name": "Tier", "type": "string", "jsonPath": ".spec.tier", "description": "Business criticality."},
    {
        "name": "Weights",
        "type": "string",
        "jsonPath": ".status.weightsSummary",
        "description": "Effective weight per backend.",
    },
    {
        "name": "Spilled",
        "type": "number",
        "jsonPath": ".status.spilledShare",
        "description": "Share of answered requests that spilled out of the lowest priority group.",
        "priority": 1,
    },
    {
        "name": "Rollout",
        "type": "string",
        "jsonPath": ".status.rollouts[0].phase",
        "description": "Phase of the current rollout.",
    },
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        "description": "Whether the route is being served as declared.",
    },
    {
        "name": "Degraded",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Degraded")].status',
        "description": "True while a weighted backend is out (ejected, drilled) and the others carry its share.",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _resolve(node: Any, defs: dict[str, Any]) -> Any:
    """Inline ``$ref`` s and unwrap ``Optional`` so the schema is structural."""
    if isinstance(node, list):
        return [_resolve(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(defs[node["$ref"].rsplit("/", 1)[-1]])
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _resolve({**target, **extra}, defs)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        if len(options) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return _resolve({**options[0], **rest}, defs)
    return {k: _resolve(v, defs) for k, v in node.items()}


def _clean(node: Any) -> Any:
    if isinstance(node, list):
        return [_clean(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs") or (key == "default" and value is None):
            continue
        if key == "additionalProperties" and value is False:
            continue
        if key == "properties":
            out[key] = {name: _clean(prop) for name, prop in value.items()}
            continue
        out[key] = _clean(value)
    if out.get("type") == "object" and out.get("additionalProperties") is True:
        del out["additionalProperties"]
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _object_defaults(model: type[BaseModel], schema: dict[str, Any]) -> None:
    """Give fields built by a default factory an explicit default, so the API server applies it."""
    props = schema.get("properties", {})
    for name, field in model.model_fields.items():
        wire = field.alias or name
        if wire not in props or field.default_factory is None:
            continue
        value = field.get_default(call_default_factory=True)
        if isinstance(value, BaseModel):
            # The whole default object: the API server checks CEL rules against the default itself.
            props[wire]["default"] = value.model_dump(mode="json", by_alias=True, exclude_none=True)
            _object_defaults(type(value), props[wire])
        elif isinstance(value, list) and value:
            props[wire]["default"] = value


def _walk_nested(model: type[BaseModel], schema: dict[str, Any]) -> None:
    props = schema.get("properties", {})
    for name, field in model.model_fields.items():
        wire = field.alias or name
        ann = field.annotation
        sub = props.get(wire)
        if sub is None:
            continue
        for candidate in getattr(ann, "__args__", (ann,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _object_defaults(candidate, sub)
                _walk_nested(candidate, sub)
            inner = getattr(candidate, "__args__", ())
            for item in inner:
                if isinstance(item, type) and issubclass(item, BaseModel) and "items" in sub:
                    _walk_nested(item, sub["items"])


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    schema: dict[str, Any] = _clean(_resolve(raw, raw.get("$defs", {})))
    _object_defaults(model, schema)
    _walk_nested(model, schema)
    return schema


def _mark_list_maps(root: dict[str, Any]) -> None:
    for (section, field), key in _LIST_MAP_KEYS.items():
        node = root["properties"][section]["properties"][field]
        node["x-kubernetes-list-type"] = "map"
        node["x-kubernetes-list-map-keys"] = [key]


def open_api_schema() -> dict[str, Any]:
    """The ``openAPIV3Schema`` of AIRoute v1alpha1."""
    spec = _model_schema(AIRouteSpec)
    status = _model_schema(AIRouteStatus)
    root: dict[str, Any] = {
        "type": "object",
        "description": (
            "AIRoute spreads one AI use case's traffic across providers (Azure OpenAI, Bedrock, "
            "Vertex AI, in-cluster and OpenAI-compatible models), fails over when one is unhealthy "
            "and rolls new model versions out as canaries."
        ),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion of this object."},
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    _mark_list_maps(root)
    return root


def custom_resource_definition() -> dict[str, Any]:
    """The whole CRD object, ready to be written as YAML."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME, "labels": {"app.kubernetes.io/part-of": "airoute"}},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": SINGULAR,
                "shortNames": [SHORT_NAME],
                "categories": ["ai"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": open_api_schema()},
                }
            ],
        },
    }


PEERING_FILE = "kopf.dev_peerings.yaml"


def peering_definitions() -> list[dict[str, Any]]:
    """Kopf's peering CRDs (``kopf.dev/v1``): how two controller replicas agree on who acts."""

    def one(kind: str, plural: str, scope: str) -> dict[str, Any]:
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.kopf.dev", "labels": {"app.kubernetes.io/part-of": "airoute"}},
            "spec": {
                "group": "kopf.dev",
                "names": {"kind": kind, "plural": plural, "singular": plural.removesuffix("s")},
                "scope": scope,
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "description": "Kopf operators' peering: which replica of the airoute controller acts.",
                                "properties": {
                                    "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                                },
                            }
                        },
                    }
                ],
            },
        }

    return [
        one("ClusterKopfPeering", "clusterkopfpeerings", "Cluster"),
        one("KopfPeering", "kopfpeerings", "Namespaced"),
    ]
