"""Building and swapping live tables: last good kept, secrets, namespaces."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest

from airoute.gateway.callers import CallerCache
from airoute.gateway.metrics import GatewayMetrics
from airoute.gateway.routetable.build import BACKLOG, RETIRE_AFTER, SLICE, TableBuilder
from airoute.gateway.routetable.snapshot import Change, Snapshot
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


async def test_one_route_changed_among_many_is_the_only_one_built_and_bound(
    table: TableBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    bound = _spy_on_bind(table, monkeypatch)
    routes = [_stored(airoute(unreachable(), f"r{i}"), i + 1) for i in range(300)]
    table.apply(snap(*routes))
    assert table.state.built == len(bound) == 300
    before, version = dict(table.live.routes), table.live.version
    bound.clear()
    routes[7] = _stored(airoute(unreachable(), "r7", status={"weights": {"b0": 0, "b1": 100}}), 1000)
    table.apply(snap(*routes))
    assert table.state.built == 301 and bound == ["r7"], "only the changed route is built and bound again"
    assert [s.weight for s in table.live.routes["r7"].choice.slots] == [0, 100]
    assert all(table.live.routes[m] is before[m] for m in before if m != "r7"), "the others are reused as they were"
    assert table.live.version == version + 1
    table.apply(snap(*routes[:-1]))  # one deleted
    assert "r299" not in table.live.routes and table.state.built == 301 and bound == ["r7"]


async def test_a_change_names_only_what_changed_and_costs_only_that(
    table: TableBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The way the Kubernetes source reports a watch event: one object, nothing about the rest."""
    bound = _spy_on_bind(table, monkeypatch)
    table.apply(Change({f"team/r{i}": airoute(unreachable(), f"r{i}") for i in range(50)}, synced=True))
    first = table.live.routes["r3"]
    version, built, bound[:] = table.live.version, table.state.built, []
    table.apply(Change({"team/r3": airoute(unreachable(), "r3", status={"weights": {"b0": 20, "b1": 80}})}))
    assert (table.state.built - built, bound, len(table.live.routes)) == (1, ["r3"], 50)
    assert table.live.routes["r3"] is not first and table.live.version == version + 1
    table.apply(Change({"team/r4": None}))
    assert "r4" not in table.live.routes and len(table.live.routes) == 49 and table.state.built - built == 1


