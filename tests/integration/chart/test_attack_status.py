"""Attack (issue 14.6): status is trusted. The gateway routes by ``status`` (weights, canary
shares, the stable provider block of a backend); whoever can write ``airoutes/status`` could point
a route anywhere, past the spec guard and every governance policy.

On the real API server with the chart installed, and a real ``airoute gateway`` process running
as the chart's gateway ServiceAccount. A route author whose Role grants ``patch airoutes/status``
(as an edit-like role does) writes a stable provider block that points at their own server: the
chart's status guard denies it. The same status written with the controller's own token (stolen,
or a controller bug) is admitted, and the gateway does not serve the block: it does not match the
spec, with or without a canary share. Before: the write was admitted and the gateway sent every
request of the route (or the stable share of the canary) to the author's server.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from tests.integration.chart.can_i_matrix import SERVED
from tests.support.chart import Release
from tests.support.fakes import eventually, wait_for
from tests.support.gateway import chat_body
from tests.support.net import free_port
from tests.support.routes import airoute, emulated
from tests.support.stack import Process

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture
async def emulators() -> AsyncIterator[tuple[OpenAICompatibleEmulator, OpenAICompatibleEmulator]]:
    honest, attacker = OpenAICompatibleEmulator(seed=0), OpenAICompatibleEmulator(seed=1)
    for emulator in (honest, attacker):
        await emulator.start()
    yield honest, attacker
    for emulator in (honest, attacker):
        await emulator.stop()


def _route_author(apiserver: Any) -> Path:
    """A ServiceAccount of the served namespace allowed to patch AIRoutes and their status."""
    rules = [{"apiGroups": ["airoute.dev"], "resources": ["airoutes", "airoutes/status"],
              "verbs": ["get", "list", "patch", "update"]}]
    apiserver.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                     "metadata": {"name": "route-author", "namespace": SERVED}, "rules": rules})
    apiserver.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                     "metadata": {"name": "route-author", "namespace": SERVED},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "route-author"},
                     "subjects": [{"kind": "ServiceAccount", "name": "route-author", "namespace": SERVED}]})
    return apiserver.service_account_kubeconfig(SERVED, "route-author")  # type: ignore[no-any-return]


def _patch_status(apiserver: Any, name: str, status: dict[str, Any], kubeconfig: Path, dry_run: bool = False) -> Any:
    return apiserver.kubectl(
        "patch", "airoute", name, "-n", SERVED, "--subresource=status", "--type=merge",
        *(["--dry-run=server"] if dry_run else []), "-p", json.dumps({"status": status}),
        kubeconfig=kubeconfig, check=False,
    )  # fmt: skip


async def test_a_status_that_points_a_route_elsewhere_is_refused_and_never_served(
    apiserver: Any, chart_release: Release, emulators: tuple[OpenAICompatibleEmulator, OpenAICompatibleEmulator],
    tmp_path: Path,
) -> None:
    honest, attacker = emulators
    suffix = uuid.uuid4().hex[:6]
    names = {f"plain-{suffix}": 0, f"canary-{suffix}": 50}  # route → canary share written to status
    for name in names:
        apiserver.apply(airoute([emulated("a", 100, honest, model="m")], name, SERVED))
    hostile = {"openAICompatible": {"baseURL": f"{attacker.base_url}/v1", "model": "m", "insecure": True}}

    def status(share: int) -> dict[str, Any]:
        return {"weights": {"a": 100}, "backends": [{"name": "a", "provider": hostile}],
                **({"canaryWeights": {"a": share}} if share else {})}

    author = _route_author(apiserver)
    first = next(iter(names))
    wait_for("the status guard to take effect",
             lambda: "ValidatingAdmissionPolicy" in _patch_status(apiserver, first, status(0), author, True).stderr,
             timeout=30)
    denied = _patch_status(apiserver, first, status(0), author)
    assert denied.returncode != 0
    assert "AIRoute status is written by the airoute controller only" in denied.stderr
    assert f"airoute-controller-status-guard.{chart_release.namespace}" in denied.stderr

    for name, share in names.items():  # the controller's token gets through the guard
        written = _patch_status(apiserver, name, status(share), chart_release.controller_kubeconfig)
        assert written.returncode == 0, written.stderr

    port = free_port()
    env = {**apiserver.env(), "PYTHONUNBUFFERED": "1"}
    gateway = Process("gateway", [
        sys.executable, "-m", "airoute.cli", "gateway", "--kubernetes",
        "--kubeconfig", str(chart_release.gateway_kubeconfig), f"--namespace={SERVED}", "--no-auth",
        "--allow-internal-upstreams", "--host=127.0.0.1", f"--port={port}"], env, tmp_path).start()
    try:
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as session:

            async def served(name: str) -> bool:
                try:
                    async with session.post(f"{url}/v1/chat/completions", json=chat_body(name)) as r:
                        return r.status == 200
                except aiohttp.ClientError:
                    return False

            for name in names:
                await eventually(lambda name=name: served(name), within=30, what=f"the gateway to serve {name}")
                for _ in range(20):
                    assert await served(name)
        assert attacker.stats.total == 0, "the status block sent the route's requests to the author's server"
        assert honest.stats.total >= 2 * 21
        assert "status.backends[a].provider does not match the spec (its baseURL differs" in gateway.output()
    finally:
        gateway.stop()
        print(f"--- gateway (tail) ---\n{gateway.output()[-3000:]}")
        for name in names:
            apiserver.kubectl("delete", "airoute", name, "-n", SERVED, check=False)
