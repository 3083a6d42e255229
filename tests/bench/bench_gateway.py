"""Side-by-side benchmark, per provider kind: the upstream alone (direct, in the provider's own
API), the airoute gateway and the LiteLLM proxy, all in front of the same instant upstream,
measured with ``wrk`` (one worker each) at 1 and 32 connections; the upstream alone and the gateway
are run in turn, three rounds at 32 connections, and their ratio is the median round's. Kinds: the
OpenAI-format pass-through, Azure OpenAI (v1 API), Bedrock (Converse, SigV4) and Vertex AI (generateContent,
OAuth token). Prints requests/s, p50 and p99 for each, and the CPU time the gateway and LiteLLM
spend per request (their processes' user + system time over the requests answered, at 32
connections: on a machine shared with other work this moves much less than requests/s); the last
line is one JSON object.

The pass-through is also measured on a mixed route, ``chat-mixed``: the same backend plus a
Bedrock standby that is never called, so every request's needs are read (what a route that mixes
providers pays on its fast path; the capability-aware choice).

    .venv/bin/python tests/bench/bench_gateway.py [--duration 5] [--kinds openai,azure,bedrock,vertex]

Targets per kind: gateway at least 0.30x direct and 50x LiteLLM at 32 connections, ≤ 0.4 ms added at
p50 with one connection. Any non-2xx answer, socket error (a request unanswered after
``WRK_TIMEOUT`` seconds included) or run that answered no request at all fails the run (exit 1),
and so does a LiteLLM that cannot be run against a provider API: it never skips.

The instant upstream (``tests/bench/instant_upstream.py``) is each provider's emulator behind a
replaying front: the first request of each body is answered by the emulator, identical ones after
it from memory. ``--front aiohttp`` (default) answers through aiohttp, as fast as the cached
OpenAI-compatible emulator the pass-through figures were always taken against (the Azure, Bedrock
and Vertex emulators alone compute each answer and are several times slower); ``--front
httptools`` is a bare asyncio/httptools replay several times faster again, a harsher ratio.

LiteLLM (``litellm[proxy]``, with ``google-auth`` for its Vertex AI provider) lives in its own virtual environment
under ``~/.cache/airoute/litellm-venv`` (created when missing) and runs offline. wrk, the upstream
and the proxy share the machine's cores: compare the ratios of one run, not numbers across runs.
"""

from __future__ import annotations

import argparse
import base64
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
LITELLM_VENV = Path.home() / ".cache" / "airoute" / "litellm-venv"
CLIENT_KEY = "sk-bench-client-key-0123456789"
CONNECTIONS = (1, 32)
ROUNDS = 3
"""Rounds of direct-then-gateway runs at 32 connections; the ratio is the median round's."""
KINDS = ("openai", "azure", "bedrock", "vertex")
PROMPT = "Say hello to the benchmark."
AZURE_KEY = "bench-azure-key-0123456789abcdef"
AWS_KEY_ID, AWS_SECRET = "AKIABENCH00000000001", "bench/aws/secret/0123456789abcdefghij"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
VERTEX_MODEL = "gemini-1.5-pro-002"
TARGETS = {"vs_direct": 0.30, "vs_litellm": 50.0, "added_p50_ms": 0.4}
WRK_TIMEOUT = 10.0
"""Seconds before wrk counts a request as timed out (an error that fails the run): a hang, not a
slow answer (LiteLLM at 32 connections on a busy machine takes over wrk's default 2 s)."""
WARMUP_TRIES = 15
"""One-second warm-up runs before a target counts as not answering."""

LUA = """
wrk.method = "POST"
wrk.path = [[%s]]
wrk.body = [[%s]]
%s
"""