async def test_a_status_write_that_moves_no_weight_builds_nothing(
    table: TableBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The controller writes conditions and health figures; the table reads weights and stable blocks."""
    bound = _spy_on_bind(table, monkeypatch)
    status = {"weights": {"b0": 40, "b1": 60}, "conditions": [{"type": "Ready", "status": "True"}],
              "backends": [{"name": "b0", "health": "Healthy", "errorRate": 0.0}]}
    table.apply(Change({"team/chat": _stored(airoute(unreachable(), status=status), 1)}, synced=True))
    live, version, built, bound[:] = table.live.routes["chat"], table.live.version, table.state.built, []
    status = {**status, "conditions": [{"type": "Ready", "status": "False"}],
              "backends": [{"name": "b0", "health": "Degraded", "errorRate": 0.2}]}
    table.apply(Change({"team/chat": _stored(airoute(unreachable(), status=status), 2)}))
    assert (table.state.built, bound, table.live.version) == (built, [], version)
    assert table.live.routes["chat"] is live


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


async def test_requests_are_never_stalled_by_a_build(table: TableBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 routes served, then changes streaming in: every turn of the loop the builder takes
    builds at most SLICE route entries, and other work (standing for requests) runs between any
    two of its turns — counted, not timed."""
    ticks = 0
    turns: list[tuple[int, int]] = []  # (ticks when a slice began, entries it built)

    async def ticker() -> None:  # stands for requests: it runs only when the loop is free
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    table.apply(Change({f"team/r{i}": _stored(airoute(unreachable(), f"r{i}"), i + 1) for i in range(2000)},
                       synced=True))
    real_slice = table._slice

    def counted_slice() -> None:
        built = table.state.built
        real_slice()
        turns.append((ticks, table.state.built - built))

    monkeypatch.setattr(table, "_slice", counted_slice)
    task = asyncio.get_running_loop().create_task(ticker())
    try:
        changes = {f"team/r{i}": _stored(airoute(unreachable(), f"r{i}", status={"weights": {"b0": 10, "b1": 90}}),
                                         5000 + i) for i in range(0, 300, 3)}
        table.submit(Change(changes))
        assert turns == [], "nothing is built on the caller's turn of the loop"
        for i in range(1, 300, 3):  # more changes stream in while the builder works
            table.submit(Change({f"team/r{i}": None}))
            await asyncio.sleep(0)
        assert table._working is not None
        await table._working
    finally:
        task.cancel()
    assert len(table.live.routes) == 1900 and table.state.built == 2100
    assert max(built for _, built in turns) <= SLICE, "no turn of the loop builds more than a slice"
    assert all(b[0] > a[0] for a, b in itertools.pairwise(turns)), "requests ran between every two slices"
    assert [s.weight for s in table.live.routes["r297"].choice.slots] == [10, 90]


async def test_until_loaded_the_backlog_stays_small(table: TableBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A source listing routes faster than they are built does not make the gateway hold them all:
    before the table is loaded (no request can be routed yet) the work is done as it arrives."""
    backlog: list[int] = []
    real_queue = table._queue

    def counted_queue(update: Any) -> None:
        real_queue(update)
        backlog.append(len(table._pending))

    monkeypatch.setattr(table, "_queue", counted_queue)
    for start in range(0, 1000, 100):  # pages of a list
        table.submit(Change({f"team/r{i}": airoute(unreachable(), f"r{i}") for i in range(start, start + 100)}))
        assert len(table._pending) <= BACKLOG
    table.submit(Change(synced=True))
    await table.loaded.wait()
    assert len(table.live.routes) == 1000 and max(backlog) > BACKLOG, "the pages did arrive faster than built"


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


async def test_what_each_slice_of_the_first_load_built_is_handed_on_and_nothing_after(table: TableBuilder) -> None:
    """The gateway process freezes what every slice of its first load built (``while_loading``),
    so the collections the load sets off never rescan the routes already loaded; once loaded,
    slices of changes are not frozen (what they replace must stay collectable)."""
    calls: list[int] = []
    table.while_loading = lambda: calls.append(len(table.live.routes))
    table.submit(Change({f"team/r{i}": airoute(unreachable(), f"r{i}") for i in range(3 * SLICE)}, synced=True))
    await table.loaded.wait()
    assert calls == [SLICE, 2 * SLICE, 3 * SLICE]
    table.submit(Change({"team/r0": airoute(unreachable(), "r0", status={"weights": {"b0": 0, "b1": 100}})}))
    assert table._working is not None
    await table._working
    assert len(calls) == 3 and table.slices == 4


async def test_a_route_is_compiled_by_the_first_request_that_reads_it_not_by_loading(table: TableBuilder) -> None:
    """Loading binds every route (a missing Secret still leaves it out at once) but makes no
    choice: routes no request reads cost neither the CPU nor the memory of their targets."""
    table.apply(Change({f"team/r{i}": airoute(unreachable(), f"r{i}") for i in range(50)}, synced=True))
    assert len(table.live.routes) == 50 and not any(r.compiled for r in table.live.routes.values())
    route = table.live.routes["r7"]
    assert [s.name for s in route.choice.slots] == ["b0", "b1"] and route.first_group == ("b0", "b1")
    assert route.choice is route.choice and route.labels == ("team", "r7", "", "", "")
    assert [r.key for r in table.live.routes.values() if r.compiled] == ["team/r7"]
    callers = {id(c) for c in route.callers.values()}
    assert {id(p.target.caller) for s in route.choice.slots for p in s.variants} == callers


async def test_a_backend_declared_alike_in_two_namespaces_is_bound_to_each_namespaces_own_secret(
    table: TableBuilder,
) -> None:
    """Two teams declare the very same backend (the same Secret name): validated once and shared
    (``api/spec.py``), it is still bound with each route's own namespace's Secret, never the other
    team's."""
    mine = airoute(unreachable(secret="creds"), "mine")
    theirs = airoute(unreachable(secret="creds"), "theirs", namespace="other")
    assert mine["spec"]["backends"] == theirs["spec"]["backends"]
    table.apply(snap(mine, theirs, secrets={"team/creds": {"api-key": b"team-key"}}))
    assert "mine" in table.live.routes and "theirs" not in table.live.routes
    assert any("Secret other/creds not found" in problem for problem in table.problems)
    table.apply(snap(mine, theirs, secrets={"team/creds": {"api-key": b"team-key"},
                                            "other/creds": {"api-key": b"other-key"}}))
    heads = [await table.live.routes[name].choice.slots[0].variants[0].target.caller._request_head()  # type: ignore[attr-defined]
             for name in ("mine", "theirs")]
    assert b"team-key" in heads[0] and b"other-key" not in heads[0]
    assert b"other-key" in heads[1] and b"team-key" not in heads[1]
