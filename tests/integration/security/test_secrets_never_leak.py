"""Planted secrets, a scenario full of failures, then a search for the secrets everywhere.

Distinctive values are planted where operators put secrets: API keys in Secrets for every kind of
backend (Azure OpenAI, OpenAI-compatible, in-cluster, an extra header, AWS keys, a Google service
account), the client API keys, the controller's notification webhook URL. Then things go wrong: the
providers refuse the keys and echo them back in their error messages (401, 403, 400, 500), clients
send wrong keys, the controller ejects backends and notifies. Afterwards none of the values — nor
their base64 form, nor a 12-character piece of them — is in: the gateway's log at DEBUG, its /metrics,
any answer a client got (bodies and headers), the controller's log, its status files, or the bodies
the notifier posted.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets as random_secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from airoute.controller.evaluator import Evaluator
from airoute.controller.folder_loop import FolderController
from airoute.controller.notify import WebhookNotifier
from airoute.core.events import Event
from airoute.emulators.credentials import service_account_key
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
from airoute.signals.scrape import GatewayScrapeSource
from tests.support.fakes import FakeClock
from tests.support.gateway import GatewayFactory
from tests.support.net import closed_port, free_port
from tests.support.routes import airoute, secret, yaml_text

pytestmark = pytest.mark.sdk


def planted(prefix: str) -> str:
    return f"{prefix}{random_secrets.token_hex(12)}"


@dataclass
class Planted:
    """Every secret value of the scenario, by where it was put."""

    values: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: str) -> str:
        self.values[name] = value
        return value

    def needles(self) -> Iterator[tuple[str, str]]:
        """What must not appear: each value, its base64 form, and pieces of 12 characters."""
        for name, value in self.values.items():
            yield name, value
            yield f"{name} (base64)", base64.b64encode(value.encode()).decode()
            core = value.split("-", 1)[-1] if len(value) > 24 else value
            for i in range(0, max(1, len(core) - 12), 6):
                yield f"{name} (piece)", core[i:i + 12]


@dataclass
class LeakyProvider:
    """A provider that refuses every request and quotes its credentials back in the error message.

    The first path segment is the status it answers (``/401/...``); ``/token`` mints an access
    token for the Google service account (itself a planted secret)."""

    access_token: str
    seen: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if request.path.endswith("/token"):
            return web.json_response({"access_token": self.access_token, "expires_in": 3600, "token_type": "Bearer"})
        await request.read()
        status = int(request.match_info["status"])
        credentials = {k: v for k, v in request.headers.items()
                       if k.lower() in ("authorization", "api-key", "x-extra", "x-amz-security-token")}
        self.seen.append(json.dumps(credentials))
        words = " ".join(f"{k}={v}" for k, v in credentials.items())
        raw = " ".join(v.split()[-1] for v in credentials.values())  # the bare values too, without labels
        message = f"Incorrect API key provided: {words} (you sent {raw})"
        body = {"error": {"message": message, "type": "invalid_request_error", "code": status,
                          "status": "UNAUTHENTICATED"}, "message": message, "Message": message}
        return web.json_response(body, status=status, headers={"x-amzn-ErrorType": "AccessDeniedException"})


@dataclass
class Webhook:
    """Receives the notifier's posts; the first one fails (500) so the failure path runs too."""

    bodies: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.text())
        return web.Response(status=500 if len(self.bodies) == 1 else 200)


async def serve(handler: object, path: str) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", path, handler)  # type: ignore[arg-type]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


def service_account(token_uri: str, secrets: Planted) -> str:
    key = service_account_key(token_uri, client_email="gw@acme-prod.iam.gserviceaccount.com",
                              private_key_id=planted("kid"))
    secrets.add("google private key", json.loads(key)["private_key"].splitlines()[5])  # a line from the middle
    return key


def route(name: str, backends: list[dict[str, Any]]) -> dict[str, Any]:
    return airoute(backends, name, health={"interval": "1s", "minRequests": 3, "unhealthyAfter": 1},
                   failover={"ejectFor": "10m"})


@dataclass
class Scenario:
    folder: Path
    secrets: Planted
    leaky: LeakyProvider
    webhook: Webhook
    webhook_url: str
    good: OpenAICompatibleEmulator
    leaky_port: int


