"""``/v1/embeddings`` through the gateway with OpenAI's own client: a route of one embedding model on
two clouds (Azure OpenAI and OpenAI, text-embedding-3-small) and a route of one model in two regions
(Bedrock Titan v2), failing over with the same metrics as chat; the route's vector size asked for
and checked; a backend that answers another size is failed over, never passed on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
import pytest

from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, Faults, OpenAICompatibleEmulator, VertexAIEmulator
from airoute.emulators.credentials import service_account_key
from airoute.gateway import Gateway, GatewayConfig
from tests.support.gateway import metric
from tests.support.routes import airoute, secret, yaml_text

AWS = {"aws_access_key_id": "AKIAEMBEDDINGS000001", "aws_secret_access_key": "embeddings/secret/key"}
SMALL = {"family": "text-embedding-3-small", "dimensions": 512}
TITAN = {"family": "amazon.titan-embed-text-v2", "dimensions": 256}


def titan(name: str, weight: int, emulator: BedrockEmulator, region: str) -> dict[str, Any]:
    return {"name": name, "weight": weight, "embeddings": TITAN, "bedrock": {
        "region": region, "modelId": "amazon.titan-embed-text-v2:0", "endpointURL": emulator.base_url,
        "insecure": True, "credentialsSecretRef": {"name": "aws"}}}


def same_vectors(a: list[list[float]], b: list[list[float]]) -> bool:
    """Equal up to float32 rounding (base64 answers carry float32)."""
    return len(a) == len(b) and all(len(x) == len(y) and all(abs(p - q) < 1e-6 for p, q in zip(x, y, strict=True))
                                    for x, y in zip(a, b, strict=True))


def gemini(name: str, weight: int, emulator: VertexAIEmulator, location: str) -> dict[str, Any]:
    return {"name": name, "weight": weight, "embeddings": {"family": "gemini-embedding-001", "dimensions": 768},
            "vertexAI": {"project": "acme-search", "location": location, "model": "gemini-embedding-001",
                         "endpointURL": emulator.base_url, "insecure": True, "credentialsSecretRef": {"name": "gcp"}}}


class Stack:
    def __init__(self, gateway: Gateway, azure: AzureOpenAIEmulator, openai_emu: OpenAICompatibleEmulator,
                 central: BedrockEmulator, west: BedrockEmulator, vertex: tuple[VertexAIEmulator, VertexAIEmulator]
                 ) -> None:
        self.gateway, self.azure, self.openai, self.central, self.west = gateway, azure, openai_emu, central, west
        self.vertex = vertex
        self.client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{gateway.port}/v1", api_key="none", max_retries=0)

    async def metrics(self) -> str:
        return self.gateway.metrics.render().decode()


@pytest.fixture
async def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Stack]:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    azure, openai_emu = AzureOpenAIEmulator(api_key="azure-key-0123456789"), OpenAICompatibleEmulator()
    central = BedrockEmulator(region="eu-central-1", access_key_id=AWS["aws_access_key_id"],
                              secret_access_key=AWS["aws_secret_access_key"])
    west = BedrockEmulator(region="eu-west-1", access_key_id=AWS["aws_access_key_id"],
                           secret_access_key=AWS["aws_secret_access_key"])
    wrong = OpenAICompatibleEmulator()
    vertex = (VertexAIEmulator(), VertexAIEmulator())
    emulators = (azure, openai_emu, central, west, wrong, *vertex)
    for emulator in emulators:
        await emulator.start()
    small = airoute([
        {"name": "azure-eu", "weight": 100, "embeddings": SMALL, "azureOpenAI": {
            "endpoint": azure.base_url, "deployment": "text-embedding-3-small", "region": "westeurope",
            "insecure": True, "credentialsSecretRef": {"name": "azure"}}},
        {"name": "openai", "weight": 0, "embeddings": SMALL, "openAICompatible": {
            "baseURL": f"{openai_emu.base_url}/v1", "model": "text-embedding-3-small", "insecure": True}},
    ], "search-embed", model="search-embed")
    regions = airoute([titan("titan-central", 100, central, "eu-central-1"), titan("titan-west", 0, west, "eu-west-1")],
                      "titan-embed", model="titan-embed")
    # A backend that claims the route's family and size but serves another model (3072 dimensions).
    e5 = {"family": "multilingual-e5-large", "dimensions": 1024}
    liar = airoute([
        {"name": "liar", "weight": 100, "embeddings": e5, "openAICompatible": {
            "baseURL": f"{wrong.base_url}/v1", "model": "text-embedding-3-large", "insecure": True}},
        {"name": "honest", "weight": 0, "embeddings": e5, "openAICompatible": {
            "baseURL": f"{openai_emu.base_url}/v1", "model": "multilingual-e5-large", "insecure": True}},
    ], "mislabelled", model="mislabelled")
    docs = [small, regions, liar, airoute([{"name": "chat", "weight": 100, "openAICompatible": {
        "baseURL": f"{openai_emu.base_url}/v1", "model": "m", "insecure": True}}], "chat"),
        airoute([gemini("eu-west", 100, vertex[0], "europe-west4"), gemini("eu-north", 0, vertex[1], "europe-north1")],
                "gemini-embed", model="gemini-embed"),
        secret("azure", {"api-key": "azure-key-0123456789"}), secret("aws", AWS),
        secret("gcp", {"key.json": service_account_key(f"{vertex[0].base_url}/token")})]
    (tmp_path / "routes.yaml").write_text(yaml_text(docs))
    gateway = Gateway(GatewayConfig(host="127.0.0.1", port=0, routes_dir=str(tmp_path), auth_disabled=True,
                                    allow_internal_upstreams=True,  # the emulators listen on loopback
                                    google_token_uris=tuple(f"{v.base_url}/token" for v in vertex)))
    await gateway.start()
    await gateway.wait_ready()
    built = Stack(gateway, azure, openai_emu, central, west, vertex)
    yield built
    await built.client.close()
    await gateway.shutdown()
    for emulator in emulators:
        await emulator.stop()


async def test_one_model_on_two_clouds_fails_over_with_the_same_vectors(stack: Stack) -> None:
    texts = ["Where is my parcel?", "How do I get a refund?"]
    first = await stack.client.embeddings.create(model="search-embed", input=texts)  # base64, as the client asks
    assert [len(d.embedding) for d in first.data] == [512, 512] and first.usage.prompt_tokens > 0
    assert stack.azure.stats.count(outcome="ok") == 1 and stack.openai.stats.total == 0
    await stack.azure.set_faults(Faults(error_rate=1.0, error_status=503))
    second = await stack.client.embeddings.create(model="search-embed", input=texts, encoding_format="float")
    assert same_vectors([d.embedding for d in second.data], [d.embedding for d in first.data])
    assert stack.openai.stats.count(outcome="ok") == 1
    text = await stack.metrics()
    assert metric(text, "airoute_requests_total", route="search-embed", backend="azure-eu", outcome="error") == 1
    assert metric(text, "airoute_requests_total", route="search-embed", backend="openai", outcome="success") == 1
    assert metric(text, "airoute_retries_total", route="search-embed", backend="azure-eu") == 1
    assert metric(text, "airoute_tokens_total", route="search-embed", backend="openai", direction="in") > 0


async def test_one_model_in_two_regions_fails_over(stack: Stack) -> None:
    answer = await stack.client.embeddings.create(model="titan-embed", input=["a", "b", "c"], encoding_format="float")
    assert [len(d.embedding) for d in answer.data] == [256] * 3 and answer.usage.prompt_tokens == 3
    assert stack.central.stats.count(api="invoke", outcome="ok") == 3  # Titan embeds one text per call
    await stack.central.set_faults(Faults(throttle_rate=1.0))
    again = await stack.client.embeddings.create(model="titan-embed", input=["a", "b", "c"], encoding_format="float")
    assert [d.embedding for d in again.data] == [d.embedding for d in answer.data]
    assert stack.west.stats.count(api="invoke", outcome="ok") == 3


async def test_one_gemini_model_in_two_locations_fails_over(stack: Stack) -> None:
    answer = await stack.client.embeddings.create(model="gemini-embed", input=["a", "b"])
    assert [len(d.embedding) for d in answer.data] == [768, 768]
    assert stack.vertex[0].stats.count(api="batchEmbedContents", outcome="ok") == 1
    await stack.vertex[0].set_faults(Faults(error_rate=1.0, error_status=503))
    again = await stack.client.embeddings.create(model="gemini-embed", input=["a", "b"])
    assert same_vectors([d.embedding for d in again.data], [d.embedding for d in answer.data])
    assert stack.vertex[1].stats.count(api="batchEmbedContents", outcome="ok") == 1


async def test_the_route_size_is_asked_for_and_another_one_refused(stack: Stack) -> None:
    await stack.client.embeddings.create(model="search-embed", input="x")
    (sent,) = [c for c in stack.azure.captured if c.path.endswith("/embeddings")]
    assert b'"dimensions": 512' in sent.body or b'"dimensions":512' in sent.body
    with pytest.raises(openai.BadRequestError, match="returns vectors of 512 dimensions, not 1024"):
        await stack.client.embeddings.create(model="search-embed", input="x", dimensions=1024)


async def test_a_backend_that_answers_another_size_is_failed_over(stack: Stack) -> None:
    answer = await stack.client.embeddings.create(model="mislabelled", input="x", encoding_format="float")
    assert len(answer.data[0].embedding) == 1024
    text = await stack.metrics()
    assert metric(text, "airoute_requests_total", route="mislabelled", backend="liar", outcome="error") == 1


async def test_each_api_only_on_its_routes(stack: Stack) -> None:
    with pytest.raises(openai.BadRequestError, match="serves chat completions: send it to /v1/chat/completions"):
        await stack.client.embeddings.create(model="chat", input="x")
    with pytest.raises(openai.BadRequestError, match="serves embeddings: send it to /v1/embeddings"):
        await stack.client.chat.completions.create(model="search-embed", messages=[{"role": "user", "content": "x"}])
