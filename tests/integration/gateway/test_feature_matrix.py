"""The feature by provider matrix, proven through a real ``airoute gateway`` process with OpenAI's own
client as the caller: text, system and developer roles, content parts, images, tools (the call and
the result, streamed and not), JSON mode, ``json_schema`` and ``include_usage`` — plus what only
some providers take (``n``, ``seed``, ``logprobs``, ``parallel_tool_calls: false``, images by URL).

Each provider alone answers what it takes and refuses the rest with ``400 unsupported_by_route``
(the table below is the same as the provider pages' matrices); on a four-provider route no request
that some backend can serve ever gets a 400, whichever backend the draw puts first.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, OpenAICompatibleEmulator, VertexAIEmulator
from airoute.emulators.credentials import service_account_key
from tests.support.gateway import GatewayFactory, metric
from tests.support.routes import airoute, secret, yaml_text

pytestmark = pytest.mark.slow

AWS = {"aws_access_key_id": "AKIAFEATUREMATRIX001", "aws_secret_access_key": "feature/matrix/secret"}
PNG = ("data:image/png;base64,"
       "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABpfZFQAAAAABJRU5ErkJggg==")
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": False}}}
SCHEMA = {"type": "object", "properties": {"order": {"type": "string"}, "late": {"type": "boolean"}},
          "required": ["order", "late"], "additionalProperties": False}
ASK = [{"role": "user", "content": "Where is my parcel 4711?"}]
PROVIDERS = ("azure", "bedrock", "vertex", "openai")

REFUSED = {
    "azure": set(),  # an Azure deployment may take anything OpenAI's API expresses: the gateway sends it on
    "openai": set(),
    "bedrock": {"json mode", "n=2", "seed", "logprobs", "serial tools", "image by URL"},  # Claude Sonnet 4.5
    "vertex": {"logprobs", "serial tools", "image by URL"},  # Gemini 3
}
"""What each provider alone refuses among the cases (the provider pages' matrices say the same)."""


def block(provider: str, urls: dict[str, str]) -> dict[str, Any]:
    if provider == "azure":
        return {"azureOpenAI": {"endpoint": urls["azure"], "deployment": "gpt-4o", "region": "westeurope",
                                "insecure": True, "credentialsSecretRef": {"name": "azure"}}}
    if provider == "bedrock":
        return {"bedrock": {"region": "eu-central-1", "modelId": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
                            "endpointURL": urls["bedrock"], "insecure": True, "credentialsSecretRef": {"name": "aws"}}}
    if provider == "vertex":
        return {"vertexAI": {"project": "acme-matrix", "location": "europe-west4", "model": "gemini-3-pro-preview",
                             "endpointURL": urls["vertex"], "insecure": True, "credentialsSecretRef": {"name": "gcp"}}}
    return {"openAICompatible": {"baseURL": f"{urls['openai']}/v1", "model": "gpt-4o-mini", "insecure": True,
                                 "credentialsSecretRef": {"name": "openai"}}}


def routes(urls: dict[str, str]) -> list[dict[str, Any]]:
    """``only-<p>``: that provider alone; ``all-<p>``: the four, ``<p>`` drawn first (weight 100,
    the others standbys in spec order)."""
    out = [airoute([{"name": p, "weight": 100, **block(p, urls)}], f"only-{p}") for p in PROVIDERS]
    out += [airoute([{"name": q, "weight": 100 if q == p else 0, **block(q, urls)}
                     for q in (p, *(x for x in PROVIDERS if x != p))], f"all-{p}") for p in PROVIDERS]
    return out


Outcome = str
Case = Callable[[openai.AsyncOpenAI, str], Awaitable[None]]


async def streamed(client: openai.AsyncOpenAI, model: str, **fields: Any) -> list[Any]:
    return [chunk async for chunk in await client.chat.completions.create(model=model, stream=True, **fields)]


def text_of(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


async def text(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=ASK)
    assert "reply to: Where is my parcel 4711?" in (answer.choices[0].message.content or "")
    assert answer.choices[0].finish_reason == "stop"


async def roles(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=[
        {"role": "system", "content": "You answer briefly."}, {"role": "developer", "content": "Be polite."}, *ASK])
    assert "Where is my parcel 4711?" in (answer.choices[0].message.content or "")


async def parts(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": [
        {"type": "text", "text": "Where is"}, {"type": "text", "text": "my parcel?"}]}])
    assert "my parcel?" in (answer.choices[0].message.content or "")


