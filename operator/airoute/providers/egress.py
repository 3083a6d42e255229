"""Where the gateway's upstream connections may go, and whose credentials may go there — the
operator's policy over what route authors type.

A route author is trusted with nothing outside their namespace, and a provider endpoint may be
hostile. So, unless the operator says otherwise (:class:`UpstreamPolicy`, from the gateway's
flags):

* **Internal targets are refused at connect time**: loopback, link-local (cloud metadata
  services at 169.254.169.254 and fd00:ec2::254 among them), unspecified and multicast addresses,
  and the Kubernetes API's addresses. The check runs on the addresses the name resolves to, and
  the connection goes to the address that passed it — a DNS answer that changes between the
  check and the connect (rebinding) cannot slip through. ``--allow-internal-upstreams`` lifts
  it for emulators and tests.
* **Google key files** from a tenant's Secret must be ``service_account`` keys whose
  ``token_uri`` is Google's (:data:`GOOGLE_TOKEN_URI`); ``--google-token-uri`` adds others.
* **Ambient identity** (the gateway's own workload identity: Entra ID, IRSA/Pod Identity, GKE) is
  used only by backends in namespaces the operator lists (``--ambient-identity-namespace``), and
  then only towards the provider's own domains (:func:`provider_domain_problem`) unless
  ``--ambient-identity-overrides`` is given.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"

PROVIDER_DOMAINS: dict[str, tuple[str, ...]] = {
    "azureOpenAI": (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"),
    "bedrock": (".amazonaws.com", ".amazonaws.com.cn"),
    "vertexAI": (".googleapis.com",),
}
"""Host suffixes of each cloud's own API endpoints (private endpoints included: Azure private
links keep the resource's name, AWS VPC endpoints end in ``vpce.amazonaws.com``, Google Private
Service Connect in ``p.googleapis.com``)."""

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class UpstreamPolicy:
    """The operator's limits on upstream targets and credentials (safe by default)."""

    allow_internal: bool = False
    google_token_uris: frozenset[str] = frozenset()
    ambient_namespaces: frozenset[str] = frozenset()
    ambient_overrides: bool = False
    kubernetes_api: frozenset[str] = field(default_factory=frozenset)
    """Addresses of the Kubernetes API (its Service IP and the API server's), refused like loopback."""

    @classmethod
    def for_emulators(cls, token_uris: Iterable[str] = (), ambient_namespaces: Iterable[str] = ()) -> UpstreamPolicy:
        """Loopback targets and the given token URIs allowed: emulators, tests, the demo."""
        return cls(allow_internal=True, google_token_uris=frozenset(token_uris),
                   ambient_namespaces=frozenset(ambient_namespaces), ambient_overrides=True)

    def address_problem(self, address: str) -> str | None:
        """Why the gateway does not connect to ``address`` (an IP), or None when it may."""
        if self.allow_internal:
            return None
        try:
            ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_loopback:
            return "a loopback address"
        if ip.is_link_local:
            return "a link-local address (cloud metadata services live there)"
        if ip.is_unspecified or ip.is_multicast:
            return "not a unicast address"
        if str(ip) in self.kubernetes_api:
            return "the Kubernetes API"
        return None

    def token_uri_allowed(self, uri: str) -> bool:
        return uri == GOOGLE_TOKEN_URI or uri in self.google_token_uris

    def ambient_problem(self, namespace: str, kind: str, host: str | None) -> str | None:
        """Why a backend without credentialsSecretRef may not use the gateway's own identity."""
        if namespace not in self.ambient_namespaces:
            return (f"namespace {namespace!r} may not use the gateway's own cloud identity (no credentialsSecretRef); "
                    "reference a Secret, or have the operator opt the namespace in (--ambient-identity-namespace)")
        if host is not None and not self.ambient_overrides:
            return provider_domain_problem(kind, host)
        return None


def provider_domain_problem(kind: str, host: str) -> str | None:
    """Why ``host`` is not one of the provider's own API hosts, or None."""
    suffixes = PROVIDER_DOMAINS.get(kind, ())
    name = host.lower().rstrip(".")
    if any(name.endswith(suffix) for suffix in suffixes):
        return None
    return (f"the gateway's own cloud identity is sent only to the provider's own domains "
            f"({', '.join('*' + s for s in suffixes)}), not to {host!r}; reference a Secret, or have the operator "
            "allow endpoint overrides (--ambient-identity-overrides)")
