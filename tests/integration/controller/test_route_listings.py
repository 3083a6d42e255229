"""The controller's view of the stored routes against the real API server: the count before its first
listing (``KubeRoutes.count_stored``: ``LIST ?limit=1`` pages and their ``remainingItemCount``) and the
sweep after a new listing (``KubeRoutes.sweep``)."""

from __future__ import annotations

from typing import Any

import pytest

from airoute.controller.kubestore import KubeRoutes
from airoute.kube import KubeClient, load_config
from tests.support.routes import airoute, openai_backend

pytestmark = [pytest.mark.cluster]


async def test_the_count_before_the_first_listing_is_what_the_listing_brings(apiserver: Any) -> None:
    spaces = {"listing-a": 4, "listing-b": 3}
    for ns, count in spaces.items():
        apiserver.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                        *(airoute([openai_backend("b0", 100, "https://api.example.com/v1")], f"r{i}", ns,
                                  model=f"{ns}-m{i}") for i in range(count)))
    client = KubeClient(load_config(str(apiserver.kubeconfig)))
    try:
        routes = KubeRoutes(client, namespaces=list(spaces))
        assert not routes.acting()  # the first wish to act starts the count
        assert routes._counting is not None
        await routes._counting
        assert routes._expected == 7
        pages = [await client.get(f"/apis/airoute.dev/v1alpha1/namespaces/{ns}/airoutes") for ns in spaces]
        for obj in [o for page in pages for o in page["items"]]:
            assert not routes.acting()
            routes.saw(None, obj)
        assert routes.acting()
        everywhere = KubeRoutes(client)
        await everywhere.count_stored()
        stored = len((await client.get("/apis/airoute.dev/v1alpha1/airoutes"))["items"])
        assert everywhere._expected == stored >= 7
    finally:
        await client.close()


async def test_a_sweep_drops_what_was_deleted_while_the_watch_was_away(apiserver: Any) -> None:
    ns = "listing-sweep"
    apiserver.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
                    *(airoute([openai_backend("b0", 100, "https://api.example.com/v1")], f"r{i}", ns,
                              model=f"{ns}-m{i}") for i in range(3)))
    client = KubeClient(load_config(str(apiserver.kubeconfig)))
    try:
        routes = KubeRoutes(client, namespaces=[ns])
        for obj in (await client.get(f"/apis/airoute.dev/v1alpha1/namespaces/{ns}/airoutes"))["items"]:
            routes.saw(None, obj)
        apiserver.kubectl("delete", "airoute", "r1", "-n", ns)  # the watch is away: no DELETED reaches the store
        assert await routes.sweep() == 1
        assert sorted(o["metadata"]["name"] for o in routes.routes()) == ["r0", "r2"]
        assert await routes.sweep() == 0
    finally:
        await client.close()
