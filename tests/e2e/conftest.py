"""End-to-end tests on a real cluster with nodes (kind). Skipped, with the reason, on machines
without a Docker engine or without kind/helm/kubectl; see README.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CLUSTER = os.environ.get("KIND_CLUSTER_NAME", "airoute-e2e")


def unavailable_reason() -> str | None:
    """Why e2e cannot run here, or None."""
    missing = [tool for tool in ("kind", "helm", "kubectl") if shutil.which(tool) is None]
    docker_ok = False
    if shutil.which("docker"):
        try:
            docker_ok = subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            docker_ok = False
    if not docker_ok or "kind" in missing:
        return "no Docker engine / kind on this machine: e2e needs a real cluster with nodes"
    if missing:
        return f"e2e needs {', '.join(missing)} on PATH"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.path)).resolve().parents]
    if not mine:
        return
    reason = unavailable_reason()
    if reason:
        for item in mine:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[Path]:
    """Runs run-kind.sh (cluster, helm install, examples, all AIRoutes Ready); yields the
    kubeconfig. The cluster is deleted afterwards unless AIROUTE_KEEP_KIND=1."""
    kubeconfig = Path(tempfile.mkdtemp(prefix="airoute-e2e-")) / "kubeconfig"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KIND_CLUSTER_NAME": CLUSTER}
    try:
        subprocess.run(["bash", str(HERE / "run-kind.sh")], env=env, check=True, timeout=1800)
        yield kubeconfig
    finally:
        if not os.environ.get("AIROUTE_KEEP_KIND"):
            subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], check=False, timeout=300)
        shutil.rmtree(kubeconfig.parent, ignore_errors=True)
