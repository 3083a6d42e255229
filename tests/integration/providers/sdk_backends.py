"""The five adapters, each built by ``make_provider`` against a fresh emulator (test helper)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airoute.api import AzureOpenAI, Bedrock, InCluster, OpenAICompatible, VertexAI
from airoute.emulators import (
    AzureOpenAIEmulator,
    BedrockEmulator,
    EmulatorServer,
    OpenAICompatibleEmulator,
    VertexAIEmulator,
)
from airoute.providers import ChatProvider, make_provider

AZURE_KEY = "azure-key-0123456789abcdef01234567"
AWS_KEY_ID = "AKIAEMULATOR00000001"
AWS_SECRET = "emulator/secret/key/0123456789abcdefghij"
OPENAI_KEY = "sk-emulator-0123456789abcdefghijkl"
CLUSTER_TOKEN = "cluster-token-0123456789"
VERTEX_TOKEN = "ya29.emulator-token"

SECRETS: dict[tuple[str, str], bytes] = {
    ("azure", "api-key"): AZURE_KEY.encode(),
    ("aws", "aws_access_key_id"): AWS_KEY_ID.encode(),
    ("aws", "aws_secret_access_key"): AWS_SECRET.encode(),
    ("openai", "api-key"): OPENAI_KEY.encode(),
    ("vllm", "token"): CLUSTER_TOKEN.encode(),
    ("tenant", "org"): b"org-from-secret",
}


KINDS = ("azure", "bedrock", "vertex", "in_cluster", "openai_compatible")


def lookup(name: str, key: str) -> bytes | None:
    return SECRETS.get((name, key))


@dataclass
class Backend:
    """An adapter and the emulator behind it."""

    kind: str
    emulator: EmulatorServer
    provider: ChatProvider
    model: str
    secrets: tuple[str, ...]

    def count(self, **filters: Any) -> int:
        return self.emulator.stats.count(**filters)


def _static_google_credentials() -> Any:
    from google.oauth2.credentials import Credentials

    return Credentials(token=VERTEX_TOKEN)  # type: ignore[no-untyped-call]


async def build_backend(kind: str, **overrides: Any) -> Backend:
    """Start the emulator of ``kind`` and build its adapter."""
    if kind == "azure":
        emulator: EmulatorServer = AzureOpenAIEmulator(api_key=AZURE_KEY)
        url = await emulator.start()
        block: Any = AzureOpenAI(endpoint=url, deployment="gpt-4o", region="westeurope",
                                 insecure=True, credentials_secret_ref={"name": "azure"})
        provider = make_provider("azure-eu", "azureOpenAI", block, lookup, "support")
        return Backend(kind, emulator, provider, "gpt-4o", (AZURE_KEY,))
    if kind == "bedrock":
        emulator = BedrockEmulator(access_key_id=AWS_KEY_ID, secret_access_key=AWS_SECRET,
                                   region="eu-central-1")
        url = await emulator.start()
        model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
        block = Bedrock(region="eu-central-1", model_id=model, endpoint_url=url, insecure=True,
                        credentials_secret_ref={"name": "aws"})
        provider = make_provider("bedrock-eu", "bedrock", block, lookup, "support", **overrides)
        return Backend(kind, emulator, provider, model, (AWS_KEY_ID, AWS_SECRET))
    if kind == "vertex":
        emulator = VertexAIEmulator(access_token=VERTEX_TOKEN)
        url = await emulator.start()
        block = VertexAI(project="acme-prod", location="europe-west4", model="gemini-1.5-pro-002",
                         endpoint_url=url, insecure=True)
        provider = make_provider("vertex-eu", "vertexAI", block, lookup, "support",
                                 google_credentials=_static_google_credentials())
        return Backend(kind, emulator, provider, "gemini-1.5-pro-002", (VERTEX_TOKEN,))
    if kind == "in_cluster":
        emulator = OpenAICompatibleEmulator(api_key=CLUSTER_TOKEN, provider_name="vllm")
        url = await emulator.start()
        block = InCluster(service={"name": "vllm-llama", "namespace": "models", "port": 8000},
                          model="meta-llama/Llama-3.1-8B-Instruct",
                          credentials_secret_ref={"name": "vllm"})
        provider = make_provider("local-llama", "inCluster", block, lookup, "support",
                                 resolve_service=lambda svc, ns, scheme: url)
        return Backend(kind, emulator, provider, block.model, (CLUSTER_TOKEN,))
    assert kind == "openai_compatible"
    emulator = OpenAICompatibleEmulator(api_key=OPENAI_KEY)
    url = await emulator.start()
    block = OpenAICompatible(base_url=f"{url}/v1", model="gpt-4o-mini", insecure=True,
                             credentials_secret_ref={"name": "openai"}, organization="org-acme",
                             headers=[{"name": "X-Tenant", "valueFrom": {"name": "tenant",
                                                                           "key": "org"}}])
    provider = make_provider("openai", "openAICompatible", block, lookup, "support")
    return Backend(kind, emulator, provider, "gpt-4o-mini", (OPENAI_KEY,))
