"""``airoute controller`` run from outside the cluster with a kubeconfig (issue 18.6): the same
``--kubeconfig`` / ``--context`` as the gateway, and one clear line when the identity lacks the
rights it needs, instead of Kopf's repeated tracebacks. Real API server; the identity is a
ServiceAccount bound to the chart's controller Role in one namespace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fakes import wait_for
from tests.support.routes import airoute, openai_backend
from tests.support.stack import Process

pytestmark = pytest.mark.cluster

NS = "laptop"
USER = f"system:serviceaccount:{NS}:dev"


def _controller_role() -> list[dict[str, Any]]:
    """The rules of charts/airoute/templates/controller-rbac.yaml's Role, in one namespace."""
    meta = {"name": "airoute-controller", "namespace": NS}
    rules = [
        {"apiGroups": ["airoute.dev"], "resources": ["airoutes"], "verbs": ["get", "list", "watch", "patch"]},
        {"apiGroups": ["airoute.dev"], "resources": ["airoutes/status"], "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        {"apiGroups": ["kopf.dev"], "resources": ["kopfpeerings"], "verbs": ["get", "list", "watch", "patch"]},
    ]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta, "rules": rules},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "airoute-controller"},
            "subjects": [{"kind": "ServiceAccount", "name": "dev", "namespace": NS}],
        },
    ]


@pytest.fixture(scope="module")
def kubeconfig(apiserver: Any) -> Path:
    apiserver.ensure_namespace(NS)
    apiserver.apply(
        *_controller_role(),
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "airoute", "namespace": NS}},
        airoute([openai_backend("local", 100, "http://127.0.0.1:9/v1")], name="chat", namespace=NS),
    )
    path: Path = apiserver.service_account_kubeconfig(NS, "dev")
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    """No $KUBECONFIG and no ~/.kube: only the flags say where the cluster is."""
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
    return {**env, "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}


def _argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "airoute.cli", "controller", "--gateway-metrics", "http://127.0.0.1:9/metrics",
            "--liveness", "", "--metrics-port", "0", "--tick", "1", *extra]  # fmt: skip


def _refused(tmp_path: Path, *extra: str) -> str:
    done = subprocess.run(_argv(*extra), env=_env(tmp_path), capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_cluster_wide_without_the_rights_is_one_line_naming_who_and_the_fix(kubeconfig: Path, tmp_path: Path) -> None:
    line = _refused(tmp_path, "--kubeconfig", str(kubeconfig))
    assert line.startswith(f"airoute controller: {USER} may not list airoutes.airoute.dev in all namespaces")
    assert "--namespace NS" in line


def test_a_revoked_token_is_one_line(apiserver: Any, tmp_path: Path) -> None:
    revoked = apiserver.service_account_kubeconfig(NS, "gone")
    apiserver.kubectl("delete", "serviceaccount", "gone", "-n", NS)
    line = wait_for(  # the API server caches a token's authentication for a few seconds
        "the revoked token to be refused",
        lambda: "401" in (text := _refused(tmp_path, "--kubeconfig", str(revoked), "--namespace", NS)) and text,
    )
    assert "expired or was revoked" in line


@pytest.fixture
def controller(kubeconfig: Path, tmp_path: Path) -> Iterator[Process]:
    context = json.loads(kubeconfig.read_text())["current-context"]
    proc = Process(
        "controller", _argv("--kubeconfig", str(kubeconfig), "--context", context, "--namespace", NS),
        _env(tmp_path), tmp_path,
    ).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_with_its_namespace_it_runs_and_writes_status(apiserver: Any, controller: Process) -> None:
    def ready() -> dict[str, Any] | None:
        assert controller.alive(), controller.output()[-3000:]
        out = apiserver.kubectl("get", "air", "chat", "-n", NS, "-o", "json").stdout
        status = json.loads(out).get("status") or {}
        return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)

    assert wait_for("the controller's status on the route", ready)["status"] in ("True", "False")
    assert "Traceback" not in controller.output()
