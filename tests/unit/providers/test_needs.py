"""Reading what a request needs: every feature from its request shape, and the byte scan of plain
bodies agreeing with the walk over the parsed body."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airoute.providers.capabilities import Feature, features_in
from airoute.providers.needs import PLAIN_KEYS, needs_of, read_needs

F = Feature
USER = {"role": "user", "content": "hi"}
TOOL = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "chat", "messages": [USER]} | fields


def image(url: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                        {"type": "image_url", "image_url": {"url": url}}]}


CASES: list[tuple[str, dict[str, Any], set[Feature]]] = [
    ("plain", body(), set()),
    ("sampling", body(temperature=1, top_p=0.5, max_tokens=5, stop=["x"], user="u", stream=True,
                      stream_options={"include_usage": True}), set()),
    ("system and text parts", body(messages=[{"role": "system", "content": "s"}, {"role": "developer", "content": "d"},
                                             {"role": "user", "content": [{"type": "text", "text": "t"}]}]), set()),
    ("data image", body(messages=[image("data:image/png;base64,iVBORw0KGgo=")]), {F.IMAGE_DATA}),
    ("DATA image", body(messages=[image("DATA:image/png;base64,iVBORw0KGgo=")]), {F.IMAGE_DATA}),
    ("remote image", body(messages=[image("https://example.com/cat.png")]), {F.IMAGE_URL}),
    ("audio", body(messages=[{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]), {F.AUDIO}),
    ("file", body(messages=[{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]), {F.FILE}),
    ("tools", body(tools=[TOOL]), {F.TOOLS}),
    ("empty tools", body(tools=[]), set()),
    ("streamed tools", body(tools=[TOOL], stream=True), {F.TOOLS, F.TOOLS_STREAM}),
    ("strict tools", body(tools=[{"type": "function", "function": {"name": "f", "strict": True}}]),
     {F.TOOLS, F.STRICT_TOOLS}),
    ("tool history", body(messages=[USER, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"}]), {F.TOOLS}),
    ("tool_choice auto", body(tools=[TOOL], tool_choice="auto"), {F.TOOLS}),
    ("tool_choice required", body(tools=[TOOL], tool_choice="required"), {F.TOOLS, F.TOOL_CHOICE}),
    ("forced tool", body(tools=[TOOL], tool_choice={"type": "function", "function": {"name": "f"}}),
     {F.TOOLS, F.TOOL_CHOICE}),
    ("serial tools", body(tools=[TOOL], parallel_tool_calls=False), {F.TOOLS, F.SERIAL_TOOLS}),
    ("parallel tools", body(tools=[TOOL], parallel_tool_calls=True), {F.TOOLS}),
    ("json mode", body(response_format={"type": "json_object"}), {F.JSON_MODE}),
    ("text format", body(response_format={"type": "text"}), set()),
    ("json schema", body(response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}),
     {F.JSON_SCHEMA}),
    ("n=2", body(n=2), {F.CHOICES}),
    ("n=1", body(n=1), set()),
    ("seed", body(seed=0), {F.SEED}),
    ("logprobs", body(logprobs=True, top_logprobs=2), {F.LOGPROBS}),
    ("logprobs off", body(logprobs=False), set()),
    ("logit_bias", body(logit_bias={"50256": -100}), {F.LOGIT_BIAS}),
    ("penalties", body(presence_penalty=0.5), {F.PENALTIES}),
    ("zero penalties", body(presence_penalty=0, frequency_penalty=0.0), set()),
    ("hot", body(temperature=1.2), {F.HOT_TEMPERATURE}),
    ("extras", body(reasoning_effort="low", metadata={"a": "b"}), {F.OPENAI_PARAMS}),
    ("unknown part", body(messages=[{"role": "user", "content": [{"type": "input_video", "video": "x"}]}]),
     {F.OPENAI_PARAMS}),
]


@pytest.mark.parametrize(("name", "request_body", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_feature_is_read_from_its_request_shape(name: str, request_body: dict[str, Any],
                                                     expected: set[Feature]) -> None:
    assert set(features_in(needs_of(request_body).mask)) == expected
    read = read_needs(json.dumps(request_body).encode())
    assert set(features_in(read.mask)) == expected


def test_extra_parameters_are_named() -> None:
    needs = needs_of(body(reasoning_effort="low", metadata={}))
    assert needs.params == ("metadata", "reasoning_effort")


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
@pytest.mark.parametrize("indent", [None, 2])
def test_plain_bodies_are_read_without_parsing(separators: tuple[str, str], indent: int | None) -> None:
    plain = body(messages=[{"role": "system", "content": "Answer briefly."},
                           {"role": "user", "content": [{"type": "text", "text": "hi"}], "name": "ann"}],
                 temperature=0.7, top_p=1, max_tokens=64, stream=True, stream_options={"include_usage": True})
    needs = read_needs(json.dumps(plain, separators=separators, indent=indent).encode())
    assert needs.mask == 0 and needs.parsed is None


@pytest.mark.parametrize("text", ['say "tools": now', 'a \\": b', "x" * 5000 + '"seed":1'])
def test_a_key_lookalike_inside_a_string_only_costs_a_parse(text: str) -> None:
    needs = read_needs(json.dumps(body(messages=[{"role": "user", "content": text}])).encode())
    assert needs.mask == 0 and needs.parsed is not None


def test_the_parsed_body_is_handed_on_and_an_already_parsed_body_is_not_parsed_again() -> None:
    parsed = body(seed=3)
    needs = read_needs(b"not even json", parsed)
    assert needs.mask == F.SEED.mask and needs.parsed is parsed


@pytest.mark.parametrize("raw", [b"not json", b"[1]", b'{"model": "m", "tools": [', b'"\\'])
def test_bodies_that_are_not_json_objects_need_nothing(raw: bytes) -> None:
    assert read_needs(raw).mask == 0


# --- the byte scan agrees with the walk over the parsed body --------------------------------

_TEXT = st.text(st.sampled_from('ab :"\\,{}[]é\n'), max_size=12)
_KEY = st.text(st.sampled_from("abcdeilmnopstuy_-"), min_size=1, max_size=8)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-1, 3, allow_nan=False), _TEXT)
_PART = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": _TEXT}),
    st.fixed_dictionaries({"type": st.just("image_url"),
                           "image_url": st.fixed_dictionaries({"url": st.sampled_from(["data:x", "https://x"])})}),
    st.fixed_dictionaries({"type": st.sampled_from(["input_audio", "file", "refusal", "input_video"])}),
)
_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"]),
     "content": st.one_of(_TEXT, st.lists(_PART, max_size=3))},
    optional={"name": _TEXT, "tool_call_id": _TEXT,
              "tool_calls": st.lists(st.fixed_dictionaries({"id": _TEXT}), max_size=1)},
)
_TOP = st.fixed_dictionaries(
    {"model": _TEXT, "messages": st.lists(_MESSAGE, min_size=1, max_size=3)},
    optional={
        "temperature": st.one_of(st.floats(0, 2, allow_nan=False), st.integers(0, 2)),
        "top_p": st.floats(0, 1), "max_tokens": st.integers(1, 9), "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}), "user": _TEXT,
        "stop": st.lists(_TEXT, max_size=2), "n": st.integers(1, 3), "seed": st.integers(0, 9),
        "logprobs": st.booleans(), "presence_penalty": st.floats(-2, 2), "parallel_tool_calls": st.booleans(),
        "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
            {"name": _KEY}, optional={"strict": st.booleans()})}), max_size=2),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "response_format": st.fixed_dictionaries({"type": st.sampled_from(["text", "json_object", "json_schema"])}),
    },
)
_EXTRA = st.dictionaries(_KEY.filter(lambda k: k not in PLAIN_KEYS), _SCALAR, max_size=2)


@given(_TOP, _EXTRA, st.sampled_from([(",", ":"), (", ", ": ")]), st.sampled_from([None, 1]), st.booleans())
@example({"model": "m", "messages": [{"role": "user", "content": 'x\\":'}]}, {}, (",", ":"), None, True)
@example({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 1.5}, {}, (",", ":"), None,
         True)
def test_the_byte_scan_agrees_with_the_parsed_walk(top: dict[str, Any], extra: dict[str, Any],
                                                   separators: tuple[str, str], indent: int | None,
                                                   ascii_only: bool) -> None:
    request_body = extra | top
    raw = json.dumps(request_body, separators=separators, indent=indent, ensure_ascii=ascii_only).encode()
    read, walked = read_needs(raw), needs_of(request_body)
    assert (read.mask, read.params) == (walked.mask, walked.params)
