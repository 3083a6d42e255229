"""The upstream policy: which addresses the gateway connects to, which token URIs and which
namespaces' ambient identity it accepts."""

from __future__ import annotations

import pytest

from airoute.providers.egress import GOOGLE_TOKEN_URI, UpstreamPolicy, provider_domain_problem


@pytest.mark.parametrize(("address", "why"), [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("169.254.169.254", "link-local"), ("fe80::1%eth0", "link-local"), ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:127.0.0.1", "loopback"), ("0.0.0.0", "not a unicast"), ("::", "not a unicast"),
    ("224.0.0.1", "not a unicast"), ("10.96.0.1", "the Kubernetes API"),
])
def test_internal_addresses_are_refused_by_default(address: str, why: str) -> None:
    policy = UpstreamPolicy(kubernetes_api=frozenset({"10.96.0.1"}))
    problem = policy.address_problem(address)
    assert problem is not None and why in problem
    assert UpstreamPolicy(allow_internal=True).address_problem(address) is None


@pytest.mark.parametrize("address", ["10.0.12.7", "172.20.1.1", "192.168.3.4", "52.1.2.3", "2a00:1450::1"])
def test_cluster_and_public_addresses_are_allowed(address: str) -> None:
    assert UpstreamPolicy(kubernetes_api=frozenset({"10.96.0.1"})).address_problem(address) is None


def test_token_uris() -> None:
    assert UpstreamPolicy().token_uri_allowed(GOOGLE_TOKEN_URI)
    assert not UpstreamPolicy().token_uri_allowed("https://attacker.example/token")
    assert not UpstreamPolicy().token_uri_allowed(GOOGLE_TOKEN_URI + ".attacker.example")
    allowed = UpstreamPolicy(google_token_uris=frozenset({"http://127.0.0.1:9/token"}))
    assert allowed.token_uri_allowed("http://127.0.0.1:9/token")


@pytest.mark.parametrize(("kind", "host", "ok"), [
    ("azureOpenAI", "contoso.openai.azure.com", True), ("azureOpenAI", "openai.azure.com.evil.example", False),
    ("azureOpenAI", "evilopenai.azure.com", False), ("bedrock", "bedrock-runtime.eu-central-1.amazonaws.com", True),
    ("bedrock", "amazonaws.com.evil.example", False), ("vertexAI", "europe-west4-aiplatform.googleapis.com", True),
    ("vertexAI", "googleapis.com", False), ("vertexAI", "127.0.0.1", False),
])
def test_provider_domains(kind: str, host: str, ok: bool) -> None:
    assert (provider_domain_problem(kind, host) is None) == ok
