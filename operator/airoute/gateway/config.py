"""Settings of one gateway (the ``airoute gateway`` flags)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from airoute.api.objects import split_key
from airoute.providers.egress import UpstreamPolicy


@dataclass(frozen=True)
class GatewayConfig:
    """Everything a gateway process needs; picklable, so ``--workers N`` can hand it to children.

    Exactly one route source: ``routes_dir`` (a folder of YAML files) or ``kubernetes=True``
    (watch AIRoutes and Secrets). Client auth needs ``api_keys_file`` or ``api_keys_secret``
    (``namespace/name``) unless ``auth_disabled`` says otherwise explicitly.
    """

    host: str = "0.0.0.0"
    port: int = 8080
    workers: int = 1
    routes_dir: str | None = None
    poll_interval: float = 1.0
    kubernetes: bool = False
    kubeconfig: str | None = None
    kube_context: str | None = None
    namespaces: tuple[str, ...] = ()
    api_keys_file: str | None = None
    api_keys_secret: str | None = None
    auth_disabled: bool = False
    max_body_bytes: int = 4 * 1024 * 1024
    max_in_flight: int = 0
    max_loop_lag: float = 1.0
    max_memory: int | None = None
    """Bytes of resident memory that count as full; None: 90 % of the cgroup's limit, if any; 0: not watched."""
    request_timeout: float = 120.0
    shutdown_grace: float = 30.0
    shutdown_delay: float = 0.0
    idle_timeout: float = 75.0
    max_connections: int = 4096
    header_timeout: float = 10.0
    min_data_rate: float = 240.0
    service_hosts: dict[str, str] = field(default_factory=dict)
    uvloop: bool = True
    reuse_port: bool = False
    metrics_dir: str | None = None
    metrics_port: int | None = None
    """Serve /metrics on this port only (the API port then answers 404 there); None: on the API port."""
    log_level: str = "INFO"
    allow_internal_upstreams: bool = False
    """Let backends reach loopback, link-local and Kubernetes API addresses (emulators, tests)."""
    google_token_uris: tuple[str, ...] = ()
    """Token URIs accepted in tenants' Google service-account keys besides Google's."""
    ambient_identity_namespaces: tuple[str, ...] = ()
    """Namespaces whose backends without credentialsSecretRef may use the gateway's own cloud identity."""
    ambient_identity_overrides: bool = False
    """Ambient identity also towards endpoints outside the provider's own domains."""
    otlp_endpoint: str | None = None
    """Base URL of an OTLP/HTTP receiver (``…:4318``) for metrics and spans; None: no export."""
    otlp_interval: float = 15.0
    """Seconds between two OTLP metrics exports."""

    def upstream_policy(self, kubernetes_api: frozenset[str] = frozenset()) -> UpstreamPolicy:
        """The limits on where backends connect and what credentials go there."""
        return UpstreamPolicy(allow_internal=self.allow_internal_upstreams,
                              google_token_uris=frozenset(self.google_token_uris),
                              ambient_namespaces=frozenset(self.ambient_identity_namespaces),
                              ambient_overrides=self.ambient_identity_overrides, kubernetes_api=kubernetes_api)

    def check(self) -> None:
        """Raises ValueError with a clear message when the settings cannot work together."""
        if (self.routes_dir is None) == (not self.kubernetes):
            raise ValueError("choose one route source: --routes DIR or --kubernetes")
        if not self.auth_disabled and not (self.api_keys_file or self.api_keys_secret):
            raise ValueError(
                "client authentication is required: pass --api-keys-file or --api-keys-secret, "
                "or --no-auth to disable it explicitly (demos only)"
            )
        if self.api_keys_secret and (not self.kubernetes or not _is_key(self.api_keys_secret)):
            raise ValueError("--api-keys-secret takes namespace/name and needs --kubernetes")
        if self.metrics_port is not None and not (0 <= self.metrics_port <= 65535 and self.metrics_port != self.port):
            raise ValueError("--metrics-port must be a port (0-65535) other than --port")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if self.max_body_bytes < 1024:
            raise ValueError("--max-body-bytes must be at least 1024")
        if self.max_connections < 0 or self.header_timeout < 0 or self.min_data_rate < 0:
            raise ValueError("--max-connections, --header-timeout and --min-data-rate must not be negative")
        if self.max_in_flight < 0:
            raise ValueError("--max-in-flight must be 0 (no cap) or more")
        if self.max_loop_lag <= 0:
            raise ValueError("--max-loop-lag must be a positive number of seconds")
        if self.max_memory is not None and self.max_memory < 0:
            raise ValueError("--max-memory must be 0 (not watched) or a size such as 2Gi")
        if self.otlp_endpoint is not None:
            url = urlsplit(self.otlp_endpoint)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError("--otlp-endpoint must be an http:// or https:// URL, such as "
                                 "http://otel-collector.monitoring:4318")
        if self.otlp_interval <= 0:
            raise ValueError("--otlp-interval must be a positive number of seconds")


def _is_key(text: str) -> bool:
    try:
        split_key(text)
    except ValueError:
        return False
    return True
