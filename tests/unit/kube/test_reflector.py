"""List + watch against a small fake API server: resume, bookmarks, 410 Gone, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from airoute.kube import Delta, KubeClient, KubeConfig, Reflector, Store
from airoute.providers import fastjson


class FakeApi:
    """Serves one collection. ``watch_plan`` is a list of watch answers: a list of events, or an
    HTTP status to answer with."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.version = 10
        self.watch_plan: list[Any] = []
        self.lists = 0
        self.watch_versions: list[str] = []
        self.auth: list[str | None] = []
        self.minor = ""  # the API server's minor version; "" answers /version with 404
        self.watch_list = True  # whether a watch with sendInitialEvents is served (else 422)
        self.app = web.Application()
        self.app.router.add_get("/api/v1/namespaces/ns/secrets", self.handle)
        self.app.router.add_get("/version", self.version_info)

    async def version_info(self, request: web.Request) -> web.StreamResponse:
        if not self.minor:
            return web.json_response({"kind": "Status", "code": 404}, status=404)
        return web.json_response({"major": "1", "minor": self.minor})

    def initial_events(self) -> list[dict[str, Any]]:
        end = {"resourceVersion": str(self.version), "annotations": {"k8s.io/initial-events-end": "true"}}
        return [*({"type": "ADDED", "object": item} for item in self.items),
                {"type": "BOOKMARK", "object": {"metadata": end}}]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.auth.append(request.headers.get("Authorization"))
        if request.query.get("watch") != "true":
            self.lists += 1
            return web.json_response({"items": self.items, "metadata": {"resourceVersion": str(self.version)}})
        self.watch_versions.append(request.query["resourceVersion"])
        if request.query.get("sendInitialEvents") == "true" and not self.watch_list:
            return web.json_response({"kind": "Status", "code": 422, "reason": "Invalid"}, status=422)
        step = self.watch_plan.pop(0) if self.watch_plan else []
        if request.query.get("sendInitialEvents") == "true" and isinstance(step, list):
            step = [*self.initial_events(), *step]
        if isinstance(step, int):
            return web.json_response({"kind": "Status", "code": step, "reason": "Expired"}, status=step)
        response = web.StreamResponse()
        await response.prepare(request)
        for event in step:
            await response.write(json.dumps(event).encode() + b"\n")
        if not self.watch_plan:
            await asyncio.sleep(30)  # an open watch with nothing new
        return response


def obj(name: str, version: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(version)}}


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeApi, str]]:
    fake = FakeApi()
    runner = web.AppRunner(fake.app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _run_until(url: str, until: Any, within: float, decode: Any = json.loads, **callbacks: Any) -> Reflector:
    """Runs a reflector over the fake API until ``until(reflector)`` holds."""
    client = KubeClient(KubeConfig(url, token="t0ken"), decode=decode)
    reflector = Reflector(client, "/api/v1/namespaces/ns/secrets", backoff=(0.01, 0.05), **callbacks)
    task = asyncio.create_task(reflector.run())
    try:
        for _ in range(int(within / 0.01)):
            if until(reflector):
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"the reflector did not get there within {within}s")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
    return reflector


async def follow(url: str, until: Any, within: float = 5.0) -> tuple[Reflector, list[Store]]:
    """The stores the reflector reported (``on_change``) until ``until(reflector, stores)``."""
    seen: list[Store] = []
    reflector = await _run_until(url, lambda r: until(r, seen), within, on_change=lambda s: seen.append(dict(s)))
    return reflector, seen


async def test_list_then_watch_events_and_bookmarks(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.items = [obj("a", 5)]
    fake.watch_plan = [[
        {"type": "ADDED", "object": obj("b", 11)},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "15"}}},
        {"type": "DELETED", "object": obj("a", 16)},
        {"type": "MODIFIED", "object": obj("b", 17)},
    ]]
    _, seen = await follow(url, lambda r, s: r.resource_version == "17")
    assert list(seen[0]) == ["ns/a"]
    assert list(seen[-1]) == ["ns/b"] and seen[-1]["ns/b"]["metadata"]["resourceVersion"] == "17"
    assert len(seen) == 4  # list + three changes, no call for the bookmark
    assert fake.watch_versions[0] == "10" and fake.auth[0] == "Bearer t0ken"


