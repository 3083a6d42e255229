"""Side-by-side benchmark: the airoute gateway, the direct OpenAI-compatible emulator and the
LiteLLM proxy, all in front of the same emulator, measured with ``wrk`` (one worker each) at 1
and 32 connections. Prints requests/s, p50 and p99 for each and the ratios; the last line is one
JSON object with the figures.

The gateway is measured on two routes to the same upstream: ``chat`` (one OpenAI-compatible
backend: the request's needs are never read) and ``chat-mixed`` (the same backend plus a Bedrock
standby that is never called: every request's needs are read, which is what a route that mixes
providers pays on its fast path).

    .venv/bin/python tests/bench/bench_gateway.py [--duration 5] [--no-litellm]

LiteLLM (``litellm[proxy]``) lives in its own virtual environment under
``~/.cache/airoute/litellm-venv`` (created here when missing) and runs offline
(``LITELLM_LOCAL_MODEL_COST_MAP=True``, ``LITELLM_TELEMETRY=False``). ``wrk`` comes from Debian
(``apt-get install wrk``; installed here when missing and possible). wrk, the upstream and the
proxy share the machine's cores: compare the ratios of one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
LITELLM_VENV = Path.home() / ".cache" / "airoute" / "litellm-venv"
CLIENT_KEY = "sk-bench-client-key-0123456789"
CONNECTIONS = (1, 32)
BODY = {"model": "chat", "messages": [{"role": "user", "content": "Say hello to the benchmark."}]}

LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""

EMULATOR = """
import asyncio, sys
from airoute.emulators.openai_compatible import OpenAICompatibleEmulator
async def main():
    emulator = OpenAICompatibleEmulator()
    await emulator.start("127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""

ROUTE = """apiVersion: airoute.dev/v1alpha1
kind: AIRoute
metadata: {name: chat, namespace: bench}
spec:
  model: chat
  tier: critical
  backends:
    - name: local
      weight: 100
      openAICompatible: {baseURL: "http://127.0.0.1:%d/v1", model: emulated-model, insecure: true}
"""
MIXED_ROUTE = ROUTE.replace("name: chat,", "name: chat-mixed,").replace("model: chat\n", "model: chat-mixed\n") + """\
    - name: bedrock-standby
      weight: 0
      bedrock: {region: eu-central-1, modelId: anthropic.claude-3-5-sonnet-20240620-v1:0,
                endpointURL: "http://127.0.0.1:9", insecure: true}
"""

LITELLM_CONFIG = """model_list:
  - model_name: chat
    litellm_params:
      model: openai/emulated-model
      api_base: http://127.0.0.1:%d/v1
      api_key: sk-upstream
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def wait_http(url: str, timeout: float, headers: dict[str, str] | None = None, proc: Any = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as r:
                if r.status < 500:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up within {timeout:.0f}s")


@contextlib.contextmanager
def process(argv: list[str], env: dict[str, str] | None = None, logfile: Path | None = None) -> Iterator[Any]:
    out = open(logfile, "wb") if logfile else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if logfile:
            out.close()  # type: ignore[union-attr]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing the Debian package")
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], check=False)
    subprocess.run([*apt, "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def ensure_litellm() -> Path | None:
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    log(f"creating the LiteLLM virtual environment in {LITELLM_VENV} (pip install 'litellm[proxy]', a few minutes)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        log(f"LiteLLM could not be installed: {exc}")
        return None
    return exe if exe.exists() else None


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, url: str, lua: Path, connections: int, seconds: float) -> dict[str, float]:
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+([0-9.]+[a-z]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+([0-9.]+[a-z]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": round(rps, 1), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
            "non_2xx": int(errors.group(1)) if errors else 0,
            **({"socket_errors": socket_errors.group(1)} if socket_errors else {})}  # type: ignore[dict-item]


def measure(name: str, wrk: str, url: str, lua: Path, seconds: float) -> dict[str, dict[str, float]]:
    run_wrk(wrk, url, lua, 8, 1)  # warm up connections and caches
    figures = {}
    for c in CONNECTIONS:
        figures[f"c{c}"] = result = run_wrk(wrk, url, lua, c, seconds)
        log(f"{name:8} c={c:<3} {result['rps']:>9.1f} req/s   p50 {result['p50_ms']:>8.3f} ms"
            f"   p99 {result['p99_ms']:>8.3f} ms   non-2xx {result['non_2xx']}")
    return figures


def bench(seconds: float, with_litellm: bool) -> dict[str, Any]:
    wrk = ensure_wrk()
    litellm = ensure_litellm() if with_litellm else None
    env = {**os.environ, "PYTHONPATH": str(REPO / "operator")}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="airoute-bench-") as tmp:
        work = Path(tmp)
        lua = work / "chat.lua"
        lua.write_text(LUA % (json.dumps(BODY), CLIENT_KEY))
        (work / "chat-mixed.lua").write_text(LUA % (json.dumps(BODY | {"model": "chat-mixed"}), CLIENT_KEY))
        upstream = free_port()
        with process([PYTHON, "-c", EMULATOR, str(upstream)], env, work / "emulator.log") as emu:
            wait_http(f"http://127.0.0.1:{upstream}/v1/models", 30, proc=emu)
            results["direct"] = measure("direct", wrk, f"http://127.0.0.1:{upstream}/v1/chat/completions", lua, seconds)
            results["gateway"], results["gateway_mixed_route"] = bench_gateway(work, env, upstream, wrk, lua, seconds)
            if litellm is not None:
                results["litellm"] = bench_litellm(work, litellm, upstream, wrk, lua, seconds)
    return results


def bench_gateway(work: Path, env: dict[str, str], upstream: int, wrk: str, lua: Path,
                  seconds: float) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    routes = work / "routes"
    routes.mkdir()
    (routes / "chat.yaml").write_text(ROUTE % upstream)
    (routes / "chat-mixed.yaml").write_text(MIXED_ROUTE % upstream)
    keys = work / "keys.yaml"
    keys.write_text(f"bench: {CLIENT_KEY}\n")
    port = free_port()
    argv = [PYTHON, "-m", "airoute.gateway", "--routes", str(routes), "--api-keys-file", str(keys),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "WARNING"]
    with process(argv, env, work / "gateway.log") as gw:
        wait_http(f"http://127.0.0.1:{port}/readyz", 30, proc=gw)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        single = measure("gateway", wrk, url, lua, seconds)
        return single, measure("mixed", wrk, url, work / "chat-mixed.lua", seconds)


def bench_litellm(work: Path, litellm: Path, upstream: int, wrk: str, lua: Path,
                  seconds: float) -> dict[str, dict[str, float]]:
    config = work / "litellm.yaml"
    config.write_text(LITELLM_CONFIG % upstream)
    port = free_port()
    env = {**os.environ, "LITELLM_MASTER_KEY": CLIENT_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
           "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
    argv = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    with process(argv, env, work / "litellm.log") as proc:
        wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, proc=proc)
        return measure("litellm", wrk, f"http://127.0.0.1:{port}/v1/chat/completions", lua, seconds)


def summary(results: dict[str, Any], seconds: float) -> dict[str, Any]:
    def fig(target: str, c: int, key: str) -> float | None:
        value = results.get(target, {}).get(f"c{c}", {}).get(key)
        return float(value) if value is not None else None

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    gw, direct, lite = fig("gateway", 32, "rps"), fig("direct", 32, "rps"), fig("litellm", 32, "rps")
    p50_gw, p50_direct = fig("gateway", 1, "p50_ms"), fig("direct", 1, "p50_ms")
    added = round(p50_gw - p50_direct, 3) if p50_gw is not None and p50_direct is not None else None
    p50_mixed = fig("gateway_mixed_route", 1, "p50_ms")
    mixed_added = round(p50_mixed - p50_gw, 3) if p50_mixed is not None and p50_gw is not None else None
    out = {
        "benchmark": "gateway", "seconds_per_run": seconds, "connections": list(CONNECTIONS), **results,
        "ratio_gateway_litellm_c32": ratio(gw, lite), "ratio_gateway_direct_c32": ratio(gw, direct),
        "added_p50_ms_c1": added,
        "ratio_mixed_route_gateway_c32": ratio(fig("gateway_mixed_route", 32, "rps"), gw),
        "added_p50_ms_mixed_route_vs_single_c1": mixed_added,
    }
    out["targets_met"] = {
        "gateway_vs_litellm_ge_30x": None if out["ratio_gateway_litellm_c32"] is None
        else out["ratio_gateway_litellm_c32"] >= 30,
        "gateway_vs_direct_ge_0.25x": None if out["ratio_gateway_direct_c32"] is None
        else out["ratio_gateway_direct_c32"] >= 0.25,
        "added_p50_le_0.5ms": None if added is None else added <= 0.5,
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM proxy")
    args = parser.parse_args()
    results = bench(args.duration, not args.no_litellm)
    out = summary(results, args.duration)
    print(f"gateway/direct at 32 connections: {out['ratio_gateway_direct_c32']}   "
          f"gateway/litellm at 32 connections: {out['ratio_gateway_litellm_c32']}   "
          f"added p50 at 1 connection: {out['added_p50_ms_c1']} ms")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
