"""The controller counts the stored routes before its first listing (``KubeRoutes.count_stored``),
against the real API server: its ``LIST ?limit=1`` pages give the count by ``remainingItemCount``."""

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
