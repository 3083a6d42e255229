"""One factory for every backend kind: a provider block (and the Secret values it references) in,
a :class:`~airoute.providers.caller.Caller` out. Unknown kinds are an error.

* ``inCluster``, ``openAICompatible`` and ``azureOpenAI``: the OpenAI-format caller over the
  shared pool (Azure: its v1 API, or a deployment's path when the block sets ``apiVersion``);
* ``bedrock``: Converse over the pool, SigV4-signed (:mod:`~airoute.providers.bedrock`);
* ``vertexAI``: generateContent over the pool with a Google token (:mod:`~airoute.providers.vertex_ai`).

Provider libraries (botocore, google-auth, azure-identity) are imported when the first backend
that needs them is built. A backend of an embeddings route (``embeddings`` given) gets its
embeddings caller instead (:mod:`~airoute.providers.embedders`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from airoute.api.providers import (
    PROVIDER_FIELDS,
    AzureOpenAI,
    Bedrock,
    InCluster,
    OpenAICompatible,
    ProviderBlock,
    VertexAI,
)
from airoute.api.spec import Embeddings
from airoute.providers import credentials as creds
from airoute.providers.caller import Caller
from airoute.providers.credentials import SecretLookup
from airoute.providers.egress import UpstreamPolicy
from airoute.providers.errors import ProviderConfigError
from airoute.providers.http_pool import Origin, Pools
from airoute.providers.openai_format import Endpoint, OpenAIFormatCaller
from airoute.providers.tokens import BearerHeader, Refreshing

BLOCK_TYPES: dict[str, type[Any]] = {
    "azureOpenAI": AzureOpenAI, "bedrock": Bedrock, "vertexAI": VertexAI,
    "inCluster": InCluster, "openAICompatible": OpenAICompatible,
}
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\0")


def make_caller(backend: str, kind: str, block: ProviderBlock, secrets: SecretLookup, namespace: str, *,
                pools: Pools, service_hosts: Mapping[str, str] | None = None, policy: UpstreamPolicy | None = None,
                google_credentials: Any = None, embeddings: Embeddings | None = None) -> Caller:
    """The caller of one backend variant. ``kind`` is the block's field name in the AIRoute
    (``azureOpenAI``, ``bedrock``, ``vertexAI``, ``inCluster``, ``openAICompatible``); ``secrets``
    reads the Secrets of the route's ``namespace``; raises :class:`ProviderConfigError`.

    ``service_hosts`` maps ``<service>.<namespace>`` of an inCluster Service to ``host:port``
    (running outside a cluster, tests, the demo); ``policy`` is the operator's
    :class:`~airoute.providers.egress.UpstreamPolicy` (token URIs, ambient identity; the pools
    enforce its targets; default: the pools'); ``google_credentials`` replaces the Vertex AI
    credentials (tests); ``embeddings``: the backend serves embeddings of that family and size.
    Every caller's pool is keyed by its origin and a digest of its namespace and credentials.
    """
    expected = BLOCK_TYPES.get(kind)
    if expected is None:
        raise ProviderConfigError(f"backend {backend!r}: unknown provider kind "
                                  f"{kind!r} (expected one of {', '.join(PROVIDER_FIELDS)})")
    if not isinstance(block, expected):
        raise ProviderConfigError(f"backend {backend!r}: a {kind} backend needs a "
                                  f"{expected.__name__} block, not {type(block).__name__}")
    policy = policy or pools.policy
    if embeddings is not None:
        return _embedder(backend, block, secrets, namespace, pools, service_hosts or {}, embeddings,
                         google_credentials, policy)
    if isinstance(block, (InCluster, OpenAICompatible, AzureOpenAI)):
        endpoint, values, auth = _openai_endpoint(backend, block, secrets, namespace, service_hosts or {}, policy)
        return OpenAIFormatCaller(backend, endpoint, pools, values, auth)
    if isinstance(block, Bedrock):
        from airoute.providers.bedrock import BedrockCaller

        keys = _aws_keys(backend, block, secrets, namespace, policy)
        return BedrockCaller(backend, block, keys.value, pools, keys.secrets, credential(namespace, keys.secrets))
    assert isinstance(block, VertexAI)
    from airoute.providers.vertex_ai import VertexCaller

    token, found = _google_token(backend, block, secrets, namespace, policy, google_credentials)
    return VertexCaller(backend, block, token, pools, found, credential(namespace, found))


def credential(namespace: str, values: Iterable[str | bytes]) -> str:
    """The digest that keys a caller's pool: its namespace and the credential values it sends
    (none: the gateway's own identity, per namespace)."""
    digest = hashlib.sha256(namespace.encode())
    for value in values:
        digest.update(b"\0" + (value if isinstance(value, bytes) else value.encode()))
    return digest.hexdigest()[:32]


def _ambient_allowed(ambient: bool, policy: UpstreamPolicy, namespace: str, kind: str, host: str | None) -> None:
    """Raises when a backend without a Secret may not use the gateway's own cloud identity."""
    problem = policy.ambient_problem(namespace, kind, host) if ambient else None
    if problem is not None:
        raise ProviderConfigError(problem)


def _aws_keys(backend: str, block: Bedrock, secrets: SecretLookup, namespace: str,
              policy: UpstreamPolicy) -> creds.Credentials:
    host = urlsplit(block.endpoint_url).hostname if block.endpoint_url else None
    _ambient_allowed(block.credentials_secret_ref is None, policy, namespace, "bedrock", host)
    return creds.aws_keys(secrets, block.credentials_secret_ref, backend)


def _google_token(backend: str, block: VertexAI, secrets: SecretLookup, namespace: str, policy: UpstreamPolicy,
                  google_credentials: Any) -> tuple[Refreshing[str], tuple[str, ...]]:
    from airoute.providers.vertex_ai import google_token

    if google_credentials is not None:
        found = creds.Credentials(google_credentials)
    else:
        host = urlsplit(block.endpoint_url).hostname if block.endpoint_url else None
        _ambient_allowed(block.credentials_secret_ref is None, policy, namespace, "vertexAI", host)
        found = creds.google_credentials(secrets, block.credentials_secret_ref, policy)
    return google_token(found.value, backend), found.secrets


def _openai_endpoint(backend: str, block: InCluster | OpenAICompatible | AzureOpenAI, secrets: SecretLookup,
                     namespace: str, service_hosts: Mapping[str, str], policy: UpstreamPolicy,
                     ) -> tuple[Endpoint, tuple[bytes, ...], BearerHeader | None]:
    """Where an OpenAI-format backend is, the secret values it sends, and its Entra ID token (Azure
    without a Secret); the origin keyed by namespace and credentials."""
    auth = None
    if isinstance(block, InCluster):
        endpoint, values = in_cluster_endpoint(block, secrets, namespace, service_hosts)
    elif isinstance(block, OpenAICompatible):
        endpoint, values = openai_compatible_endpoint(block, secrets)
    else:
        endpoint, values = azure_endpoint(block, secrets)
        if block.credentials_secret_ref is None:
            _ambient_allowed(True, policy, namespace, "azureOpenAI", endpoint.origin.host)
            auth = BearerHeader(creds.entra_token(backend))
    origin = replace(endpoint.origin, credential=credential(namespace, values))
    return replace(endpoint, origin=origin), values, auth


def _embedder(backend: str, block: ProviderBlock, secrets: SecretLookup, namespace: str, pools: Pools,
              service_hosts: Mapping[str, str], embeddings: Embeddings, google_credentials: Any,
              policy: UpstreamPolicy) -> Caller:
    from airoute.providers.embedders import BedrockEmbedder, CheckedEmbeddings, VertexEmbedder, embeddings_path

    if isinstance(block, Bedrock):
        keys = _aws_keys(backend, block, secrets, namespace, policy)
        return BedrockEmbedder(backend, block, keys.value, pools, embeddings.dimensions, keys.secrets,
                               credential(namespace, keys.secrets))
    if isinstance(block, VertexAI):
        token, found = _google_token(backend, block, secrets, namespace, policy, google_credentials)
        return VertexEmbedder(backend, block, token, pools, embeddings.dimensions, found, credential(namespace, found))
    assert isinstance(block, (InCluster, OpenAICompatible, AzureOpenAI))
    endpoint, values, auth = _openai_endpoint(backend, block, secrets, namespace, service_hosts, policy)
    endpoint = replace(endpoint, path=embeddings_path(endpoint.path))
    inner = OpenAIFormatCaller(backend, endpoint, pools, values, auth)
    return CheckedEmbeddings(inner, backend, embeddings.family, embeddings.dimensions)


def _header(name: str, value: str) -> tuple[str, str]:
    if any(c in value for c in _FORBIDDEN_IN_HEADERS):
        raise ProviderConfigError(f"header {name}: the value holds a line break or NUL")
    return name.lower(), value


def _bearer(token: creds.Credentials) -> list[tuple[str, str]]:
    return [_header("authorization", f"Bearer {token.value}")] if token.value else []


def in_cluster_endpoint(block: InCluster, secrets: SecretLookup, namespace: str,
                        service_hosts: Mapping[str, str]) -> tuple[Endpoint, tuple[bytes, ...]]:
    """``<service>.<namespace>.svc:<port><pathPrefix>/chat/completions`` (or the address
    ``service_hosts`` gives it), and the secret values it sends."""
    svc_ns = block.service.namespace or namespace
    override = service_hosts.get(f"{block.service.name}.{svc_ns}")
    if override:
        host, _, port = override.rpartition(":")
        address = (host.strip("[]"), int(port))
    else:
        address = (f"{block.service.name}.{svc_ns}.svc", block.service.port)
    token = creds.bearer_token(secrets, block.credentials_secret_ref, creds.IN_CLUSTER_KEY)
    origin = Origin(address[0], address[1], block.scheme == "https")
    endpoint = Endpoint(origin, f"{block.path_prefix}/chat/completions", tuple(_bearer(token)), block.model)
    return endpoint, tuple(s.encode() for s in token.secrets)


def openai_compatible_endpoint(block: OpenAICompatible, secrets: SecretLookup) -> tuple[Endpoint, tuple[bytes, ...]]:
    """``baseURL`` + ``/chat/completions`` with the bearer key, OpenAI's organization and project
    headers and the extra headers, and the secret values it sends."""
    url = urlsplit(block.base_url)
    if not url.hostname:
        raise ProviderConfigError(f"baseURL {block.base_url!r} has no host")
    tls = url.scheme == "https"
    token = creds.bearer_token(secrets, block.credentials_secret_ref, creds.OPENAI_KEY)
    headers = _bearer(token)
    values = list(token.secrets)
    if block.organization:
        headers.append(_header("openai-organization", block.organization))
    if block.project:
        headers.append(_header("openai-project", block.project))
    for extra in block.headers:
        if extra.value_from is not None:
            value = creds.read_secret(secrets, extra.value_from, creds.OPENAI_KEY) or ""
            values.append(value)
        else:
            value = extra.value or ""
        headers.append(_header(extra.name, value))
    origin = Origin(url.hostname, url.port or (443 if tls else 80), tls, block.ca_bundle if tls else None)
    endpoint = Endpoint(origin, url.path.rstrip("/") + "/chat/completions", tuple(headers), block.model)
    return endpoint, tuple(v.encode() for v in values if v)


def azure_endpoint(block: AzureOpenAI, secrets: SecretLookup) -> tuple[Endpoint, tuple[bytes, ...]]:
    """Azure OpenAI's v1 API, ``{endpoint}/openai/v1/chat/completions`` with ``model`` = the
    deployment; or, when the block sets ``apiVersion``, the deployment's own path
    ``{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…``. The key from the
    Secret goes in ``api-key``; without a Secret the caller adds an Entra ID bearer token."""
    url = urlsplit(block.endpoint)
    if not url.hostname:
        raise ProviderConfigError(f"endpoint {block.endpoint!r} has no host")
    tls = url.scheme == "https"
    base = url.path.rstrip("/")
    if block.api_version is None:
        path = f"{base}/openai/v1/chat/completions"
    else:
        path = f"{base}/openai/deployments/{block.deployment}/chat/completions?api-version={block.api_version}"
    headers: list[tuple[str, str]] = []
    values: tuple[bytes, ...] = ()
    if block.credentials_secret_ref is not None:
        key = creds.azure_key(secrets, block.credentials_secret_ref)
        headers.append(_header("api-key", key))
        values = (key.encode(),)
    origin = Origin(url.hostname, url.port or (443 if tls else 80), tls)
    return Endpoint(origin, path, tuple(headers), block.deployment), values
