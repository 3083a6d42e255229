"""Credentials taken the real way: a Google service-account key exchanged for a token at the
emulator's OAuth endpoint, AWS keys checked by SigV4, Azure keys checked by the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from tests.support.provider_backends import emulator_pools

from airoute.api import AzureOpenAI, Bedrock, VertexAI
from airoute.emulators import AzureOpenAIEmulator, BedrockEmulator, VertexAIEmulator
from airoute.emulators.credentials import service_account_key
from airoute.providers import AuthFailed, Caller, ProviderConfigError, make_caller, sniff
from airoute.providers.credentials import SecretLookup

pytestmark = pytest.mark.sdk

BODY = json.dumps({"model": "x", "messages": [{"role": "user", "content": "who am I"}]}).encode()
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(autouse=True)
def _isolated_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


def _secrets(values: dict[tuple[str, str], bytes]) -> Callable[[str, str], bytes | None]:
    return lambda name, key: values.get((name, key))


def make(backend: str, kind: str, block: Any, secrets: SecretLookup, *token_uris: str) -> Caller:
    return make_caller(backend, kind, block, secrets, "ns", pools=emulator_pools(*token_uris))


async def ask(caller: Caller) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(await caller.complete(BODY, sniff(BODY)))
    return answer


async def test_vertex_service_account_key_from_secret() -> None:
    async with VertexAIEmulator(access_token="ya29.minted-by-emulator") as emulator:
        key_file = service_account_key(f"{emulator.base_url}/token").encode()
        block = VertexAI(project="acme-prod", location="europe-west4", model="gemini-2.0-flash",
                         endpoint_url=emulator.base_url, insecure=True,
                         credentials_secret_ref={"name": "gcp-sa"})
        caller = make("vertex", "vertexAI", block, _secrets({("gcp-sa", "key.json"): key_file}),
                      f"{emulator.base_url}/token")
        answer = await ask(caller)
        await ask(caller)
        await caller.aclose()
    assert answer["choices"][0]["message"]["content"].endswith("reply to: who am I")
    assert emulator.stats.count(api="token", outcome="ok") == 1, "the token is cached"
    assert emulator.stats.count(api="generateContent", outcome="ok") == 2


async def test_vertex_token_refused_is_auth_failed() -> None:
    async with VertexAIEmulator() as emulator:
        key_file = service_account_key(f"{emulator.base_url}/no-such-token-endpoint").encode()
        block = VertexAI(project="acme-prod", location="europe-west4", model="gemini-2.0-flash",
                         endpoint_url=emulator.base_url, insecure=True,
                         credentials_secret_ref={"name": "gcp-sa"})
        caller = make("vertex", "vertexAI", block, _secrets({("gcp-sa", "key.json"): key_file}),
                      f"{emulator.base_url}/no-such-token-endpoint")
        with pytest.raises(AuthFailed) as caught:
            await ask(caller)
        await caller.aclose()
    assert "PRIVATE KEY" not in str(caught.value)


def test_vertex_key_file_must_be_json() -> None:
    block = VertexAI(project="acme-prod", location="europe-west4", model="gemini-2.0-flash",
                     credentials_secret_ref={"name": "gcp-sa"})
    with pytest.raises(ProviderConfigError, match="not a JSON key file") as caught:
        make("vertex", "vertexAI", block, _secrets({("gcp-sa", "key.json"): b"s3cr3t-not-json"}))
    assert "s3cr3t" not in str(caught.value)


def test_vertex_key_file_of_an_unexpected_type_is_refused() -> None:
    block = VertexAI(project="acme-prod", location="europe-west4", model="gemini-2.0-flash",
                     credentials_secret_ref={"name": "gcp-sa"})
    user_creds = json.dumps({"type": "authorized_user", "refresh_token": "1//refresh-me"})
    with pytest.raises(ProviderConfigError, match="type 'authorized_user'") as caught:
        make("vertex", "vertexAI", block, _secrets({("gcp-sa", "key.json"): user_creds.encode()}))
    assert "refresh-me" not in str(caught.value)


async def test_bedrock_wrong_secret_fails_signature_check() -> None:
    async with BedrockEmulator(access_key_id="AKIAEMULATOR00000002",
                               secret_access_key="the-right-secret") as emulator:
        block = Bedrock(region="eu-central-1", model_id=MODEL, endpoint_url=emulator.base_url,
                        insecure=True, credentials_secret_ref={"name": "aws"})
        secrets = {("aws", "aws_access_key_id"): b"AKIAEMULATOR00000002",
                   ("aws", "aws_secret_access_key"): b"the-wrong-secret-value",
                   ("aws", "aws_session_token"): b"session-token-value-123"}
        caller = make("bedrock", "bedrock", block, _secrets(secrets))
        with pytest.raises(AuthFailed) as caught:
            await ask(caller)
        await caller.aclose()
    message = str(caught.value)
    assert "InvalidSignatureException" in message
    assert "the-wrong-secret-value" not in message and "AKIAEMULATOR00000002" not in message
    assert emulator.stats.count(outcome="unauthorized", status=403) == 1


async def test_bedrock_unknown_access_key_is_403_unrecognized_client() -> None:
    async with BedrockEmulator(access_key_id="AKIAEMULATOR00000002", secret_access_key="the-right-secret") as emulator:
        block = Bedrock(region="eu-central-1", model_id=MODEL, endpoint_url=emulator.base_url,
                        insecure=True, credentials_secret_ref={"name": "aws"})
        secrets = {("aws", "aws_access_key_id"): b"AKIAEMULATOR99999999",
                   ("aws", "aws_secret_access_key"): b"the-right-secret"}
        caller = make("bedrock", "bedrock", block, _secrets(secrets))
        with pytest.raises(AuthFailed) as caught:
            await ask(caller)
        await caller.aclose()
    assert (caught.value.status, caught.value.code) == (403, "UnrecognizedClientException")
    assert emulator.stats.count(outcome="unauthorized", status=403) == 1


async def test_bedrock_default_chain_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEMULATOR00000003")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    async with BedrockEmulator(access_key_id="AKIAEMULATOR00000003",
                               secret_access_key="env-secret", region="us-east-1") as emulator:
        block = Bedrock(region="us-east-1", model_id=MODEL, endpoint_url=emulator.base_url,
                        insecure=True)
        caller = make("bedrock", "bedrock", block, _secrets({}))
        answer = await ask(caller)
        await caller.aclose()
    assert answer["choices"][0]["finish_reason"] == "stop"


async def test_azure_wrong_key_is_auth_failed_and_scrubbed() -> None:
    async with AzureOpenAIEmulator(api_key="right-key-0000") as emulator:
        block = AzureOpenAI(endpoint=emulator.base_url, deployment="gpt-4o", region="swedencentral",
                            insecure=True, credentials_secret_ref={"name": "az", "key": "k"})
        caller = make("azure", "azureOpenAI", block, _secrets({("az", "k"): b"wrong-key-1111"}))
        with pytest.raises(AuthFailed) as caught:
            await ask(caller)
        await caller.aclose()
    assert "wrong-key-1111" not in str(caught.value)
    assert emulator.stats.count(outcome="unauthorized") == 1


def test_missing_secret_key_names_the_secret_not_a_value() -> None:
    block = AzureOpenAI(endpoint="https://contoso.openai.azure.com", deployment="gpt-4o",
                        region="westeurope", credentials_secret_ref={"name": "azure-eu"})
    with pytest.raises(ProviderConfigError, match="Secret 'azure-eu' has no key 'api-key'"):
        make("azure", "azureOpenAI", block, _secrets({}))
