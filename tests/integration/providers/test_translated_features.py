"""What the clouds accept, translated and sent through the callers to emulators the real SDKs also
pass against: images, structured output, Gemini's thought signatures across tool turns, thinking
tokens, several streamed candidates. The emulators validate these parts as the services do."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from tests.support.provider_backends import AWS_KEY_ID, AWS_SECRET, VERTEX_TOKEN, Backend, build_backend

from airoute.emulators import BedrockEmulator, VertexAIEmulator
from airoute.providers import BadRequest
from airoute.providers.translate.openai_to_bedrock import to_converse

pytestmark = pytest.mark.sdk

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg==")
WAV = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA="
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}, "late": {"type": "boolean"}},
          "required": ["order", "late"], "additionalProperties": False}


def image_request(**extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is on this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]} | extra


@pytest_asyncio.fixture
async def cloud(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    kind, model = request.param
    built = await build_backend(kind, model=model)
    try:
        yield built
    finally:
        await built.aclose()
        await built.emulator.stop()


CLAUDE = ("bedrock", "anthropic.claude-sonnet-4-5-20250929-v1:0")
GEMINI_25 = ("vertex", "gemini-2.5-flash")
GEMINI_3 = ("vertex", "gemini-3-pro-preview")


@pytest.mark.parametrize("cloud", [CLAUDE, GEMINI_25], indirect=True, ids=["bedrock", "vertex"])
async def test_a_data_url_image_reaches_the_model(cloud: Backend) -> None:
    answer = await cloud.complete(image_request())
    assert answer["choices"][0]["message"]["content"].endswith("reply to: What is on this picture? [1 image]")
    chunks = await cloud.stream(image_request())
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text.endswith("[1 image]")


@pytest.mark.parametrize("cloud", [CLAUDE, GEMINI_25], indirect=True, ids=["bedrock", "vertex"])
async def test_a_remote_image_url_is_refused_without_a_call(cloud: Backend) -> None:
    request = image_request()
    request["messages"][0]["content"][1]["image_url"]["url"] = "http://169.254.169.254/latest/meta-data"
    with pytest.raises(BadRequest, match="remote image URLs are not fetched by the gateway"):
        await cloud.complete(request)
    assert cloud.emulator.stats.total == 0


@pytest.mark.parametrize("cloud", [CLAUDE, GEMINI_25], indirect=True, ids=["bedrock", "vertex"])
async def test_json_schema_output_follows_the_schema(cloud: Backend) -> None:
    answer = await cloud.complete({"model": "m", "messages": [{"role": "user", "content": "Order A-1?"}],
                                   "response_format": {"type": "json_schema", "json_schema": {
                                       "name": "status", "schema": SCHEMA, "strict": True}}})
    value = json.loads(answer["choices"][0]["message"]["content"])
    assert set(value) == {"order", "late"} and value["late"] is True and isinstance(value["order"], str)


@pytest.mark.parametrize("cloud", [GEMINI_25], indirect=True, ids=["vertex"])
async def test_audio_reaches_gemini_as_inline_data(cloud: Backend) -> None:
    answer = await cloud.complete({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Transcribe this"},
        {"type": "input_audio", "input_audio": {"data": WAV, "format": "wav"}}]}]})
    assert "reply to: Transcribe this" in answer["choices"][0]["message"]["content"]


@pytest.mark.parametrize("cloud", [GEMINI_3], indirect=True, ids=["vertex"])
async def test_thought_signatures_round_trip_through_tool_calls(cloud: Backend) -> None:
    ask = {"model": "m", "tools": [WEATHER], "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    first = (await cloud.complete(ask))["choices"][0]["message"]
    (call,) = first["tool_calls"]
    assert call["extra_content"]["google"]["thought_signature"]
    result = {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}
    second = await cloud.complete(ask | {"messages": [*ask["messages"], first, result]})
    assert "tool result: sunny" in second["choices"][0]["message"]["content"]
    streamed = await cloud.stream(ask)
    (delta,) = [c for c in streamed if c["choices"] and c["choices"][0]["delta"].get("tool_calls")]
    assert delta["choices"][0]["delta"]["tool_calls"][0]["extra_content"] == call["extra_content"]


@pytest.mark.parametrize("cloud", [GEMINI_3], indirect=True, ids=["vertex"])
async def test_a_tool_history_gemini_did_not_write_is_still_taken(cloud: Backend) -> None:
    """A conversation that failed over from another backend carries no signature: without the
    skip value Gemini 3 refuses it (the emulator does, like the service)."""
    foreign = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]}
    answer = await cloud.complete({"model": "m", "tools": [WEATHER], "messages": [
        {"role": "user", "content": "Weather in Rome?"}, foreign,
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "rain"}]})
    assert "tool result: rain" in answer["choices"][0]["message"]["content"]


async def test_gemini_3_refuses_an_unsigned_function_call_sent_by_the_real_sdk() -> None:
    from google import genai
    from google.genai import errors, types
    from google.oauth2.credentials import Credentials

    async with VertexAIEmulator(access_token=VERTEX_TOKEN) as emulator:
        client = genai.Client(vertexai=True, project="acme-prod", location="europe-west4",
                              credentials=Credentials(token=VERTEX_TOKEN),  # type: ignore[no-untyped-call]
                              http_options=types.HttpOptions(base_url=emulator.base_url, api_version="v1"))
        contents = [types.Content(role="user", parts=[types.Part(text="Weather in Rome?")]),
                    types.Content(role="model", parts=[types.Part(function_call=types.FunctionCall(
                        name="get_weather", args={"city": "Rome"}))]),
                    types.Content(role="user", parts=[types.Part(function_response=types.FunctionResponse(
                        name="get_weather", response={"content": "rain"}))])]
        with pytest.raises(errors.ClientError, match="missing a `thought_signature`"):
            await client.aio.models.generate_content(model="gemini-3-pro-preview", contents=contents)
        image = types.Part(inline_data=types.Blob(mime_type="image/png", data=base64.b64decode(PNG)))
        question = types.Content(role="user", parts=[types.Part(text="What?"), image])
        answer = await client.aio.models.generate_content(model="gemini-3-pro-preview", contents=[question])
        assert answer.text is not None and answer.text.endswith("[1 image]")
        await client.aio.aclose()


@pytest.mark.parametrize("cloud", [GEMINI_25], indirect=True, ids=["vertex"])
async def test_thinking_tokens_count_in_completion_tokens(cloud: Backend) -> None:
    usage = (await cloud.complete({"model": "m", "messages": [{"role": "user", "content": "hi"}]}))["usage"]
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 7}
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens"] > 7


@pytest.mark.parametrize("cloud", [GEMINI_25], indirect=True, ids=["vertex"])
async def test_a_stream_with_two_candidates_keeps_both(cloud: Backend) -> None:
    chunks = await cloud.stream({"model": "m", "n": 2, "stream_options": {"include_usage": True},
                                 "messages": [{"role": "user", "content": "Say hi"}]})
    texts: dict[int, str] = {}
    finishes: dict[int, str] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + (choice["delta"].get("content") or "")
            if choice["finish_reason"]:
                finishes[choice["index"]] = choice["finish_reason"]
    assert set(texts) == {0, 1} and texts[0] == texts[1] and texts[0].endswith("reply to: Say hi")
    assert finishes == {0: "stop", 1: "stop"} and chunks[-1]["usage"]["completion_tokens"] > 0


def _sent_by_boto3(params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body boto3 sends for ``converse(**params)`` (captured before it leaves)."""
    import boto3

    client = boto3.client("bedrock-runtime", region_name="eu-central-1", aws_access_key_id=AWS_KEY_ID,
                          aws_secret_access_key=AWS_SECRET)
    captured: list[bytes] = []

    def capture(request: Any, **_: Any) -> None:
        captured.append(request.body)
        raise RuntimeError("captured")

    client.meta.events.register("before-send.bedrock-runtime.Converse", capture)
    with pytest.raises(RuntimeError, match="captured"):
        client.converse(**params)
    return dict(json.loads(captured[0]))