@dataclass(frozen=True)
class Request:
    """What wrk sends: path, body, headers."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    def lua(self) -> str:
        headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in self.headers.items())
        return LUA % (self.path, json.dumps(self.body), headers)


def openai_request(model: str) -> Request:
    return Request("/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": PROMPT}]},
                   {"Content-Type": "application/json", "Authorization": f"Bearer {CLIENT_KEY}"})


def direct_request(kind: str) -> Request:
    """The same question in the provider's own API, as its SDK would send it."""
    json_headers = {"Content-Type": "application/json"}
    if kind == "openai":
        return Request("/v1/chat/completions", {"model": "emulated-model",
                                                "messages": [{"role": "user", "content": PROMPT}]}, json_headers)
    if kind == "azure":
        return Request("/openai/v1/chat/completions", {"model": "gpt-4o",
                                                       "messages": [{"role": "user", "content": PROMPT}]},
                       json_headers | {"api-key": AZURE_KEY})
    if kind == "bedrock":
        auth = (f"AWS4-HMAC-SHA256 Credential={AWS_KEY_ID}/20250101/eu-central-1/bedrock/aws4_request, "
                f"SignedHeaders=content-type;host;x-amz-date, Signature={'0' * 64}")
        return Request(f"/model/{BEDROCK_MODEL.replace(':', '%3A')}/converse",
                       {"messages": [{"role": "user", "content": [{"text": PROMPT}]}]},
                       json_headers | {"Authorization": auth, "X-Amz-Date": "20250101T000000Z"})
    assert kind == "vertex"
    return Request(f"/v1/projects/acme-prod/locations/europe-west4/publishers/google/models/{VERTEX_MODEL}"
                   ":generateContent", {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]},
                   json_headers | {"Authorization": "Bearer ya29.bench"})


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


def wait_line(proc: Any, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text.encode() in line:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode}")
    raise RuntimeError(f"no {text!r} within {timeout:.0f}s")


@contextlib.contextmanager
def process(argv: list[str], env: dict[str, str] | None = None, logfile: Path | None = None,
            pipe: bool = False) -> Iterator[Any]:
    out: Any = subprocess.PIPE if pipe else (open(logfile, "wb") if logfile else subprocess.DEVNULL)  # noqa: SIM115
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
        if logfile and not pipe:
            out.close()


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: installing the Debian package")
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    subprocess.run([*apt, "update", "-qq"], check=False)
    subprocess.run([*apt, "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


LITELLM_PACKAGES = ("litellm[proxy]", "google-auth[requests]")
"""What the peer needs: LiteLLM's proxy, and google-auth, which LiteLLM's Vertex AI provider
imports to sign and refresh its service-account token but does not install (without it every
Vertex request fails inside LiteLLM, which retries it for seconds: wrk saw only timeouts)."""


def ensure_litellm() -> Path:
    exe = LITELLM_VENV / "bin" / "litellm"
    python = LITELLM_VENV / "bin" / "python"
    if not exe.exists():
        log(f"creating the LiteLLM virtual environment in {LITELLM_VENV} (pip install {' '.join(LITELLM_PACKAGES)},"
            " a few minutes)")
        subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)], check=True)
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", *LITELLM_PACKAGES], check=True)
    elif subprocess.run([str(python), "-c", "import google.auth.transport.requests"], capture_output=True,
                        check=False).returncode != 0:
        log("the LiteLLM virtual environment lacks google-auth (its Vertex AI provider needs it): installing it")
        subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q", *LITELLM_PACKAGES[1:]], check=True)
    if not exe.exists():
        raise RuntimeError("LiteLLM could not be installed: the benchmark needs its peer")
    return exe


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def run_wrk(wrk: str, url: str, lua: Path, connections: int, seconds: float) -> dict[str, Any]:
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds:g}s", f"--timeout={WRK_TIMEOUT:g}s", "--latency", "-s",
            str(lua), url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+([0-9.]+[a-z]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+([0-9.]+[a-z]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"requests": requests, "rps": round(rps, 1), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3),
            "non_2xx": int(errors.group(1)) if errors else 0,
            **({"socket_errors": socket_errors.group(1)} if socket_errors else {})}


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants (Linux ``/proc``)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += map(int, (task / "children").read_text().split())
    return total / os.sysconf("SC_CLK_TCK")


