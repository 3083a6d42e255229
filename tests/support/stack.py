"""The whole airoute loop on real parts, for scenario tests.

OpenAI-compatible emulators ← a real ``airoute gateway`` process watching the real API server ←
clients; the real Prometheus scrapes the gateway; a real ``airoute controller`` process (Kopf)
queries Prometheus and writes AIRoute status, which the gateway follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from airoute.demo.load import Load, Tally
from airoute.emulators import OpenAICompatibleEmulator
from tests.support.fakes import wait_for
from tests.support.net import free_port

from .apiserver import KUBECTL
from .prom_server import PrometheusServer


class Process:
    """A child process in its own session with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Emulators:
    """Three OpenAI-compatible emulators served from a background event loop."""

    def __init__(self, count: int = 3) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers = [OpenAICompatibleEmulator(seed=i) for i in range(count)]
        for server in self.servers:
            self.call(server.start("127.0.0.1", 0))

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def set_faults(self, index: int, *rules: Any) -> None:
        self.call(self.servers[index].set_faults(*rules))

    def close(self) -> None:
        for server in self.servers:
            with contextlib.suppress(Exception):
                self.call(server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class ClientLoad:
    """Steady client traffic to one model through the gateway, from a background event loop."""

    def __init__(self, gateway_url: str, model: str, clients: int = 3) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.load = Load(gateway_url, model, clients, think=0.02)
        asyncio.run_coroutine_threadsafe(self.load.start(), self.loop).result(10)

    @property
    def tally(self) -> Tally:
        return self.load.tally

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.load.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


Versions = list[tuple[dict[str, Any], Any]]
"""Objects seen by a watch, each with what was sampled when it arrived."""


def _read_objects(proc: subprocess.Popen[str], into: Versions, sample: Callable[[], Any]) -> None:
    """Appends each JSON object ``kubectl get --watch -o json`` prints (one after the other)."""
    assert proc.stdout is not None
    decoder, buffer = json.JSONDecoder(), ""
    for line in proc.stdout:
        buffer += line
        if line.rstrip() != "}":  # kubectl prints each object indented, ending with "}" alone
            continue
        with contextlib.suppress(json.JSONDecodeError):
            obj, _ = decoder.raw_decode(buffer.strip())
            into.append((obj, sample()))
            buffer = ""


class Stack:
    """Emulators, gateway, Prometheus and controller for one namespace of a test API server."""

    def __init__(self, apiserver: Any, namespace: str, log_dir: Path) -> None:
        self.apiserver = apiserver
        self.namespace = namespace
        self.log_dir = log_dir
        self.emulators = Emulators()
        self.gateway_port = free_port()
        env = {**apiserver.env(), "PYTHONUNBUFFERED": "1"}
        self.env = env
        self.gateway = Process(
            "gateway",
            [
                sys.executable,
                "-m",
                "airoute.cli",
                "gateway",
                "--kubernetes",
                "--kubeconfig",
                str(apiserver.kubeconfig),
                "--namespace",
                namespace,
                "--no-auth",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.gateway_port),
                "--log-level",
                "INFO",
                "--shutdown-grace",
                "2",
                "--allow-internal-upstreams",  # the emulators listen on loopback
            ],
            env,
            log_dir,
        )
        self.prometheus = PrometheusServer([f"127.0.0.1:{self.gateway_port}"], scrape_interval="1s")
        self.controller_ports: dict[str, int] = {}
        self.controller = self.new_controller("controller")

    def new_controller(self, name: str, *extra: str, kubeconfig: Path | None = None) -> Process:
        """A controller process (not started), its /metrics on ``self.controller_ports[name]``;
        ``kubeconfig``: run it as someone else than the admin."""
        port = self.controller_ports[name] = free_port()
        env = self.env if kubeconfig is None else {**self.env, "KUBECONFIG": str(kubeconfig)}
        return Process(
            name,
            [
                sys.executable,
                "-m",
                "airoute.cli",
                "controller",
                "--prometheus-url",
                self.prometheus.url,
                "--namespace",
                self.namespace,
                "--tick",
                "1",
                "--liveness",
                "",
                "--metrics-port",
                str(port),
                *(extra or ("--standalone",)),
            ],
            env,
            self.log_dir,
        )

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    def start(self, controller: bool = True) -> Stack:
        self.apiserver.kubectl("create", "namespace", self.namespace, check=False)
        self.gateway.start()
        wait_for("the gateway to listen", self._gateway_up, 30)
        self.prometheus.start()
        if controller:
            self.controller.start()
        return self

    def _gateway_up(self) -> bool:
        if not self.gateway.alive():
            raise AssertionError(f"the gateway exited:\n{self.gateway.output()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.gateway_url}/healthz", timeout=1):
                return True
        except OSError:
            return False

    def close(self) -> None:
        self.controller.stop()
        self.prometheus.close()
        self.gateway.stop()
        self.emulators.close()

    def route(self, name: str, models: tuple[str, str, str] = ("m0", "m1", "m2"), **spec: Any) -> dict[str, Any]:
        backends = [
            {
                "name": f"b{i}",
                "weight": w,
                "timeout": "5s",
                "openAICompatible": {
                    "baseURL": f"{self.emulators.servers[i].base_url}/v1",
                    "model": models[i],
                    "insecure": True,
                },
            }
            for i, w in enumerate((50, 30, 20))
        ]
        body = {
            "model": name,
            "tier": "critical",
            "backends": backends,
            "health": {"interval": "1s", "window": "4s", "minRequests": 3, "maxErrorRate": 0.1},
            "failover": {"ejectFor": "4s", "recoveryRamp": [50, 100], "recoveryInterval": "1s"},
            "rollout": {"steps": [30, 100], "interval": "3s", "minRequests": 3, "maxErrorRate": 0.1, "failureLimit": 2},
        }
        body.update(spec)
        return {
            "apiVersion": "airoute.dev/v1alpha1",
            "kind": "AIRoute",
            "metadata": {"name": name, "namespace": self.namespace},
            "spec": body,
        }

    def apply(self, route: dict[str, Any]) -> None:
        self.apiserver.apply(route)

    def get(self, name: str) -> dict[str, Any]:
        out = self.apiserver.kubectl("get", "airoute", name, "-n", self.namespace, "-o", "json").stdout
        doc: dict[str, Any] = json.loads(out)
        return doc

    def status(self, name: str) -> dict[str, Any]:
        status: dict[str, Any] = self.get(name).get("status") or {}
        return status

    def weights(self, name: str) -> dict[str, int]:
        return dict(self.status(name).get("weights") or {})

    def rollout(self, name: str, backend: str) -> dict[str, Any]:
        return next((r for r in self.status(name).get("rollouts", []) if r["backend"] == backend), {})

    def condition(self, name: str, type_: str) -> dict[str, Any]:
        return next((c for c in self.status(name).get("conditions", []) if c["type"] == type_), {})

    def events(self, name: str) -> list[dict[str, Any]]:
        out = self.apiserver.kubectl("get", "events", "-n", self.namespace, "-o", "json").stdout
        return [e for e in json.loads(out)["items"] if e["involvedObject"].get("name") == name]

    def controller_metric(self, metric: str, controller: str = "controller") -> float | None:
        """The value of an unlabelled series of a controller's /metrics (``None`` when absent)."""
        url = f"http://127.0.0.1:{self.controller_ports[controller]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                name, _, value = line.partition(" ")
                if name == metric:
                    return float(value)
        return None

    @contextlib.contextmanager
    def watch(self, name: str, sample: Callable[[], Any] = lambda: None) -> Iterator[Versions]:
        """Every version of the route the API server stores while in the block, in order (a watch
        misses none), each with what ``sample()`` returned when it arrived."""
        argv = [KUBECTL, f"--kubeconfig={self.apiserver.kubeconfig}", "get", "airoute", name]
        proc = subprocess.Popen(
            [*argv, "-n", self.namespace, "--watch", "-o", "json"], stdout=subprocess.PIPE, text=True
        )
        seen: Versions = []
        reader = threading.Thread(target=_read_objects, args=(proc, seen, sample), daemon=True)
        reader.start()
        try:
            wait_for(f"the watch on {name} to start", lambda: seen, 30)
            yield seen
        finally:
            proc.terminate()
            proc.wait(10)
            reader.join(10)

    def served(self, model: str) -> bool:
        try:
            with urllib.request.urlopen(f"{self.gateway_url}/v1/models", timeout=2) as resp:
                return model in {m["id"] for m in json.load(resp)["data"]}
        except OSError:
            return False

    @contextlib.contextmanager
    def load(self, model: str, clients: int = 3) -> Iterator[ClientLoad]:
        """Client traffic to ``model``, starting once the gateway serves it."""
        wait_for(f"the gateway to serve {model}", lambda: self.served(model), 30)
        load = ClientLoad(self.gateway_url, model, clients)
        try:
            yield load
        finally:
            load.close()


def running_stack(apiserver: Any, tmp_path_factory: Any, namespace: str, tail: int = 4000) -> Iterator[Stack]:
    """A started :class:`Stack` in ``namespace`` for a module fixture (skips without Prometheus);
    at the end it stops and prints the tail of the gateway's and the controller's logs."""
    import pytest

    from tests.support.prom_server import ensure_prometheus

    if ensure_prometheus() is None:
        pytest.skip("prometheus is not installed and hack/install-debian-tools.sh could not install it")
    logs = tmp_path_factory.mktemp(f"{namespace}-logs")
    stack = Stack(apiserver, namespace, logs).start()
    try:
        yield stack
    finally:
        stack.close()
        for name in ("gateway", "controller"):
            log = logs / f"{name}.log"
            if log.exists():
                print(f"--- {name} log (tail) ---\n{log.read_text(errors='replace')[-tail:]}")
