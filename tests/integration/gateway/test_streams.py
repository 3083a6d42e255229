"""Streams where users feel them, through real HTTP to real emulators (issue 16.1-2): before the
first token a silent, stalled or erroring backend is left for the next one with nothing sent to
the client; after it, a stall, a cut or an error ends the client's stream with an error event and
no ``[DONE]``, and counts as a failure the client saw."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from airoute.emulators import BedrockEmulator, EmulatorServer, OpenAICompatibleEmulator, VertexAIEmulator
from airoute.emulators.credentials import service_account_key
from airoute.emulators.faults import Faults
from tests.support.gateway import EnvFactory, metric, route
from tests.support.routes import CREDENTIALS_LABELS, emulated, yaml_text

AWS_KEY_ID, AWS_SECRET = "AKIAEMULATOR00000001", "emulator/secret/key/0123456789abcdefghij"


def events(body: bytes) -> list[bytes]:
    return [e.strip() for e in body.split(b"\n\n") if e.strip()]


def content(body: bytes) -> str:
    text = ""
    for event in events(body):
        if event.startswith(b"data: {") and b'"choices"' in event:
            for choice in json.loads(event[6:])["choices"]:
                text += (choice.get("delta") or {}).get("content") or ""
    return text


def whole(status: int, body: bytes) -> bool:
    return status == 200 and events(body)[-1] == b"data: [DONE]" and b'"error"' not in body


def cut_with_an_error(status: int, body: bytes) -> dict[str, Any]:
    """The error of a stream that began (200, some content) and then ended with an error event."""
    last = events(body)
    assert status == 200 and b"[DONE]" not in body, body[-300:]
    assert content(body), "some content reached the client first"
    error: dict[str, Any] = json.loads(last[-1].removeprefix(b"data: "))["error"]
    return error


def first_and_standby(first: dict[str, Any], standby: EmulatorServer, **spec: Any) -> list[dict[str, Any]]:
    return [route([first, emulated("standby", 0, standby)], **spec)]


@pytest.mark.parametrize("silence", ["no byte at all", "the opening, then nothing"])
async def test_a_backend_that_never_sends_a_first_token_is_left_before_any_byte(
        gateway_env: EnvFactory, silence: str) -> None:
    env = await gateway_env(2, lambda e: first_and_standby(
        {**emulated("silent", 100, e[0], timeout="30s"), "firstTokenTimeout": "300ms"}, e[1]))
    faults = Faults(first_token_delay=30.0) if silence == "no byte at all" else Faults(stall_after=1, stall_for=30.0)
    await env.emulators[0].set_faults(faults)
    started = time.monotonic()
    status, _, body = await env.chat(stream=True)
    took = time.monotonic() - started
    assert whole(status, body) and 0.3 <= took < 3.0, took
    assert body.count(b'"role":"assistant"') == 1, "the silent backend's opening never reached the client"
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", backend="silent", outcome="timeout") == 1
    assert metric(text, "airoute_requests_total", backend="standby", outcome="success") == 1
    assert metric(text, "airoute_requests_total", backend="", outcome="timeout") == 0  # the client saw no failure


async def test_first_token_timeout_does_not_bound_answers_that_do_not_stream(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: first_and_standby(
        {**emulated("slow", 100, e[0]), "firstTokenTimeout": "200ms"}, e[1]))
    await env.emulators[0].set_faults(latency=0.5)
    status, _, _ = await env.chat()
    assert status == 200 and env.emulators[0].stats.count(outcome="ok") == 1
    assert env.emulators[1].stats.total == 0


async def test_a_slow_first_token_within_the_limit_is_kept(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: first_and_standby(
        {**emulated("slow", 100, e[0]), "firstTokenTimeout": "2s"}, e[1]))
    await env.emulators[0].set_faults(stall_after=1, stall_for=0.3)
    status, _, body = await env.chat(stream=True)
    assert whole(status, body)
    assert env.emulators[1].stats.total == 0


def _cloud(kind: str, emulator: EmulatorServer) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A backend of ``kind`` on its emulator, with the Secret it needs."""
    def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "team", "labels": CREDENTIALS_LABELS},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    if kind == "bedrock":
        block = {"bedrock": {"region": "eu-central-1", "modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0",
                             "endpointURL": emulator.base_url, "insecure": True,
                             "credentialsSecretRef": {"name": "aws"}}}
        return ({"name": "first", "weight": 100, **block},
                [secret("aws", {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET})])
    if kind == "vertex":
        block = {"vertexAI": {"project": "acme-prod", "location": "europe-west4", "model": "gemini-1.5-pro-002",
                              "endpointURL": emulator.base_url, "insecure": True,
                              "credentialsSecretRef": {"name": "gcp"}}}
        return ({"name": "first", "weight": 100, **block},
                [secret("gcp", {"key.json": service_account_key(f"{emulator.base_url}/token")})])
    return emulated("first", 100, emulator), []


