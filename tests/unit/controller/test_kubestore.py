"""What the controller keeps of a stored AIRoute (``controller/kubestore.stored_route``)."""

from __future__ import annotations

from airoute.controller.kubestore import stored_route
from airoute.core.ownership import ownership


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
