"""The demo's world: provider emulators, a route folder, a real gateway process and the controller.

Everything runs on loopback ports of this machine. The gateway is its own process
(``airoute gateway --routes DIR``), exactly as it would run in a pod; the controller runs in this
process over the same folder (``airoute controller --routes-dir`` does the same), reading the
gateway's ``/metrics`` directly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from airoute.api import AIRouteStatus, parse_status
from airoute.controller.evaluator import Evaluator
from airoute.controller.folder_loop import FolderController
from airoute.controller.loop import EventHook
from airoute.controller.main import SystemClock
from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, OpenAICompatibleEmulator, VertexAIEmulator
from airoute.emulators.kit import AWS_KEY_ID, AWS_SECRET, AZURE_KEY, BEDROCK_MODEL, credential_secrets
from airoute.signals.scrape import GatewayScrapeSource
from airoute.store import status_path

NAMESPACE, ROUTE = "support", "support-chat"
BEDROCK_CANARY = "anthropic.claude-3-5-sonnet-20241022-v2:0"


@dataclass(frozen=True)
class Timing:
    """How fast the story moves: the real defaults are minutes, the demo's are seconds."""

    interval: str = "1s"
    window: str = "6s"
    eject_for: str = "8s"
    recovery_interval: str = "2s"
    rollout_interval: str = "4s"
    drill_for: float = 6.0
    steady: float = 8.0
    hold: float = 4.0
    clients: int = 4