def _lua(name: str, request: Request, work: Path) -> Path:
    lua = work / f"{name.replace('/', '-')}.lua"
    lua.write_text(request.lua())
    return lua


def warm_up(wrk: str, url: str, lua: Path) -> dict[str, int]:
    """Warms up connections, caches and tokens (a peer's first request may take seconds: LiteLLM signs
    its Vertex AI token then) until some request is answered; a failing target shows here."""
    warm = {"non_2xx": 0, "requests": 0}
    for _ in range(WARMUP_TRIES):
        run = run_wrk(wrk, url, lua, 8, 1)
        warm = {key: warm[key] + run[key] for key in warm}
        if run["requests"] > run["non_2xx"]:
            break
    return {"warmup_non_2xx": warm["non_2xx"], "warmup_requests": warm["requests"]}


def one_run(name: str, wrk: str, url: str, lua: Path, c: int, seconds: float, pid: int | None) -> dict[str, Any]:
    """One wrk run; with ``pid``, the CPU time that process (and its children) spent per answered
    request — the cost of a request, which a machine shared with other work disturbs much less than
    requests per second."""
    before = cpu_seconds(pid) if pid is not None else 0.0
    result = run_wrk(wrk, url, lua, c, seconds)
    if pid is not None and result["requests"]:
        result["cpu_us_per_request"] = round((cpu_seconds(pid) - before) / result["requests"] * 1e6, 1)
    log(f"{name:18} c={c:<3} {result['rps']:>9.1f} req/s   p50 {result['p50_ms']:>8.3f} ms"
        f"   p99 {result['p99_ms']:>8.3f} ms   non-2xx {result['non_2xx']}"
        + (f"   cpu {result['cpu_us_per_request']:>6.1f} us/req" if "cpu_us_per_request" in result else ""))
    return result


def measure(name: str, wrk: str, base: str, request: Request, work: Path, seconds: float,
            pid: int | None = None) -> dict[str, Any]:
    """wrk at each connection count, once (after a warm-up)."""
    lua = _lua(name, request, work)
    figures: dict[str, Any] = warm_up(wrk, base + request.path, lua)
    for c in CONNECTIONS:
        figures[f"c{c}"] = one_run(name, wrk, base + request.path, lua, c, seconds, pid)
    return figures


@dataclass(frozen=True)
class Target:
    """One side of a paired measurement: a name, where it listens, what it is sent, whose CPU counts."""

    name: str
    base: str
    request: Request
    pid: int | None = None


