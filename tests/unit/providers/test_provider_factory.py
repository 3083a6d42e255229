"""The factory: one adapter per kind, loud failures, and no SDK imported before it is needed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from airoute.api import AzureOpenAI, InCluster, OpenAICompatible, ServiceRef
from airoute.providers import (
    ChatProvider,
    PassThroughProvider,
    ProviderConfigError,
    make_provider,
    service_url,
)


def no_secrets(name: str, key: str) -> bytes | None:
    return None


AZURE = AzureOpenAI(endpoint="https://contoso.openai.azure.com", deployment="gpt-4o",
                    region="westeurope")


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider kind 'anthropic'"):
        make_provider("b", "anthropic", AZURE, no_secrets, "ns")


def test_block_must_match_kind() -> None:
    with pytest.raises(ProviderConfigError, match="a bedrock backend needs a Bedrock block"):
        make_provider("b", "bedrock", AZURE, no_secrets, "ns")


@pytest.mark.skipif(importlib.util.find_spec("azure.identity") is not None,
                    reason="azure-identity is installed here")
def test_azure_without_secret_needs_azure_identity() -> None:
    with pytest.raises(ProviderConfigError, match="azure-identity is not installed"):
        make_provider("b", "azureOpenAI", AZURE, no_secrets, "ns")


def test_service_url_uses_cluster_dns() -> None:
    assert service_url(ServiceRef(name="vllm", port=8000), "models", "http") == (
        "http://vllm.models.svc:8000")
    assert service_url(ServiceRef(name="vllm", namespace="ai"), "models", "https") == (
        "https://vllm.ai.svc:80")


async def test_in_cluster_is_a_pass_through_with_its_service_url() -> None:
    block = InCluster(service={"name": "vllm", "port": 8000}, model="llama", path_prefix="/v1")
    provider = make_provider("local", "inCluster", block, no_secrets, "models")
    assert isinstance(provider, ChatProvider) and isinstance(provider, PassThroughProvider)
    assert provider.base_url == "http://vllm.models.svc:8000/v1"  # type: ignore[attr-defined]
    await provider.aclose()


def test_bad_ca_bundle_is_a_config_error() -> None:
    block = OpenAICompatible(base_url="https://api.example.com/v1", model="m",
                             ca_bundle="not a certificate")
    with pytest.raises(ProviderConfigError, match="caBundle is not a PEM bundle"):
        make_provider("x", "openAICompatible", block, no_secrets, "ns")


def test_importing_providers_and_emulators_imports_no_sdk() -> None:
    code = (
        "import sys, airoute.providers, airoute.emulators\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'azure')\n"
        "          or m.startswith(('google.genai', 'google.auth', 'vertexai'))]\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