def _emulator(kind: str) -> EmulatorServer:
    if kind == "bedrock":
        return BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET, region="eu-central-1")
    if kind == "vertex":
        return VertexAIEmulator(access_token="ya29.minted-by-emulator")
    return OpenAICompatibleEmulator()


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.mark.parametrize("kind", ["openai", "bedrock", "vertex"])
async def test_an_error_event_before_the_first_token_fails_over(
        gateway_env: EnvFactory, tmp_path: Path, kind: str) -> None:
    """vLLM's ``data: {"error": …}``, Bedrock's ``throttlingException`` frame after
    ``messageStart``, Vertex's error object: before any content, the request goes on."""
    first = _emulator(kind)
    await first.start()
    try:
        def routes(e: Sequence[OpenAICompatibleEmulator]) -> str:
            backend, secrets = _cloud(kind, first)
            return yaml_text([route([backend, emulated("standby", 0, e[0])]), *secrets])

        env = await gateway_env(1, routes, google_token_uris=(f"{first.base_url}/token",))
        # the error comes before any content: after OpenAI's role opening and Bedrock's messageStart,
        # and as Vertex's first event (its first chunk already carries text)
        await first.set_faults(stream_error_after=0 if kind == "vertex" else 1,
                               error_status=429 if kind == "bedrock" else 500)
        status, _, body = await env.chat(stream=True)
        assert whole(status, body), body[-300:]
        assert first.stats.count(streamed=True) == 1 and env.emulators[0].stats.count(outcome="ok") == 1
        outcome = "throttled" if kind == "bedrock" else "error"
        assert metric(await env.metrics(), "airoute_requests_total", backend="first", outcome=outcome) == 1
    finally:
        await first.stop()


async def test_a_stall_after_the_first_token_ends_the_stream_with_an_error(gateway_env: EnvFactory) -> None:
    env = await gateway_env(2, lambda e: first_and_standby(
        {**emulated("stalls", 100, e[0], timeout="30s"), "streamIdleTimeout": "300ms"}, e[1]))
    await env.emulators[0].set_faults(stall_after=3, stall_for=30.0)  # the opening and two tokens, then silence
    started = time.monotonic()
    status, _, body = await env.chat(stream=True)
    assert time.monotonic() - started < 3.0
    error = cut_with_an_error(status, body)
    assert error["code"] == "stream_interrupted" and "stalled" in error["message"]
    assert env.emulators[1].stats.total == 0, "bytes went out: no second answer from the standby"
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", backend="stalls", outcome="timeout") == 1
    assert metric(text, "airoute_requests_total", backend="", outcome="timeout") == 1  # the client saw it fail


@pytest.mark.parametrize("fault", [Faults(cut_after=3), Faults(stream_error_after=3)], ids=["cut", "error event"])
async def test_a_cut_or_an_error_after_the_first_token_ends_the_stream_with_an_error(
        gateway_env: EnvFactory, fault: Faults) -> None:
    env = await gateway_env(2, lambda e: first_and_standby(emulated("breaks", 100, e[0]), e[1]))
    await env.emulators[0].set_faults(fault)
    status, _, body = await env.chat(stream=True)
    error = cut_with_an_error(status, body)
    assert error["code"] == "stream_interrupted" and error["type"] == "server_error"
    assert env.emulators[1].stats.total == 0
    text = await env.metrics()
    assert metric(text, "airoute_requests_total", backend="breaks", outcome="error") == 1
    assert metric(text, "airoute_requests_total", backend="", outcome="error") == 1
