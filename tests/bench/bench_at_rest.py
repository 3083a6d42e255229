"""At rest in a real cluster: what N AIRoutes cost when nothing fails (1,000 and 10,000 routes).

A real kube-apiserver and etcd (``tests/support/apiserver.py``) with an audit log of every write
to an AIRoute; N AIRoutes of two OpenAI-compatible backends each; one real ``airoute gateway
--kubernetes`` process watching them; the real ``airoute controller`` process (Kopf,
``--gateway-metrics``, default tick and health intervals). Once every route has a status and no
write has happened for a while, one minute of steady state is measured: CPU seconds of the
controller, the gateway, kube-apiserver and etcd (``/proc``), their RSS at the end, and every
write to an AIRoute or its status during the minute, as the API server's audit log saw it.

Checked, exit status 1 when wrong: every route got a status, no write during the minute, the
controller and the gateway still run, and the gateway answers a chat request for a route after
the minute. The targets of issue 17 are printed beside the figures, with the figures measured
before (1,000 routes: controller 13.9 s CPU/min and 846 MiB, gateway 30.4 s, API server 71 s).
Last line: one JSON object.

    .venv/bin/python tests/bench/bench_at_rest.py [--routes 1000 10000] [--minute 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from airoute.emulators import OpenAICompatibleEmulator  # noqa: E402
from airoute.kube import KubeClient, load_kubeconfig  # noqa: E402
from airoute.kube.paths import airoutes_path  # noqa: E402
from tests.bench.bench_gateway import process  # noqa: E402  (the same way of running a child)
from tests.bench.verdict import finish  # noqa: E402
from tests.support.apiserver import TestCluster, binaries_available, build_binaries, free_port  # noqa: E402
from tests.support.audit import AIROUTE_WRITES, AuditLog  # noqa: E402

NAMESPACE = "bench"
TARGETS = {  # issue 17, item 0
    1000: {"controller_cpu": 1.0, "controller_rss": 200, "gateway_cpu": 0.5},
    10000: {"controller_cpu": 10.0, "controller_rss": 500, "gateway_cpu": 2.0},
}
BEFORE = {
    1000: {"controller_cpu": 13.9, "controller_rss": 846, "gateway_cpu": 30.4, "apiserver_cpu": 71.0},
    10000: {"controller_cpu": 1.91, "controller_rss": 614},  # with a Kopf index of the routes
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def route(i: int, upstream: str) -> dict[str, Any]:
    def block(k: int) -> dict[str, Any]:
        return {"baseURL": f"{upstream}/v1", "model": f"m{k}", "insecure": True}

    backends = [{"name": f"b{k}", "weight": w, "openAICompatible": block(k)} for k, w in enumerate((70, 30))]
    return {
        "apiVersion": "airoute.dev/v1alpha1",
        "kind": "AIRoute",
        "metadata": {"name": f"r{i}", "namespace": NAMESPACE},
        "spec": {"model": f"model-{i}", "tier": "standard", "backends": backends},
    }


async def create_routes(cluster: TestCluster, n: int, upstream: str) -> None:
    """POSTs the routes, 16 at a time."""
    async with KubeClient(load_kubeconfig(cluster.kubeconfig)) as client:
        queue = iter(range(n))

        async def worker() -> None:
            for i in queue:
                await client.create(airoutes_path(NAMESPACE), route(i, upstream))

        await asyncio.gather(*(worker() for _ in range(16)))


def _group(pid: int) -> list[int]:
    """The processes of ``pid``'s process group (a Python process and the workers it started)."""
    pgid = os.getpgid(pid)
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError):
                if os.getpgid(int(entry.name)) == pgid:
                    out.append(int(entry.name))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


class Upstream:
    """One OpenAI-compatible emulator on a background event loop (every backend points at it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.emulator = OpenAICompatibleEmulator()
        asyncio.run_coroutine_threadsafe(self.emulator.start("127.0.0.1", 0), self.loop).result(30)

    @property
    def url(self) -> str:
        return str(self.emulator.base_url)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)


def wait(what: str, check: Any, timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


SETTLE_TIMEOUT = 1200.0


def idle(pids: list[int], timeout: float, busy: float = 0.05) -> bool:
    """Waits until the processes use less than ``busy`` of a core over 10 s; False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        time.sleep(10)
        if cpu_seconds(pids) - before < busy * 10:
            return True
    return False


