"""Vertex AI's wire format, judged by the real ``google-genai`` client: the emulator passes its
generate_content and generate_content_stream, and the gateway's caller sends the same path and
the same body as the SDK does for ``generate_content(model, contents, config)`` built from the
same translation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support.provider_backends import VERTEX_TOKEN, call_once

from airoute.api import VertexAI
from airoute.emulators import VertexAIEmulator
from airoute.providers import parse_request
from airoute.providers.translate.openai_to_vertex import to_generate_content

pytestmark = pytest.mark.sdk

MODEL = "gemini-1.5-pro-002"
TOOL = {"type": "function", "function": {"name": "lookup_order", "description": "Find an order",
                                         "parameters": {"type": "object", "properties": {"id": {"type": "string"}},
                                                        "required": ["id"]}}}
INPUTS: list[dict[str, Any]] = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is 4711?"}],
     "temperature": 0.2, "max_tokens": 64, "top_p": 0.9, "stop": ["\n\n"], "seed": 3, "n": 2,
     "presence_penalty": 0.5},
    {"messages": [{"role": "user", "content": "Grüße aus Köln — order 4711?"}], "tools": [TOOL],
     "tool_choice": {"type": "function", "function": {"name": "lookup_order"}}},
    {"messages": [{"role": "user", "content": "Order 4711?"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "call_1", "type": "function",
                       "function": {"name": "lookup_order", "arguments": "{\"id\": \"4711\"}"}}]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "shipped"}],
     "tools": [TOOL], "stream": True},
]


def genai_client(url: str) -> Any:
    from google import genai
    from google.genai import types
    from google.oauth2.credentials import Credentials

    return genai.Client(vertexai=True, project="acme-prod", location="europe-west4",
                        credentials=Credentials(token=VERTEX_TOKEN),  # type: ignore[no-untyped-call]
                        http_options=types.HttpOptions(base_url=url, api_version="v1",
                                                       retry_options=types.HttpRetryOptions(attempts=1)))


def sdk_arguments(request: dict[str, Any]) -> dict[str, Any]:
    """The SDK call for the same input: the translated body's parts as generate_content's
    arguments (the config carries generation settings, system instruction, tools, tool config)."""
    from google.genai import types

    wire = to_generate_content(parse_request({"model": "m", **request}))
    config: dict[str, Any] = dict(wire.get("generationConfig", {}))
    for key in ("systemInstruction", "tools", "toolConfig"):
        if key in wire:
            config[key] = wire[key]
    config["automaticFunctionCalling"] = {"disable": True}
    return {"model": MODEL, "contents": wire["contents"], "config": types.GenerateContentConfig.model_validate(config)}


def proto_json(value: Any) -> Any:
    """A body as protocol-buffer JSON means it: field names in lowerCamelCase or snake_case are
    the same field (the SDK writes ``parameters_json_schema``), an empty message is an absent one
    (the SDK writes ``generationConfig: {}``)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            head, *rest = key.split("_")
            normal = proto_json(item)
            if normal != {}:
                out[head + "".join(part[:1].upper() + part[1:] for part in rest)] = normal
        return out
    if isinstance(value, list):
        return [proto_json(item) for item in value]
    return value


async def sdk_call(client: Any, request: dict[str, Any]) -> Any:
    if request.get("stream"):
        return [r async for r in await client.aio.models.generate_content_stream(**sdk_arguments(request))]
    return await client.aio.models.generate_content(**sdk_arguments(request))


async def caller_call(url: str, request: dict[str, Any]) -> bytes:
    from google.oauth2.credentials import Credentials

    block = VertexAI(project="acme-prod", location="europe-west4", model=MODEL, endpoint_url=url, insecure=True)
    return await call_once("vertexAI", block, request,
                           google_credentials=Credentials(token=VERTEX_TOKEN))  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("request_", INPUTS, ids=["options", "tools", "tool-result-stream"])
async def test_caller_sends_what_google_genai_sends(request_: dict[str, Any]) -> None:
    async with VertexAIEmulator(access_token=VERTEX_TOKEN) as emulator:
        client = genai_client(emulator.base_url)
        await sdk_call(client, request_)
        sdk = emulator.captured[-1]
        await caller_call(emulator.base_url, request_)
        ours = emulator.captured[-1]
        await client.aio.aclose()
        assert emulator.stats.count(outcome="ok") == 2
    assert ours.path == sdk.path
    assert proto_json(json.loads(ours.body)) == proto_json(json.loads(sdk.body))
    assert ours.headers["Authorization"] == sdk.headers["Authorization"] == f"Bearer {VERTEX_TOKEN}"


async def test_google_genai_reads_what_the_emulator_answers() -> None:
    async with VertexAIEmulator(access_token=VERTEX_TOKEN) as emulator:
        client = genai_client(emulator.base_url)
        answer = await sdk_call(client, INPUTS[0])
        assert answer.candidates[0].finish_reason == "STOP" and answer.text
        chunks = await sdk_call(client, INPUTS[2])
        assert chunks[-1].candidates[0].finish_reason == "STOP"
        call = await sdk_call(client, INPUTS[1])
        assert call.function_calls[0].name == "lookup_order"
        await client.aio.aclose()
