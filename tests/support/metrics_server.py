"""A tiny HTTP server that serves a Prometheus exposition the test controls (gateway-shaped metrics)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

LABELS = ["namespace", "route", "backend", "variant", "provider", "outcome"]


class GatewayMetrics:
    """Counters named exactly like the gateway's, served on ``url`` until ``close()``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("airoute_requests", "Requests.", LABELS, registry=self.registry)
        self.duration = Histogram("airoute_request_duration_seconds", "Duration.", LABELS[:5], registry=self.registry)
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/metrics"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, ns: str, route: str, backend: str, outcome: str, n: int, provider: str = "azureOpenAI") -> None:
        self.requests.labels(ns, route, backend, "stable", provider, outcome).inc(n)
        for _ in range(min(n, 50)):
            self.duration.labels(ns, route, backend, "stable", provider).observe(0.3)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
