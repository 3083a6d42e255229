"""The factory: one caller per kind, loud failures, and no SDK imported before it is needed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from airoute.api import AzureOpenAI, Bedrock, InCluster, OpenAICompatible, VertexAI
from airoute.providers import Caller, Pools, ProviderConfigError, make_caller
from airoute.providers.credentials import SecretLookup
from airoute.providers.egress import UpstreamPolicy
from airoute.providers.openai_format import OpenAIFormatCaller


def no_secrets(name: str, key: str) -> bytes | None:
    return None


AZURE = AzureOpenAI(endpoint="https://contoso.openai.azure.com", deployment="gpt-4o",
                    region="westeurope")


def make(backend: str, kind: str, block: Any, secrets: SecretLookup = no_secrets, namespace: str = "ns",
         **options: Any) -> Caller:
    return make_caller(backend, kind, block, secrets, namespace, pools=Pools(), **options)


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ProviderConfigError, match="unknown provider kind 'anthropic'"):
        make("b", "anthropic", AZURE)


def test_block_must_match_kind() -> None:
    with pytest.raises(ProviderConfigError, match="a bedrock backend needs a Bedrock block"):
        make("b", "bedrock", AZURE)


def azure_key(name: str, key: str) -> bytes | None:
    return b"azure-key-0123456789" if (name, key) == ("azure-eu", "api-key") else None


def test_azure_goes_to_the_v1_api_with_the_deployment_as_model() -> None:
    block = AzureOpenAI(endpoint="https://contoso.openai.azure.com", deployment="gpt-4o", region="westeurope",
                        credentials_secret_ref={"name": "azure-eu"})
    caller = make("azure", "azureOpenAI", block, azure_key)
    assert isinstance(caller, OpenAIFormatCaller)
    endpoint = caller.endpoint
    assert (endpoint.origin.host, endpoint.origin.port, endpoint.origin.tls) == ("contoso.openai.azure.com", 443, True)
    assert (endpoint.path, endpoint.model) == ("/openai/v1/chat/completions", "gpt-4o")
    assert endpoint.headers == (("api-key", "azure-key-0123456789"),)
    assert b"api-version" not in endpoint.head()


def test_azure_with_an_api_version_goes_to_the_deployment_path() -> None:
    block = AzureOpenAI(endpoint="https://contoso.openai.azure.com/", deployment="gpt-4o", region="westeurope",
                        api_version="2024-10-21", credentials_secret_ref={"name": "azure-eu"})
    caller = make("azure", "azureOpenAI", block, azure_key)
    assert isinstance(caller, OpenAIFormatCaller)
    assert caller.endpoint.path == "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"


def test_azure_without_a_secret_authenticates_with_an_entra_token() -> None:
    caller = make("azure", "azureOpenAI", AZURE, policy=UpstreamPolicy(ambient_namespaces=frozenset({"ns"})))
    assert isinstance(caller, OpenAIFormatCaller)
    assert caller.endpoint.headers == ()
    auth = caller._auth
    assert auth is not None and auth.token.what == "Entra ID token"


async def test_in_cluster_calls_its_service_by_cluster_dns() -> None:
    block = InCluster(service={"name": "vllm", "port": 8000}, model="llama", path_prefix="/v1")
    caller = make("local", "inCluster", block, namespace="models")
    assert isinstance(caller, OpenAIFormatCaller)
    origin = caller.endpoint.origin
    assert (origin.host, origin.port, origin.tls, caller.endpoint.path) == (
        "vllm.models.svc", 8000, False, "/v1/chat/completions")
    other = make("local", "inCluster", InCluster(service={"name": "vllm", "namespace": "ai"}, model="llama",
                                                 scheme="https"), namespace="models")
    assert isinstance(other, OpenAIFormatCaller)
    assert (other.endpoint.origin.host, other.endpoint.origin.port, other.endpoint.origin.tls) == (
        "vllm.ai.svc", 80, True)
    moved = make("local", "inCluster", block, namespace="models", service_hosts={"vllm.models": "127.0.0.1:9"})
    assert isinstance(moved, OpenAIFormatCaller)
    assert (moved.endpoint.origin.host, moved.endpoint.origin.port) == ("127.0.0.1", 9)


def test_openai_compatible_headers() -> None:
    secrets = {("openai", "api-key"): b"sk-secret-0123456789\n", ("tenant", "api-key"): b"t-1"}
    block = OpenAICompatible(base_url="https://api.example.com/v1", model="m", organization="org-1",
                             credentials_secret_ref={"name": "openai"},
                             headers=[{"name": "X-Tenant", "valueFrom": {"name": "tenant"}},
                                      {"name": "X-Team", "value": "support"}])
    caller = make("x", "openAICompatible", block, lambda n, k: secrets.get((n, k)))
    assert isinstance(caller, OpenAIFormatCaller)
    assert caller.endpoint.headers == (
        ("authorization", "Bearer sk-secret-0123456789"), ("openai-organization", "org-1"),
        ("x-tenant", "t-1"), ("x-team", "support"))
    assert (caller.endpoint.origin.host, caller.endpoint.origin.port, caller.endpoint.path) == (
        "api.example.com", 443, "/v1/chat/completions")


def test_a_header_value_with_a_line_break_is_refused() -> None:
    """A value from a Secret must not smuggle headers (or a second request) onto a shared connection."""
    secrets = {("tenant", "api-key"): b"t-1\r\nx-injected: 1"}
    block = OpenAICompatible(base_url="https://api.example.com/v1", model="m",
                             headers=[{"name": "X-Tenant", "valueFrom": {"name": "tenant"}}])
    with pytest.raises(ProviderConfigError, match="header X-Tenant: the value holds a line break") as caught:
        make("x", "openAICompatible", block, lambda n, k: secrets.get((n, k)))
    assert "injected" not in str(caught.value)


def test_bad_ca_bundle_is_a_config_error() -> None:
    block = OpenAICompatible(base_url="https://api.example.com/v1", model="m",
                             ca_bundle="not a certificate")
    with pytest.raises(ProviderConfigError, match="caBundle is not a PEM bundle"):
        make("x", "openAICompatible", block)


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


AMBIENT = UpstreamPolicy(ambient_namespaces=frozenset({"trusted"}))


@pytest.mark.parametrize(("kind", "block"), [
    ("azureOpenAI", AZURE),
    ("bedrock", Bedrock(region="eu-central-1", model_id="m")),
    ("vertexAI", VertexAI(project="acme-prod", location="europe-west4", model="gemini-2.0-flash")),
])
def test_ambient_identity_only_for_namespaces_the_operator_opts_in(kind: str, block: Any) -> None:
    with pytest.raises(ProviderConfigError, match="namespace 'tenant' may not use the gateway's own cloud identity"):
        make("b", kind, block, namespace="tenant", policy=AMBIENT)
    assert make("b", kind, block, namespace="trusted", policy=AMBIENT) is not None


@pytest.mark.parametrize(("kind", "block"), [
    ("azureOpenAI", AzureOpenAI(endpoint="https://attacker.example", deployment="d", region="westeurope")),
    ("bedrock", Bedrock(region="eu-central-1", model_id="m", endpoint_url="https://attacker.example")),
    ("vertexAI", VertexAI(project="acme-prod", location="europe-west4", model="g",
                          endpoint_url="https://aiplatform.googleapis.com.attacker.example")),
])
def test_ambient_identity_goes_only_to_the_providers_own_domains(kind: str, block: Any) -> None:
    with pytest.raises(ProviderConfigError, match="only to the provider's own domains"):
        make("b", kind, block, namespace="trusted", policy=AMBIENT)
    overrides = UpstreamPolicy(ambient_namespaces=frozenset({"trusted"}), ambient_overrides=True)
    assert make("b", kind, block, namespace="trusted", policy=overrides) is not None


def test_private_endpoints_of_the_providers_are_their_own_domains() -> None:
    for kind, block in [
        ("azureOpenAI", AzureOpenAI(endpoint="https://contoso.cognitiveservices.azure.com", deployment="d",
                                    region="westeurope")),
        ("bedrock", Bedrock(region="eu-central-1", model_id="m",
                            endpoint_url="https://vpce-0a1b.bedrock-runtime.eu-central-1.vpce.amazonaws.com")),
        ("vertexAI", VertexAI(project="acme-prod", location="europe-west4", model="g",
                              endpoint_url="https://europe-west4-aiplatform.p.googleapis.com")),
    ]:
        assert make("b", kind, block, namespace="trusted", policy=AMBIENT) is not None


def test_pools_are_keyed_by_origin_and_credentials() -> None:
    pools = Pools()
    base = dict(base_url="https://api.example.com/v1", model="m", credentials_secret_ref={"name": "k"})
    one = make_caller("a", "openAICompatible", OpenAICompatible(**base), lambda n, k: b"key-one-0123", "ns",
                      pools=pools)
    same = make_caller("b", "openAICompatible", OpenAICompatible(**base), lambda n, k: b"key-one-0123", "ns",
                       pools=pools)
    other_key = make_caller("c", "openAICompatible", OpenAICompatible(**base), lambda n, k: b"key-two-4567", "ns",
                            pools=pools)
    other_ns = make_caller("d", "openAICompatible", OpenAICompatible(**base), lambda n, k: b"key-one-0123", "ns2",
                           pools=pools)
    assert isinstance(one, OpenAIFormatCaller) and isinstance(same, OpenAIFormatCaller)
    assert isinstance(other_key, OpenAIFormatCaller) and isinstance(other_ns, OpenAIFormatCaller)
    assert one._pool is same._pool
    assert len({id(one._pool), id(other_key._pool), id(other_ns._pool)}) == 3
    assert len(pools) == 3
