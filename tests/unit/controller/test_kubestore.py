"""What the controller keeps of a stored AIRoute (``controller/kubestore``: ``stored_route``, ``KubeRoutes``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from airoute.controller import kubestore
from airoute.controller.kubestore import LISTING_GRACE, KubeRoutes, stored_route
from airoute.core.ownership import ownership
from airoute.kube import KubeClient, KubeConfig, KubeError


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


class _Counted:
    """A client whose route listing says how many routes are stored (``remainingItemCount``)."""

    def __init__(self, stored: int, fails: bool = False) -> None:
        self.stored, self.fails = stored, fails
        self.paths: list[tuple[str, dict[str, str] | None]] = []

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, object]:
        self.paths.append((path, params))
        if self.fails:
            raise KubeError(403, "forbidden")
        return {"items": [{}] if self.stored else [], "metadata": {"remainingItemCount": max(0, self.stored - 1)}}


async def _counted(routes: KubeRoutes) -> None:
    """The first wish to act starts the count; it is in once its task ran."""
    assert not routes.acting()
    await asyncio.sleep(0)
    assert routes._expected is not None


async def test_nothing_is_decided_before_the_first_listing_brought_every_counted_route() -> None:
    # Who owns a model is decided over every route: a decision over the first pages alone would
    # hand the model to a route whose elder rival is on a later page.
    client = _Counted(3)
    routes = KubeRoutes(client, namespaces=["team", "other"], clock=lambda: 0.0)  # type: ignore[arg-type]
    wakes: list[int] = []
    routes.wake = lambda: wakes.append(len(routes.routes()))
    await _counted(routes)
    assert routes._expected == 6  # 3 in each namespace
    assert [p for p, _ in client.paths] == ["/apis/airoute.dev/v1alpha1/namespaces/team/airoutes",
                                            "/apis/airoute.dev/v1alpha1/namespaces/other/airoutes"]
    assert all(params == {"limit": "1"} for _, params in client.paths)
    for i in range(6):
        assert not routes.acting()
        routes.saw(None, _event_body(f"r{i}", "1"))
    assert wakes == [6] and routes.acting()  # the last listed route completes it, and wakes the loop once
    routes.saw("MODIFIED", _event_body("r0", "2"))
    assert wakes == [6] and len(client.paths) == 2


async def test_a_listing_that_came_in_while_counting_wakes_the_loop() -> None:
    routes = KubeRoutes(_Counted(2), clock=lambda: 0.0)  # type: ignore[arg-type]
    wakes: list[int] = []
    routes.wake = lambda: wakes.append(1)
    assert not routes.acting()
    routes.saw(None, _event_body("r0", "1"))
    routes.saw(None, _event_body("r1", "1"))
    await asyncio.sleep(0)
    assert wakes == [1] and routes.acting()


async def test_before_the_listing_is_in_the_replica_does_not_act_and_after_the_grace_it_does() -> None:
    now = [0.0]
    routes = KubeRoutes(_Counted(3), clock=lambda: now[0])  # type: ignore[arg-type]
    await _counted(routes)
    routes.saw(None, _event_body("r0", "1"))
    routes.saw(None, _event_body("r1", "1"))  # the third was deleted between the count and the listing
    assert not routes.acting()
    now[0] = LISTING_GRACE - 1
    assert not routes.acting()
    now[0] = LISTING_GRACE
    assert routes.acting()


async def test_a_count_that_cannot_be_read_waits_for_nothing() -> None:
    routes = KubeRoutes(_Counted(3, fails=True), clock=lambda: 0.0)  # type: ignore[arg-type]
    await _counted(routes)
    assert routes._expected == 0 and routes.acting()


class _Listing:
    """A client whose route listing is ``names`` at resourceVersion ``at``."""

    def __init__(self, names: list[str], at: int) -> None:
        self.names, self.at, self.lists = names, at, 0

    async def list_pages(self, path: str) -> AsyncIterator[tuple[list[dict[str, object]], str]]:
        self.lists += 1
        yield [_event_body(n, "1") for n in self.names], str(self.at)


async def test_a_new_listing_sweeps_away_the_routes_deleted_while_the_watch_was_away(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubestore, "SWEEP_DELAY", 0.0)
    client = _Listing(["kept", "new"], at=20)
    routes = KubeRoutes(client, clock=lambda: 0.0)  # type: ignore[arg-type]
    routes._listed = True  # the first listing is long in
    for name, version in (("kept", "5"), ("ghost", "6"), ("ghost2", "7")):
        routes.saw("ADDED", _event_body(name, version))
    routes.saw("ADDED", _event_body("later", "21"))  # created after the sweep's listing: kept
    # Kopf's watch comes back and lists again: "ghost" and "ghost2" were deleted while it was away.
    routes.saw(None, _event_body("kept", "5"))
    routes.saw(None, _event_body("new", "19"))
    await asyncio.sleep(0.01)
    assert client.lists == 1, "the listed routes of one listing make one sweep"
    assert sorted(o["metadata"]["name"] for o in routes.routes()) == ["kept", "later", "new"]
    assert routes.swept == 2


class _Peering:
    def __init__(self) -> None:
        self.verdict = True

    def acting(self) -> bool:
        return self.verdict


async def test_acting_again_after_standing_by_waits_for_the_new_listing_and_sweeps(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubestore, "SWEEP_DELAY", 0.0)

    class Both(_Counted, _Listing):
        def __init__(self) -> None:
            _Counted.__init__(self, 2)
            _Listing.__init__(self, ["a", "b"], at=30)

    client, peering = Both(), _Peering()
    routes = KubeRoutes(client, peering, clock=lambda: 0.0)  # type: ignore[arg-type]
    await _counted(routes)
    for name in ("a", "ghost"):
        routes.saw(None, _event_body(name, "1"))
    assert routes.acting() and client.lists == 0
    peering.verdict = False  # a peer of higher priority acts; Kopf pauses the watch ("ghost" is deleted)
    assert not routes.acting()
    peering.verdict = True  # the peer is gone: Kopf lists again
    await _counted(routes)
    assert len(client.paths) == 2, "counted again"
    routes.saw(None, _event_body("a", "1"))
    assert not routes.acting()
    routes.saw(None, _event_body("b", "25"))  # the listing is in (2 counted) …
    assert routes.acting()
    await asyncio.sleep(0.01)  # … and the sweep drops what was deleted meanwhile
    assert client.lists == 1 and sorted(o["metadata"]["name"] for o in routes.routes()) == ["a", "b"]
