"""API paths of the collections airoute reads and writes."""

from __future__ import annotations

from airoute.api.base import GROUP, PLURAL, VERSION


def airoutes_path(namespace: str) -> str:
    """The AIRoutes of one namespace (append ``/{name}/status`` for one route's status)."""
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


def secrets_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/secrets"


def events_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/events"
