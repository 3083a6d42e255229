"""The real Prometheus server (Debian package), started on a free loopback port for a test or a benchmark."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.support.net import free_port

INSTALL = Path(__file__).resolve().parents[2] / "hack" / "install-debian-tools.sh"


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def ensure_prometheus() -> str | None:
    """The prometheus binary, installing the Debian package first if it is missing (needs root)."""
    found = prometheus_binary()
    if found is None and INSTALL.exists():
        subprocess.run(["bash", str(INSTALL)], check=False, capture_output=True, timeout=600)
        found = prometheus_binary()
    return found


def require_promtool() -> str:
    """The promtool binary (installing it if needed), or skip the test with the reason."""
    import pytest

    found = shutil.which("promtool")
    if found is None:
        ensure_prometheus()
        found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not available: hack/install-debian-tools.sh could not install it")
    return found


class PrometheusServer:
    """``prometheus`` scraping ``targets`` (host:port, path /metrics) every ``scrape_interval``."""

    def __init__(
        self, targets: Sequence[str], scrape_interval: str = "1s", binary: str | None = None, scrape_timeout: str = "1s"
    ) -> None:
        self.scrape_timeout = scrape_timeout
        self.binary = binary or prometheus_binary() or "prometheus"
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = Path(tempfile.mkdtemp(prefix="airoute-prometheus-"))
        self._proc: subprocess.Popen[bytes] | None = None

    def _config(self) -> Path:
        config = {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.scrape_interval},
            "scrape_configs": [
                {
                    "job_name": "airoute-gateway",
                    "static_configs": [{"targets": self.targets}],
                    "scrape_timeout": self.scrape_timeout,
                }
            ],
        }
        path = self._dir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self, timeout: float = 30) -> PrometheusServer:
        args = [
            self.binary,
            f"--config.file={self._config()}",
            f"--storage.tsdb.path={self._dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]
        log = (self._dir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self._dir / 'prometheus.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("prometheus did not become ready")

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(url, timeout=10) as resp:
            result: list[dict[str, Any]] = json.load(resp)["data"]["result"]
            return result

    def wait_for_samples(self, promql: str, minimum: float = 1, timeout: float = 60) -> float:
        """Waits until ``promql`` returns a value ≥ ``minimum`` (e.g. scraped series); returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                rows = self.query(promql)
            except OSError:
                rows = []
            if rows and float(rows[0]["value"][1]) >= minimum:
                return float(rows[0]["value"][1])
            time.sleep(0.5)
        raise TimeoutError(f"Prometheus never returned {promql} >= {minimum}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
