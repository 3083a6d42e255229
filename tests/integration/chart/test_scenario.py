"""The controller and the gateway run as the chart's ServiceAccounts (their tokens, the chart's
Roles, its KopfPeering and spec guard) through a short outage on the real API server:

the gateway loads a route and the Secret its backend references, serves clients that present a
key from the client-key Secret; the controller (peering on, as in the chart) reads the gateway's
metrics, writes weights to status, sees a backend fail, ejects it and records an Event. Neither
process may hit a single "forbidden": the chart's RBAC is enough. And no secret value shows up in
their logs, the route's status, its Events or the gateway's metrics.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.chart import Release
from tests.support.fakes import wait_for
from tests.support.net import free_port
from tests.support.routes import CREDENTIALS_LABELS

pytestmark = [pytest.mark.cluster, pytest.mark.helm, pytest.mark.slow]

KEY = "sk-chart-scenario"


class Process:
    """A child process in its own session, its output in a log file."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str]) -> None:
        self.log = log
        self._out = log.open("wb")
        self.popen = subprocess.Popen(argv, stdout=self._out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._out.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[dict[str, Process]]:
    started: dict[str, Process] = {}
    yield started
    for process in reversed(list(started.values())):
        process.stop()
    if os.environ.get("AIROUTE_SHOW_LOGS"):
        for name, process in started.items():
            print(f"==== {name}\n{process.text()}")


def _http(url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    except OSError:
        return 0, None
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _route(namespace: str, emulator: str) -> dict[str, Any]:
    return {
        "apiVersion": "airoute.dev/v1alpha1",
        "kind": "AIRoute",
        "metadata": {"name": "chart-scenario", "namespace": namespace},
        "spec": {
            "model": "chart-scenario",
            "tier": "critical",
            "backends": [
                {
                    "name": "vendor",
                    "weight": 50,
                    "openAICompatible": {
                        "baseURL": f"{emulator}/v1",
                        "model": "vendor-model",
                        "insecure": True,
                        "credentialsSecretRef": {"name": "vendor-key"},
                    },
                },
                {
                    "name": "local",
                    "weight": 50,
                    "inCluster": {"service": {"name": "llm", "port": 8000}, "model": "local-model"},
                },
            ],
            "health": {"interval": "1s", "window": "30s", "minRequests": 4, "unhealthyAfter": 1, "maxErrorRate": 0.5},
            "failover": {"ejectFor": "10m", "consecutiveFailures": 100},
            "degradedResponse": "Briefly unavailable.",
        },
    }


def _chat(gateway: str) -> int:
    status, _ = _http(
        f"{gateway}/v1/chat/completions",
        {"model": "chart-scenario", "messages": [{"role": "user", "content": "hello"}]},
        {"authorization": f"Bearer {KEY}"},
    )
    return status


def test_controller_and_gateway_work_with_the_charts_rbac(
    apiserver: Any, chart_release: Release, processes: dict[str, Process], tmp_path: Path
) -> None:
    ns = chart_release.served[0]
    python = sys.executable
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "AWS_EC2_METADATA_DISABLED": "true"}

    # Provider emulators (the OpenAI-compatible one serves both backends, told apart by model).
    emulator_port = free_port()
    processes["emulators"] = Process(
        [
            python,
            "-c",
            f"from airoute.emulators.runner import run_emulators; run_emulators(openai_port={emulator_port})",
        ],
        tmp_path / "emulators.log",
        env,
    )
    emulator = f"http://127.0.0.1:{emulator_port}"
    wait_for("the emulators", lambda: _http(f"{emulator}/_emulator/faults")[0] == 200)

    def secret(namespace: str, name: str, data: dict[str, str], credentials: bool = True) -> dict[str, Any]:
        meta = {"name": name, "namespace": namespace, **({"labels": CREDENTIALS_LABELS} if credentials else {})}
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "stringData": data}

    apiserver.apply(
        secret(chart_release.namespace, chart_release.api_keys_secret, {"scenario-client": KEY}, credentials=False),
        secret(ns, "vendor-key", {"api-key": "sk-vendor"}),
        _route(ns, emulator),
    )

    gateway_port = free_port()
    gateway = f"http://127.0.0.1:{gateway_port}"
    processes["gateway"] = Process(
        [python, "-m", "airoute.cli", "gateway", "--kubernetes", "--kubeconfig", str(chart_release.gateway_kubeconfig),
         *(f"--namespace={n}" for n in chart_release.served),
         f"--api-keys-secret={chart_release.namespace}/{chart_release.api_keys_secret}",
         "--host=127.0.0.1", f"--port={gateway_port}", f"--service-host=llm.{ns}=127.0.0.1:{emulator_port}",
         "--no-uvloop", "--log-level=DEBUG", "--allow-internal-upstreams"],
        tmp_path / "gateway.log",
        env,
    )  # fmt: skip
    wait_for("the gateway's /readyz", lambda: _http(f"{gateway}/readyz")[0] == 200, timeout=20)
    wait_for("the gateway to serve the route", lambda: _chat(gateway) == 200, timeout=20)
    assert _http(f"{gateway}/v1/chat/completions", {"model": "chart-scenario", "messages": []})[0] == 401

    processes["controller"] = Process(
        [python, "-m", "airoute.cli", "controller", *(f"--namespace={n}" for n in chart_release.served),
         f"--gateway-metrics={gateway}/metrics", "--tick=1", "--liveness=", "--metrics-port=0",
         f"--peering={chart_release.peering}"],
        tmp_path / "controller.log",
        {**env, "KUBECONFIG": str(chart_release.controller_kubeconfig), "POD_ID": "airoute-controller-test"},
    )  # fmt: skip

    def route() -> dict[str, Any]:
        return json.loads(apiserver.kubectl("get", "airoute", "chart-scenario", "-n", ns, "-o", "json").stdout)  # type: ignore[no-any-return]

    for _ in range(10):
        assert _chat(gateway) == 200
    weights = wait_for("status.weights", lambda: route().get("status", {}).get("weights"), timeout=30)
    assert weights == {"vendor": 50, "local": 50}
    assert route()["status"]["observedGeneration"] == route()["metadata"]["generation"]

    # The vendor fails every request; the gateway retries on the local model, clients see no error.
    put = urllib.request.Request(
        f"{emulator}/_emulator/faults",
        data=json.dumps({"error_rate": 1.0, "model": "vendor-model"}).encode(),
        method="PUT",
    )
    urllib.request.urlopen(put, timeout=5).close()

    def ejected() -> bool:
        for _ in range(5):
            assert _chat(gateway) == 200
        return route().get("status", {}).get("weights", {}).get("vendor") == 0

    wait_for("the controller to eject the failing backend", ejected, timeout=30)
    assert route()["status"]["weights"] == {"vendor": 0, "local": 100}
    events = json.loads(apiserver.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    mine = [e for e in events if e["involvedObject"].get("name") == "chart-scenario"]
    assert any("vendor" in e.get("message", "") for e in mine), [e.get("message") for e in mine]
    peering = json.loads(
        apiserver.kubectl("get", "kopfpeering", chart_release.peering, "-n", ns, "-o", "json").stdout
    )
    assert "airoute-controller-test" in peering.get("status", {}), "the controller kept its peering alive"
    # The controller keeps no finalizer (6597240): deleting a route never waits for it.
    assert not route()["metadata"].get("finalizers"), "a finalizer would make deletes wait for the controller"

    for name in ("gateway", "controller"):
        assert processes[name].popen.poll() is None, f"the {name} exited:\n{processes[name].text()[-3000:]}"
        log = processes[name].text()
        forbidden = [line for line in log.splitlines() if "forbidden" in line.lower() or " 403" in line]
        assert not forbidden, f"the {name} was refused something by RBAC:\n" + "\n".join(forbidden[:10])
    # No secret value leaves its Secret: not in logs (the gateway runs at DEBUG), status, Events, metrics.
    exposed = {
        "gateway log": processes["gateway"].text(),
        "controller log": processes["controller"].text(),
        "gateway /metrics": str(_http(f"{gateway}/metrics")[1]),
        "AIRoute status": json.dumps(route()["status"]),
        "Events": json.dumps(mine),
    }
    for where, text in exposed.items():
        for value in ("sk-vendor", KEY):
            assert value not in text, f"the secret value {value!r} appears in the {where}"
    apiserver.kubectl("delete", "airoute", "chart-scenario", "-n", ns)
