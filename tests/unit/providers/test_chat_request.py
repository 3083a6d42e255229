"""Parsing OpenAI chat-completions bodies: every field kept, every mistake named."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airoute.providers import BadRequest, ForcedTool, ResponseFormat, parse_request, request_to_openai

FULL: dict[str, Any] = {
    "model": "support-chat",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Use tools."},
        {"role": "user", "content": [{"type": "text", "text": "Hi"},
                                     {"type": "image_url", "image_url": {"url": "https://x/y.png"}}],
         "name": "ana"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "lookup", "arguments": "{\"q\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
    ],
    "stream": True, "stream_options": {"include_usage": True},
    "temperature": 0.5, "top_p": 0.9, "max_tokens": 100, "max_completion_tokens": 80,
    "stop": ["END"], "n": 1, "seed": 42, "presence_penalty": 0.1, "frequency_penalty": -0.1,
    "logprobs": True, "top_logprobs": 2, "logit_bias": {"123": -5},
    "tools": [{"type": "function", "function": {
        "name": "lookup", "description": "Look up", "parameters": {"type": "object"},
        "strict": False}}],
    "tool_choice": {"type": "function", "function": {"name": "lookup"}},
    "parallel_tool_calls": True,
    "response_format": {"type": "json_schema", "json_schema": {
        "name": "answer", "schema": {"type": "object"}, "strict": True}},
    "user": "u-1", "metadata": {"team": "support"}, "store": False,
}


def test_full_request_round_trips() -> None:
    req = parse_request(FULL)
    assert req.stream and req.include_usage
    assert req.token_limit == 80
    assert req.stop == ("END",)
    assert req.tool_choice == ForcedTool("lookup")
    assert req.response_format == ResponseFormat("json_schema", "answer", {"type": "object"}, True)
    assert req.messages[2].text == "Hi" and len(req.messages[2].non_text_parts) == 1
    assert req.messages[3].tool_calls[0].arguments_object() == {"q": 1}
    assert req.extra == {"metadata": {"team": "support"}, "store": False}
    out = request_to_openai(req)
    assert out == FULL | {"temperature": 0.5, "top_p": 0.9}
    assert parse_request(json.dumps(out).encode()) == req


def test_to_openai_replaces_model_and_stop_string_becomes_list() -> None:
    req = parse_request({"model": "a", "messages": [{"role": "user", "content": "x"}],
                             "stop": "\n"})
    assert request_to_openai(req, "backend-model") == {
        "model": "backend-model", "messages": [{"role": "user", "content": "x"}], "stop": ["\n"]}


@pytest.mark.parametrize(("change", "message"), [
    ({"model": ""}, "model: is required"),
    ({"messages": []}, "messages: must be a non-empty array"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role: must be one of"),
    ({"messages": [{"role": "function", "content": "x"}]}, "'function' is deprecated"),
    ({"messages": [{"role": "user"}]}, "messages[0].content: is required"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "tool_call_id: is required for role tool"),
    ({"messages": [{"role": "user", "content": [{"type": "video"}]}]},
     "messages[0].content[0].type: must be one of"),
    ({"messages": [{"role": "user", "content": "x", "tool_calls": []}]}, None),
    ({"temperature": 3}, "temperature: must be a number between 0 and 2"),
    ({"temperature": True}, "temperature: must be a number"),
    ({"top_p": -0.1}, "top_p: must be a number between 0 and 1"),
    ({"max_tokens": 0}, "max_tokens: must be an integer from 1"),
    ({"n": 129}, "n: must be an integer from 1 to 128"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop: must be a string or an array of up to 4"),
    ({"stream_options": {"include_usage": True}}, "stream_options: is only allowed with stream"),
    ({"top_logprobs": 3}, "top_logprobs: requires logprobs: true"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]},
     "tools[0].function.name: must be 1-64 letters"),
    ({"tool_choice": "auto"}, "tool_choice: is only allowed when tools are specified"),
    ({"tools": [{"type": "function", "function": {"name": "a"}}],
      "tool_choice": {"type": "function", "function": {"name": "b"}}},
     "tool_choice.function.name: 'b' is not one of the tools"),
    ({"response_format": {"type": "yaml"}}, "response_format.type: must be text, json_object"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema: must be"),
    ({"functions": []}, "functions: is deprecated and not supported; use tools"),
])
def test_invalid_fields_are_named(change: dict[str, Any], message: str | None) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]} | change
    if message is None:
        parse_request(body)
        return
    with pytest.raises(BadRequest) as caught:
        parse_request(body)
    assert message in str(caught.value)
    assert caught.value.status == 400


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", "null"])
def test_body_must_be_a_json_object(raw: bytes | str) -> None:
    with pytest.raises(BadRequest, match="JSON"):
        parse_request(raw)


@given(st.lists(st.text(min_size=1), min_size=1, max_size=5), st.floats(0, 2), st.booleans())
def test_simple_requests_round_trip(texts: list[str], temperature: float, stream: bool) -> None:
    body: dict[str, Any] = {"model": "m", "temperature": temperature,
                            "messages": [{"role": "user", "content": t} for t in texts]}
    if stream:
        body["stream"] = True
    assert request_to_openai(parse_request(body)) == body


_ROLES = st.sampled_from(["system", "developer", "user", "assistant"])
_ESSENTIAL_BODIES = st.fixed_dictionaries(
    {"model": st.text(min_size=1, max_size=8),
     "messages": st.lists(st.fixed_dictionaries({"role": _ROLES, "content": st.text(max_size=12)}),
                          min_size=1, max_size=4)},
    optional={"stream": st.booleans()},
)


@given(_ESSENTIAL_BODIES)
def test_a_body_without_options_reads_as_the_full_reading_does(body: dict[str, Any]) -> None:
    """parse_request skips reading the options of a body that has none: the request is the one
    the full reading gives for it (every option at its default)."""
    from airoute.providers.request_codec import _with_options

    assert parse_request(body) == _with_options(body, body["model"], body["messages"], body.get("stream", False))
    assert parse_request(body) == parse_request(body | {"user": None})  # a null option takes the full reading


_MESSAGES = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool", "function", "robot"])},
    optional={"content": st.one_of(
        st.none(), st.text(max_size=6), st.integers(),
        st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=4)}), max_size=2)),
              "name": st.one_of(st.none(), st.text(max_size=4)), "tool_call_id": st.text(max_size=4)},
)


@given(_MESSAGES)
def test_a_plain_message_reads_as_the_full_reading_does(message: dict[str, Any]) -> None:
    """A message of only a role and a string content is read at once; any message reads (or is
    refused, naming the same field) as the full reading of the same message does."""
    from types import MappingProxyType

    from airoute.providers.request_codec import _message

    def read(value: Any) -> Any:
        try:
            return _message(value, 0)
        except BadRequest as exc:
            return str(exc)

    assert read(message) == read(MappingProxyType(message))  # not a dict: the full reading


def test_a_plain_request_is_the_constructed_one_and_frozen() -> None:
    from dataclasses import FrozenInstanceError, fields

    from airoute.providers.request import ChatRequest, Message

    messages = (Message("user", "hi"),)
    plain, built = ChatRequest.plain("m", messages, True), ChatRequest("m", messages, True)
    names = [f.name for f in fields(ChatRequest)]
    assert [getattr(plain, name) for name in names] == [getattr(built, name) for name in names]
    assert plain.extra is not ChatRequest.plain("m", messages).extra  # each its own, like default_factory
    with pytest.raises(FrozenInstanceError):
        plain.model = "other"  # type: ignore[misc]


def test_any_other_key_takes_the_full_reading() -> None:
    essential = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert parse_request(essential | {"metadata": {"a": 1}}).extra == {"metadata": {"a": 1}}
    assert parse_request(essential | {"temperature": 0.5}).temperature == 0.5
    with pytest.raises(BadRequest, match="stream_options"):
        parse_request(essential | {"stream_options": {"include_usage": True}})
