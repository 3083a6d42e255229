"""``python -m airoute.emulators``: the four emulators with ready-made credentials and a sample
route (docs/operations/from-a-laptop.md, issue 18.6). Its files, given to a real ``airoute
gateway``, serve requests through every cloud backend — the Google key's tokens minted by the
Vertex AI emulator, the in-cluster standby reached through ``--service-host``."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml
from tests.support.fakes import wait_for
from tests.support.net import free_port
from tests.support.stack import Process

from airoute.api import parse_route

pytestmark = pytest.mark.slow


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        answer: dict[str, object] = json.load(resp)
        return answer


def _chat(gateway: str) -> int:
    body = json.dumps({"model": "support-chat", "messages": [{"role": "user", "content": "hello"}]}).encode()
    request = urllib.request.Request(f"{gateway}/v1/chat/completions", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return int(resp.status)


def _ok(port: int) -> int:
    stats = _get(f"http://127.0.0.1:{port}/_emulator/stats")["requests"]
    return sum(r["count"] for r in stats if r["outcome"] == "ok" and r["api"] != "token")  # type: ignore[index,union-attr]


def test_the_kit_serves_through_every_cloud(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("azure", "bedrock", "vertex", "openai", "gateway")}
    kit = tmp_path / "kit"
    emulators = Process("emulators", [
        sys.executable, "-m", "airoute.emulators", "--out", str(kit), "--namespace", "support",
        *(arg for name in ("azure", "bedrock", "vertex", "openai") for arg in (f"--{name}-port", str(ports[name]))),
    ], {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"}, tmp_path).start()  # fmt: skip
    gateway = None
    try:
        wait_for("the kit", lambda: "wrote" in emulators.output() or not emulators.alive())
        assert emulators.alive(), emulators.output()
        route = parse_route(yaml.safe_load((kit / "route.yaml").read_text()), "route.yaml")
        assert [b.name for b in route.spec.backends] == ["azure-eu", "bedrock-eu", "vertex-eu", "local-llama"]
        gateway = Process("gateway", [
            sys.executable, "-m", "airoute.cli", "gateway", "--routes", str(kit), "--no-auth",
            "--host", "127.0.0.1", "--port", str(ports["gateway"]), "--allow-internal-upstreams",
            "--service-host", f"vllm-llama.models=127.0.0.1:{ports['openai']}",
            "--google-token-uri", f"http://127.0.0.1:{ports['vertex']}/token",
        ], {"PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)},
            tmp_path).start()  # fmt: skip
        url = f"http://127.0.0.1:{ports['gateway']}"
        wait_for("the gateway to serve support-chat", lambda: _served(url, gateway))
        assert all(_chat(url) == 200 for _ in range(60))
        served = {name: _ok(ports[name]) for name in ("azure", "bedrock", "vertex")}
        assert all(served.values()), f"every cloud backend answered with the kit's credentials: {served}"
        tokens = _get(f"http://127.0.0.1:{ports['vertex']}/_emulator/stats")["requests"]
        assert any(r["api"] == "token" and r["outcome"] == "ok" for r in tokens)  # type: ignore[index,union-attr]
    finally:
        if gateway is not None:
            gateway.stop()
        emulators.stop()


def _served(url: str, gateway: Process) -> bool:
    assert gateway.alive(), gateway.output()[-3000:]
    try:
        return "support-chat" in {m["id"] for m in _get(f"{url}/v1/models")["data"]}  # type: ignore[index,union-attr]
    except OSError:
        return False
