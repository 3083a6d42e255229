"""Gateways for tests, over a route folder and in front of real emulators: one in this process
(:class:`Env`, made by :class:`Envs`), or an ``airoute gateway`` child process
(:class:`GatewayProcess`); requests, and the metrics they leave behind.

The fixtures ``gateway_env`` and ``gateway_process`` (``tests/integration/conftest.py``) hand out
the factories and clean up after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.gateway import Gateway, GatewayConfig
from tests.support.fakes import eventually
from tests.support.net import free_port
from tests.support.routes import airoute, yaml_text

CLIENT_KEYS = {"support-bot": "sk-support-0001", "marketing": "sk-marketing-0002"}


def route(backends: Sequence[Mapping[str, Any]], name: str = "chat", model: str | None = None,
          tier: str = "critical", namespace: str = "team", **spec: Any) -> dict[str, Any]:
    """The gateway tests' AIRoute: critical unless told otherwise."""
    return airoute(backends, name, namespace, model, tier=tier, **spec)


@dataclasses.dataclass
class Env:
    folder: Path
    gateway: Gateway
    session: aiohttp.ClientSession
    emulators: list[OpenAICompatibleEmulator]
    key: str | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.gateway.port}"

    def write(self, *routes: Mapping[str, Any], name: str = "routes.yaml") -> None:
        """Replaces a route file atomically (write, then rename), as the convention asks."""
        self.write_text(yaml_text(routes), name)

    def write_text(self, text: str, name: str = "routes.yaml") -> None:
        tmp = self.folder / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.folder / name)

    async def reload(self, *routes: Mapping[str, Any], name: str = "routes.yaml") -> None:
        """Writes routes and waits until the gateway serves a new table."""
        version = self.gateway.table.live.version
        hash_ = self.gateway.table.live.hash
        self.write(*routes, name=name)

        def swapped() -> bool:
            live = self.gateway.table.live
            return live.hash != hash_ or live.version != version

        await eventually(swapped, what="a new route table")

    def headers(self, key: str | None = None) -> dict[str, str]:
        key = key or self.key
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def chat(self, model: str = "chat", stream: bool = False, key: str | None = None,
                   content: str = "hello", extra: dict[str, Any] | None = None) -> tuple[int, dict[str, str], bytes]:
        body = {"model": model, "messages": [{"role": "user", "content": content}], **(extra or {})}
        if stream:
            body["stream"] = True
        async with self.session.post(f"{self.url}/v1/chat/completions", json=body, headers=self.headers(key)) as r:
            return r.status, dict(r.headers), await r.read()

    async def metrics(self) -> str:
        async with self.session.get(f"{self.url}/metrics") as r:
            return await r.text()


EnvFactory = Callable[..., Awaitable[Env]]
Routes = Callable[[list[OpenAICompatibleEmulator]], list[dict[str, Any]] | str]
"""The routes of the folder, given the emulators: objects, or a file's text as it is."""


