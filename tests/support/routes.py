"""AIRoute objects for tests, built as dicts (what kubectl would send), and written as YAML files.

``airoute(backends, name=…, **spec)`` builds a route (``route_object`` wraps any spec, valid or
not); ``openai_backend`` is the usual backend of the gateway's tests (an ``openAICompatible``
block, plain HTTP allowed) and ``emulated`` one served by an emulator; ``secret`` is a Secret
beside the routes; ``yaml_text`` writes objects as one multi-document file.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import yaml

from airoute.api import API_VERSION, KIND
from airoute.api.objects import CREDENTIALS_LABEL

CREDENTIALS_LABELS = {CREDENTIALS_LABEL: "true"}
"""The label that makes a Secret a route credential (issue 14.5)."""


class HasBaseURL(Protocol):
    @property
    def base_url(self) -> str: ...


def route_object(spec: Mapping[str, Any], name: str, namespace: str, status: Mapping[str, Any] | None = None,
                 **metadata: Any) -> dict[str, Any]:
    """An AIRoute object around ``spec`` taken as it is (valid or not); ``metadata`` adds fields
    such as ``generation`` or ``creationTimestamp``."""
    obj: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "spec": dict(spec),
    }
    if status is not None:
        obj["status"] = dict(status)
    return obj


def airoute(backends: Sequence[Mapping[str, Any]], name: str = "chat", namespace: str = "team",
            model: str | None = None, status: Mapping[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    """An AIRoute serving ``model`` (its name by default); ``spec`` holds further spec fields by
    their wire names (``degradedResponse=…``)."""
    return route_object({"model": model or name, "backends": [dict(b) for b in backends], **spec}, name, namespace,
                        status)


def openai_backend(name: str, weight: int, base_url: str, model: str | None = None, timeout: str | None = None,
                   secret: str | None = None, **block: Any) -> dict[str, Any]:
    """A backend with an ``openAICompatible`` block at ``base_url`` (``…/v1``); ``secret`` names
    the Secret of its API key."""
    fields: dict[str, Any] = {"baseURL": base_url, "model": model or name, "insecure": True, **block}
    if secret is not None:
        fields["credentialsSecretRef"] = {"name": secret}
    backend: dict[str, Any] = {"name": name, "weight": weight, "openAICompatible": fields}
    if timeout is not None:
        backend["timeout"] = timeout
    return backend


def emulated(name: str, weight: int, emulator: HasBaseURL, model: str | None = None, timeout: str = "10s",
             secret: str | None = None) -> dict[str, Any]:
    """A backend served by an OpenAI-compatible emulator."""
    return openai_backend(name, weight, f"{emulator.base_url}/v1", model, timeout, secret)


def unreachable(weights: Sequence[int] = (50, 50), secret: str | None = None) -> list[dict[str, Any]]:
    """Backends ``b0``, ``b1`` … on loopback ports nothing listens on (for tests that never call
    them); ``secret`` is the first one's API key Secret."""
    return [openai_backend(f"b{i}", weight, f"http://127.0.0.1:{9000 + i}/v1", f"m{i}",
                           secret=secret if i == 0 else None)
            for i, weight in enumerate(weights)]


def secret(name: str, data: Mapping[str, str], namespace: str = "team", credentials: bool = True) -> dict[str, Any]:
    """A Secret with ``data`` base64-encoded, as the API server stores it; a route credential
    (labelled ``airoute.dev/credentials=true``) unless ``credentials`` is False."""
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if credentials:
        meta["labels"] = dict(CREDENTIALS_LABELS)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": encoded}


def yaml_text(objs: Iterable[Mapping[str, Any]]) -> str:
    """The objects as one multi-document YAML file."""
    return yaml.safe_dump_all([dict(o) for o in objs], sort_keys=False)
