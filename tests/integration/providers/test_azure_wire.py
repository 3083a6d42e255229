"""Azure OpenAI's wire format, judged by the real ``openai`` package: the emulator passes with
``OpenAI(base_url=f"{endpoint}/openai/v1/")`` (the v1 API) and ``AzureOpenAI(api_version=…)`` (a
deployment's path), and the gateway's caller sends what the SDK sends for the same input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai import AsyncAzureOpenAI, AsyncOpenAI, BadRequestError
from tests.support.provider_backends import AZURE_KEY, emulator_pools, lookup

from airoute.api import AzureOpenAI
from airoute.emulators import AzureOpenAIEmulator
from airoute.emulators.replies import BLOCK_ANSWER, BLOCK_PROMPT, TOO_LONG
from airoute.providers import BadRequest, make_caller, sniff

pytestmark = pytest.mark.sdk

TOOL = {"type": "function", "function": {"name": "lookup_order", "description": "Find an order",
                                         "parameters": {"type": "object", "properties": {"id": {"type": "string"}},
                                                        "required": ["id"]}}}
INPUTS: list[dict[str, Any]] = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is 4711?"}],
     "temperature": 0.2, "max_tokens": 64, "seed": 7, "n": 2, "logprobs": True, "top_logprobs": 2},
    {"messages": [{"role": "developer", "content": "JSON only."},
                  {"role": "user", "content": [
                      {"type": "text", "text": "Describe"},
                      {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
     "response_format": {"type": "json_object"}, "stream": True, "stream_options": {"include_usage": True}},
    {"messages": [{"role": "user", "content": "Order 4711?"}], "tools": [TOOL], "tool_choice": "required",
     "parallel_tool_calls": False},
]


async def _caller_body(emulator: AzureOpenAIEmulator, request: dict[str, Any], api_version: str | None = None) -> Any:
    block = AzureOpenAI(endpoint=emulator.base_url, deployment="gpt-4o", region="westeurope", insecure=True,
                        api_version=api_version, credentials_secret_ref={"name": "azure"})
    pools = emulator_pools()
    caller = make_caller("azure-eu", "azureOpenAI", block, lookup, "support", pools=pools)
    raw = json.dumps({"model": "support-chat", **request}).encode()
    try:
        if request.get("stream"):
            async for _ in caller.stream(raw, sniff(raw)):
                pass
        else:
            await caller.complete(raw, sniff(raw))
    finally:
        await caller.aclose()
        await pools.aclose()
    captured = emulator.captured[-1]
    return captured.path, json.loads(captured.body)


async def _sdk_body(client: AsyncOpenAI, emulator: AzureOpenAIEmulator, request: dict[str, Any]) -> Any:
    answer = await client.chat.completions.create(model="gpt-4o", **request)
    if request.get("stream"):
        async for _ in answer:  # type: ignore[union-attr]
            pass
    captured = emulator.captured[-1]
    return captured.path, json.loads(captured.body)


@pytest.mark.parametrize("request_", INPUTS, ids=["options", "content-parts-stream", "tools"])
async def test_v1_caller_sends_what_the_openai_sdk_sends(request_: dict[str, Any]) -> None:
    async with AzureOpenAIEmulator(api_key=AZURE_KEY) as emulator:
        client = AsyncOpenAI(base_url=f"{emulator.base_url}/openai/v1/", api_key=AZURE_KEY, max_retries=0)
        sdk_path, sdk_body = await _sdk_body(client, emulator, request_)
        path, body = await _caller_body(emulator, request_)
        await client.close()
        assert emulator.stats.count(outcome="ok") == 2
    assert path == sdk_path == "/openai/v1/chat/completions"
    assert body == sdk_body
    assert body["model"] == "gpt-4o"


async def test_deployment_path_caller_sends_what_the_azure_sdk_client_sends() -> None:
    request = INPUTS[0]
    async with AzureOpenAIEmulator(api_key=AZURE_KEY) as emulator:
        client = AsyncAzureOpenAI(azure_endpoint=emulator.base_url, api_version="2024-10-21", api_key=AZURE_KEY,
                                  max_retries=0)
        sdk_path, sdk_body = await _sdk_body(client, emulator, request)
        path, body = await _caller_body(emulator, request, api_version="2024-10-21")
        await client.close()
        assert emulator.captured[-1].headers.get("api-key") == AZURE_KEY
    assert path == sdk_path == "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
    assert body == sdk_body


async def test_the_sdk_reads_annotations_and_content_filter_answers() -> None:
    async with AzureOpenAIEmulator(api_key=AZURE_KEY) as emulator:
        client = AsyncOpenAI(base_url=f"{emulator.base_url}/openai/v1/", api_key=AZURE_KEY, max_retries=0)
        answer = await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert answer.model_extra and answer.model_extra["prompt_filter_results"][0]["prompt_index"] == 0
        assert answer.choices[0].model_extra and "content_filter_results" in answer.choices[0].model_extra
        cut = await client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"tell me {BLOCK_ANSWER} more"}])
        assert cut.choices[0].finish_reason == "content_filter"
        stream = await client.chat.completions.create(model="gpt-4o", stream=True,
                                                      messages=[{"role": "user", "content": "hi"}])
        chunks = [c async for c in stream]
        assert chunks[0].choices == [] and chunks[0].model_extra
        assert "prompt_filter_results" in chunks[0].model_extra
        with pytest.raises(BadRequestError) as refused:
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": BLOCK_PROMPT}])
        assert refused.value.code == "content_filter" and refused.value.param == "prompt"
        with pytest.raises(BadRequestError) as long:
            await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": TOO_LONG}])
        assert long.value.code == "context_length_exceeded"
        await client.close()


@pytest.mark.parametrize(("prompt", "code", "param"), [(BLOCK_PROMPT, "content_filter", "prompt"),
                                                        (TOO_LONG, "context_length_exceeded", "messages")])
async def test_caller_keeps_azure_error_codes(prompt: str, code: str, param: str) -> None:
    async with AzureOpenAIEmulator(api_key=AZURE_KEY) as emulator:
        block = AzureOpenAI(endpoint=emulator.base_url, deployment="gpt-4o", region="westeurope", insecure=True,
                            credentials_secret_ref={"name": "azure"})
        pools = emulator_pools()
        caller = make_caller("azure-eu", "azureOpenAI", block, lookup, "support", pools=pools)
        raw = json.dumps({"model": "m", "messages": [{"role": "user", "content": prompt}]}).encode()
        with pytest.raises(BadRequest) as caught:
            await caller.complete(raw, sniff(raw))
        await caller.aclose()
        await pools.aclose()
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, code, param)