def chat(gateway: str, model: str) -> int:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": "hello"}]}).encode()
    request = urllib.request.Request(f"{gateway}/v1/chat/completions", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def measure(n: int, minute: float, work: Path) -> tuple[dict[str, Any], list[str]]:
    bin_dir = binaries_available() or build_binaries(stderr=sys.stderr)
    upstream = Upstream()
    with TestCluster(bin_dir, audit_policy=AIROUTE_WRITES) as cluster:
        cluster.ensure_namespace(NAMESPACE)
        started = time.monotonic()
        asyncio.run(create_routes(cluster, n, upstream.url))
        print(f"{n} routes created in {time.monotonic() - started:.0f} s", file=sys.stderr)
        audit = AuditLog(cluster.audit_log)
        env = {**cluster.env(), "PYTHONUNBUFFERED": "1"}
        port = free_port()
        gateway_url = f"http://127.0.0.1:{port}"
        python = [sys.executable, "-m", "airoute.cli"]
        gateway_argv = [*python, "gateway", "--kubernetes", "--kubeconfig", str(cluster.kubeconfig),
                        "--namespace", NAMESPACE, "--no-auth", "--host", "127.0.0.1", "--port", str(port),
                        "--log-level", "WARNING", "--allow-internal-upstreams"]  # fmt: skip  (upstream on loopback)
        controller_argv = [*python, "controller", "--namespace", NAMESPACE, "--standalone",
                           f"--gateway-metrics={gateway_url}/metrics", "--liveness=", "--metrics-port=0"]  # fmt: skip
        with (
            process(gateway_argv, env, work / "gateway.log") as gateway,
            process(controller_argv, env, work / "controller.log") as controller,
        ):
            wait("the gateway to serve", lambda: chat(gateway_url, "model-0") == 200, 600)
            statused = wait(
                f"a status for all {n} routes",
                lambda: len({w.name for w in audit.read() if w.status}) >= n or None,
                1800,
                every=2.0,
            )
            del statused

            def settled() -> bool:  # no write for two health intervals (15 s each)
                writes = audit.read()
                return bool(writes) and time.time() - writes[-1].at > 30

            wait("the controller to come to rest", settled, 1800, every=2.0)
            procs = {
                "controller": _group(controller.pid),
                "gateway": _group(gateway.pid),
                **{name: [pid] for name, pid in cluster.pids().items()},
            }
            # The gateway may still be working through the status writes of the start (it rebuilds
            # its table for each): wait until it idles, and say so when it does not.
            settle_started = time.monotonic()
            gateway_idle = idle(procs["gateway"], timeout=SETTLE_TIMEOUT)
            settling = round(time.monotonic() - settle_started, 1)
            before = {name: cpu_seconds(pids) for name, pids in procs.items()}
            start = time.time()
            time.sleep(minute)
            end = time.time()
            cpu = {name: round((cpu_seconds(pids) - before[name]) * 60 / minute, 2) for name, pids in procs.items()}
            rss = {name: rss_mib(pids) for name, pids in procs.items()}
            time.sleep(1)
            writes = audit.between(start, end)
            alive = {"controller": controller.poll() is None, "gateway": gateway.poll() is None}
            served = chat(gateway_url, f"model-{n - 1}")
    upstream.close()
    result = {
        "routes": n,
        "cpu_seconds_per_minute": cpu,
        "rss_mib": rss,
        "gateway_idle_before": gateway_idle,
        "gateway_settling_seconds": settling,
        "writes": len(writes),
        "status_writes": sum(1 for w in writes if w.status),
        "targets": TARGETS.get(n, {}),
        "before": BEFORE.get(n, {}),
    }
    problems = [f"{n} routes: {name} exited" for name, ok in alive.items() if not ok]
    if writes:
        seen = sorted({f"{w.user_agent.split('/')[0]} {w.verb} {w.subresource or 'object'}" for w in writes})
        problems.append(f"{n} routes at rest: {len(writes)} writes to AIRoutes in the minute ({', '.join(seen)})")
    if served != 200:
        problems.append(f"{n} routes: the gateway answered {served} for model-{n - 1} after the minute")
    return result, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--routes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--minute", type=float, default=60.0, help="seconds of steady state measured")
    parser.add_argument("--logs", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "airoute-bench-at-rest")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    problems: list[str] = []
    for n in args.routes:
        work = args.logs / str(n)
        work.mkdir(parents=True, exist_ok=True)
        result, wrong = measure(n, args.minute, work)
        results[f"routes_{n}"] = result
        problems += wrong
        cpu, rss, target = result["cpu_seconds_per_minute"], result["rss_mib"], result["targets"]
        print(
            f"{n:>6} routes at rest, per minute: controller {cpu['controller']} s CPU, {rss['controller']} MiB "
            f"(target {target.get('controller_cpu')} s, {target.get('controller_rss')} MiB); gateway "
            f"{cpu['gateway']} s CPU, {rss['gateway']} MiB (target {target.get('gateway_cpu')} s); kube-apiserver "
            f"{cpu['kube-apiserver']} s, etcd {cpu['etcd']} s; {result['writes']} writes to AIRoutes"
            + (f"; before: {result['before']}" if result["before"] else "")
            + (
                f"; the gateway idled {result['gateway_settling_seconds']} s after the controller came to rest"
                if result["gateway_idle_before"]
                else f"; the gateway was still busy {SETTLE_TIMEOUT:.0f} s after the controller came to rest"
            )
        )
    return finish(results, problems)


if __name__ == "__main__":
    sys.exit(main())