async def image(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is on it?"}, {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert (answer.choices[0].message.content or "").endswith("[1 image]")


async def image_by_url(client: openai.AsyncOpenAI, model: str) -> None:
    await client.chat.completions.create(model=model, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is on it?"}, {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])


async def tool_call(client: openai.AsyncOpenAI, model: str) -> dict[str, Any]:
    answer = await client.chat.completions.create(model=model, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"}])
    message = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls" and message.tool_calls
    assert message.tool_calls[0].function.name == "get_weather"
    return message.model_dump(exclude_none=True)


async def tools(client: openai.AsyncOpenAI, model: str) -> None:
    await tool_call(client, model)


async def tool_result(client: openai.AsyncOpenAI, model: str) -> None:
    called = await tool_call(client, model)
    answer = await client.chat.completions.create(model=model, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"}, called,
        {"role": "tool", "tool_call_id": called["tool_calls"][0]["id"], "content": "sunny, 21 °C"}])
    assert "tool result: sunny, 21 °C" in (answer.choices[0].message.content or "")


async def tools_streamed(client: openai.AsyncOpenAI, model: str) -> None:
    chunks = await streamed(client, model, tools=[WEATHER], messages=[{"role": "user", "content": "Weather in Rome?"}])
    calls = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    arguments = "".join(d.function.arguments or "" for d in calls if d.function)
    assert json.loads(arguments)["city"]
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


async def tool_result_streamed(client: openai.AsyncOpenAI, model: str) -> None:
    called = await tool_call(client, model)
    chunks = await streamed(client, model, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"}, called,
        {"role": "tool", "tool_call_id": called["tool_calls"][0]["id"], "content": "rain"}])
    assert "tool result: rain" in text_of(chunks)


async def json_mode(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=ASK, response_format={"type": "json_object"})
    assert isinstance(json.loads(answer.choices[0].message.content or ""), dict)


async def json_schema(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=ASK, response_format={
        "type": "json_schema", "json_schema": {"name": "status", "schema": SCHEMA, "strict": True}})
    value = json.loads(answer.choices[0].message.content or "")
    assert set(value) == {"order", "late"} and isinstance(value["late"], bool)


async def include_usage(client: openai.AsyncOpenAI, model: str) -> None:
    chunks = await streamed(client, model, messages=ASK, stream_options={"include_usage": True})
    assert "Where is my parcel 4711?" in text_of(chunks)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


async def two_choices(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, messages=ASK, n=2)
    assert [c.index for c in answer.choices] == [0, 1]


async def seed(client: openai.AsyncOpenAI, model: str) -> None:
    await client.chat.completions.create(model=model, messages=ASK, seed=42)


async def logprobs(client: openai.AsyncOpenAI, model: str) -> None:
    await client.chat.completions.create(model=model, messages=ASK, logprobs=True)


async def serial_tools(client: openai.AsyncOpenAI, model: str) -> None:
    answer = await client.chat.completions.create(model=model, tools=[WEATHER], parallel_tool_calls=False,
                                                  messages=[{"role": "user", "content": "Weather in Oslo?"}])
    assert len(answer.choices[0].message.tool_calls or []) == 1


CASES: dict[str, Case] = {
    "text": text, "system and developer": roles, "content parts": parts, "image": image, "tools": tools,
    "tool result": tool_result, "tools streamed": tools_streamed, "tool result streamed": tool_result_streamed,
    "json mode": json_mode, "json schema": json_schema, "include usage": include_usage, "n=2": two_choices,
    "seed": seed, "logprobs": logprobs, "serial tools": serial_tools, "image by URL": image_by_url,
}


async def outcome(case: Case, client: openai.AsyncOpenAI, model: str) -> Outcome:
    try:
        await case(client, model)
    except openai.BadRequestError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        return f"400 {body.get('code')}"
    return "ok"


@dataclass
class Matrix:
    client: openai.AsyncOpenAI
    metrics: Callable[[], Awaitable[str]]


@pytest.fixture
async def matrix(tmp_path: Path, gateway_process: GatewayFactory) -> AsyncIterator[Matrix]:
    emulators = {"azure": AzureOpenAIEmulator(api_key="azure-key-0123456789"),
                 "bedrock": BedrockEmulator(region="eu-central-1", access_key_id=AWS["aws_access_key_id"],
                                            secret_access_key=AWS["aws_secret_access_key"]),
                 "vertex": VertexAIEmulator(), "openai": OpenAICompatibleEmulator(api_key="sk-openai-0123456789")}
    urls = {name: await emulator.start() for name, emulator in emulators.items()}
    folder = tmp_path / "routes"
    folder.mkdir()
    (folder / "routes.yaml").write_text(yaml_text([
        *routes(urls), secret("azure", {"api-key": "azure-key-0123456789"}), secret("aws", AWS),
        secret("gcp", {"key.json": service_account_key(f"{urls['vertex']}/token")}),
        secret("openai", {"api-key": "sk-openai-0123456789"})]))
    gateway = await gateway_process(folder, "--no-auth", "--google-token-uri", f"{urls['vertex']}/token")
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0)

    async def metrics() -> str:
        async with aiohttp.ClientSession() as session, session.get(f"{gateway.url}/metrics") as response:
            return await response.text()

    yield Matrix(client, metrics)
    await client.close()
    for emulator in emulators.values():
        await emulator.stop()


async def test_each_provider_answers_what_it_takes_and_refuses_the_rest(matrix: Matrix) -> None:
    found = {p: {name: await outcome(case, matrix.client, f"only-{p}") for name, case in CASES.items()}
             for p in PROVIDERS}
    expected = {p: {name: "400 unsupported_by_route" if name in REFUSED[p] else "ok" for name in CASES}
                for p in PROVIDERS}
    assert found == expected


async def test_on_a_four_provider_route_no_request_some_backend_can_serve_gets_a_400(matrix: Matrix) -> None:
    found = {p: {name: await outcome(case, matrix.client, f"all-{p}") for name, case in CASES.items()}
             for p in PROVIDERS}
    assert found == {p: dict.fromkeys(CASES, "ok") for p in PROVIDERS}
    text_metrics = await matrix.metrics()
    some_refuse = set().union(*REFUSED.values())
    for p in PROVIDERS:
        route = f"all-{p}"
        # Every request some backend refuses was narrowed; none reached a backend that refused it, none
        # had to be retried, and the backend drawn first served all the rest.
        assert metric(text_metrics, "airoute_narrowed_requests_total", route=route) == len(some_refuse)
        assert metric(text_metrics, "airoute_requests_total", route=route, outcome="bad_request") == 0
        assert metric(text_metrics, "airoute_retries_total", route=route) == 0
        others = sum(metric(text_metrics, "airoute_requests_total", route=route, backend=q)
                     for q in PROVIDERS if q != p)
        assert others == len(REFUSED[p])