class Envs:
    """Starts emulators and a gateway (in this process, on its own port) reading a route folder."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Env] = []

    async def make(self, emulators: int = 2, routes: Routes | None = None, auth: bool = False, wait: bool = True,
                   **settings: Any) -> Env:
        emus = [OpenAICompatibleEmulator(seed=i) for i in range(emulators)]
        for emu in emus:
            await emu.start()
        folder = self.tmp_path / f"routes-{len(self.started)}"
        folder.mkdir()
        keys = self.tmp_path / "keys.yaml"
        keys.write_text("".join(f"{k}: {v}\n" for k, v in CLIENT_KEYS.items()))
        if routes is not None:
            found = routes(emus)
            (folder / "routes.yaml").write_text(found if isinstance(found, str) else yaml_text(found))
        config = GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(folder), poll_interval=0.05,
                               auth_disabled=not auth, api_keys_file=str(keys) if auth else None,
                               shutdown_grace=5, **({"allow_internal_upstreams": True} | settings))
        gateway = Gateway(config)
        await gateway.start()
        env = Env(folder, gateway, aiohttp.ClientSession(), emus, CLIENT_KEYS["support-bot"] if auth else None)
        self.started.append(env)
        if routes is not None and wait:
            await gateway.wait_ready()
        return env

    async def close(self) -> None:
        for env in self.started:
            await env.session.close()
            await env.gateway.shutdown()
            for emu in env.emulators:
                await emu.stop()


def gateway_rbac(namespace: str) -> list[dict[str, Any]]:
    """The rights the chart gives the gateway's ServiceAccount (``airoute-system/airoute-gateway``)
    in a namespace it serves: AIRoutes and Secrets, read only."""
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "airoute-gateway", "namespace": namespace},
            "rules": [{"apiGroups": ["airoute.dev"], "resources": ["airoutes"], "verbs": ["get", "list", "watch"]},
                      {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"]}]}
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "airoute-gateway", "namespace": namespace},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "airoute-gateway"},
               "subjects": [{"kind": "ServiceAccount", "name": "airoute-gateway", "namespace": "airoute-system"}]}
    return [role, binding]


class GatewayProcess:
    """``airoute gateway --routes DIR`` as a child process; stderr (the logs) goes to a file.
    ``internal``: pass ``--allow-internal-upstreams`` (the emulators listen on loopback)."""

    def __init__(self, routes: Path, log: Path, *args: str, internal: bool = True,
                 env: dict[str, str] | None = None) -> None:
        self.routes = routes
        self.log = log
        self.args = (*(("--allow-internal-upstreams",) if internal else ()), *args)
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, within: float = 20.0) -> None:
        with self.log.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "airoute.gateway", "--routes", str(self.routes), "--host", "127.0.0.1",
                "--port", str(self.port), "--poll-interval", "0.1", *self.args,
                stdout=asyncio.subprocess.DEVNULL, stderr=err, env=self.env,
            )
        async with aiohttp.ClientSession() as session, asyncio.timeout(within):
            while True:
                assert self.proc.returncode is None, f"the gateway exited: {self.logs()[-2000:]}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/readyz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.05)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_mb(self) -> float:
        """Resident memory of the gateway process, in MiB (from /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc/<pid>/status")

    def open_fds(self) -> int:
        return len(list(Path(f"/proc/{self.pid}/fd").iterdir()))

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def stop(self, grace: float = 20.0) -> int:
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc is not None and self.proc.returncode is not None else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), grace)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise


GatewayFactory = Callable[..., Awaitable[GatewayProcess]]


class GatewayProcesses:
    """Starts ``airoute gateway`` processes over route folders, each logging to ``folder/gateway-N.log``."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[GatewayProcess] = []

    async def make(self, routes: Path, *args: str, internal: bool = True,
                   env: dict[str, str] | None = None) -> GatewayProcess:
        gateway = GatewayProcess(routes, self.logs / f"gateway-{len(self.started)}.log", *args, internal=internal,
                                 env=env)
        self.started.append(gateway)
        await gateway.start()
        return gateway

    async def close(self) -> None:
        for gateway in self.started:
            with contextlib.suppress(Exception):
                await gateway.stop()


async def post(session: aiohttp.ClientSession, url: str, body: object, stream: bool = False,
               key: str | None = None) -> tuple[int, bytes]:
    """A chat request; the status and the whole body (a stream read to its end)."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as r:
        return r.status, await r.read()


def chat_body(model: str = "chat", stream: bool = False, content: str = "hello") -> dict[str, object]:
    body: dict[str, object] = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return body


def complete(status: int, body: bytes, stream: bool) -> bool:
    """A whole, successful answer: 200 and, for a stream, its final ``data: [DONE]``."""
    if status != 200:
        return False
    return body.rstrip().endswith(b"data: [DONE]") if stream else body.lstrip().startswith(b"{")


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


def completion_text(body: bytes) -> str:
    return str(json.loads(body)["choices"][0]["message"]["content"])
