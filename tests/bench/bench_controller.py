"""Controller cost per evaluation cycle at 1,000 and 10,000 routes, against a real Prometheus.

A synthetic exposition (gateway metric names, 3 backends per route) is served on several
targets and scraped by the real Prometheus server; then the controller's evaluator decides
every route once per cycle with the real PrometheusMetricsSource. Printed: CPU seconds per cycle
(this process: PromQL answers decoded, every route decided), wall seconds, and PromQL queries
per cycle. The goal: queries constant in the number of routes, ≤ 1 s CPU at 10,000 routes.
Last line: one JSON object with the figures.

    .venv/bin/python tests/bench/bench_controller.py [--routes 1000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from airoute.controller.evaluator import Evaluator
from airoute.controller.main import tune_gc
from airoute.signals.prometheus import PrometheusConfig, PrometheusMetricsSource
from tests.support.fakes import FakeClock
from tests.support.paths import EXAMPLES
from tests.support.prom_server import PrometheusServer, ensure_prometheus

BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu")
TARGETS = 4


def exposition(routes: range, t: int) -> bytes:
    lines = ["# TYPE airoute_requests_total counter", "# TYPE airoute_request_duration_seconds histogram"]
    for i in routes:
        for b in BACKENDS:
            labels = f'namespace="bench",route="r{i}",backend="{b}",variant="stable",provider="p"'
            ok, bad = 100 * t, (50 * t if b == "azure-eu" and i % 10 == 0 else 0)
            lines.append(f'airoute_requests_total{{{labels},outcome="success"}} {ok}')
            lines.append(f'airoute_requests_total{{{labels},outcome="error"}} {bad}')
            for le, n in (("0.5", ok * 0.9), ("2", ok), ("+Inf", ok)):
                lines.append(f'airoute_request_duration_seconds_bucket{{{labels},le="{le}"}} {n}')
            lines.append(f"airoute_request_duration_seconds_count{{{labels}}} {ok}")
    return ("\n".join(lines) + "\n").encode()


class Exposition:
    """Serves ``routes`` split over TARGETS ports; counters grow with every scrape."""

    def __init__(self, routes: int) -> None:
        self.servers: list[ThreadingHTTPServer] = []
        share = (routes + TARGETS - 1) // TARGETS
        for k in range(TARGETS):
            part = range(k * share, min(routes, (k + 1) * share))
            scrapes = [0]

            class Handler(BaseHTTPRequestHandler):
                def do_GET(self, part: range = part, scrapes: list[int] = scrapes) -> None:
                    scrapes[0] += 1
                    body = exposition(part, scrapes[0])
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *args: object) -> None:
                    pass

            server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)

    @property
    def targets(self) -> list[str]:
        return [f"127.0.0.1:{s.server_address[1]}" for s in self.servers]

    def close(self) -> None:
        for s in self.servers:
            s.shutdown()
            s.server_close()


def routes(n: int) -> list[dict[str, Any]]:
    base = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    base["metadata"]["namespace"] = "bench"
    base["spec"]["health"]["window"] = "1m"
    out = []
    for i in range(n):
        obj = copy.deepcopy(base)
        obj["metadata"]["name"] = f"r{i}"
        out.append(obj)
    return out


async def measure(prom_url: str, n: int) -> dict[str, float]:
    source = PrometheusMetricsSource(PrometheusConfig(prom_url, timeout_seconds=60))
    clock = FakeClock(time.time())
    evaluator = Evaluator(source, clock)
    objs = routes(n)
    # Steady state: a first cycle gives every route a status, as it has in a running cluster.
    first = await evaluator.cycle(objs, force=True)
    objs = [{**o, "status": out.decision.status.to_wire()} for o, out in zip(objs, first, strict=True)]
    clock.t += 15
    before_q, cpu0, wall0 = source.queries_run, time.process_time(), time.perf_counter()
    outcomes = await evaluator.cycle(objs, force=True)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    shifted = sum(1 for o in outcomes if o.decision.status.weights.get("azure-eu", 50) < 50)
    return {
        "routes": n,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
        "queries": source.queries_run - before_q,
        "routes_with_azure_shifted": shifted,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    if ensure_prometheus() is None:
        print("prometheus is not installed and could not be installed (hack/install-debian-tools.sh)", file=sys.stderr)
        return 2
    tune_gc()  # as `airoute controller` does
    results = {}
    for n in args.routes:
        expo = Exposition(n)
        with PrometheusServer(expo.targets, scrape_interval="10s", scrape_timeout="9s") as prom:
            prom.wait_for_samples("count(airoute_requests_total)", 2 * len(BACKENDS) * n, timeout=120)
            # rate()/increase() need two samples of every series inside the window.
            prom.wait_for_samples("min(count_over_time(airoute_requests_total[1m]))", 2, timeout=120)
            result = asyncio.run(measure(prom.url, n))
        expo.close()
        results[f"routes_{n}"] = result
        print(
            f"{n:>6} routes: {result['cpu_seconds']:.3f} s CPU, {result['wall_seconds']:.3f} s wall, "
            f"{result['queries']} queries per cycle ({result['routes_with_azure_shifted']} routes saw azure errors)"
        )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
