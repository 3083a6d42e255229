"""Credentials for each cloud, from a Secret or from the workload's identity.

Values read here go to the callers and to :attr:`Credentials.secrets` (the strings errors are
scrubbed of); they are never logged. Provider libraries are imported only when the first backend
that needs them is built.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airoute.api.providers import SecretKeyRef
from airoute.providers.egress import GOOGLE_TOKEN_URI, UpstreamPolicy
from airoute.providers.errors import ProviderConfigError
from airoute.providers.tokens import Refreshing

SecretLookup = Callable[[str, str], bytes | None]
"""``(secret name, key) -> value`` in the AIRoute's namespace; ``None`` when it is missing."""

AZURE_KEY = "api-key"
OPENAI_KEY = "api-key"
VERTEX_KEY = "key.json"
IN_CLUSTER_KEY = "token"
AWS_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")
GOOGLE_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


@dataclass(frozen=True)
class Credentials:
    """What an adapter authenticates with; ``secrets`` are the raw values to scrub from errors."""

    value: Any = None
    secrets: tuple[str, ...] = field(default=(), repr=False)


def read_secret(secrets: SecretLookup, ref: SecretKeyRef, default_key: str,
                optional: bool = False) -> str | None:
    key = ref.key or default_key
    raw = secrets(ref.name, key)
    if raw is None:
        if optional:
            return None
        raise ProviderConfigError(f"Secret {ref.name!r} has no key {key!r}")
    return raw.decode("utf-8").strip()


def bearer_token(secrets: SecretLookup, ref: SecretKeyRef | None, default_key: str) -> Credentials:
    """A bearer token (OpenAI-compatible APIs, in-cluster servers), or none."""
    if ref is None:
        return Credentials()
    token = read_secret(secrets, ref, default_key)
    return Credentials(token, (token,) if token else ())


def azure_key(secrets: SecretLookup, ref: SecretKeyRef) -> str:
    """The Azure OpenAI API key from the Secret (sent as the ``api-key`` header)."""
    return read_secret(secrets, ref, AZURE_KEY) or ""


def entra_token(provider: str) -> Refreshing[str]:
    """A Microsoft Entra ID token for Azure OpenAI (scope :data:`ENTRA_SCOPE`) from
    ``azure-identity``'s ``DefaultAzureCredential`` (workload identity in Kubernetes), fetched in
    a thread and refreshed ahead of expiry."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError as exc:  # a runtime dependency: only a broken install lacks it
        raise ProviderConfigError("azureOpenAI has no credentialsSecretRef and azure-identity cannot be "
                                  f"imported ({exc}): Entra ID is not available") from None
    credential: list[Any] = []

    def fetch() -> tuple[str, float]:
        if not credential:
            credential.append(DefaultAzureCredential())
        token = credential[0].get_token(ENTRA_SCOPE)
        return str(token.token), float(token.expires_on)

    return Refreshing(fetch, "Entra ID token", provider=provider)


def aws_keys(secrets: SecretLookup, ref: SecretKeyRef | None, provider: str) -> Credentials:
    """AWS credentials (a :class:`Refreshing` of :class:`~airoute.providers.aws_auth.Keys`): keys from
    the Secret, else botocore's default chain (IRSA web identity, EKS Pod Identity, instance
    profile)."""
    from airoute.providers import aws_auth

    if ref is None:
        return Credentials(aws_auth.default_chain(provider))
    access_key = read_secret(secrets, SecretKeyRef(name=ref.name, key=AWS_KEYS[0]), AWS_KEYS[0]) or ""
    secret_key = read_secret(secrets, SecretKeyRef(name=ref.name, key=AWS_KEYS[1]), AWS_KEYS[1]) or ""
    token = read_secret(secrets, SecretKeyRef(name=ref.name, key=AWS_KEYS[2]), AWS_KEYS[2], optional=True)
    return Credentials(aws_auth.static_keys(access_key, secret_key, token, provider),
                       tuple(v for v in (access_key, secret_key, token) if v))


def google_credentials(secrets: SecretLookup, ref: SecretKeyRef | None,
                       policy: UpstreamPolicy | None = None) -> Credentials:
    """A service-account key from the Secret, else ``None`` (Application Default Credentials).

    A tenant's Secret may hold only a ``service_account`` key whose ``token_uri`` is Google's
    (or one the operator allows): google-auth follows the other credential types' fields without
    checking them, and an ``external_account`` file can make the gateway read its own files (its
    ServiceAccount token) and send them to a URL the key names."""
    if ref is None:
        return Credentials(None)
    where = f"Secret {ref.name!r} key {ref.key or VERTEX_KEY!r}"
    text = read_secret(secrets, ref, VERTEX_KEY) or ""
    try:
        info = json.loads(text)
    except ValueError as exc:
        raise ProviderConfigError(f"{where} is not a JSON key file") from exc
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "service_account":
        raise ProviderConfigError(
            f"{where} holds a Google credential of type {str(kind)[:40]!r}: only service_account keys are "
            "accepted from a Secret (other types make the gateway read files and call URLs the file names)")
    token_uri = info.get("token_uri")
    if not isinstance(token_uri, str) or not (policy or UpstreamPolicy()).token_uri_allowed(token_uri):
        raise ProviderConfigError(
            f"{where}: token_uri {str(token_uri)[:200]!r} is not Google's ({GOOGLE_TOKEN_URI}); the gateway "
            "sends its signed token requests only there (the operator may allow another with --google-token-uri)")
    try:
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(GOOGLE_SCOPES))
    except (ValueError, KeyError) as exc:
        raise ProviderConfigError(f"{where} is not a usable service-account key ({type(exc).__name__})") from None
    private = [str(info.get(k)) for k in ("private_key", "private_key_id") if info.get(k)]
    return Credentials(creds, (text, *private))