def paired(wrk: str, direct: Target, gateway: Target, work: Path,
           seconds: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """The upstream alone and through the gateway, run by run in turn: one connection once each,
    then :data:`ROUNDS` rounds of direct then gateway at the most connections. A drift of the
    machine (another process, a core's frequency, where the scheduler puts wrk and the upstream)
    then moves both sides of a round alike, where separate phases compared a quiet direct run with
    a busy gateway run or the reverse (the direct rate of one upstream swung from 16.9k to 25.4k
    requests/s between two runs of the same bench). ``c32`` is the round with the median paired
    ratio; every round is kept in ``c32_rounds``."""
    sides = (direct, gateway)
    luas = [_lua(t.name, t.request, work) for t in sides]
    urls = [t.base + t.request.path for t in sides]
    figures: list[dict[str, Any]] = [warm_up(wrk, url, lua) for url, lua in zip(urls, luas, strict=True)]
    most = CONNECTIONS[-1]
    for c in CONNECTIONS[:-1]:
        for side, target, url, lua in zip(figures, sides, urls, luas, strict=True):
            side[f"c{c}"] = one_run(target.name, wrk, url, lua, c, seconds, target.pid)
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _ in range(ROUNDS):
        pair = [one_run(t.name, wrk, url, lua, most, seconds, t.pid)
                for t, url, lua in zip(sides, urls, luas, strict=True)]
        rounds.append((pair[0], pair[1]))
    by_ratio = sorted(rounds, key=lambda r: r[1]["rps"] / max(r[0]["rps"], 0.1))
    median = by_ratio[len(by_ratio) // 2]
    for index, side in enumerate(figures):
        side[f"c{most}"] = median[index]
        side[f"c{most}_rounds"] = [r[index] for r in rounds]
    return figures[0], figures[1]


def routes_yaml(ports: dict[str, int]) -> str:
    from airoute.emulators.credentials import service_account_key

    def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": name, "namespace": "bench", "labels": {"airoute.dev/credentials": "true"}},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}

    def route(kind: str, block: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "airoute.dev/v1alpha1", "kind": "AIRoute",
                "metadata": {"name": f"chat-{kind}", "namespace": "bench"},
                "spec": {"model": f"chat-{kind}", "tier": "critical",
                         "backends": [{"name": kind, "weight": 100} | block]}}

    base = {kind: f"http://127.0.0.1:{port}" for kind, port in ports.items()}
    mixed = route("mixed", {"openAICompatible": {"baseURL": f"{base['openai']}/v1", "model": "emulated-model",
                                                 "insecure": True}})
    mixed["spec"]["backends"].append({"name": "bedrock-standby", "weight": 0, "bedrock": {
        "region": "eu-central-1", "modelId": BEDROCK_MODEL, "endpointURL": "http://127.0.0.1:9", "insecure": True,
        "credentialsSecretRef": {"name": "aws"}}})
    docs = [
        route("openai", {"openAICompatible": {"baseURL": f"{base['openai']}/v1", "model": "emulated-model",
                                              "insecure": True}}),
        mixed,
        route("azure", {"azureOpenAI": {"endpoint": base["azure"], "deployment": "gpt-4o", "region": "westeurope",
                                        "insecure": True, "credentialsSecretRef": {"name": "azure"}}}),
        route("bedrock", {"bedrock": {"region": "eu-central-1", "modelId": BEDROCK_MODEL, "insecure": True,
                                      "endpointURL": base["bedrock"], "credentialsSecretRef": {"name": "aws"}}}),
        route("vertex", {"vertexAI": {"project": "acme-prod", "location": "europe-west4", "model": VERTEX_MODEL,
                                      "endpointURL": base["vertex"], "insecure": True,
                                      "credentialsSecretRef": {"name": "gcp"}}}),
        secret("azure", {"api-key": AZURE_KEY}),
        secret("aws", {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}),
        secret("gcp", {"key.json": service_account_key(f"{base['vertex']}/token")}),
    ]
    return "\n---\n".join(json.dumps(d) for d in docs)


def litellm_config(ports: dict[str, int]) -> str:
    from airoute.emulators.credentials import service_account_key

    base = {kind: f"http://127.0.0.1:{port}" for kind, port in ports.items()}
    models = [
        {"model_name": "chat-openai", "litellm_params": {"model": "openai/emulated-model",
                                                         "api_base": f"{base['openai']}/v1", "api_key": "sk-upstream"}},
        {"model_name": "chat-azure", "litellm_params": {"model": "azure/gpt-4o", "api_base": base["azure"],
                                                        "api_key": AZURE_KEY, "api_version": "v1"}},
        {"model_name": "chat-bedrock", "litellm_params": {
            "model": f"bedrock/converse/{BEDROCK_MODEL}", "aws_access_key_id": AWS_KEY_ID,
            "aws_secret_access_key": AWS_SECRET, "aws_region_name": "eu-central-1",
            "aws_bedrock_runtime_endpoint": base["bedrock"]}},
        {"model_name": "chat-vertex", "litellm_params": {
            "model": f"vertex_ai/{VERTEX_MODEL}", "vertex_project": "acme-prod", "vertex_location": "europe-west4",
            "vertex_credentials": service_account_key(f"{base['vertex']}/token"), "api_base": base["vertex"]}},
    ]
    return json.dumps({"model_list": models})


def gateway_argv(routes: Path, keys: Path, port: int, vertex_port: int, env: dict[str, str]) -> list[str]:
    argv = [PYTHON, "-m", "airoute.gateway", "--routes", str(routes), "--api-keys-file", str(keys),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level", "WARNING"]
    usage = subprocess.run([PYTHON, "-m", "airoute.gateway", "--help"], env=env, capture_output=True, text=True,
                           check=True).stdout
    if "--allow-internal-upstreams" in usage:  # the emulators listen on loopback
        argv += ["--allow-internal-upstreams", "--google-token-uri", f"http://127.0.0.1:{vertex_port}/token"]
    return argv


def bench(seconds: float, kinds: tuple[str, ...], gateway_path: str | None = None,
          front: str = "aiohttp") -> dict[str, Any]:
    wrk = ensure_wrk()
    litellm = ensure_litellm()
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'operator'}{os.pathsep}{REPO}"}
    gateway_env = env if gateway_path is None else {**os.environ, "PYTHONPATH": gateway_path}
    results: dict[str, Any] = {kind: {} for kind in kinds}
    with tempfile.TemporaryDirectory(prefix="airoute-bench-") as tmp:
        work = Path(tmp)
        ports = {kind: free_port() for kind in KINDS}
        upstream_argv = [PYTHON, str(REPO / "tests" / "bench" / "instant_upstream.py"), "--front", front,
                         *map(str, ports.values())]
        with process(upstream_argv, env, pipe=True) as upstream:
            wait_line(upstream, "ready", 30)
            (work / "routes").mkdir()
            (work / "routes" / "bench.yaml").write_text(routes_yaml(ports))
            (work / "keys.yaml").write_text(f"bench: {CLIENT_KEY}\n")
            port = free_port()
            argv = gateway_argv(work / "routes", work / "keys.yaml", port, ports["vertex"], gateway_env)
            with process(argv, gateway_env, work / "gateway.log") as gateway:
                wait_http(f"http://127.0.0.1:{port}/readyz", 30, proc=gateway)
                for kind in kinds:
                    results[kind]["direct"], results[kind]["gateway"] = paired(
                        wrk, Target(f"{kind}/direct", f"http://127.0.0.1:{ports[kind]}", direct_request(kind)),
                        Target(f"{kind}/gateway", f"http://127.0.0.1:{port}", openai_request(f"chat-{kind}"),
                               gateway.pid), work, seconds)
                if "openai" in kinds:
                    results["openai"]["gateway_mixed_route"] = measure(
                        "openai/mixed-route", wrk, f"http://127.0.0.1:{port}", openai_request("chat-mixed"), work,
                        seconds, gateway.pid)
            config = work / "litellm.json"
            config.write_text(litellm_config(ports))
            port = free_port()
            lenv = {**os.environ, "LITELLM_MASTER_KEY": CLIENT_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
            largv = [str(litellm), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                     "--num_workers", "1"]
            with process(largv, lenv, work / "litellm.log") as proc:
                wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, proc=proc)
                for kind in kinds:
                    results[kind]["litellm"] = measure(f"{kind}/litellm", wrk, f"http://127.0.0.1:{port}",
                                                       openai_request(f"chat-{kind}"), work, seconds, proc.pid)
    return results


def summary(results: dict[str, Any], seconds: float, front: str = "aiohttp") -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": "gateway", "seconds_per_run": seconds, "connections": list(CONNECTIONS),
                           "upstream": f"each provider's emulator behind a replaying {front} front "
                                       "(tests/bench/instant_upstream.py)", "targets": TARGETS, "kinds": {}}
    failures: list[str] = []
    for kind, figures in results.items():
        def fig(target: str, c: int, key: str, figures: dict[str, Any] = figures) -> float:
            return float(figures[target][f"c{c}"][key])

        vs_direct = round(fig("gateway", 32, "rps") / fig("direct", 32, "rps"), 3)
        vs_litellm = round(fig("gateway", 32, "rps") / max(fig("litellm", 32, "rps"), 0.1), 1)
        added = round(fig("gateway", 1, "p50_ms") - fig("direct", 1, "p50_ms"), 3)
        met = {"gateway_vs_direct_ge_0.30x": vs_direct >= TARGETS["vs_direct"],
               "gateway_vs_litellm_ge_50x": vs_litellm >= TARGETS["vs_litellm"],
               "added_p50_le_0.4ms": added <= TARGETS["added_p50_ms"]}
        out["kinds"][kind] = figures | {"ratio_gateway_direct_c32": vs_direct, "ratio_gateway_litellm_c32": vs_litellm,
                                        "added_p50_ms_c1": added, "targets_met": met,
                                        "gateway_cpu_us_per_request_c32": figures["gateway"]["c32"].get(
                                            "cpu_us_per_request")}
        if "gateway_mixed_route" in figures:
            mixed_rps = fig("gateway_mixed_route", 32, "rps")
            out["kinds"][kind] |= {
                "ratio_mixed_route_gateway_c32": round(mixed_rps / fig("gateway", 32, "rps"), 3),
                "added_p50_ms_mixed_route_vs_single_c1": round(fig("gateway_mixed_route", 1, "p50_ms")
                                                               - fig("gateway", 1, "p50_ms"), 3)}
        for target, runs in figures.items():
            every = [(c, r) for c, found in runs.items()
                     for r in (found if isinstance(found, list) else [found]) if isinstance(r, dict)]
            bad = [f"{target} {c}: {r['non_2xx']} non-2xx" for c, r in every if r.get("non_2xx")]
            bad += [f"{target} {c}: socket errors {r['socket_errors']}" for c, r in every if r.get("socket_errors")]
            bad += [f"{target} {c}: no request answered" for c, r in every if not r.get("requests")]
            bad += [f"{target} warm-up: {runs['warmup_non_2xx']} non-2xx"] if runs.get("warmup_non_2xx") else []
            bad += [f"{target} warm-up: no request answered"] if not runs.get("warmup_requests") else []
            failures += [f"{kind}/{b}" for b in bad]
    out["errors"] = failures
    out["all_targets_met"] = all(all(k["targets_met"].values()) for k in out["kinds"].values())
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run (default 5)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="provider kinds to measure (default: all four)")
    parser.add_argument("--front", choices=["aiohttp", "httptools"], default="aiohttp",
                        help="the instant upstream's HTTP stack (default aiohttp; httptools: a harsher ratio)")
    parser.add_argument("--gateway-pythonpath", metavar="PATH",
                        help="run the gateway from another checkout (its operator/ folder first): before/after")
    args = parser.parse_args()
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    out = summary(bench(args.duration, kinds, args.gateway_pythonpath, args.front), args.duration, args.front)
    if args.gateway_pythonpath:
        out["gateway_pythonpath"] = args.gateway_pythonpath
    for kind, k in out["kinds"].items():
        print(f"{kind:8} gateway/direct {k['ratio_gateway_direct_c32']:>6}   gateway/litellm "
              f"{k['ratio_gateway_litellm_c32']:>7}   added p50 {k['added_p50_ms_c1']:>6} ms   "
              f"gateway cpu {k['gateway_cpu_us_per_request_c32']} us/req   "
              f"targets {'met' if all(k['targets_met'].values()) else 'MISSED'}")
    for failure in out["errors"]:
        print(f"error: {failure}", file=sys.stderr)
    print(json.dumps(out))
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
