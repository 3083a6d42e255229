"""Building and swapping live tables: last good kept, secrets, namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from airoute.gateway.callers import CallerCache
from airoute.gateway.keeper import TableKeeper
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.snapshot import Snapshot
from airoute.providers import Pools

from .conftest import route_yaml


def snap(*docs: str, secrets: dict[str, dict[str, bytes]] | None = None) -> Snapshot:
    return Snapshot(tuple(yaml.safe_load(d) for d in docs), secrets or {}, "test")


@pytest.fixture
def keeper() -> TableKeeper:
    return TableKeeper(CallerCache(Pools()), GatewayMetrics())


async def test_a_snapshot_becomes_the_live_table(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml()))
    route = keeper.live.routes["chat"]
    assert keeper.loaded.is_set() and keeper.live.version == 1
    assert [(s.name, s.weight) for s in route.choice.slots] == [("b0", 50), ("b1", 50)]
    target = route.choice.slots[0].variants[0].target
    assert target.labels == ("team", "chat", "b0", "stable", "openAICompatible")
    assert keeper.metrics.table_version.get() == 1 and keeper.metrics.routes.get() == 1


async def test_status_weights_win_and_the_version_moves_with_content(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml()))
    keeper.apply(snap(route_yaml()))
    assert keeper.live.version == 1
    keeper.apply(snap(route_yaml() + "status: {weights: {b0: 0, b1: 100}}\n"))
    assert keeper.live.version == 2
    assert [s.weight for s in keeper.live.routes["chat"].choice.slots] == [0, 100]


async def test_refused_snapshot_keeps_the_last_good_table(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml()))
    before = keeper.live
    keeper.refuse("chat.yaml: broken")
    assert keeper.live is before
    assert keeper.metrics.table_failures.get() == 1


async def test_an_invalid_route_keeps_its_previous_entry(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml()))
    keeper.apply(snap(route_yaml(weights=(0, 0))))
    assert "chat" in keeper.live.routes and keeper.live.routes["chat"].entry.from_last_good
    assert keeper.problems and "previous entry kept" in keeper.problems[0]


async def test_missing_secret_leaves_a_new_route_out_and_keeps_an_old_one(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml(secret="creds")))
    assert "chat" not in keeper.live.routes
    assert "Secret team/creds not found" in keeper.problems[0]
    keeper.apply(snap(route_yaml(secret="creds"), secrets={"team/creds": {"api-key": b"k"}}))
    assert "chat" in keeper.live.routes
    kept = keeper.live.routes["chat"]
    keeper.apply(snap(route_yaml(secret="creds", weights=(10, 90))))
    assert keeper.live.routes["chat"] is kept
    assert "previous routing kept" in keeper.problems[0]


async def test_secret_with_the_wrong_key(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml(secret="creds"), secrets={"team/creds": {"token": b"k"}}))
    assert "has no key 'api-key'" in keeper.problems[0]


async def test_only_served_namespaces(tmp_path: Path) -> None:
    keeper = TableKeeper(CallerCache(Pools()), GatewayMetrics(), ("team",))
    keeper.apply(snap(route_yaml(), route_yaml("x", namespace="elsewhere", model="x")))
    assert set(keeper.live.routes) == {"chat"}


async def test_callers_are_reused_across_reloads(keeper: TableKeeper) -> None:
    keeper.apply(snap(route_yaml()))
    first = keeper.live.routes["chat"].choice.slots[0].variants[0].target.caller
    keeper.apply(snap(route_yaml() + "status: {weights: {b0: 30, b1: 70}}\n"))
    assert keeper.live.routes["chat"].choice.slots[0].variants[0].target.caller is first
