"""The stream benchmark: long chat streams as users make them, directly against the upstream,
through the airoute gateway and through the LiteLLM proxy, side by side in one run.

Each run starts ``N`` streams evenly over 5 s (N = 1,000, then 3,000), each on its own
connection; every answer is 100 content events 50 ms apart from the same paced upstream (OpenAI's
stream shape: a role-only opening, one token per event, ``[DONE]``). The gateway and LiteLLM run
with one worker each and their default settings (the gateway's route is of the default tier,
``standard``), a fresh process for each N. Per target and N it reports:

* errors: every stream that did not get a 200 with all 100 content events and ``[DONE]`` (a 429
  from load shedding is an error here), with the reasons;
* time to first token (the first content event, from the moment the stream was due) p50 and p99,
  and the gap between content events p99 — and what the proxy *added* to the direct figures; for
  diagnosis also the time to the TCP connection (the kernel's handshake: an overflowing accept
  queue shows here, a slow accept does not) and to the answer's first byte (a proxy that sends its
  headers at once but relays late shows the difference in TTFT);
* CPU-seconds of the proxy (its process and children, from /proc) during the run, and per relayed
  content event;
* RSS per open stream: the proxy's highest resident memory during the run, less its memory just
  before it, over the most streams open at once;
* the share of the run the proxy's event loop spent runnable but waiting for a core (from
  ``/proc/<pid>/schedstat``): when it is high the machine was too busy for the latency figures to
  be the proxy's own (re-measure on a quiet machine).

    .venv/bin/python tests/bench/bench_streams.py [--counts 1000,3000] [--targets direct,gateway,litellm]

``--targets direct,gateway,floor`` adds a reference: ``floor_relay.py``, the least a Python relay
on uvloop can do per chunk (bytes from the upstream written to the client, nothing else), with its
CPU per chunk and the gateway's figure over it (``gateway_nN_cpu_us_over_floor``): the kernel's
and the event loop's part of the gateway's CPU, and the gateway's own.

A run with fewer targets (for development) prints its figures but exits 1: a result without its
peer is not a benchmark result.

The upstream and the clients are one small Go program, ``tests/bench/streamload`` (built with the
machine's Go toolchain into ``~/.cache/airoute/bin``, keyed by its source), so that the load costs
far less CPU than what it measures. Targets (issue 16): 0 errors at 1,000 and 3,000 streams; ≤ 20 µs
of gateway CPU per relayed event; added TTFT p50 ≤ 5 ms and added gap p99 ≤ 20 ms at 1,000 streams;
≤ 16 KiB per open stream. An error of the gateway's or of the upstream's own streams fails the run
(exit 1), and so does a LiteLLM that cannot be installed, started or measured: the benchmark never
skips its peer. LiteLLM's failed streams are its result (on 2 cores it resets, drops or times out a
large share of 3,000 streams after 10 minutes): they are counted, with their reasons, in
``peer_errors`` and printed, but do not fail the gateway's benchmark. The last line printed is one
JSON object with every figure. Load, upstream and proxy share the machine's cores: compare within
one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import CLIENT_KEY, PYTHON, REPO, ensure_litellm, free_port, log, process, wait_http

LOAD_SOURCE = Path(__file__).with_name("streamload")
CACHE_BIN = Path.home() / ".cache" / "airoute" / "bin"
TARGETS = ("direct", "gateway", "litellm")
FLOOR = "floor"
"""An optional reference target (``--targets ...,floor``): :mod:`floor_relay`, the least CPU a
Python relay on uvloop spends per chunk (the kernel's and the loop's share of the gateway's figure)."""
CHUNKS, GAP, SPREAD = 100, 0.05, 5.0
BUSY_SHARE = 0.2
"""A gateway that waited for a core longer than this share of a run was starved by the machine:
its latency figures are the machine's, to be measured again on a quiet one."""
GOALS = {"cpu_us_per_chunk": 20.0, "added_ttft_p50_ms": 5.0, "added_gap_p99_ms": 20.0, "rss_kib_per_stream": 16.0}
TICK = os.sysconf("SC_CLK_TCK")

ROUTE = """apiVersion: airoute.dev/v1alpha1
kind: AIRoute
metadata: {name: chat, namespace: bench}
spec:
  model: chat
  backends:
    - name: upstream
      weight: 100
      openAICompatible: {baseURL: "http://127.0.0.1:%d/v1", model: bench-model, insecure: true}
"""

LITELLM_CONFIG = """model_list:
  - model_name: chat
    litellm_params:
      model: openai/bench-model
      api_base: http://127.0.0.1:%d/v1
      api_key: sk-upstream
"""


def streamload() -> Path:
    """The load program, built from its source when this version is not built yet."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(LOAD_SOURCE.iterdir()))).hexdigest()[:12]
    exe = CACHE_BIN / f"streamload-{digest}"
    if exe.exists():
        return exe
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        raise RuntimeError("the stream benchmark's load is a Go program: install Go (https://go.dev/dl/)")
    CACHE_BIN.mkdir(parents=True, exist_ok=True)
    log(f"building {exe.name} with {go}")
    subprocess.run([go, "build", "-o", str(exe), "."], cwd=LOAD_SOURCE, check=True,
                   env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"})
    return exe


def _tree(pid: int) -> Iterator[int]:
    """``pid`` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    todo = [pid]
    while todo:
        current = todo.pop()
        yield current
        todo.extend(children.get(current, ()))


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def run_queue_wait(pid: int) -> float:
    """Seconds the process's main thread (the event loop) has spent runnable but waiting for a
    core (``/proc/<pid>/schedstat``): high during a run means the machine, not the proxy, set the
    latency figures."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_kib(pids: list[int]) -> int:
    total = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def run_clients(load: Path, url: str, model: str, key: str | None, count: int, spread: float,
                pids: list[int]) -> tuple[dict[str, Any], int]:
    """Runs the clients; returns their figures and the highest RSS of ``pids`` meanwhile (KiB)."""
    argv = [str(load), "clients", "-url", url, "-model", model, "-count", str(count), "-spread", f"{spread}s",
            "-expected", str(CHUNKS), "-timeout", "10m"]
    if key:
        argv += ["-key", key]
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.1):
            peak = max(peak, rss_kib(pids))

    sampler = threading.Thread(target=sample, daemon=True)
    if pids:
        sampler.start()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=900).stdout
    finally:
        stop.set()
        if pids:
            sampler.join()
    return json.loads(out.strip().splitlines()[-1]), peak


def measure(name: str, load: Path, url: str, model: str, key: str | None, count: int,
            pid: int | None) -> dict[str, Any]:
    pids = list(_tree(pid)) if pid is not None else []
    warm, _ = run_clients(load, url, model, key, 20, 0.5, [])
    if warm["errors"]:
        raise RuntimeError(f"{name}: the warm-up failed: {warm['error_reasons']}")
    baseline = rss_kib(pids) if pids else None
    cpu_before = cpu_seconds(pids) if pids else None
    waited = run_queue_wait(pid) if pid is not None else 0.0
    found, peak = run_clients(load, url, model, key, count, SPREAD, pids)
    found["seconds"] = round(found.pop("ended_unix") - found.pop("began_unix"), 2)
    for k in ("ttft_p50_ms", "ttft_p99_ms", "gap_p50_ms", "gap_p99_ms", "connect_p50_ms", "connect_p99_ms",
              "head_p50_ms", "head_p99_ms"):
        found[k] = None if found[k] is None else round(found[k], 2)
    if pids and cpu_before is not None and baseline is not None:
        cpu = cpu_seconds(pids) - cpu_before
        events = found["content_events"]
        found["cpu_seconds"] = round(cpu, 2)
        found["run_queue_wait_share"] = round((run_queue_wait(pid) - waited) / found["seconds"], 2)
        found["cpu_us_per_chunk"] = round(cpu / events * 1e6, 2) if events else None
        found["rss_baseline_mib"] = round(baseline / 1024, 1)
        most = found["max_open_streams"]
        found["rss_kib_per_stream"] = round((peak - baseline) / most, 2) if most else None
    log(f"{name:8} n={count:<5} errors {found['errors']:<5} ttft p50 {found['ttft_p50_ms']} ms "
        f"p99 {found['ttft_p99_ms']} ms  gap p99 {found['gap_p99_ms']} ms  first byte p99 {found['head_p99_ms']} ms  "
        f"cpu {found.get('cpu_seconds')} s "
        f"({found.get('cpu_us_per_chunk')} us/event, waiting for a core {found.get('run_queue_wait_share')})  "
        f"rss/stream {found.get('rss_kib_per_stream')} KiB"
        + (f"  {found['error_reasons']}" if found["errors"] else ""))
    return found


def start_gateway(stack: ExitStack, work: Path, upstream: int, env: dict[str, str]) -> tuple[int, int]:
    routes = work / "routes"
    routes.mkdir(exist_ok=True)
    (routes / "chat.yaml").write_text(ROUTE % upstream)
    keys = work / "keys.yaml"
    keys.write_text(f"bench: {CLIENT_KEY}\n")
    port = free_port()
    argv = [PYTHON, "-m", "airoute.gateway", "--routes", str(routes), "--api-keys-file", str(keys),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "WARNING",
            "--allow-internal-upstreams"]  # the upstream listens on loopback
    proc = stack.enter_context(process(argv, env, work / f"gateway-{port}.log"))
    wait_http(f"http://127.0.0.1:{port}/readyz", 30, proc=proc)
    return port, proc.pid


def start_litellm(stack: ExitStack, work: Path, upstream: int) -> tuple[int, int]:
    litellm = ensure_litellm()
    if litellm is None:
        raise RuntimeError("LiteLLM could not be installed: the benchmark needs its peer")
    config = work / "litellm.yaml"
    config.write_text(LITELLM_CONFIG % upstream)
    port = free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": CLIENT_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
    argv = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    proc = stack.enter_context(process(argv, env, work / f"litellm-{port}.log"))
    wait_http(f"http://127.0.0.1:{port}/health/liveliness", 240, proc=proc)
    return port, proc.pid


def start_floor(stack: ExitStack, work: Path, upstream: int, env: dict[str, str]) -> tuple[int, int]:
    port = free_port()
    argv = [PYTHON, str(Path(__file__).with_name("floor_relay.py")), str(upstream), str(port)]
    proc = stack.enter_context(process(argv, env, work / f"floor-{port}.log"))
    wait_http(f"http://127.0.0.1:{port}/v1/models", 30, proc=proc)
    return port, proc.pid


def bench(counts: list[int], targets: list[str]) -> dict[str, Any]:
    load = streamload()
    if "litellm" in targets and ensure_litellm() is None:
        raise RuntimeError("LiteLLM could not be installed: the benchmark needs its peer")
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator")}
    results: dict[str, Any] = {t: {} for t in targets}
    with tempfile.TemporaryDirectory(prefix="airoute-streams-") as tmp, ExitStack() as stack:
        work = Path(tmp)
        upstream = free_port()
        argv = [str(load), "upstream", "-port", str(upstream), "-chunks", str(CHUNKS), "-gap", f"{GAP}s"]
        stack.enter_context(process(argv, env, work / "upstream.log"))
        wait_http(f"http://127.0.0.1:{upstream}/v1/models", 30)
        for count in counts:
            for target in targets:
                with ExitStack() as own:
                    if target == "direct":
                        port, pid, model, key = upstream, None, "bench-model", None
                    elif target == "gateway":
                        (port, pid), model, key = start_gateway(own, work, upstream, env), "chat", CLIENT_KEY
                    elif target == FLOOR:
                        (port, pid), model, key = start_floor(own, work, upstream, env), "bench-model", None
                    else:
                        (port, pid), model, key = start_litellm(own, work, upstream), "chat", CLIENT_KEY
                    url = f"http://127.0.0.1:{port}/v1/chat/completions"
                    results[target][f"n{count}"] = measure(target, load, url, model, key, count, pid)
    return results


def _added(results: dict[str, Any], target: str, count: int, key: str, base: str = "direct") -> float | None:
    mine = results.get(target, {}).get(f"n{count}", {}).get(key)
    direct = results.get(base, {}).get(f"n{count}", {}).get(key)
    return None if mine is None or direct is None else round(mine - direct, 2)


def summary(results: dict[str, Any], counts: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": "streams", "chunks_per_stream": CHUNKS, "gap_s": GAP, "spread_s": SPREAD,
                           **results}
    for target in ("gateway", "litellm"):
        for count in counts:
            for key in ("ttft_p50_ms", "ttft_p99_ms", "gap_p99_ms"):
                out[f"{target}_n{count}_added_{key}"] = _added(results, target, count, key)
    gateway = results.get("gateway", {})
    errors = sum(r.get("errors", 0) for t in ("direct", "gateway", FLOOR) for r in results.get(t, {}).values())
    first = counts[0]
    met: dict[str, bool | None] = {"zero_errors": errors == 0}
    met["cpu_us_per_chunk"] = all((gateway.get(f"n{c}", {}).get("cpu_us_per_chunk") or 1e9)
                                  <= GOALS["cpu_us_per_chunk"] for c in counts) if gateway else None
    ttft = out.get(f"gateway_n{first}_added_ttft_p50_ms")
    gap = out.get(f"gateway_n{first}_added_gap_p99_ms")
    met["added_ttft_p50_ms"] = None if ttft is None else ttft <= GOALS["added_ttft_p50_ms"]
    met["added_gap_p99_ms"] = None if gap is None else gap <= GOALS["added_gap_p99_ms"]
    rss = [gateway.get(f"n{c}", {}).get("rss_kib_per_stream") for c in counts]
    met["rss_kib_per_stream"] = (all(r is not None and r <= GOALS["rss_kib_per_stream"] for r in rss)
                                 if gateway else None)
    for count in counts:
        floor = results.get(FLOOR, {}).get(f"n{count}", {}).get("cpu_us_per_chunk")
        if floor is not None:
            out[f"floor_n{count}_cpu_us_per_chunk"] = floor
            out[f"gateway_n{count}_cpu_us_over_floor"] = _added(results, "gateway", count, "cpu_us_per_chunk", FLOOR)
    out["errors_total"] = errors
    out["peer_errors"] = {f"litellm_n{c}": r.get("errors") for c in counts
                          if (r := results.get("litellm", {}).get(f"n{c}")) is not None}
    out["goals"] = GOALS
    out["targets_met"] = met
    waited = [gateway.get(f"n{c}", {}).get("run_queue_wait_share") or 0.0 for c in counts]
    out["gateway_waited_for_a_core"] = max(waited, default=0.0)
    out["machine_busy"] = out["gateway_waited_for_a_core"] > BUSY_SHARE
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1000,3000", help="streams per run, comma-separated (default 1000,3000)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="direct,gateway,litellm (default: all three); add floor for the floor relay's figures")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    targets = [t for t in args.targets.split(",") if t]
    if unknown := sorted(set(targets) - {*TARGETS, FLOOR}):
        parser.error(f"unknown targets: {', '.join(unknown)}")
    results = bench(counts, targets)
    out = summary(results, counts)
    left_out = [t for t in TARGETS if t not in targets]
    out["left_out"] = left_out
    print(f"errors {out['errors_total']} (direct, gateway and the floor relay); targets met: {out['targets_met']}")
    if any(out["peer_errors"].values()):
        print(f"LiteLLM's failed streams (its result, not a failure of the run): {out['peer_errors']}")
    if left_out:
        print(f"partial run: {', '.join(left_out)} left out (--targets); not a benchmark result")
    if out["machine_busy"]:
        print(f"the gateway waited for a core {out['gateway_waited_for_a_core']:.0%} of a run: the machine was busy, "
              "its latency figures are the machine's; measure them again on a quiet machine")
    print(json.dumps(out))
    return 1 if out["errors_total"] or left_out else 0


if __name__ == "__main__":
    sys.exit(main())
