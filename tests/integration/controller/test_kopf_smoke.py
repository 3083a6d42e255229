"""The operator on the real API server: it starts, sees an AIRoute, writes status, posts Events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.fakes import wait_for
from tests.support.metrics_server import GatewayMetrics
from tests.support.paths import EXAMPLES

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "kopf-smoke"


@pytest.fixture
def controller(apiserver: Any, tmp_path: Path) -> Iterator[tuple[GatewayMetrics, subprocess.Popen[bytes]]]:
    metrics = GatewayMetrics()
    log = (tmp_path / "controller.log").open("wb")
    env = {**apiserver.env(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airoute.cli",
            "controller",
            "--gateway-metrics",
            metrics.url,
            "--standalone",
            "--tick",
            "1",
            "--namespace",
            NS,
            "--liveness",
            "",
            "--metrics-port",
            "0",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield metrics, proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        metrics.close()
        log.close()
        if os.environ.get("AIROUTE_SHOW_LOGS"):
            print((tmp_path / "controller.log").read_text())


def _get(apiserver: Any) -> dict[str, Any]:
    return json.loads(apiserver.kubectl("get", "airoute", "support-chat", "-n", NS, "-o", "json").stdout)  # type: ignore[no-any-return]


def test_operator_writes_status_and_events(apiserver: Any, controller: tuple[GatewayMetrics, Any]) -> None:
    metrics, proc = controller
    apiserver.kubectl("create", "namespace", NS, check=False)
    route = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    route["metadata"]["namespace"] = NS
    route["spec"]["health"]["interval"] = "1s"
    for backend in ("azure-eu", "bedrock-eu", "vertex-eu"):
        metrics.add(NS, "support-chat", backend, "success", 100)
    apiserver.apply(route)
    status = wait_for("status.weights", lambda: _get(apiserver).get("status", {}).get("weights"))
    assert status == {"azure-eu": 50, "bedrock-eu": 30, "vertex-eu": 20, "local-llama": 0}
    assert _get(apiserver)["status"]["observedGeneration"] == _get(apiserver)["metadata"]["generation"]

    metrics.add(NS, "support-chat", "azure-eu", "error", 400)  # Azure starts failing
    shifted = wait_for(
        "azure-eu's weight to go to 0",
        lambda: (w := _get(apiserver)["status"]["weights"])["azure-eu"] == 0 and w,
    )
    assert sum(shifted.values()) == 100
    events = wait_for(
        "an Event about azure-eu",
        lambda: [
            e
            for e in json.loads(apiserver.kubectl("get", "events", "-n", NS, "-o", "json").stdout)["items"]
            if "azure-eu" in e.get("message", "")
        ],
    )
    assert any(e["involvedObject"]["name"] == "support-chat" for e in events)
    assert proc.poll() is None, "the controller must still be running"
