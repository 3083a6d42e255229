"""The embeddings endpoints of the emulators, judged by the real SDKs (openai ``embeddings.create``,
boto3 ``invoke_model``, google-genai ``embed_content``), and the gateway's embedding callers against
them: what they send is what the SDKs send, what they answer is OpenAI's shape with the route's size."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import boto3
import openai
import pytest
from botocore.config import Config
from tests.support.provider_backends import AWS_KEY_ID, AWS_SECRET, VERTEX_TOKEN, emulator_pools, lookup

from airoute.api import AzureOpenAI, Bedrock, Embeddings, InCluster, VertexAI
from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, OpenAICompatibleEmulator, VertexAIEmulator
from airoute.providers import BadRequest, ProviderConfigError, Unavailable, make_caller, sniff
from airoute.providers.embeddings import parse_embeddings
from airoute.providers.translate.openai_to_vertex_embeddings import embed_requests

pytestmark = pytest.mark.sdk


def boto(url: str, region: str = "eu-central-1") -> Any:
    return boto3.client("bedrock-runtime", region_name=region, endpoint_url=url, aws_access_key_id=AWS_KEY_ID,
                        aws_secret_access_key=AWS_SECRET, config=Config(retries={"total_max_attempts": 1}))


@pytest.fixture
async def bedrock() -> AsyncIterator[BedrockEmulator]:
    async with BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET, region="eu-central-1") as emu:
        yield emu


async def test_openai_client_against_the_openai_format_emulators() -> None:
    async with OpenAICompatibleEmulator(api_key="sk-x") as emu, AzureOpenAIEmulator(api_key="azure-k") as azure:
        client = openai.AsyncOpenAI(base_url=f"{emu.base_url}/v1", api_key="sk-x", max_retries=0)
        shortened = await client.embeddings.create(model="text-embedding-3-small", input=["a", "b"], dimensions=256)
        assert [len(d.embedding) for d in shortened.data] == [256, 256] and shortened.usage.prompt_tokens == 2
        full = await client.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float")
        assert len(full.data[0].embedding) == 1536
        with pytest.raises(openai.BadRequestError, match="does not support specifying dimensions"):
            await client.embeddings.create(model="text-embedding-ada-002", input="a", dimensions=256)
        on_azure = openai.AsyncOpenAI(base_url=f"{azure.base_url}/openai/v1/", api_key="azure-k",
                                      default_headers={"api-key": "azure-k"}, max_retries=0)
        answer = await on_azure.embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float")
        assert answer.data[0].embedding == full.data[0].embedding  # one model, one vector, whichever cloud serves it
        await client.close()
        await on_azure.close()


async def test_boto3_invoke_model_against_the_bedrock_emulator(bedrock: BedrockEmulator) -> None:
    client = boto(bedrock.base_url)
    answer = await asyncio.to_thread(client.invoke_model, modelId="amazon.titan-embed-text-v2:0",
                                     body=json.dumps({"inputText": "hello", "dimensions": 256, "normalize": True}))
    assert len(json.loads(answer["body"].read())["embedding"]) == 256
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "1"
    cohere = await asyncio.to_thread(client.invoke_model, modelId="cohere.embed-multilingual-v3", body=json.dumps(
        {"texts": ["a", "b"], "input_type": "search_document", "embedding_types": ["float"]}))
    assert [len(v) for v in json.loads(cohere["body"].read())["embeddings"]["float"]] == [1024, 1024]
    with pytest.raises(client.exceptions.ValidationException, match="300 is not a valid enum value"):
        await asyncio.to_thread(client.invoke_model, modelId="amazon.titan-embed-text-v2:0",
                                body=json.dumps({"inputText": "hello", "dimensions": 300}))


async def test_google_genai_embed_content_against_the_vertex_emulator() -> None:
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials

    async with VertexAIEmulator(access_token=VERTEX_TOKEN) as emu:
        client = genai.Client(vertexai=True, project="acme-prod", location="europe-west4",
                              credentials=Credentials(token=VERTEX_TOKEN),  # type: ignore[no-untyped-call]
                              http_options=types.HttpOptions(base_url=emu.base_url, api_version="v1"))
        cases = [("text-embedding-005", ["a", "b"], 256), ("gemini-embedding-001", "a", 768),
                 ("gemini-embedding-001", ["a", "b"], 1536)]
        for model, contents, size in cases:
            found = await client.aio.models.embed_content(model=model, contents=contents,
                                                          config={"output_dimensionality": size})
            assert found.embeddings is not None and {len(e.values or []) for e in found.embeddings} == {size}
            (sent,) = [c for c in list(emu.captured)[-1:]]
            method, body = embed_requests(parse_embeddings({"model": "m", "input": contents}), model, size)[0]
            assert sent.path.endswith(f"{model}:{method}") and json.loads(sent.body) == body, "what the SDK sends"
        await client.aio.aclose()


async def embed(caller: Any, body: dict[str, Any]) -> dict[str, Any]:
    raw = json.dumps(body).encode()
    return dict(json.loads(await caller.complete(raw, sniff(raw))))


async def test_the_bedrock_embedders_answer_in_openai_shape(bedrock: BedrockEmulator) -> None:
    pools = emulator_pools()
    block = Bedrock(region="eu-central-1", model_id="amazon.titan-embed-text-v2:0", endpoint_url=bedrock.base_url,
                    insecure=True, credentials_secret_ref={"name": "aws"})
    titan = make_caller("titan", "bedrock", block, lookup, "team", pools=pools,
                        embeddings=Embeddings(family="amazon.titan-embed-text-v2", dimensions=512))
    answer = await embed(titan, {"model": "x", "input": ["a", "b"], "encoding_format": "base64"})
    assert answer["object"] == "list" and [d["index"] for d in answer["data"]] == [0, 1]
    floats = struct.unpack("<512f", base64.b64decode(answer["data"][0]["embedding"]))
    invoked = await asyncio.to_thread(boto(bedrock.base_url).invoke_model, modelId="amazon.titan-embed-text-v2:0",
                                      body=json.dumps({"inputText": "a", "dimensions": 512}))
    direct = json.loads(invoked["body"].read())
    assert all(abs(a - b) < 1e-6 for a, b in zip(floats, direct["embedding"], strict=True))
    assert answer["usage"] == {"prompt_tokens": 2, "total_tokens": 2}
    with pytest.raises(BadRequest, match="returns vectors of 512 dimensions, not 256"):
        await embed(titan, {"model": "x", "input": "a", "dimensions": 256})
    raw = b'{"model": "x", "input": "a"}'
    with pytest.raises(BadRequest, match="embeddings are not streamed"):
        await anext(titan.stream(raw, sniff(raw)))
    cohere_block = block.model_copy(update={"model_id": "cohere.embed-english-v3"})
    cohere = make_caller("cohere", "bedrock", cohere_block, lookup, "team", pools=pools,
                         embeddings=Embeddings(family="cohere.embed-english-v3", dimensions=1024))
    many = await embed(cohere, {"model": "x", "input": [f"text {i}" for i in range(100)]})  # two calls of 96 and 4
    assert len(many["data"]) == 100 and bedrock.stats.count(model="cohere.embed-english-v3", outcome="ok") == 2
    await titan.aclose()
    await cohere.aclose()
    await pools.aclose()


def test_a_model_that_cannot_return_the_route_size_is_a_configuration_error() -> None:
    pools = emulator_pools()
    for model_id, size, problem in [("amazon.titan-embed-text-v2:0", 300, "not 300"),
                                    ("anthropic.claude-3-haiku-20240307-v1:0", 1024, "not an embedding model")]:
        block = Bedrock(region="eu-central-1", model_id=model_id)
        with pytest.raises(ProviderConfigError, match=problem):
            make_caller("b", "bedrock", block, lookup, "team", pools=pools,
                        embeddings=Embeddings(family="f", dimensions=size))


async def test_openai_format_embedders_check_the_size_of_every_answer() -> None:
    async with OpenAICompatibleEmulator(api_key="cluster-token-0123456789") as emu, AzureOpenAIEmulator(
            api_key="azure-key-0123456789abcdef01234567") as azure:
        pools = emulator_pools()
        served = InCluster(service={"name": "tei", "namespace": "models", "port": 80}, model="bge-m3",
                           credentials_secret_ref={"name": "vllm"})
        hosts = {"tei.models": emu.base_url.removeprefix("http://")}
        right = make_caller("tei", "inCluster", served, lookup, "team", pools=pools, service_hosts=hosts,
                            embeddings=Embeddings(family="bge-m3", dimensions=1024))
        assert len((await embed(right, {"model": "x", "input": "a"}))["data"][0]["embedding"]) == 1024
        wrong = make_caller("tei", "inCluster", served, lookup, "team", pools=pools, service_hosts=hosts,
                            embeddings=Embeddings(family="bge-m3", dimensions=768))
        with pytest.raises(Unavailable, match="1 vectors of 1024 dimensions for 1 inputs of 768"):
            await embed(wrong, {"model": "x", "input": "a"})
        block = AzureOpenAI(endpoint=azure.base_url, deployment="text-embedding-3-large", region="westeurope",
                            insecure=True, credentials_secret_ref={"name": "azure"})
        large = make_caller("azure", "azureOpenAI", block, lookup, "team", pools=pools,
                            embeddings=Embeddings(family="text-embedding-3-large", dimensions=1024))
        assert len((await embed(large, {"model": "x", "input": "a"}))["data"][0]["embedding"]) == 1024
        assert json.loads(azure.captured[-1].body)["dimensions"] == 1024
        assert azure.captured[-1].path == "/openai/v1/embeddings"
        for caller in (right, wrong, large):
            await caller.aclose()
        await pools.aclose()


async def test_the_vertex_embedders_answer_in_openai_shape() -> None:
    from google.oauth2.credentials import Credentials

    async with VertexAIEmulator(access_token=VERTEX_TOKEN) as emu:
        pools = emulator_pools()
        credentials = Credentials(token=VERTEX_TOKEN)  # type: ignore[no-untyped-call]
        for model, size, texts, method in [("text-embedding-005", 256, ["a", "b"], "predict"),
                                           ("gemini-embedding-001", 768, ["a"], "embedContent"),
                                           ("gemini-embedding-001", 1536, ["a", "b", "c"], "batchEmbedContents")]:
            block = VertexAI(project="acme-prod", location="europe-west4", model=model, endpoint_url=emu.base_url,
                             insecure=True)
            caller = make_caller("vertex", "vertexAI", block, lookup, "team", pools=pools,
                                 google_credentials=credentials, embeddings=Embeddings(family=model, dimensions=size))
            answer = await embed(caller, {"model": "x", "input": texts, "encoding_format": "float"})
            assert [len(d["embedding"]) for d in answer["data"]] == [size] * len(texts)
            assert emu.captured[-1].path.endswith(f"{model}:{method}")
            await caller.aclose()
        with pytest.raises(ProviderConfigError, match="returns at most 768 dimensions, not 1024"):
            make_caller("vertex", "vertexAI", block.model_copy(update={"model": "text-embedding-005"}), lookup, "team",
                        pools=pools, google_credentials=credentials,
                        embeddings=Embeddings(family="text-embedding-005", dimensions=1024))
        await pools.aclose()