def test_the_bedrock_wire_form_is_what_boto3_sends() -> None:
    body = to_converse(image_request(tools=[WEATHER | {"function": WEATHER["function"] | {"strict": True}}],
                                     response_format={"type": "json_schema", "json_schema": {
                                         "name": "status", "description": "d", "schema": SCHEMA}}))
    params = json.loads(json.dumps(body))
    params["messages"][0]["content"][1]["image"]["source"]["bytes"] = base64.b64decode(PNG)
    assert _sent_by_boto3(params | {"modelId": "m"}) == body


async def test_the_bedrock_emulator_takes_what_boto3_sends_and_refuses_a_bad_image() -> None:
    import asyncio

    import boto3
    from botocore.config import Config

    async with BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET, region="eu-central-1") as emu:
        client = boto3.client("bedrock-runtime", region_name="eu-central-1", endpoint_url=emu.base_url,
                              aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET,
                              config=Config(retries={"total_max_attempts": 1}))
        image = {"format": "png", "source": {"bytes": base64.b64decode(PNG)}}
        message = {"role": "user", "content": [{"text": "What?"}, {"image": image}]}
        output = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": {
            "schema": json.dumps(SCHEMA), "name": "status"}}}}
        answer = await asyncio.to_thread(client.converse, modelId="m", messages=[message], outputConfig=output)
        value = json.loads(answer["output"]["message"]["content"][0]["text"])
        assert value == {"order": "[bedrock:m] reply to: What? [1 image]", "late": True}
        message["content"][1]["image"]["format"] = "tiff"
        with pytest.raises(client.exceptions.ValidationException, match="format"):
            await asyncio.to_thread(client.converse, modelId="m", messages=[message])
