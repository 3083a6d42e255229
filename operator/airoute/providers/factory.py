"""Build the adapter for one backend from its provider block. Unknown kinds are an error."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

from airoute.api.providers import (
    PROVIDER_FIELDS,
    AzureOpenAI,
    Bedrock,
    InCluster,
    OpenAICompatible,
    ProviderBlock,
    ServiceRef,
    VertexAI,
)
from airoute.providers import credentials as creds
from airoute.providers.base import ChatProvider, SecretLookup
from airoute.providers.errors import ProviderConfigError
from airoute.providers.openai_compatible import OpenAICompatibleProvider

ServiceResolver = Callable[[ServiceRef, str, str], str]
"""``(service, namespace, scheme) -> base URL without the path prefix``."""

BLOCK_TYPES: dict[str, type[Any]] = {
    "azureOpenAI": AzureOpenAI, "bedrock": Bedrock, "vertexAI": VertexAI,
    "inCluster": InCluster, "openAICompatible": OpenAICompatible,
}


def service_url(service: ServiceRef, namespace: str, scheme: str) -> str:
    """The cluster DNS name of a Service: ``http://{name}.{namespace}.svc:{port}``."""
    return f"{scheme}://{service.name}.{service.namespace or namespace}.svc:{service.port}"


def make_provider(backend_name: str, provider_kind: str, block: ProviderBlock,
                  secrets: SecretLookup, namespace: str, *,
                  base_url_override: str | None = None,
                  resolve_service: ServiceResolver | None = None,
                  google_credentials: Any = None,
                  max_connections: int = 64) -> ChatProvider:
    """The adapter for a backend. ``provider_kind`` is the block's field name in the AIRoute
    (``azureOpenAI``, ``bedrock``, ``vertexAI``, ``inCluster``, ``openAICompatible``).

    Overrides, for tests and special networks: ``base_url_override`` replaces the URL of an
    inCluster/openAICompatible backend (``…/v1``); ``resolve_service`` maps an inCluster Service
    to a base URL; ``google_credentials`` replaces the Vertex AI credentials object.
    """
    expected = BLOCK_TYPES.get(provider_kind)
    if expected is None:
        raise ProviderConfigError(f"backend {backend_name!r}: unknown provider kind "
                                  f"{provider_kind!r} (expected one of {', '.join(PROVIDER_FIELDS)})")
    if not isinstance(block, expected):
        raise ProviderConfigError(f"backend {backend_name!r}: a {provider_kind} backend needs a "
                                  f"{expected.__name__} block, not {type(block).__name__}")
    if isinstance(block, AzureOpenAI):
        from airoute.providers.azure_openai import AzureOpenAIProvider

        return AzureOpenAIProvider(backend_name, block,
                                   creds.azure_credential(secrets, block.credentials_secret_ref))
    if isinstance(block, Bedrock):
        from airoute.providers.bedrock import BedrockProvider

        return BedrockProvider(backend_name, block,
                               creds.aws_credentials(secrets, block.credentials_secret_ref),
                               max_connections)
    if isinstance(block, VertexAI):
        from airoute.providers.vertex_ai import VertexAIProvider

        found = (creds.Credentials(google_credentials) if google_credentials is not None
                 else creds.google_credentials(secrets, block.credentials_secret_ref))
        return VertexAIProvider(backend_name, block, found)
    if isinstance(block, InCluster):
        return _in_cluster(backend_name, block, secrets, namespace, base_url_override,
                           resolve_service, max_connections)
    return _openai_compatible(backend_name, block, secrets, base_url_override, max_connections)


def _in_cluster(name: str, block: InCluster, secrets: SecretLookup, namespace: str,
                base_url: str | None, resolve: ServiceResolver | None,
                max_connections: int) -> OpenAICompatibleProvider:
    if base_url is None:
        root = (resolve or service_url)(block.service, namespace, block.scheme)
        base_url = root.rstrip("/") + block.path_prefix
    token = creds.bearer_token(secrets, block.credentials_secret_ref, creds.IN_CLUSTER_KEY)
    headers = {"Authorization": f"Bearer {token.value}"} if token.value else {}
    return OpenAICompatibleProvider(name, base_url, block.model, headers=headers,
                                    secrets=token.secrets, max_connections=max_connections)


def _openai_compatible(name: str, block: OpenAICompatible, secrets: SecretLookup,
                       base_url: str | None, max_connections: int) -> OpenAICompatibleProvider:
    token = creds.bearer_token(secrets, block.credentials_secret_ref, creds.OPENAI_KEY)
    found: list[str] = list(token.secrets)
    headers: dict[str, str] = {}
    for header in block.headers:
        if header.value_from is not None:
            value = creds.read_secret(secrets, header.value_from, header.name) or ""
            found.append(value)
        else:
            value = header.value or ""
        headers[header.name] = value
    if token.value:
        headers["Authorization"] = f"Bearer {token.value}"
    if block.organization:
        headers["OpenAI-Organization"] = block.organization
    if block.project:
        headers["OpenAI-Project"] = block.project
    try:
        context = ssl.create_default_context(cadata=block.ca_bundle) if block.ca_bundle else None
    except (ssl.SSLError, ValueError) as exc:
        raise ProviderConfigError(f"backend {name!r}: caBundle is not a PEM bundle") from exc
    return OpenAICompatibleProvider(name, base_url or block.base_url, block.model,
                                    headers=headers, secrets=tuple(found), ssl_context=context,
                                    max_connections=max_connections)
