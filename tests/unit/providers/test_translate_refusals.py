"""What a provider cannot honour is refused with a clear 400, never dropped silently."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from airoute.providers import BadRequest
from airoute.providers.translate.openai_to_bedrock import to_converse
from airoute.providers.translate.openai_to_vertex import to_generate_content

USER = [{"role": "user", "content": "hi"}]
TOOL: dict[str, Any] = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
IMAGE = [{"role": "user", "content": [
    {"type": "text", "text": "what is this?"},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]

PNG = "data:image/png;base64,iVBORw0KGgo="


def image(url: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


Translate = Callable[[dict[str, Any]], dict[str, Any]]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": USER} | fields


@pytest.mark.parametrize(("fields", "message"), [
    ({"n": 2}, "n: only one choice (n=1) can be generated on bedrock"),
    ({"seed": 1}, "seed: a seed is not supported on bedrock"),
    ({"logprobs": True}, "logprobs: log probabilities are not available on bedrock"),
    ({"logit_bias": {"50256": -100}}, "logit_bias: logit bias is not supported on bedrock"),
    ({"presence_penalty": 0.5}, "presence_penalty: presence penalty is not supported on bedrock"),
    ({"temperature": 1.5}, "temperature: values above 1 are not accepted on bedrock"),
    ({"response_format": {"type": "json_object"}},
     "response_format: json_object output (JSON mode without a schema) is not supported by Converse"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
     "response_format.json_schema.schema: is required by Converse on bedrock"),
    ({"tools": [TOOL], "parallel_tool_calls": False},
     "parallel_tool_calls: parallel tool calls cannot be switched off on bedrock"),
    ({"reasoning_effort": "low"}, "reasoning_effort: this parameter is not supported on bedrock"),
    ({"messages": IMAGE}, "messages[0].content[1].image_url.url: remote image URLs are not fetched by the gateway"),
    ({"messages": image("data:image/bmp;base64,Qk0=")},
     "messages[0].content[1].image_url.url: image/bmp images are not supported (png, jpeg, gif or webp)"),
    ({"messages": image("data:image/png;base64,not base64!")},
     "messages[0].content[1].image_url.url: is not valid base64 on bedrock"),
    ({"messages": image("data:image/png,iVBORw0KGgo=")},
     "messages[0].content[1].image_url.url: must be data:image/<type>;base64,<data>"),
    ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}, *USER]},
     "messages[0].content[0].type: image_url content parts are not supported in this message"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio",
                                                 "input_audio": {"data": "AAAA", "format": "wav"}}]}]},
     "messages[0].content[0].type: input_audio content parts are not supported on bedrock"),
    ({"messages": [{"role": "assistant", "content": "hello"}, *USER]},
     "messages: the conversation must start with a user message on bedrock"),
    ({"tools": [TOOL], "tool_choice": "none",
      "messages": [*USER, CALL, {"role": "tool", "tool_call_id": "c1", "content": "x"}]},
     "tool_choice: 'none' cannot be combined with earlier tool calls"),
])
def test_bedrock_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)) as err:
        to_converse(body(**fields))
    assert err.value.status == 400


@pytest.mark.parametrize(("fields", "message"), [
    ({"logprobs": True}, "logprobs: log probabilities are not available on vertex-ai"),
    ({"logprobs": True, "top_logprobs": 3}, "logprobs: log probabilities are not available"),
    ({"logit_bias": {"1": 1}}, "logit_bias: logit bias is not supported on vertex-ai"),
    ({"tools": [TOOL], "parallel_tool_calls": False}, "parallel_tool_calls: parallel tool calls"),
    ({"store": True}, "store: this parameter is not supported on vertex-ai"),
    ({"messages": IMAGE}, "messages[0].content[1].image_url.url: remote image URLs are not fetched"),
    ({"messages": image("data:image/gif;base64,R0lGOD==")},
     "messages[0].content[1].image_url.url: image/gif images are not supported"),
    ({"messages": [{"role": "user", "content": [{"type": "input_audio",
                                                 "input_audio": {"data": "AAAA", "format": "ogg"}}]}]},
     "messages[0].content[0].input_audio: must be {data: <base64>, format: wav|mp3}"),
    ({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]},
     "messages[0].content[0].type: file content parts are not supported on vertex-ai"),
    ({"messages": [*USER, {"role": "tool", "tool_call_id": "nope", "content": "x"}]},
     "messages[1].tool_call_id: does not match an earlier tool call"),
    ({"messages": [{"role": "system", "content": "only a system prompt"}]},
     "messages: at least one user or assistant message is needed"),
])
def test_vertex_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        to_generate_content(body(**fields))


def test_vertex_honours_what_bedrock_refuses() -> None:
    wire = to_generate_content(body(n=3, seed=9, presence_penalty=0.2, frequency_penalty=0.3,
                                    temperature=1.7))
    assert wire["generationConfig"] == {"candidateCount": 3, "seed": 9, "presencePenalty": 0.2,
                                        "frequencyPenalty": 0.3, "temperature": 1.7}


def test_bedrock_tool_history_without_tools_gets_a_tool_config() -> None:
    wire = to_converse(body(messages=[*USER, CALL,
                                      {"role": "tool", "tool_call_id": "c1", "content": "42"}]))
    assert wire["toolConfig"]["tools"][0]["toolSpec"]["name"] == "f"


def test_invalid_tool_arguments_are_bad_request() -> None:
    broken = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}
    for translate in (to_converse, to_generate_content):
        with pytest.raises(BadRequest, match="arguments are not valid JSON"):
            translate(body(tools=[TOOL], messages=[*USER, broken]))
