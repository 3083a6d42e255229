"""Building and swapping live tables: last good kept, secrets, namespaces."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from airoute.gateway.callers import CallerCache
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.routetable.build import RETIRE_AFTER, TableBuilder
from airoute.gateway.routetable.snapshot import Snapshot
from airoute.providers import Pools
from tests.support.routes import airoute, unreachable


def snap(*routes: dict[str, Any], secrets: dict[str, dict[str, bytes]] | None = None) -> Snapshot:
    return Snapshot(routes, secrets or {}, "test")


@pytest.fixture
def table() -> TableBuilder:
    return TableBuilder(CallerCache(Pools()), GatewayMetrics())


async def test_a_snapshot_becomes_the_live_table(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable())))
    route = table.live.routes["chat"]
    assert table.loaded.is_set() and table.live.version == 1
    assert [(s.name, s.weight) for s in route.choice.slots] == [("b0", 50), ("b1", 50)]
    target = route.choice.slots[0].variants[0].target
    assert target.labels == ("team", "chat", "b0", "stable", "openAICompatible")
    assert table.metrics.table_version.get() == 1 and table.metrics.routes.get() == 1


async def test_status_weights_win_and_the_version_moves_with_content(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable())))
    table.apply(snap(airoute(unreachable())))
    assert table.live.version == 1
    table.apply(snap(airoute(unreachable(), status={"weights": {"b0": 0, "b1": 100}})))
    assert table.live.version == 2
    assert [s.weight for s in table.live.routes["chat"].choice.slots] == [0, 100]


async def test_refused_snapshot_keeps_the_last_good_table(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable())))
    before = table.live
    table.refuse("chat.yaml: broken")
    assert table.live is before
    assert table.metrics.table_failures.get() == 1


async def test_an_invalid_route_keeps_its_previous_entry(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable())))
    table.apply(snap(airoute(unreachable((0, 0)))))
    assert "chat" in table.live.routes and table.live.routes["chat"].entry.from_last_good
    assert table.problems and "previous entry kept" in table.problems[0]


async def test_missing_secret_leaves_a_new_route_out_and_keeps_an_old_one(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable(secret="creds"))))
    assert "chat" not in table.live.routes
    assert "Secret team/creds not found" in table.problems[0]
    table.apply(snap(airoute(unreachable(secret="creds")), secrets={"team/creds": {"api-key": b"k"}}))
    assert "chat" in table.live.routes
    kept = table.live.routes["chat"]
    table.apply(snap(airoute(unreachable((10, 90), secret="creds"))))
    assert table.live.routes["chat"] is kept
    assert "previous routing kept" in table.problems[0]


async def test_secret_with_the_wrong_key(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable(secret="creds")), secrets={"team/creds": {"token": b"k"}}))
    assert "has no key 'api-key'" in table.problems[0]


async def test_only_served_namespaces(tmp_path: Path) -> None:
    table = TableBuilder(CallerCache(Pools()), GatewayMetrics(), ("team",))
    table.apply(snap(airoute(unreachable()), airoute(unreachable(), "x", namespace="elsewhere")))
    assert set(table.live.routes) == {"chat"}


@pytest.mark.looptime
async def test_a_caller_no_route_uses_any_more_is_closed_after_a_grace_period(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable((50, 50)))))
    assert len(table.callers.pools) == 2, "one pool per origin: b0 and b1 listen on two ports"
    table.apply(snap(airoute(unreachable((100,)))))
    await asyncio.sleep(RETIRE_AFTER - 1)
    assert len(table.callers.pools) == 2, "requests that were still using b1 may finish"
    await asyncio.sleep(2)
    assert len(table.callers.pools) == 1


async def test_callers_are_reused_across_reloads(table: TableBuilder) -> None:
    table.apply(snap(airoute(unreachable())))
    first = table.live.routes["chat"].choice.slots[0].variants[0].target.caller
    table.apply(snap(airoute(unreachable(), status={"weights": {"b0": 30, "b1": 70}})))
    assert table.live.routes["chat"].choice.slots[0].variants[0].target.caller is first


def _spy_on_bind(table: TableBuilder, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the routes ``table`` binds from now on (the real binding still happens)."""
    bound: list[str] = []
    real_bind = table.callers.bind

    def spied_bind(entry: Any, secrets: Any) -> Any:
        bound.append(entry.name)
        return real_bind(entry, secrets)

    monkeypatch.setattr(table.callers, "bind", spied_bind)
    return bound


