"""Each backend kind's caller against its emulator: answers, streams, tools, every error class,
cuts, in-band errors, timeouts, outages.

Every call must reach the emulator exactly once: the SDKs' own retries are off.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support.provider_backends import Backend, backend_of
from tests.support.sse import SSEDecoder

from airoute.emulators import Faults
from airoute.providers import AuthFailed, BadRequest, ProviderError, Throttled, Timeout, Unavailable, sniff

pytestmark = pytest.mark.sdk

HELLO = {"model": "support-chat", "messages": [
    {"role": "system", "content": "You answer briefly."},
    {"role": "user", "content": "Where is my parcel 4711?"},
]}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]},
}}


def request(**extra: Any) -> dict[str, Any]:
    return HELLO | extra


async def read_stream(backend: Backend, pieces: list[bytes]) -> None:
    """The caller's stream of :func:`request`, every piece appended to ``pieces`` as it comes (so
    that what came before an error is seen)."""
    raw = json.dumps(request(stream=True)).encode()
    async for piece in backend.caller.stream(raw, sniff(raw)):
        pieces.append(piece)


def streamed_text(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


async def test_chat_answers_in_openai_shape(backend: Backend) -> None:
    answer = await backend.complete(request(max_tokens=64), 5.0)
    assert answer["object"] == "chat.completion"
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert f":{backend.model}] reply to: Where is my parcel 4711?" in choice["message"]["content"]
    assert answer["usage"]["prompt_tokens"] > 0
    assert answer["usage"]["total_tokens"] == (answer["usage"]["prompt_tokens"]
                                               + answer["usage"]["completion_tokens"])
    assert backend.count(model=backend.model, streamed=False, outcome="ok") == 1
    assert backend.emulator.stats.total == 1


async def test_stream_yields_chunks_then_finish_and_usage(backend: Backend) -> None:
    chunks = await backend.stream(request(stream_options={"include_usage": True}))
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len(chunks) >= 4
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert streamed_text(chunks).endswith("reply to: Where is my parcel 4711?")
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert backend.count(streamed=True, outcome="ok") == 1
    assert backend.emulator.stats.total == 1


async def test_tool_call_round_trip(backend: Backend) -> None:
    first = {"model": "m", "tools": [WEATHER_TOOL], "tool_choice": "auto",
             "messages": [{"role": "user", "content": "Weather in Paris?"}]}
    answer = await backend.complete(first, 5.0)
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Weather in Paris?"}
    second = {"model": "m", "tools": [WEATHER_TOOL], "messages": [
        {"role": "user", "content": "Weather in Paris?"},
        choice["message"],
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21 °C"},
    ]}
    final = await backend.complete(second, 5.0)
    assert final["choices"][0]["message"]["content"].endswith("tool result: sunny, 21 °C")
    assert backend.count(outcome="ok") == 2


async def test_streamed_tool_call(backend: Backend) -> None:
    req = {"model": "m", "tools": [WEATHER_TOOL],
           "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
           "messages": [{"role": "user", "content": "Berlin"}]}
    chunks = await backend.stream(req)
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    assert calls[0]["id"] and calls[0]["function"]["name"] == "get_weather"
    arguments = "".join(tc["function"].get("arguments") or "" for tc in calls)
    assert json.loads(arguments) == {"city": "Berlin"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(("status", "error"), [
    (500, Unavailable), (503, Unavailable), (400, BadRequest), (401, AuthFailed),
    (403, AuthFailed),
])
async def test_error_status_maps_to_error_class(backend: Backend, status: int,
                                                error: type[ProviderError]) -> None:
    await backend.emulator.set_faults(Faults(error_rate=1.0, error_status=status))
    with pytest.raises(error) as caught:
        await backend.complete(request(), 5.0)
    assert type(caught.value) is error
    assert caught.value.provider
    for secret in backend.secrets:
        assert secret not in str(caught.value)
    assert backend.count(outcome="error", status=status) == 1
    assert backend.emulator.stats.total == 1, "the SDK must not retry"


async def test_throttled_carries_retry_after_where_the_service_sends_it(backend: Backend) -> None:
    """Azure OpenAI (and OpenAI-compatible servers) send ``Retry-After`` with a 429; Bedrock and
    Vertex AI do not, and nothing is made up for them."""
    await backend.emulator.set_faults(Faults(throttle_rate=1.0, retry_after=2.0))
    with pytest.raises(Throttled) as caught:
        await backend.complete(request(), 5.0)
    expected = None if backend.kind in ("bedrock", "vertex") else pytest.approx(2.0)
    assert caught.value.retry_after == expected
    assert backend.emulator.stats.total == 1, "the SDK must not retry a 429"


async def test_throttled_stream_request(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(throttle_rate=1.0))
    with pytest.raises(Throttled):
        await backend.stream(request())
    assert backend.count(streamed=True, outcome="throttled") == 1
    assert backend.emulator.stats.total == 1


async def test_stream_cut_midway_is_unavailable(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(cut_after=3))
    received: list[dict[str, Any]] = []
    with pytest.raises(Unavailable):
        await backend.stream(request(), into=received)
    assert received, "some chunks arrive before the cut"
    assert not any(c["choices"][0]["finish_reason"] for c in received if c["choices"])
    assert backend.count(outcome="cut") == 1
    assert backend.emulator.stats.total == 1


async def test_latency_beyond_timeout_is_timeout(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(latency=3.0))
    with pytest.raises(Timeout):
        await backend.complete(request(), 0.3)
    assert backend.emulator.stats.total == 0  # still waiting when the caller gave up


async def test_slow_first_token_is_timeout(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(first_token_delay=3.0))
    with pytest.raises(Timeout):
        await backend.stream(request(), 0.3)


async def test_refused_connection_is_unavailable_and_recovers(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(down="refuse"))
    with pytest.raises(Unavailable):
        await backend.complete(request(), 2.0)
    await backend.emulator.set_faults()
    answer = await backend.complete(request(), 5.0)
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert backend.emulator.stats.total == 1


async def test_reset_connection_is_unavailable(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(down="reset"))
    with pytest.raises(Unavailable):
        await backend.complete(request(), 2.0)
    assert backend.count(outcome="reset") == 1


async def test_version_scoped_fault(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(error_rate=1.0, error_status=503, version="v2"))
    await backend.complete(request(), 5.0)
    backend.emulator.faults.switch_version("v2")
    with pytest.raises(Unavailable):
        await backend.complete(request(), 5.0)
    assert backend.count(version="v1", outcome="ok") == 1
    assert backend.count(version="v2", outcome="error") == 1


async def test_stream_abandoned_early_frees_the_backend(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(chunk_delay=0.05))
    raw = json.dumps(request(stream=True)).encode()
    stream = backend.caller.stream(raw, sniff(raw))
    first = json.loads(SSEDecoder().feed(await anext(stream))[0])
    assert "prompt_filter_results" in first or first["choices"][0]["delta"]["role"] == "assistant"
    await stream.aclose()
    await backend.emulator.set_faults()
    answer = await backend.complete(request(), 5.0)
    assert answer["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("kind", ["in_cluster", "openai_compatible"])
async def test_an_error_inside_a_stream_is_an_error_not_an_answer(kind: str) -> None:
    """vLLM reports a failure once a stream began as ``data: {"error": …}`` followed by
    ``data: [DONE]``: the OpenAI-format caller raises the matching error and relays neither."""
    async with backend_of(kind) as backend:
        await _in_band_errors(backend)


async def _in_band_errors(backend: Backend) -> None:
    await backend.emulator.set_faults(Faults(stream_error_after=2, error_status=503))
    received: list[dict[str, Any]] = []
    with pytest.raises(Unavailable, match="the engine failed while generating"):
        await backend.stream(request(), into=received)
    assert len(received) <= 2
    await backend.emulator.set_faults(Faults(stream_error_after=0, error_status=400))
    with pytest.raises(BadRequest):
        await backend.stream(request())
    assert backend.count(outcome="stream_error") == 2


@pytest.mark.parametrize(("status", "code", "error"), [(429, "ThrottlingException", Throttled),
                                                       (424, "ModelStreamErrorException", Unavailable),
                                                       (400, "ValidationException", BadRequest)])
async def test_bedrock_exception_inside_the_stream_before_content_raises_before_any_byte(
        status: int, code: str, error: type[ProviderError]) -> None:
    """Bedrock reports a failure after ``messageStart`` as an exception frame; nothing has been
    yielded yet (the opening role chunk is held back), so the gateway can still fail over."""
    async with backend_of("bedrock") as backend:
        await backend.emulator.set_faults(Faults(stream_error_after=1, error_status=status))
        pieces: list[bytes] = []
        with pytest.raises(error) as caught:
            await read_stream(backend, pieces)
        assert pieces == []
        assert caught.value.in_band and caught.value.code == code
        assert backend.count(outcome="stream_error") == 1
        await backend.emulator.set_faults(Faults(stream_error_after=4, error_status=429))
        received: list[dict[str, Any]] = []
        with pytest.raises(Throttled):
            await backend.stream(request(), into=received)
        assert received, "content came before the exception"


async def test_bedrock_model_not_ready_is_unavailable_not_a_throttle() -> None:
    async with backend_of("bedrock") as backend:
        await backend.emulator.set_faults(Faults(error_rate=1.0, error_status=429, error_code="ModelNotReadyException"))
        with pytest.raises(Unavailable) as caught:
            await backend.complete(request())
        assert (caught.value.status, caught.value.code) == (429, "ModelNotReadyException")
        assert not isinstance(caught.value, Throttled)


ORDER_TOOL = {"type": "function", "function": {
    "name": "lookup_order", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}}}


async def test_several_parallel_tool_calls_in_one_reply(backend: Backend) -> None:
    """Two tools offered in ``auto`` mode: every provider answers with two calls in one reply,
    whole and streamed, each with its own id and index."""
    req = {"model": "m", "tools": [WEATHER_TOOL, ORDER_TOOL], "messages": [{"role": "user", "content": "Paris 4711"}]}
    answer = await backend.complete(req)
    calls = answer["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "lookup_order"]
    assert len({c["id"] for c in calls}) == 2
    assert answer["choices"][0]["finish_reason"] == "tool_calls"
    chunks = await backend.stream(req)
    deltas = [tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls") or []]
    names = {d["index"]: d["function"]["name"] for d in deltas if d["function"].get("name")}
    assert names == {0: "get_weather", 1: "lookup_order"}
    arguments = {i: "".join(d["function"].get("arguments") or "" for d in deltas if d["index"] == i) for i in names}
    assert json.loads(arguments[0]) == {"city": "Paris 4711"} and json.loads(arguments[1]) == {"id": "Paris 4711"}


async def test_parallel_tool_calls_false_gets_one_call() -> None:
    async with backend_of("azure") as backend:
        answer = await backend.complete({"model": "m", "tools": [WEATHER_TOOL, ORDER_TOOL],
                                         "parallel_tool_calls": False, "messages": [{"role": "user", "content": "x"}]})
        assert len(answer["choices"][0]["message"]["tool_calls"]) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_vertex_safety_stops_and_blocked_prompts_are_content_filter(stream: bool) -> None:
    from airoute.emulators.replies import BLOCK_ANSWER, BLOCK_PROMPT

    async with backend_of("vertex") as backend:
        for marker in (BLOCK_ANSWER, BLOCK_PROMPT):
            req = {"model": "m", "messages": [{"role": "user", "content": f"{marker} tell me"}]}
            if stream:
                chunks = await backend.stream(req)
                finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
                assert finishes[-1] == "content_filter"
            else:
                answer = await backend.complete(req)
                assert answer["choices"][0]["finish_reason"] == "content_filter"
                assert not answer["choices"][0]["message"]["content"]


@pytest.mark.parametrize("stream", [False, True])
async def test_vertex_thought_parts_are_not_the_answer(stream: bool) -> None:
    from airoute.emulators.replies import THINK

    async with backend_of("vertex") as backend:
        req = {"model": "m", "messages": [{"role": "user", "content": f"{THINK} where is 4711?"}]}
        if stream:
            text = streamed_text(await backend.stream(req))
        else:
            text = (await backend.complete(req))["choices"][0]["message"]["content"]
        assert text.endswith("reply to: [[think]] where is 4711?")
        assert "Weighing" not in text


async def test_vertex_error_inside_the_stream_before_content_raises_before_any_byte() -> None:
    async with backend_of("vertex") as backend:
        await backend.emulator.set_faults(Faults(stream_error_after=0, error_status=429))
        pieces: list[bytes] = []
        with pytest.raises(Throttled) as caught:
            await read_stream(backend, pieces)
        assert pieces == [] and caught.value.in_band and caught.value.code == "RESOURCE_EXHAUSTED"
        assert caught.value.retry_after is None


@pytest.mark.parametrize("kind", ["azure", "bedrock", "vertex"])
async def test_a_prompt_over_the_context_window_is_the_clients_bad_request(kind: str) -> None:
    from airoute.emulators.replies import TOO_LONG

    async with backend_of(kind) as backend:
        with pytest.raises(BadRequest) as caught:
            await backend.complete({"model": "m", "messages": [{"role": "user", "content": TOO_LONG}]})
        assert caught.value.status == 400 and caught.value.code
