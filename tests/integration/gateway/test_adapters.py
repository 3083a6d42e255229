"""Azure OpenAI, Bedrock and Vertex AI backends behind the gateway: the provider SDKs talk to
their emulators over HTTP, with credentials from Secrets in the route folder."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, VertexAIEmulator
from airoute.emulators.credentials import service_account_key
from airoute.gateway import Gateway, GatewayConfig
from tests.support.gateway import completion_text, metric
from tests.support.routes import CREDENTIALS_LABELS

pytestmark = pytest.mark.sdk

AZURE_KEY = "azure-key-0123456789abcdef01234567"
AWS_KEY_ID = "AKIAEMULATOR00000001"
AWS_SECRET = "emulator/secret/key/0123456789abcdefghij"


def secret(name: str, data: dict[str, str]) -> str:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return json.dumps({"apiVersion": "v1", "kind": "Secret",
                       "metadata": {"name": name, "namespace": "support", "labels": CREDENTIALS_LABELS},
                       "data": encoded})


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


class Clouds:
    def __init__(self) -> None:
        self.azure = AzureOpenAIEmulator(api_key=AZURE_KEY)
        self.bedrock = BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET,
                                       region="eu-central-1")
        self.vertex = VertexAIEmulator(access_token="ya29.minted-by-emulator")


@pytest.fixture
async def clouds(tmp_path: Path) -> AsyncIterator[tuple[Clouds, Gateway, str]]:
    c = Clouds()
    for emu in (c.azure, c.bedrock, c.vertex):
        await emu.start()
    route = {
        "apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute",
        "metadata": {"name": "support-chat", "namespace": "support"},
        "spec": {"model": "support-chat", "tier": "critical", "degradedResponse": "unused", "backends": [
            {"name": "azure-eu", "weight": 40, "azureOpenAI": {
                "endpoint": c.azure.base_url, "deployment": "gpt-4o", "region": "westeurope", "insecure": True,
                "credentialsSecretRef": {"name": "azure-eu"}}},
            {"name": "bedrock-eu", "weight": 30, "bedrock": {
                "region": "eu-central-1", "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                "endpointURL": c.bedrock.base_url, "insecure": True, "credentialsSecretRef": {"name": "aws-eu"}}},
            {"name": "vertex-eu", "weight": 30, "vertexAI": {
                "project": "acme-prod", "location": "europe-west4", "model": "gemini-1.5-pro-002",
                "endpointURL": c.vertex.base_url, "insecure": True,
                "credentialsSecretRef": {"name": "gcp-sa"}}},
        ]},
    }
    docs = [json.dumps(route), secret("azure-eu", {"api-key": AZURE_KEY}),
            secret("aws-eu", {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}),
            secret("gcp-sa", {"key.json": service_account_key(f"{c.vertex.base_url}/token")})]
    (tmp_path / "support.yaml").write_text("\n---\n".join(docs))
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(tmp_path), auth_disabled=True,
                                    allow_internal_upstreams=True, google_token_uris=(f"{c.vertex.base_url}/token",)))
    await gateway.start()
    await gateway.wait_ready()
    yield c, gateway, f"http://127.0.0.1:{gateway.port}"
    await gateway.shutdown()
    for emu in (c.azure, c.bedrock, c.vertex):
        await emu.stop()


async def post(url: str, stream: bool = False) -> tuple[int, bytes]:
    body = {"model": "support-chat", "stream": stream, "messages": [{"role": "user", "content": "my order?"}]}
    async with aiohttp.ClientSession() as s, s.post(f"{url}/v1/chat/completions", json=body) as r:
        return r.status, await r.read()


async def test_every_cloud_answers_through_the_gateway(clouds: tuple[Clouds, Gateway, str]) -> None:
    c, gateway, url = clouds
    results = await asyncio.gather(*(post(url, stream=i % 2 == 1) for i in range(40)))
    assert {s for s, _ in results} == {200}
    for _, body in results[::2]:
        assert completion_text(body).endswith("reply to: my order?")
    for _, body in results[1::2]:
        assert body.rstrip().endswith(b"data: [DONE]")
    counts = [emu.stats.count(outcome="ok") - emu.stats.count(api="token") for emu in (c.azure, c.bedrock, c.vertex)]
    assert sum(counts) == 40 and all(n > 0 for n in counts), counts
    text = gateway.metrics.render().decode()
    for provider in ("azureOpenAI", "bedrock", "vertexAI"):
        assert metric(text, "airoute_requests_total", provider=provider, outcome="success") > 0


async def test_an_azure_outage_fails_over_to_the_other_clouds(clouds: tuple[Clouds, Gateway, str]) -> None:
    c, gateway, url = clouds
    await c.azure.set_faults(error_rate=1.0, error_status=503)
    results = await asyncio.gather(*(post(url) for _ in range(30)))
    assert {s for s, _ in results} == {200}
    assert c.azure.stats.count(outcome="ok") == 0
    text = gateway.metrics.render().decode()
    assert metric(text, "airoute_requests_total", backend="azure-eu", provider="azureOpenAI", outcome="error") >= 1
    assert metric(text, "airoute_ejections_total", backend="azure-eu") == 1


async def test_azure_content_filter_400_is_the_clients_answer_not_an_outage(
        clouds: tuple[Clouds, Gateway, str]) -> None:
    """Azure refuses the prompt: the client gets Azure's 400 with its code, no other cloud is
    asked after it, and the backend is not counted as failing."""
    from openai import AsyncOpenAI, BadRequestError

    from airoute.emulators.replies import BLOCK_PROMPT

    c, gateway, url = clouds
    body = {"model": "support-chat", "messages": [{"role": "user", "content": f"{BLOCK_PROMPT} now"}]}
    async with aiohttp.ClientSession() as session:
        answers = []
        for _ in range(12):
            async with session.post(f"{url}/v1/chat/completions", json=body) as r:
                answers.append((r.status, await r.json()))
    refusals = [a for status, a in answers if status == 400]
    assert {status for status, _ in answers} <= {200, 400}, answers
    assert len(refusals) == c.azure.stats.count(outcome="bad_request") > 0
    assert all(a["error"]["code"] == "content_filter" and a["error"]["param"] == "prompt" for a in refusals)
    text = gateway.metrics.render().decode()
    assert metric(text, "airoute_requests_total", backend="azure-eu", outcome="bad_request") == len(refusals)
    assert metric(text, "airoute_ejections_total", backend="azure-eu") == 0
    assert metric(text, "airoute_retries_total", backend="azure-eu") == 0
    # With the other clouds down every request ends at Azure: the openai package sees Azure's error.
    await c.bedrock.set_faults(error_rate=1.0, error_status=503)
    await c.vertex.set_faults(error_rate=1.0, error_status=503)
    client = AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with pytest.raises(BadRequestError) as caught:
        await client.chat.completions.create(model="support-chat", messages=body["messages"])  # type: ignore[arg-type]
    await client.close()
    assert (caught.value.code, caught.value.param) == ("content_filter", "prompt")


async def test_azure_annotations_reach_the_client(clouds: tuple[Clouds, Gateway, str]) -> None:
    from openai import AsyncOpenAI

    c, _, url = clouds
    await c.bedrock.set_faults(error_rate=1.0, error_status=503)
    await c.vertex.set_faults(error_rate=1.0, error_status=503)
    client = AsyncOpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    answer = await client.chat.completions.create(model="support-chat", messages=[{"role": "user", "content": "hi"}])
    assert answer.model_extra and "prompt_filter_results" in answer.model_extra
    stream = await client.chat.completions.create(model="support-chat", stream=True,
                                                  messages=[{"role": "user", "content": "hi"}])
    chunks = [chunk async for chunk in stream]
    await client.close()
    assert any(chunk.model_extra and "prompt_filter_results" in chunk.model_extra for chunk in chunks)


async def test_bedrock_exception_inside_a_stream_before_content_is_retried_elsewhere(
        clouds: tuple[Clouds, Gateway, str]) -> None:
    """Bedrock throttles inside ConverseStream, right after messageStart: no byte reached the
    client yet, so the gateway retries on another cloud and every client stream is whole."""
    from airoute.emulators import Faults

    c, gateway, url = clouds
    await c.bedrock.set_faults(Faults(stream_error_after=1, error_status=429))
    results = await asyncio.gather(*(post(url, stream=True) for _ in range(20)))
    assert {status for status, _ in results} == {200}
    for _, body in results:
        assert body.rstrip().endswith(b"data: [DONE]") and b'"error"' not in body
    tried = c.bedrock.stats.count(outcome="stream_error")
    assert tried > 0
    text = gateway.metrics.render().decode()
    assert metric(text, "airoute_requests_total", backend="bedrock-eu", outcome="throttled") == tried
    assert metric(text, "airoute_retries_total", backend="bedrock-eu") == tried
