"""Attack (issue 14.4): another namespace claims a model name and gets a team's prompts.

On the real API server, with a real ``airoute gateway`` process and a real ``airoute controller``
(Kopf) serving both namespaces. The support team's route owns ``support-chat`` (it was created
first) but its spec is one the gateway cannot use (the API server accepts ``window: 9000h``; the
gateway's validation refuses durations over a year). An attacker's newer route in another
namespace names the same model. Before: the gateway served the attacker's route, so the support
team's prompts went to the attacker's endpoint, and nothing said so. Now the model stays with its
owner (unserved until its spec is fixed), the attacker's route is never served, and the
controller marks it with a ``Conflict`` condition naming the owner.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.support.fakes import eventually
from tests.support.gateway import chat_body
from tests.support.net import free_port
from tests.support.routes import airoute, emulated
from tests.support.stack import Process

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        process.stop()
        print(f"--- {process.name} (tail) ---\n{process.output()[-3000:]}")


def _condition(apiserver: Any, namespace: str, name: str, type_: str) -> dict[str, Any]:
    done = apiserver.kubectl("get", "airoute", name, "-n", namespace, "-o", "json")
    conditions = (json.loads(done.stdout).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), {})


async def test_a_model_claimed_by_another_namespace_is_never_served_to_it(
    apiserver: Any, tmp_path: Path, processes: list[Process]
) -> None:
    suffix = uuid.uuid4().hex[:6]
    owner_ns, thief_ns = f"support-{suffix}", f"aaa-{suffix}"  # the thief's namespace sorts first
    owners, thieves = OpenAICompatibleEmulator(seed=0), OpenAICompatibleEmulator(seed=1)
    for emulator in (owners, thieves):
        await emulator.start()
    try:
        for namespace in (owner_ns, thief_ns):
            await asyncio.to_thread(apiserver.ensure_namespace, namespace)
        owned = airoute([emulated("a", 100, owners)], "support", owner_ns, model="support-chat",
                        health={"window": "9000h"})
        await asyncio.to_thread(apiserver.apply, owned)
        created = int(time.time())
        await eventually(lambda: int(time.time()) > created, within=3)  # a later creationTimestamp second
        await asyncio.to_thread(apiserver.apply, airoute([emulated("a", 100, thieves)], "steal", thief_ns,
                                                         model="support-chat"))
        port = free_port()
        common = ["--kubeconfig", str(apiserver.kubeconfig), "--namespace", owner_ns, "--namespace", thief_ns]
        env = {**apiserver.env(), "PYTHONUNBUFFERED": "1"}
        processes.append(Process("gateway", [sys.executable, "-m", "airoute.cli", "gateway", "--kubernetes", *common,
                                             "--no-auth", "--allow-internal-upstreams",  # emulators on loopback
                                             "--host", "127.0.0.1", "--port", str(port)],
                                 env, tmp_path).start())
        processes.append(Process("controller", [sys.executable, "-m", "airoute.cli", "controller", *common[2:],
                                                "--gateway-metrics", f"http://127.0.0.1:{port}/metrics",
                                                "--standalone", "--tick", "1", "--liveness", "",
                                                "--metrics-port", "0"], env, tmp_path).start())
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"{url}/readyz") as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            await eventually(ready, within=30, what="the gateway to load its routes")
            async with session.post(f"{url}/v1/chat/completions", json=chat_body("support-chat")) as r:
                assert r.status == 404, await r.text()
            assert thieves.stats.total == 0, "the attacker's endpoint received the support team's prompt"

            def conflict() -> dict[str, Any]:
                found = _condition(apiserver, thief_ns, "steal", "Conflict")
                return found if found.get("status") == "True" else {}

            marked = await eventually(lambda: asyncio.to_thread(conflict), within=30, what="a Conflict condition")
            assert marked["reason"] == "ModelClaimed" and f"belongs to {owner_ns}/support since" in marked["message"]
            ready_condition = await asyncio.to_thread(_condition, apiserver, thief_ns, "steal", "Ready")
            assert (ready_condition["status"], ready_condition["reason"]) == ("False", "ModelConflict")

            owned["spec"]["health"] = {"window": "2m"}  # the owner fixes its spec: served, by its own backend
            await asyncio.to_thread(apiserver.apply, owned)

            async def served() -> bool:
                async with session.post(f"{url}/v1/chat/completions", json=chat_body("support-chat")) as r:
                    return r.status == 200

            await eventually(served, within=30, what="the owner's route to be served")
        assert owners.stats.total >= 1 and thieves.stats.total == 0
        owner_conflict = await asyncio.to_thread(_condition, apiserver, owner_ns, "support", "Conflict")
        assert owner_conflict.get("status") != "True"
    finally:
        for emulator in (owners, thieves):
            await emulator.stop()
