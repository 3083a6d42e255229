"""Bedrock's wire format, judged by the real ``boto3``: the emulator passes boto3's Converse and
ConverseStream (SigV4 verified), and the gateway's caller sends the same path and the same body
bytes as boto3 does for ``converse(modelId=…, **to_converse(request))``, signed so that the same
emulator accepts it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.provider_backends import AWS_KEY_ID, AWS_SECRET, call_once

from airoute.api import Bedrock
from airoute.emulators import BedrockEmulator
from airoute.providers import parse_request
from airoute.providers.translate.openai_to_bedrock import to_converse

pytestmark = pytest.mark.sdk

MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
TOOL = {"type": "function", "function": {"name": "lookup_order", "description": "Find an order",
                                         "parameters": {"type": "object", "properties": {"id": {"type": "string"}},
                                                        "required": ["id"]}}}
INPUTS: list[dict[str, Any]] = [
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is 4711?"}],
     "temperature": 0.2, "max_tokens": 64, "top_p": 0.9, "stop": ["\n\n"]},
    {"messages": [{"role": "user", "content": "Grüße aus Köln — order 4711?"}], "tools": [TOOL],
     "tool_choice": {"type": "function", "function": {"name": "lookup_order"}}},
    {"messages": [{"role": "user", "content": "Order 4711?"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "tooluse_1", "type": "function",
                       "function": {"name": "lookup_order", "arguments": "{\"id\": \"4711\"}"}}]},
                  {"role": "tool", "tool_call_id": "tooluse_1", "content": "shipped"}],
     "tools": [TOOL], "stream": True},
]


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def boto3_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("bedrock-runtime", region_name="eu-central-1", endpoint_url=url,
                        aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET,
                        config=Config(retries={"total_max_attempts": 1}))


def boto3_call(client: Any, request: dict[str, Any]) -> Any:
    arguments = to_converse(parse_request({"model": "m", **request}))
    if request.get("stream"):
        events: Iterator[Any] = client.converse_stream(modelId=MODEL, **arguments)["stream"]
        return list(events)
    return client.converse(modelId=MODEL, **arguments)


async def caller_call(url: str, request: dict[str, Any]) -> bytes:
    block = Bedrock(region="eu-central-1", model_id=MODEL, endpoint_url=url, insecure=True,
                    credentials_secret_ref={"name": "aws"})
    return await call_once("bedrock", block, request)


@pytest.mark.parametrize("request_", INPUTS, ids=["options", "tools", "tool-result-stream"])
async def test_caller_sends_the_bytes_boto3_sends(request_: dict[str, Any]) -> None:
    async with BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET,
                               region="eu-central-1") as emulator:
        client = boto3_client(emulator.base_url)
        await asyncio.to_thread(boto3_call, client, request_)
        sdk = emulator.captured[-1]
        await caller_call(emulator.base_url, request_)
        ours = emulator.captured[-1]
        assert emulator.stats.count(outcome="ok") == 2, "both signatures verified"
    assert ours.path == sdk.path
    assert ours.body == sdk.body
    assert ours.headers["Content-Type"] == sdk.headers["Content-Type"]


async def test_boto3_reads_what_the_emulator_answers() -> None:
    async with BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET,
                               region="eu-central-1") as emulator:
        client = boto3_client(emulator.base_url)
        answer = await asyncio.to_thread(boto3_call, client, INPUTS[0])
        assert answer["stopReason"] == "end_turn" and answer["output"]["message"]["content"][0]["text"]
        events = await asyncio.to_thread(boto3_call, client, INPUTS[2])
        assert next(next(iter(e)) for e in events) == "messageStart"
        assert "messageStop" in [next(iter(e)) for e in events]
        call = await asyncio.to_thread(boto3_call, client, INPUTS[1])
        assert call["stopReason"] == "tool_use"