def _stored(obj: dict[str, Any], version: int) -> dict[str, Any]:
    """``obj`` as the API server hands it out: with a resourceVersion."""
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(version)}}


async def test_one_route_changed_among_many_is_the_only_one_parsed_and_bound(
    table: TableBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import airoute.core.routetable as core_table

    parsed: list[str] = []
    real_entry = core_table.route_entry
    def spied_entry(obj: dict[str, Any]) -> Any:
        parsed.append(obj["metadata"]["name"])
        return real_entry(obj)

    monkeypatch.setattr(core_table, "route_entry", spied_entry)
    bound = _spy_on_bind(table, monkeypatch)
    routes = [_stored(airoute(unreachable(), f"r{i}"), i + 1) for i in range(300)]
    table.apply(snap(*routes))
    assert len(parsed) == len(bound) == 300
    before = dict(table.live.routes)
    parsed.clear(), bound.clear()
    routes[7] = _stored(airoute(unreachable(), "r7", status={"weights": {"b0": 0, "b1": 100}}), 1000)
    table.apply(snap(*routes))
    assert parsed == ["r7"] and bound == ["r7"], "only the changed route is parsed and bound again"
    assert [s.weight for s in table.live.routes["r7"].choice.slots] == [0, 100]
    assert all(table.live.routes[m] is before[m] for m in before if m != "r7"), "the others are reused as they were"
    assert table.live.version == 2
    table.apply(snap(*routes[:-1]))  # one deleted
    assert "r299" not in table.live.routes and parsed == ["r7"]


async def test_a_changed_secret_rebinds_the_routes_of_its_namespace_only(
    table: TableBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = _spy_on_bind(table, monkeypatch)
    here = _stored(airoute(unreachable(secret="creds"), "here"), 1)
    there = _stored(airoute(unreachable(secret="creds"), "there", namespace="other"), 2)
    secrets = {"team/creds": {"api-key": b"one"}, "other/creds": {"api-key": b"one"}}
    table.apply(snap(here, there, secrets=secrets))
    old = table.live.routes["here"].choice.slots[0].variants[0].target.caller
    bound.clear()
    table.apply(snap(here, there, secrets={**secrets, "team/creds": {"api-key": b"two"}}))
    assert bound == ["here"]
    assert table.live.routes["here"].choice.slots[0].variants[0].target.caller is not old, "bound to the new key"


async def test_a_submitted_snapshot_is_built_while_the_event_loop_keeps_serving(table: TableBuilder) -> None:
    ticks = 0

    async def ticker() -> None:  # stands for requests: it runs only when the loop is free
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    routes = [_stored(airoute(unreachable(), f"r{i}"), i + 1) for i in range(2000)]
    task = asyncio.get_running_loop().create_task(ticker())
    try:
        table.submit(snap(*routes))
        assert not table.loaded.is_set(), "nothing is built on the caller's turn of the loop"
        await table.loaded.wait()
        during = ticks
    finally:
        task.cancel()
    assert during > 0, "the loop ran other work while the table was built"
    assert len(table.live.routes) == 2000


async def test_snapshots_submitted_during_a_build_are_coalesced_to_the_newest(table: TableBuilder) -> None:
    table.submit(snap(airoute(unreachable(), status={"weights": {"b0": 10, "b1": 90}})))
    table.submit(snap(airoute(unreachable(), status={"weights": {"b0": 20, "b1": 80}})))
    table.submit(snap(airoute(unreachable(), status={"weights": {"b0": 30, "b1": 70}})))
    await table.loaded.wait()
    assert [s.weight for s in table.live.routes["chat"].choice.slots] == [30, 70]
    assert table.live.version == 1, "one build, of the newest snapshot only"


async def test_a_route_left_out_is_published_with_its_backend_and_reason_until_it_can_be_served(
    table: TableBuilder,
) -> None:
    """Issue 18.3: the controller reads this series into the route's Served condition."""
    table.apply(snap(airoute(unreachable(secret="creds"))))
    assert set(table.live.unavailable) == {"chat"} and table.live.unavailable["chat"].key == "team/chat"
    assert table.metrics.unservable.values == {("team", "chat", "b0", "SecretNotFound"): 1.0}
    table.apply(snap(airoute(unreachable(secret="creds")), secrets={"team/creds": {"api-key": b"k"}}))
    assert table.live.unavailable == {} and table.metrics.unservable.values == {}
