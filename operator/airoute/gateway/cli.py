"""The ``airoute gateway`` command line (also ``python -m airoute.gateway``)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from airoute.gateway.config import GatewayConfig


def _service_host(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or "." not in name or ":" not in address:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected SERVICE.NAMESPACE=HOST:PORT, e.g. vllm.models=127.0.0.1:8000"
        )
    return name, address


_UNITS = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def _size(text: str) -> int:
    """A size in bytes, with Kubernetes' suffixes (``1536Mi``, ``2Gi``, ``500M``)."""
    match = re.fullmatch(r"([0-9]+)(|k|M|G|Ki|Mi|Gi)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a size such as 1536Mi, 2Gi or a number of bytes")
    return int(match.group(1)) * _UNITS[match.group(2)]


def add_arguments(p: argparse.ArgumentParser) -> None:
    src = p.add_argument_group("route source (choose one)")
    src.add_argument("--routes", metavar="DIR", help="folder of AIRoute YAML files (and their .status.yaml files)")
    src.add_argument("--kubernetes", action="store_true", help="watch AIRoutes and Secrets in the cluster")
    src.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
    src.add_argument("--context", help="kubeconfig context (default: current-context)")
    src.add_argument("--namespace", action="append", default=[], metavar="NS",
                     help="serve the AIRoutes of this namespace (repeatable; default: the kubeconfig's namespace)")
    src.add_argument("--poll-interval", type=float, default=1.0, help="seconds between folder checks (default 1)")
    auth = p.add_argument_group("client authentication")
    auth.add_argument("--api-keys-file", metavar="FILE", help="YAML file of `client-name: api-key` pairs")
    auth.add_argument("--api-keys-secret", metavar="NS/NAME", help="Secret whose keys are client names (--kubernetes)")
    auth.add_argument("--no-auth", action="store_true", help="accept requests without an API key (demos only)")
    srv = p.add_argument_group("serving")
    srv.add_argument("--host", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    srv.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    srv.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                     help="serve /metrics on this port only, so that a NetworkPolicy can let Prometheus reach it "
                          "and nothing else (default: /metrics on --port, without a key)")
    srv.add_argument("--workers", type=int, default=1, help="processes sharing the port via SO_REUSEPORT (default 1)")
    srv.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024, help="request body limit (default 4 MiB)")
    srv.add_argument("--max-connections", type=int, default=4096,
                     help="open client connections per process; at the cap idle ones are closed, then new ones "
                          "get 503 (default 4096; 0: no cap)")
    srv.add_argument("--header-timeout", type=float, default=10.0,
                     help="seconds a request's line and headers may take to arrive (default 10; 0: no limit)")
    srv.add_argument("--min-data-rate", type=float, default=240.0,
                     help="bytes per second a request body must average after 5 s (default 240; 0: no minimum)")
    srv.add_argument("--max-in-flight", type=int, default=0,
                     help="cap on concurrent chat requests per process, shed best-effort first (default 0: no cap; "
                          "saturation is judged by event-loop lag, memory and open files)")
    srv.add_argument("--max-loop-lag", type=float, default=1.0, metavar="S",
                     help="event-loop lag that counts as saturated, seconds (default 1; best-effort is shed at 70%%, "
                          "standard at 85%%)")
    srv.add_argument("--max-memory", type=_size, default=None, metavar="SIZE",
                     help="resident memory that counts as full, e.g. 1536Mi (default: 90%% of the container's "
                          "memory limit; 0: not watched)")
    srv.add_argument("--request-timeout", type=float, default=120.0,
                     help="deadline of one client request across all retries, seconds (default 120)")
    srv.add_argument("--shutdown-grace", type=float, default=30.0,
                     help="seconds to let requests and streams finish on SIGTERM (default 30)")
    srv.add_argument("--shutdown-delay", type=float, default=0.0,
                     help="seconds between /readyz turning 503 and the listener closing (default 0)")
    srv.add_argument("--service-host", action="append", default=[], type=_service_host, metavar="SVC.NS=HOST:PORT",
                     help="address of an inCluster Service when running outside the cluster (repeatable)")
    srv.add_argument("--no-uvloop", action="store_true", help="use the standard asyncio event loop")
    up = p.add_argument_group("upstreams (what route authors may point the gateway at)")
    up.add_argument("--allow-internal-upstreams", action="store_true",
                    help="let backends reach loopback, link-local (cloud metadata) and Kubernetes API addresses "
                         "(emulators and tests only; refused by default)")
    up.add_argument("--google-token-uri", action="append", default=[], metavar="URL",
                    help="also accept this token_uri in tenants' Google service-account keys (repeatable; "
                         "default: only https://oauth2.googleapis.com/token)")
    up.add_argument("--ambient-identity-namespace", action="append", default=[], metavar="NS",
                    help="backends of this namespace without credentialsSecretRef may use the gateway's own "
                         "cloud identity (repeatable; default: none)")
    up.add_argument("--ambient-identity-overrides", action="store_true",
                    help="ambient identity also towards endpoints outside the provider's own domains")
    srv.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    otel = p.add_argument_group("OpenTelemetry (off by default)")
    otel.add_argument("--otlp-endpoint", default=None, metavar="URL",
                      help="send metrics and one span per upstream attempt over OTLP/HTTP to this receiver, "
                           "e.g. http://otel-collector.monitoring:4318 (headers: $OTEL_EXPORTER_OTLP_HEADERS)")
    otel.add_argument("--otlp-interval", type=float, default=15.0, metavar="S",
                      help="seconds between two OTLP metrics exports (default 15)")


def config_from(args: Any) -> GatewayConfig:
    return GatewayConfig(
        host=args.host, port=args.port, metrics_port=args.metrics_port, workers=args.workers, routes_dir=args.routes,
        poll_interval=args.poll_interval, kubernetes=args.kubernetes, kubeconfig=args.kubeconfig,
        kube_context=args.context, namespaces=tuple(args.namespace), api_keys_file=args.api_keys_file,
        api_keys_secret=args.api_keys_secret, auth_disabled=args.no_auth, max_body_bytes=args.max_body_bytes,
        max_connections=args.max_connections, header_timeout=args.header_timeout, min_data_rate=args.min_data_rate,
        max_in_flight=args.max_in_flight, max_loop_lag=args.max_loop_lag, max_memory=args.max_memory,
        request_timeout=args.request_timeout,
        shutdown_grace=args.shutdown_grace, shutdown_delay=args.shutdown_delay,
        service_hosts=dict(args.service_host), uvloop=not args.no_uvloop, log_level=args.log_level,
        allow_internal_upstreams=args.allow_internal_upstreams, google_token_uris=tuple(args.google_token_uri),
        ambient_identity_namespaces=tuple(args.ambient_identity_namespace),
        ambient_identity_overrides=args.ambient_identity_overrides,
        otlp_endpoint=args.otlp_endpoint, otlp_interval=args.otlp_interval,
    )


def run(args: Any) -> int:
    """The ``airoute gateway`` command: 0 after a clean drain, 2 for unusable settings."""
    from airoute.gateway.workers import run_gateway

    try:
        config = config_from(args)
        config.check()
    except ValueError as exc:
        print(f"airoute gateway: {exc}", file=sys.stderr)
        return 2
    return run_gateway(config)


def add_gateway_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds ``gateway`` to the ``airoute`` command's subcommands."""
    p = sub.add_parser(
        "gateway",
        help="run the OpenAI-compatible gateway that enforces the routes' weights",
        description="Serves POST /v1/chat/completions for every AIRoute's spec.model, with failover.",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airoute gateway", description="The airoute gateway.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
