"""Controller cost per evaluation cycle at 1,000 and 10,000 routes x 3 backends, against a real Prometheus.

A child process serves a synthetic exposition (the gateway's metric names, 3 backends per route,
traffic on all of them) on several targets; the real Prometheus scrapes it. The controller's own
:class:`EvaluationLoop` and :class:`Evaluator` — what Kopf and the folder loop drive — evaluate
every route at every cycle with the real ``PrometheusMetricsSource``, over an in-memory store that
keeps the routes as the controller keeps what Kopf's watch delivers (``kubestore.stored_route``) and
counts the status writes and Events.

Per size, two phases:

1. **steady**: every backend healthy. Cycles run until one writes nothing (the first ones count
   the good streaks up), then one cycle is measured: CPU seconds of this process (PromQL answers
   decoded, every route decided), wall seconds, PromQL queries, status writes, and the RSS.
2. **outage**: ``azure-eu`` starts failing on every 10th route. Once Prometheus reports it, the
   next cycle is measured the same way.

Checked, exit status 1 when wrong: queries per cycle constant (queries_per_cycle), no write in the steady cycle;
in the outage cycle every failing route shifted azure-eu's weight and was written, and no other
route was. The targets (≤ 0.1 s CPU per steady cycle at 1,000 routes, ≤ 1.0 s at 10,000) are
reported with the figures from before the fast path beside them. Last line: one JSON object.

    .venv/bin/python tests/bench/bench_controller.py [--routes 1000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import multiprocessing
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.synchronize import Event as EventFlag
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from airoute.api.objects import object_key  # noqa: E402
from airoute.controller.evaluator import Evaluator  # noqa: E402
from airoute.controller.kubestore import stored_route  # noqa: E402
from airoute.controller.loop import EvaluationLoop  # noqa: E402
from airoute.controller.main import tune_gc  # noqa: E402
from airoute.core.events import Event  # noqa: E402
from airoute.signals.prometheus import PrometheusConfig, PrometheusMetricsSource, queries_per_cycle  # noqa: E402
from tests.bench.verdict import finish  # noqa: E402
from tests.support.fakes import FakeClock  # noqa: E402
from tests.support.paths import EXAMPLES  # noqa: E402
from tests.support.prom_server import PrometheusServer, ensure_prometheus  # noqa: E402

BACKENDS = ("azure-eu", "bedrock-eu", "vertex-eu")
TARGETS = 4
FAILING_EVERY = 10
TARGET_CPU = {1000: 0.1, 10000: 1.0}
BEFORE = {1000: 0.46, 10000: 4.73}  # s CPU per cycle before (issue 17), every route decided in full
EXPECTED_QUERIES = queries_per_cycle(windows=1)  # the bench's routes share one health window


def exposition(routes: range, scrape: int, failing_since: int | None) -> bytes:
    lines = ["# TYPE airoute_requests_total counter", "# TYPE airoute_request_duration_seconds histogram"]
    for i in routes:
        for b in BACKENDS:
            labels = f'namespace="bench",route="r{i}",backend="{b}",variant="stable",provider="p"'
            ok = 100 * scrape
            failing = failing_since is not None and b == "azure-eu" and i % FAILING_EVERY == 0
            bad = 50 * (scrape - failing_since) if failing and failing_since is not None else 0
            lines.append(f'airoute_requests_total{{{labels},outcome="success"}} {ok}')
            lines.append(f'airoute_requests_total{{{labels},outcome="error"}} {bad}')
            for le, n in (("0.5", ok * 0.9), ("2", ok), ("+Inf", ok)):
                lines.append(f'airoute_request_duration_seconds_bucket{{{labels},le="{le}"}} {n}')
            lines.append(f"airoute_request_duration_seconds_count{{{labels}}} {ok}")
    return ("\n".join(lines) + "\n").encode()


def serve_exposition(routes: int, ports: Any, failing: EventFlag) -> None:
    """The child process: TARGETS servers; counters grow with every scrape; errors once ``failing``."""
    share = (routes + TARGETS - 1) // TARGETS
    servers = []
    for k in range(TARGETS):
        part = range(k * share, min(routes, (k + 1) * share))
        state: dict[str, int | None] = {"scrapes": 0, "failing_since": None}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self, part: range = part, state: dict[str, int | None] = state) -> None:
                scrape = int(state["scrapes"] or 0) + 1
                state["scrapes"] = scrape
                if failing.is_set() and state["failing_since"] is None:
                    state["failing_since"] = scrape - 1
                failing_since = state["failing_since"]
                body = exposition(part, scrape, failing_since if isinstance(failing_since, int) else None)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ports[k] = server.server_address[1]
        servers.append(server)
    import threading

    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


class MemoryStore:
    """A RouteStore over routes kept as the controller keeps them (what Kopf's watch delivers,
    ``kubestore.stored_route``): a written status is stored back with a new resourceVersion;
    writes and Events counted."""

    def __init__(self, objs: Iterable[dict[str, Any]]) -> None:
        self.objs = {object_key(o): stored_route(o) for o in objs}
        self.version = len(self.objs)
        self.written: list[str] = []
        self.events: list[Event] = []

    def acting(self) -> bool:
        return True

    def routes(self) -> Sequence[Mapping[str, Any]]:
        return list(self.objs.values())

    async def clear_levers(self, obj: Mapping[str, Any], levers: Mapping[str, str]) -> None:
        raise AssertionError(f"no lever is set in the bench, yet {sorted(levers)} would be removed")

    async def write_status(self, obj: Mapping[str, Any], status: Mapping[str, Any]) -> bool:
        self.version += 1  # as the API server does: every write gives the object a new resourceVersion
        meta = {**obj["metadata"], "resourceVersion": str(self.version)}
        self.objs[object_key(obj)] = stored_route({**obj, "metadata": meta, "status": status})
        self.written.append(meta["name"])
        return True

    async def record(self, obj: Mapping[str, Any], event: Event) -> None:
        self.events.append(event)


def routes(n: int) -> Iterator[dict[str, Any]]:
    base = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())
    base["metadata"]["namespace"] = "bench"
    base["metadata"]["generation"] = 1
    base["spec"]["health"]["window"] = "1m"
    for i in range(n):
        obj = copy.deepcopy(base)
        obj["metadata"]["name"] = f"r{i}"
        obj["metadata"]["resourceVersion"] = str(i + 1)
        obj["spec"]["model"] = f"model-{i}"  # a model has one owner: each route its own
        yield obj


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


class Bench:
    """One size: the loop, its store and what a measured cycle cost."""

    def __init__(self, prom_url: str, n: int) -> None:
        self.source = PrometheusMetricsSource(PrometheusConfig(prom_url, timeout_seconds=60))
        self.clock = FakeClock(time.time())
        self.store = MemoryStore(routes(n))
        self.evaluator = Evaluator(self.source, self.clock)
        self.loop = EvaluationLoop(self.evaluator, self.store, tick=15)

    async def cycle(self) -> dict[str, Any]:
        self.clock.t += 15
        self.store.written.clear()
        self.store.events.clear()
        queries, skipped = self.source.queries_run, self.evaluator.skipped
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcomes = await self.loop.once(force=True)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        return {
            "cpu_seconds": round(cpu, 3),
            "wall_seconds": round(wall, 3),
            "queries": self.source.queries_run - queries,
            "routes": len(outcomes),
            "skipped": self.evaluator.skipped - skipped,
            "writes": len(self.store.written),
            "events": len(self.store.events),
        }

    async def steady(self) -> dict[str, Any]:
        try:
            for _ in range(6):  # the first cycles adopt the routes and count the good streaks up
                if (await self.cycle())["writes"] == 0:
                    return {**await self.cycle(), "rss_mib": rss_mib()}
        finally:
            await self.source.close()
        raise SystemExit("the routes never came to rest: every cycle still wrote statuses")

    async def outage(self) -> dict[str, Any]:
        try:
            result = await self.cycle()
        finally:
            await self.source.close()
        failing = {f"r{i}" for i in range(0, len(self.store.objs), FAILING_EVERY)}
        objs = self.store.objs.values()
        shifted = {o["metadata"]["name"] for o in objs if o["status"]["weights"]["azure-eu"] < 50}
        written = set(self.store.written)
        return {
            **result,
            "failing": len(failing),
            "shifted": len(shifted & failing),
            "written_failing": len(written & failing),
            "written_others": len(written - failing),
        }


def problems(n: int, steady: dict[str, Any], outage: dict[str, Any]) -> list[str]:
    found = []
    for phase, r in (("steady", steady), ("outage", outage)):
        if r["queries"] != EXPECTED_QUERIES:
            found.append(f"{n} routes, {phase}: {r['queries']} PromQL queries in a cycle, not {EXPECTED_QUERIES}")
    if steady["writes"]:
        found.append(f"{n} routes at rest: {steady['writes']} status writes in a cycle where nothing changed")
    if outage["shifted"] != outage["failing"]:
        found.append(f"{n} routes: {outage['shifted']} of {outage['failing']} failing routes shifted azure-eu")
    if outage["written_failing"] != outage["failing"] or outage["written_others"]:
        found.append(
            f"{n} routes: the outage cycle wrote {outage['written_failing']} of {outage['failing']} failing "
            f"routes and {outage['written_others']} others (expected exactly the failing ones)"
        )
    return found


def measure(n: int) -> tuple[dict[str, Any], list[str]]:
    ctx = multiprocessing.get_context("fork")
    ports, failing = ctx.Array("i", TARGETS), ctx.Event()
    child = ctx.Process(target=serve_exposition, args=(n, ports, failing), daemon=True)
    child.start()
    try:
        deadline = time.monotonic() + 30
        while not all(ports) and time.monotonic() < deadline:
            time.sleep(0.05)
        targets = [f"127.0.0.1:{p}" for p in ports]
        with PrometheusServer(targets, scrape_interval="10s", scrape_timeout="9s") as prom:
            prom.wait_for_samples("count(airoute_requests_total)", 2 * len(BACKENDS) * n, timeout=180)
            # rate()/increase() need two samples of every series inside the window.
            prom.wait_for_samples("min(count_over_time(airoute_requests_total[1m]))", 2, timeout=120)
            bench = Bench(prom.url, n)
            steady = asyncio.run(bench.steady())
            failing.set()
            errors = 'sum by (route) (increase(airoute_requests_total{outcome="error"}[1m])) > 0'
            prom.wait_for_samples(f"count({errors})", (n + FAILING_EVERY - 1) // FAILING_EVERY, timeout=120)
            outage = asyncio.run(bench.outage())
    finally:
        child.terminate()
        child.join(5)
    result = {
        "steady": steady,
        "outage": outage,
        "target_cpu_seconds": TARGET_CPU.get(n),
        "before_cpu_seconds": BEFORE.get(n),
        "target_met": n in TARGET_CPU and steady["cpu_seconds"] <= TARGET_CPU[n],
    }
    return result, problems(n, steady, outage)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    if ensure_prometheus() is None:
        print("prometheus is not installed and could not be installed (hack/install-debian-tools.sh)", file=sys.stderr)
        return 2
    tune_gc()  # as `airoute controller` does
    results: dict[str, Any] = {}
    found: list[str] = []
    for n in args.routes:
        result, wrong = measure(n)
        results[f"routes_{n}"] = result
        found += wrong
        s, o = result["steady"], result["outage"]
        print(
            f"{n:>6} routes at rest: {s['cpu_seconds']:.3f} s CPU per cycle (target {result['target_cpu_seconds']}, "
            f"before {result['before_cpu_seconds']}), {s['wall_seconds']:.3f} s wall, {s['queries']} queries, "
            f"{s['skipped']} of {s['routes']} routes needed no decision, {s['writes']} writes, {s['rss_mib']} MiB RSS"
        )
        print(
            f"{n:>6} routes, azure-eu failing on {o['failing']}: {o['cpu_seconds']:.3f} s CPU, "
            f"{o['shifted']} shifted, {o['writes']} writes ({o['written_others']} of routes not failing), "
            f"{o['events']} events"
        )
    return finish(results, found)


if __name__ == "__main__":
    sys.exit(main())
