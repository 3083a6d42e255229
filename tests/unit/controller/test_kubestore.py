"""What the controller keeps of a stored AIRoute (``controller/kubestore``: ``stored_route``, ``KubeRoutes``)."""

from __future__ import annotations

from airoute.controller.kubestore import KubeRoutes, stored_route
from airoute.core.ownership import ownership
from airoute.kube import KubeClient, KubeConfig


def _stored(namespace: str, created: str) -> dict[str, object]:
    return {"apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute",
            "metadata": {"name": "r", "namespace": namespace, "creationTimestamp": created,
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"model": "shared"}, "status": {}}


def test_the_first_claim_keeps_its_model_after_the_route_is_stored() -> None:
    # The namespace that sorts first came second: the model stays with the earlier route.
    first = stored_route(_stored("zeta", "2026-01-01T00:00:00Z"))
    second = stored_route(_stored("alpha", "2026-01-01T00:00:05Z"))
    owned = ownership([second, first])
    assert owned.owners["shared"].key == "zeta/r" and set(owned.lost) == {"alpha/r"}
    assert "managedFields" not in first["metadata"]


def _event_body(name: str, version: str, weight: int = 100) -> dict[str, object]:
    return {"apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute",
            "metadata": {"name": name, "namespace": "team", "resourceVersion": version,
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"model": name, "backends": [{"name": "b0", "weight": weight}]}}


def test_the_routes_are_those_the_watch_delivered_until_deleted() -> None:
    routes = KubeRoutes(KubeClient(KubeConfig(server="https://127.0.0.1:1")))
    routes.saw(None, _event_body("listed", "1"))  # the first listing
    routes.saw("ADDED", _event_body("added", "2"))
    routes.saw("MODIFIED", _event_body("added", "3", weight=50))
    assert {(o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in routes.routes()} == {
        ("listed", "1"), ("added", "3")}
    added = next(o for o in routes.routes() if o["metadata"]["name"] == "added")
    assert added["spec"]["backends"][0]["weight"] == 50 and "managedFields" not in added["metadata"]
    routes.saw("DELETED", _event_body("listed", "4"))
    assert [o["metadata"]["name"] for o in routes.routes()] == ["added"]
