"""Capability-aware choice: only backends that can serve a request are drawn, the weights
renormalised among them; a 400 naming features and backends when none can; a 400 from a backend
that only may take the request moves on to one that surely does."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
import yaml

from airoute.core.routetable import route_entry
from airoute.gateway import errors
from airoute.gateway.failover.choice import Choice, Pick, Slot
from airoute.gateway.failover.narrowing import narrowing
from airoute.gateway.failover.policy import Failover
from airoute.gateway.failover.route import LiveRoute, compile_route
from airoute.gateway.metrics import GatewayMetrics
from airoute.providers.capabilities import Feature
from airoute.providers.errors import BadRequest, Unavailable
from airoute.providers.sniff import sniff
from tests.support.fakes import FakeCaller, FakeReply

BLOCKS = {
    "azure": "azureOpenAI: {endpoint: 'https://a.openai.azure.com', deployment: gpt-4o, region: westeurope}",
    "claude": "bedrock: {region: eu-central-1, modelId: eu.anthropic.claude-3-5-sonnet-20240620-v1:0}",
    "titan": "bedrock: {region: eu-central-1, modelId: amazon.titan-text-premier-v1:0}",
    "gemini": "vertexAI: {project: acme-ai, location: europe-west4, model: gemini-2.5-flash}",
    "vllm": "inCluster: {service: {name: vllm}, model: llama}",
}
OK = b'{"object":"chat.completion","choices":[]}'


def route(weights: dict[str, int], extra: str = "") -> tuple[LiveRoute, dict[str, FakeCaller]]:
    backends = "".join(f"    - name: {name}\n      weight: {weight}\n      {BLOCKS[name]}\n"
                       for name, weight in weights.items())
    doc = yaml.safe_load("apiVersion: airoute.dev/v1alpha1\nkind: AIRoute\nmetadata: {name: chat, namespace: team}\n"
                         f"spec:\n  model: chat\n  backends:\n{backends}{extra}")
    callers = {name: FakeCaller([OK]) for name in weights}
    return compile_route(route_entry(doc), {(n, "stable"): c for n, c in callers.items()}), callers


def request(**fields: Any) -> bytes:
    return json.dumps({"model": "chat", "messages": [{"role": "user", "content": "hi"}]} | fields).encode()


IMAGE = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]


async def send(route: LiveRoute, body: bytes, rand: float = 0.0) -> tuple[Failover, FakeReply]:
    failover = Failover(GatewayMetrics(), rand=lambda: rand)
    reply = FakeReply()
    await failover.run(route, body, sniff(body), reply, failover.clock() + 5)  # type: ignore[arg-type]
    return failover, reply


def test_a_route_of_pass_through_backends_never_reads_needs() -> None:
    assert not route({"azure": 50, "vllm": 50})[0].reads_needs
    assert route({"azure": 50, "claude": 50})[0].reads_needs


async def test_only_backends_that_can_serve_are_drawn() -> None:
    live, callers = route({"titan": 90, "gemini": 10})
    failover, reply = await send(live, request(n=2, seed=1))  # the draw would pick titan first
    assert reply.status == 200 and callers["titan"].calls == 0 and callers["gemini"].calls == 1
    assert failover.metrics.narrowed.get(("team", "chat")) == 1


async def test_a_request_every_backend_can_serve_is_not_counted_as_narrowed() -> None:
    live, _ = route({"claude": 50, "gemini": 50})
    failover, reply = await send(live, request(tools=[{"type": "function", "function": {"name": "f"}}]))
    assert reply.status == 200 and failover.metrics.narrowed.get(("team", "chat")) == 0
    failover, _ = await send(live, request())
    assert failover.metrics.narrowed.get(("team", "chat")) == 0


def test_weights_are_renormalised_among_the_backends_left() -> None:
    live, _ = route({"titan": 50, "claude": 30, "gemini": 20})
    found = narrowing(live, Feature.IMAGE_DATA.mask)
    assert found.choice is not None and found.choice.names == ("claude", "gemini")
    firsts = Counter(next(found.choice.order(rand=lambda x=x: x))[0] for x in (i / 100 for i in range(100)))
    assert firsts == {"claude": 60, "gemini": 40}


def test_narrowing_keeps_the_capable_variant_of_a_backend() -> None:
    stable = route({"claude": 100})[0].choice.slots[0].variants[0].target
    titan = route({"titan": 100})[0].choice.slots[0].variants[0].target.capabilities
    canary = replace(stable, variant="canary", capabilities=titan)
    two = Choice((Slot("claude", 100, (Pick(80, canary), Pick(20, stable))),))
    kept = two.restricted(lambda t: t.capabilities.can_take(Feature.TOOLS.mask))
    assert kept is not None and [p.target.variant for p in kept.slots[0].variants] == ["stable"]
    assert kept.slots[0].pick(lambda: 0.0) is stable
    assert two.restricted(lambda t: False) is None


def test_narrowings_are_computed_once_per_needs_mask() -> None:
    live, _ = route({"titan": 50, "gemini": 50})
    first = narrowing(live, Feature.SEED.mask)
    assert narrowing(live, Feature.SEED.mask) is first and set(live.narrowings) == {Feature.SEED.mask}


async def test_no_backend_can_serve_gives_a_400_naming_the_features_and_the_backends() -> None:
    live, callers = route({"titan": 50, "claude": 50})
    with pytest.raises(errors.ClientError) as info:
        await send(live, request(messages=IMAGE, n=2))
    error = info.value
    assert error.status == 400 and error.code == "unsupported_by_route" and error.param == "messages"
    assert "route team/chat" in error.message and "image-data, n" in error.message
    assert "titan (bedrock, Amazon Titan Text) does not take image parts as data: URLs, n > 1" in error.message
    assert "claude (bedrock, Anthropic Claude 3, 3.5 Sonnet, 3.7, 4) does not take n > 1" in error.message
    assert all(c.calls == 0 for c in callers.values())


async def test_extra_parameters_are_named_in_the_400() -> None:
    live, _ = route({"claude": 100, "gemini": 0})
    with pytest.raises(errors.ClientError) as info:
        await send(live, request(reasoning_effort="low"))
    assert info.value.param == "reasoning_effort" and "other OpenAI parameters" in info.value.message
    assert "reasoning_effort" in info.value.message


async def test_a_400_from_a_backend_that_only_may_take_the_request_moves_on_to_one_that_surely_does() -> None:
    live, callers = route({"azure": 100, "gemini": 0})
    callers["azure"].script = [BadRequest("this model does not support images", status=400)]
    failover, reply = await send(live, request(messages=IMAGE))
    assert reply.status == 200 and callers["gemini"].calls == 1
    assert failover.metrics.requests.get(("team", "chat", "azure", "stable", "azureOpenAI", "bad_request")) == 1


async def test_a_400_from_a_backend_that_surely_takes_the_request_is_the_answer() -> None:
    live, callers = route({"gemini": 100, "azure": 0})
    callers["gemini"].script = [BadRequest("contents: bad image", status=400)]
    with pytest.raises(errors.ClientError) as info:
        await send(live, request(messages=IMAGE))
    assert info.value.status == 400 and "bad image" in info.value.message and callers["azure"].calls == 0


async def test_a_400_for_a_plain_request_is_never_retried() -> None:
    live, callers = route({"azure": 100, "gemini": 0})
    callers["azure"].script = [BadRequest("context_length_exceeded", status=400)]
    with pytest.raises(errors.ClientError):
        await send(live, request())
    assert callers["gemini"].calls == 0


async def test_when_every_capable_backend_is_ejected_one_is_still_tried() -> None:
    live, callers = route({"titan": 50, "gemini": 50}, "  failover: {consecutiveFailures: 1, ejectFor: 5m}\n")
    callers["gemini"].script = [Unavailable("down", status=503), OK]
    failover = Failover(GatewayMetrics(), rand=lambda: 0.99)
    body = request(seed=4)
    with pytest.raises(errors.ClientError):  # gemini fails and is ejected: titan cannot take a seed
        await failover.run(live, body, sniff(body), FakeReply(), failover.clock() + 5)  # type: ignore[arg-type]
    assert "gemini" in failover.ejector.excluded(live.key)
    reply = FakeReply()
    await failover.run(live, body, sniff(body), reply, failover.clock() + 5)  # type: ignore[arg-type]
    assert reply.status == 200 and callers["gemini"].calls == 2 and callers["titan"].calls == 0


async def test_the_parsed_body_reaches_the_caller() -> None:
    live, callers = route({"titan": 50, "gemini": 50})
    seen = []

    async def complete(body: bytes, sniffed: Any) -> bytes:
        seen.append(sniffed.parsed)
        return OK

    callers["gemini"].complete = complete  # type: ignore[method-assign]
    await send(live, request(seed=1))
    assert seen == [json.loads(request(seed=1))]
