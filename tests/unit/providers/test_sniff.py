"""Reading model and stream from a request body: the fast scan and its exact fallback."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airoute.providers.sniff import SniffError, parsed_body, sniff, usage_tokens, with_model


def test_fast_path_reads_model_and_stream_and_records_the_span() -> None:
    body = b'{"messages":[{"role":"user","content":"hi"}],"model":"support-chat","stream":true}'
    s = sniff(body)
    assert (s.model, s.stream, s.parsed) == ("support-chat", True, None)
    assert s.span is not None and body[s.span[0] : s.span[1]] == b'"support-chat"'


@pytest.mark.parametrize(("stream", "expected"), [("false", False), ("null", False), ("true", True)])
def test_stream_literals(stream: str, expected: bool) -> None:
    assert sniff(f'{{"model": "m", "stream" : {stream}}}'.encode()).stream is expected


def test_no_stream_field_means_not_streamed() -> None:
    assert sniff(b'{"model":"m","messages":[]}').stream is False


def test_a_quoted_model_inside_a_prompt_is_not_a_key() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": 'say "model": "x"'}], "model": "real"}).encode()
    assert sniff(body).model == "real"


def test_a_nested_model_key_falls_back_to_a_full_parse() -> None:
    body = json.dumps({
        "model": "real",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"model": {"type": "string"}}}}}],
    }).encode()
    s = sniff(body)
    assert s.model == "real" and s.parsed is not None


def test_escapes_in_the_model_fall_back_to_a_full_parse() -> None:
    s = sniff(json.dumps({"model": "a\u00e9b"}, ensure_ascii=True).encode())
    assert s.model == "a\u00e9b" and s.parsed is not None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": []}', "model parameter"),
        (b'{"model": 3}', "model parameter"),
        (b'{"model": "m", "stream": "yes", "x": {"stream": 1}}', "stream must be"),
    ],
)
def test_unusable_bodies_say_why(body: bytes, message: str) -> None:
    with pytest.raises(SniffError, match=message):
        sniff(body)


def test_with_model_splices_bytes_on_the_fast_path() -> None:
    body = b'{"model":"route","messages":[{"role":"user","content":"x"}]}'
    out = with_model(body, sniff(body), "upstream/llama-3")
    assert out == b'{"model":"upstream/llama-3","messages":[{"role":"user","content":"x"}]}'


def test_with_model_reencodes_on_the_slow_path() -> None:
    body = json.dumps({"model": "r\u00e9", "messages": []}).encode()
    out = json.loads(with_model(body, sniff(body), "up"))
    assert out == {"model": "up", "messages": []}


def test_parsed_body_parses_lazily() -> None:
    body = b'{"model":"m","temperature":0.5}'
    assert parsed_body(body, sniff(body)) == {"model": "m", "temperature": 0.5}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)


@given(
    model=st.text(min_size=1, max_size=20),
    stream=st.none() | st.booleans(),
    extra=st.dictionaries(st.sampled_from(["messages", "tools", "metadata", "user"]), json_values, max_size=3),
    ascii_only=st.booleans(),
)
def test_sniff_agrees_with_json_loads(model: str, stream: bool | None, extra: dict[str, object],
                                      ascii_only: bool) -> None:
    doc: dict[str, object] = {**extra, "model": model}
    if stream is not None:
        doc["stream"] = stream
    body = json.dumps(doc, ensure_ascii=ascii_only).encode()
    s = sniff(body)
    assert (s.model, s.stream) == (model, bool(stream))
    assert json.loads(with_model(body, s, "other")) == {**doc, "model": "other"}


def test_a_nested_boolean_stream_in_a_schema_is_not_the_top_level_one() -> None:
    body = json.dumps({
        "model": "m",
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {
            "type": "object", "properties": {"stream": True}}}}],
    }).encode()
    s = sniff(body)
    assert s.stream is False and s.parsed is not None


@pytest.mark.parametrize(("data", "expected"), [
    (b'{"usage":{"prompt_tokens":12,"completion_tokens":7,"total_tokens":19}}', (12, 7)),
    (b'data: {"choices":[],"usage":{"prompt_tokens": 3, "completion_tokens": 40}}\n\n', (3, 40)),
    (b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n', (0, 0)),
])
def test_usage_tokens_of_an_answer_or_a_last_chunk(data: bytes, expected: tuple[int, int]) -> None:
    assert usage_tokens(data) == expected
    assert usage_tokens(data) == _usage_by_parsing(data)


def _usage_by_parsing(data: bytes) -> tuple[int, int]:
    usage = json.loads(data.removeprefix(b"data: ")).get("usage") or {}
    return usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)


# Issue 14.8: the model the gateway routes on is the one the upstream receives, whichever key its parser keeps.

def _top_level(body: bytes, keep: str) -> dict[str, object]:
    """The top-level object as a parser that keeps the ``first`` or the ``last`` of duplicate keys reads it."""
    def pairs(found: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in found:
            if keep == "last" or key not in out:
                out[key] = value
        return out

    return dict(json.loads(body, object_pairs_hook=pairs))


def _spell(key: str, escaped: list[bool], upper: bool) -> str:
    return "".join(f"\\u{ord(c):04{'X' if upper else 'x'}}" if e else c for c, e in zip(key, escaped, strict=False))


@pytest.mark.parametrize("body", [
    b'{"model":"cheap","\\u006dodel":"gpt-4"}',
    b'{"model":"cheap","mo\\u0064el":"gpt-4"}',
    b'{"model":"cheap","model":"gpt-4"}',
    b'{"model":"cheap","stream":false,"\\u0073tream":true}',
    b'{"model":"cheap","stream":false,"stream":true}',
])
def test_a_routed_key_given_twice_is_refused(body: bytes) -> None:
    with pytest.raises(SniffError, match="more than once"):
        sniff(body)


def test_an_escaped_top_level_key_is_read_and_not_the_plain_nested_one() -> None:
    body = b'{"\\u006dodel":"gpt-4","metadata":{"model":"cheap"}}'
    s = sniff(body)
    assert s.model == "gpt-4" and s.parsed is not None


def test_duplicates_below_the_top_level_are_none_of_the_gateways_business() -> None:
    body = b'{"model":"m","metadata":{"model":"a","model":"b"}}'
    assert sniff(body).model == "m"


@given(
    keys=st.lists(st.tuples(st.sampled_from(["model", "stream", "user"]), st.lists(st.booleans(), min_size=6,
                                                                                   max_size=6), st.booleans()),
                  min_size=1, max_size=4),
    nested=st.booleans(),
)
def test_whatever_sniff_accepts_every_parser_reads_the_same_way(
    keys: list[tuple[str, list[bool], bool]], nested: bool
) -> None:
    values = {"model": '"m%d"', "stream": "true", "user": '"u%d"'}
    parts = [f'"{_spell(k, esc, up)}":{values[k].replace("%d", str(i))}' for i, (k, esc, up) in enumerate(keys)]
    if nested:
        parts.append('"metadata":{"model":"nested","stream":false}')
    body = ("{" + ",".join(parts) + "}").encode()
    try:
        s = sniff(body)
    except SniffError:
        return
    for keep in ("first", "last"):
        seen = _top_level(body, keep)
        assert (seen.get("model"), bool(seen.get("stream"))) == (s.model, s.stream), keep
        assert _top_level(with_model(body, s, "upstream"), keep)["model"] == "upstream"