async def test_every_answer_is_decoded_by_the_clients_decoder(api: tuple[FakeApi, str]) -> None:
    """The gateway hands its client ``orjson`` (:mod:`airoute.providers.fastjson`): the list, the
    version and every watch event go through it, and read as the standard library reads them."""
    fake, url = api
    fake.minor = "34"
    fake.items = [obj("a", 5), obj("b", 6)]
    fake.watch_plan = [[{"type": "MODIFIED", "object": {**obj("b", 12), "spec": {"n": 2**70, "x": 0.1}}}]]
    decoded: list[bytes] = []

    def decode(data: bytes) -> Any:
        decoded.append(data)
        return fastjson.loads(data)

    deltas: list[Delta] = []
    reflector = await _run_until(url, lambda r: r.resource_version == "12", 5.0, decode=decode, on_delta=deltas.append)
    assert reflector.watch_list is True
    assert len(decoded) == 1 + 2 + 1 + 1  # /version; two ADDED and the bookmark (one watch); MODIFIED
    assert deltas[-1]["ns/b"] == json.loads(decoded[-1])["object"] and deltas[-1]["ns/b"]["spec"]["n"] == 2**70


async def test_a_closed_watch_resumes_from_the_last_version(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.watch_plan = [[{"type": "ADDED", "object": obj("a", 12)}], [{"type": "ADDED", "object": obj("b", 13)}]]
    await follow(url, lambda r, s: r.resource_version == "13")
    assert fake.watch_versions[:2] == ["10", "12"] and fake.lists == 1


@pytest.mark.parametrize("gone", [410, "event"])
async def test_410_gone_relists(api: tuple[FakeApi, str], gone: Any) -> None:
    fake, url = api
    expired = 410 if gone == 410 else [{"type": "ERROR", "object": {"kind": "Status", "code": 410}}]
    fake.watch_plan = [expired, [{"type": "ADDED", "object": obj("z", 21)}]]
    reflector, _ = await follow(url, lambda r, s: r.resource_version == "21")
    assert fake.lists == 2 and reflector.relists == 2


async def test_errors_back_off_and_keep_the_store(api: tuple[FakeApi, str]) -> None:
    fake, url = api
    fake.items = [obj("a", 5)]
    fake.watch_plan = [500, 403, [{"type": "ADDED", "object": obj("b", 30)}]]
    _, seen = await follow(url, lambda r, s: r.resource_version == "30")
    assert fake.lists == 1 and set(seen[-1]) == {"ns/a", "ns/b"}


async def follow_deltas(url: str, until: Any, within: float = 5.0) -> tuple[Reflector, list[dict[str, Any]]]:
    """The deltas the reflector reported (``on_delta``) until ``until(reflector, deltas)``."""
    seen: list[dict[str, Any]] = []
    reflector = await _run_until(url, lambda r: until(r, seen), within, on_delta=lambda d: seen.append(dict(d)))
    return reflector, seen


async def test_deltas_come_from_a_watch_list_where_the_server_offers_one(api: tuple[FakeApi, str]) -> None:
    """The first state streams in one watch (no list at all), then the changes on the same watch."""
    fake, url = api
    fake.minor, fake.items = "34", [obj("a", 5), obj("b", 6)]
    fake.watch_plan = [[{"type": "DELETED", "object": obj("a", 12)}]]
    reflector, seen = await follow_deltas(url, lambda r, s: r.resource_version == "12")
    assert fake.lists == 0 and reflector.watch_list and reflector.synced.is_set()
    assert seen == [{"ns/a": obj("a", 5), "ns/b": obj("b", 6)}, {"ns/a": None}]
    assert reflector.keys == {"ns/b"}


@pytest.mark.parametrize(("minor", "offered"), [("34", False), ("26", True), ("", True)])
async def test_deltas_come_from_a_list_where_the_server_refuses_a_watch_list_or_is_older(
    api: tuple[FakeApi, str], minor: str, offered: bool
) -> None:
    fake, url = api
    fake.minor, fake.watch_list, fake.items = minor, offered, [obj("a", 5)]
    fake.watch_plan = [[{"type": "ADDED", "object": obj("b", 13)}]]
    reflector, seen = await follow_deltas(url, lambda r, s: r.resource_version == "13")
    assert fake.lists == 1 and reflector.watch_list is False
    assert seen == [{"ns/a": obj("a", 5)}, {"ns/b": obj("b", 13)}]