FAST = Timing(
    window="5s",
    eject_for="5s",
    recovery_interval="1s",
    rollout_interval="3s",
    drill_for=4.0,
    steady=5.0,
    hold=2.0,
    clients=3,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Runs in the gateway child: the kernel sends it SIGTERM if the demo dies, even by SIGKILL."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class World:
    """Starts and stops every part of the demo; knows where the route and its status live."""

    def __init__(self, timing: Timing, folder: Path | None = None) -> None:
        self.timing = timing
        self.folder = folder or Path(tempfile.mkdtemp(prefix="airoute-demo-"))
        self.azure = AzureOpenAIEmulator(api_key=AZURE_KEY)
        self.bedrock = BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET, region="eu-central-1")
        self.vertex = VertexAIEmulator(access_token="ya29.demo-token")
        self.local = OpenAICompatibleEmulator()
        self.gateway_port = _free_port()
        self.gateway: subprocess.Popen[bytes] | None = None
        self.controller: FolderController | None = None
        self.scrape: GatewayScrapeSource | None = None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def route_file(self) -> Path:
        return self.folder / "support-chat.yaml"

    def route(self, bedrock_model: str = BEDROCK_MODEL) -> dict[str, Any]:
        t = self.timing
        return {
            "apiVersion": "airoute.dev/v1alpha1",
            "kind": "AIRoute",
            "metadata": {"name": ROUTE, "namespace": NAMESPACE},
            "spec": {
                "model": ROUTE,
                "tier": "critical",
                "degradedResponse": "Our assistant is briefly unavailable; a person will answer you shortly.",
                "backends": [
                    {
                        "name": "azure-eu",
                        "weight": 50,
                        "timeout": "5s",
                        "azureOpenAI": {
                            "endpoint": self.azure.base_url,
                            "deployment": "gpt-4o",
                            "region": "westeurope",
                            "insecure": True,
                            "credentialsSecretRef": {"name": "azure-eu"},
                        },
                    },
                    {
                        "name": "bedrock-eu",
                        "weight": 30,
                        "timeout": "5s",
                        "bedrock": {
                            "region": "eu-central-1",
                            "modelId": bedrock_model,
                            "endpointURL": self.bedrock.base_url,
                            "insecure": True,
                            "credentialsSecretRef": {"name": "aws-eu"},
                        },
                    },
                    {
                        "name": "vertex-eu",
                        "weight": 20,
                        "timeout": "5s",
                        "vertexAI": {
                            "project": "acme-support",
                            "location": "europe-west4",
                            "model": "gemini-1.5-pro-002",
                            "endpointURL": self.vertex.base_url,
                            "insecure": True,
                            "credentialsSecretRef": {"name": "gcp-sa"},
                        },
                    },
                    {
                        "name": "local-llama",
                        "weight": 0,
                        "timeout": "5s",
                        "inCluster": {
                            "service": {"name": "vllm-llama", "namespace": "models", "port": 8000},
                            "model": "meta-llama/Llama-3.1-8B-Instruct",
                        },
                    },
                ],
                "health": {"interval": t.interval, "window": t.window, "minRequests": 5, "maxErrorRate": 0.05},
                "failover": {
                    "ejectFor": t.eject_for,
                    "recoveryRamp": [25, 50, 100],
                    "recoveryInterval": t.recovery_interval,
                    "consecutiveFailures": 3,
                },
                "rollout": {
                    "steps": [10, 50, 100],
                    "interval": t.rollout_interval,
                    "maxErrorRate": 0.05,
                    "minRequests": 4,
                    "failureLimit": 2,
                },
            },
        }

    def write_route(self, doc: dict[str, Any]) -> None:
        tmp = self.folder / f".{self.route_file.name}.tmp"
        tmp.write_text(yaml.safe_dump(doc, sort_keys=False))
        os.replace(tmp, self.route_file)

    def read_route(self) -> dict[str, Any]:
        doc: dict[str, Any] = yaml.safe_load(self.route_file.read_text())
        return doc

    def status(self) -> AIRouteStatus:
        path = status_path(self.folder, NAMESPACE, ROUTE)
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            doc = {}
        return parse_status(doc)[0]

    async def start(self, on_event: EventHook) -> None:
        for emulator in (self.azure, self.bedrock, self.vertex, self.local):
            await emulator.start("127.0.0.1", 0)
        secrets = credential_secrets(NAMESPACE, self.vertex.base_url)
        (self.folder / "secrets.yaml").write_text(yaml.safe_dump_all(secrets))
        self.write_route(self.route())
        self._start_gateway()
        await self._wait_ready()
        clock = SystemClock()
        self.scrape = GatewayScrapeSource([f"{self.gateway_url}/metrics"], clock)
        self.controller = FolderController(self.folder, Evaluator(self.scrape, clock), on_event=on_event)

    def _start_gateway(self) -> None:
        local = self.local.base_url.removeprefix("http://")
        env = {
            **os.environ,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        }
        self.gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airoute.cli",
                "gateway",
                "--routes",
                str(self.folder),
                "--no-auth",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.gateway_port),
                "--poll-interval",
                "0.25",
                "--service-host",
                f"vllm-llama.models={local}",
                "--log-level",
                "WARNING",
                "--shutdown-grace",
                "3",
                # the demo's providers are emulators on loopback, and their OAuth endpoint too
                "--allow-internal-upstreams",
                "--google-token-uri",
                f"{self.vertex.base_url}/token",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "gateway.log").open("wb"),
            start_new_session=True,
        )

    async def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.gateway is not None and self.gateway.poll() is not None:
                    raise RuntimeError(f"the gateway exited: {(self.folder / 'gateway.log').read_text()[-1500:]}")
                try:
                    async with session.get(f"{self.gateway_url}/readyz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the gateway did not become ready in time")

    async def stop(self) -> None:
        if self.gateway is not None and self.gateway.poll() is None:
            os.killpg(self.gateway.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(self.gateway.wait, 8)
            except subprocess.TimeoutExpired:
                os.killpg(self.gateway.pid, signal.SIGKILL)
                await asyncio.to_thread(self.gateway.wait)
        if self.scrape is not None:
            await self.scrape.aclose()
        for emulator in (self.azure, self.bedrock, self.vertex, self.local):
            await emulator.stop()

    def kill_now(self) -> None:
        """Last resort (interpreter exit): no gateway process may outlive the demo."""
        if self.gateway is not None and self.gateway.poll() is None:
            os.killpg(self.gateway.pid, signal.SIGKILL)