@pytest.fixture
async def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Scenario]:
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    secrets = Planted()
    leaky = LeakyProvider(secrets.add("google access token", planted("ya29.PLANTED")))
    webhook = Webhook()
    leaky_runner, leaky_port = await serve(leaky.handle, "/{status}/{tail:.*}")
    hook_runner, hook_port = await serve(webhook.handle, "/{tail:.*}")
    oai_key = secrets.add("openai key", planted("oai-PLANTED-"))
    good = OpenAICompatibleEmulator(api_key=oai_key)
    await good.start()
    base = f"http://127.0.0.1:{leaky_port}"
    folder = tmp_path / "routes"
    folder.mkdir()
    docs = [
        secret("oai", {"api-key": oai_key}),
        secret("azure", {"api-key": secrets.add("azure key", planted("azkey"))}),
        secret("aws", {"aws_access_key_id": "AKIAPLANTED000000001",
                           "aws_secret_access_key": secrets.add("aws secret key", planted("aws/PLANTED/")),
                           "aws_session_token": secrets.add("aws session token", planted("FwoGZXIvYXdzPLANTED"))}),
        secret("gcp", {"key.json": service_account(f"{base}/200/token", secrets)}),
        secret("incluster", {"token": secrets.add("in-cluster token", planted("tok-PLANTED-"))}),
        secret("header", {"api-key": secrets.add("extra header secret", planted("hdr-PLANTED-"))}),
        route("leaky", [
            {"name": "oai", "weight": 20, "openAICompatible": {
                "baseURL": f"{base}/401/v1", "model": "m", "insecure": True, "credentialsSecretRef": {"name": "oai"},
                "headers": [{"name": "x-extra", "valueFrom": {"name": "header"}}]}},
            {"name": "azure", "weight": 20, "azureOpenAI": {
                "endpoint": f"{base}/401", "deployment": "gpt-4o", "region": "westeurope", "insecure": True,
                "credentialsSecretRef": {"name": "azure"}}},
            {"name": "bedrock", "weight": 20, "bedrock": {
                "region": "eu-central-1", "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "endpointURL": f"{base}/403", "insecure": True, "credentialsSecretRef": {"name": "aws"}}},
            {"name": "vertex", "weight": 20, "vertexAI": {
                "project": "acme-prod", "location": "europe-west4", "model": "gemini-1.5-pro-002",
                "endpointURL": f"{base}/401", "insecure": True, "credentialsSecretRef": {"name": "gcp"}}},
            {"name": "local", "weight": 20, "inCluster": {
                "service": {"name": "vllm", "port": 8000}, "model": "m", "pathPrefix": "/500/v1",
                "credentialsSecretRef": {"name": "incluster"}}},
        ]),
        route("refused", [{"name": "oai", "weight": 100, "openAICompatible": {
            "baseURL": f"{base}/400/v1", "model": "m", "insecure": True, "credentialsSecretRef": {"name": "oai"}}}]),
        route("ok", [{"name": "oai", "weight": 100, "openAICompatible": {
            "baseURL": f"{good.base_url}/v1", "model": "m", "insecure": True,
            "credentialsSecretRef": {"name": "oai"}}}]),
    ]
    (folder / "routes.yaml").write_text(yaml_text(docs))
    webhook_url = f"http://127.0.0.1:{hook_port}/hooks/{secrets.add('webhook path', planted('PLANTEDhook'))}"
    yield Scenario(folder, secrets, leaky, webhook, webhook_url, good, leaky_port)
    await good.stop()
    await leaky_runner.cleanup()
    await hook_runner.cleanup()


async def ask(session: aiohttp.ClientSession, url: str, model: str, key: str | None, stream: bool) -> str:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hello"}]}
    async with session.post(f"{url}/v1/chat/completions", json=body, headers=headers) as r:
        return f"{r.status} {dict(r.headers)} {await r.text()}"


async def test_no_secret_in_logs_metrics_answers_status_or_notifications(
    tmp_path: Path, scenario: Scenario, gateway_process: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    s = scenario
    client_key = s.secrets.add("client key", planted("client-PLANTED-"))
    wrong_key = s.secrets.add("wrong client key", planted("wrong-PLANTED-"))
    keys = tmp_path / "keys.yaml"
    keys.write_text(f"support-bot: {client_key}\n")
    gateway = await gateway_process(s.folder, "--api-keys-file", str(keys), "--log-level", "DEBUG",
                                    "--service-host", f"vllm.team=127.0.0.1:{s.leaky_port}",
                                    "--google-token-uri", f"http://127.0.0.1:{s.leaky_port}/200/token")
    caplog.set_level(logging.DEBUG)

    clock = FakeClock()
    source = GatewayScrapeSource([f"{gateway.url}/metrics"], clock)
    notifier = WebhookNotifier(s.webhook_url, clock.now, "generic", quiet_seconds=0)
    controller = FolderController(s.folder, Evaluator(source, clock), notifier)
    answers: list[str] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(4):  # traffic, then a controller cycle over what the gateway measured
            for model in ("leaky", "refused", "ok"):
                for stream in (False, True):
                    answers += await asyncio.gather(*(ask(session, gateway.url, model, client_key, stream)
                                                      for _ in range(5)))
            answers.append(await ask(session, gateway.url, "ok", wrong_key, False))
            answers.append(await ask(session, gateway.url, "ok", None, False))
            async with session.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {client_key}"}) as r:
                answers.append(await r.text())
            clock.t += 15
            await controller.once()
        async with session.get(f"{gateway.url}/metrics") as r:
            metrics_text = await r.text()
    await source.aclose()
    unreachable = f"http://127.0.0.1:{closed_port()}/hooks/{s.secrets.values['webhook path']}"
    assert not await WebhookNotifier(unreachable, clock.now).notify("team/leaky", Event("Warning", "Test", "x"))
    await gateway.stop()

    # The scenario did what it should: keys were refused and echoed, backends ejected, people told.
    assert len(s.leaky.seen) >= 10 and any(s.secrets.values["azure key"] in seen for seen in s.leaky.seen)
    assert any(a.startswith("503 ") and "leaky" in a for a in answers)
    assert any(a.startswith("400 ") and "refused the request" in a for a in answers)
    assert any(a.startswith("401 ") for a in answers) and any(a.startswith("200 ") for a in answers)
    statuses = {p.name: p.read_text() for p in s.folder.glob("*.status.yaml")}
    assert "Unhealthy" in statuses["team.leaky.status.yaml"]
    assert s.webhook.bodies, "the notifier posted (its first post failed: the failure path ran too)"

    places = {
        "gateway log (DEBUG)": gateway.logs(),
        "gateway /metrics": metrics_text,
        "answers to clients": "\n".join(answers),
        "controller log": caplog.text,
        "status files": "\n".join(statuses.values()),
        "notifications posted": "\n".join(s.webhook.bodies),
    }
    assert "ejected backend" in places["gateway log (DEBUG)"]  # failures were logged (with the providers' words)
    leaks = [f"{what} in the {where}" for where, text in places.items()
             for what, needle in s.secrets.needles() if needle in text]
    assert not leaks, "\n".join(sorted(set(leaks)))
