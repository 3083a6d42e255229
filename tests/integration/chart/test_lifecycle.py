"""The chart's life on API servers of its own, started empty (no CRD, no namespace): the README's
install lines exactly as written (issue 18.7), and the AIRoute CRD through install, upgrade and
uninstall, with the controller refusing to start against an older CRD (issue 20.3).

The session's shared API server cannot serve here: it has the CRDs applied at start, and
nothing deletes a namespace there (no controller-manager).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from airoute.controller.crdcheck import require_current_crd
from airoute.kube import load_kubeconfig
from tests.support.apiserver import TestCluster, TestClusterError, binaries_available
from tests.support.fakes import wait_for
from tests.support.helm import CHART, helm, helm_binary
from tests.support.paths import REPO_ROOT

pytestmark = [pytest.mark.cluster, pytest.mark.helm, pytest.mark.slow]

CRD = "customresourcedefinition/airoutes.airoute.dev"


@pytest.fixture
def empty_cluster(helm_ready: str, tmp_path: Path) -> Iterator[TestCluster]:
    """A kube-apiserver and etcd of this test's own, with no CRD installed."""
    bin_dir = binaries_available()
    if bin_dir is None:
        reason = "the test API server is not built (make test-cluster)"
        if os.environ.get("AIROUTE_REQUIRE_TEST_CLUSTER") or os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        cluster = TestCluster(bin_dir, crds_dir=False, workdir=tmp_path / "cluster").start()
    except TestClusterError as exc:
        pytest.fail(f"could not start an empty test API server: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()


def readme_install_lines() -> str:
    """The shell block of the README's "Install in a cluster" section, verbatim."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Install in a cluster", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return block


def test_the_readmes_install_lines_work_on_a_fresh_cluster(empty_cluster: TestCluster) -> None:
    lines = readme_install_lines()
    assert "helm install airoute charts/airoute" in lines
    env = empty_cluster.env()
    helm_dir = str(Path(helm_binary() or "helm").parent)
    env["PATH"] = f"{helm_dir}:{env['PATH']}"
    state = Path(empty_cluster.workdir) / "helm"
    env.update({"HELM_CACHE_HOME": str(state / "cache"), "HELM_CONFIG_HOME": str(state / "config"),
                "HELM_DATA_HOME": str(state / "data")})  # fmt: skip
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", lines], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"the README's lines failed on a fresh cluster:\n{done.stdout}\n{done.stderr}"
    status = json.loads(helm("status", "airoute", "-n", "airoute-system", "-o", "json", env=env).stdout)
    assert status["info"]["status"] == "deployed"
    assert "must exist" in status["info"]["notes"] or "support, marketing" in status["info"]["notes"]
    for ns in ("support", "marketing"):
        roles = empty_cluster.kubectl("get", "roles", "-n", ns, "-o", "name").stdout.split()
        assert "role.rbac.authorization.k8s.io/airoute-controller" in roles, ns
    assert empty_cluster.kubectl("get", CRD, "-o", "name").stdout.strip(), "the chart installed the CRD"


def _older_chart(tmp_path: Path) -> Path:
    """A copy of the chart whose AIRoute CRD lacks a field: the chart of an older release."""
    old = tmp_path / "airoute-old"
    shutil.copytree(CHART, old)
    path = old / "files" / "crds" / "airoute.dev_airoutes.yaml"
    crd = yaml.safe_load(path.read_text())
    backend = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["backends"]
    del backend["items"]["properties"]["timeout"]
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return old


def _schema_has_timeout(cluster: TestCluster) -> bool:
    crd = json.loads(cluster.kubectl("get", CRD, "-o", "json").stdout)
    backend = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["backends"]
    return "timeout" in backend["items"]["properties"]


def _controller(cluster: TestCluster, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`airoute controller` as the chart runs it, until it exits (it should, at once) or 60 s pass."""
    argv = [sys.executable, "-m", "airoute.cli", "controller", "--namespace=routes", "--standalone",
            "--prometheus-url=http://127.0.0.1:9", "--liveness=", "--metrics-port=0"]  # fmt: skip
    try:
        return subprocess.run(argv, env=cluster.env(), capture_output=True, text=True, timeout=60, cwd=tmp_path)
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"the controller started against an older CRD:\n{exc.stderr!r}") from exc


def _route(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "airoute.dev/v1alpha1",
        "kind": "AIRoute",
        "metadata": {"name": "kept", "namespace": namespace},
        "spec": {"model": "kept", "backends": [{"name": "local", "weight": 100,
                                                "inCluster": {"service": {"name": "llm"}, "model": "m"}}]},
    }  # fmt: skip


def test_the_crd_upgrades_with_the_release_and_outlives_it(empty_cluster: TestCluster, tmp_path: Path) -> None:
    cluster, env = empty_cluster, empty_cluster.env()
    for ns in ("airoute-system", "routes"):
        cluster.ensure_namespace(ns)
    install = ["airoute", "-n", "airoute-system", "--set", "namespaces={routes}", "--timeout", "60s"]
    helm("install", install[0], str(_older_chart(tmp_path)), *install[1:], env=env)
    assert not _schema_has_timeout(cluster)

    refused = _controller(cluster, tmp_path)
    assert refused.returncode == 2, refused.stderr[-2000:]
    assert "older than this controller" in refused.stderr and "spec.backends[].timeout" in refused.stderr
    assert "helm upgrade" in refused.stderr and "Traceback" not in refused.stderr

    helm("upgrade", install[0], str(CHART), *install[1:], env=env)
    assert _schema_has_timeout(cluster), "helm upgrade upgraded the CRD"
    require_current_crd(load_kubeconfig(cluster.kubeconfig))  # the controller now starts

    cluster.apply(_route("routes"))
    helm("uninstall", "airoute", "-n", "airoute-system", env=env)
    assert cluster.kubectl("get", "airoute", "kept", "-n", "routes", "-o", "name").stdout.strip(), (
        "crds.keep: uninstalling the release deleted the CRD and every AIRoute"
    )


def test_a_crd_applied_by_hand_is_adopted_and_keep_false_removes_it(
    empty_cluster: TestCluster, tmp_path: Path
) -> None:
    """The way this chart used to install the CRD (Helm's crds/, or kubectl): Helm refuses to take
    over an object another tool created, unless told to (--take-ownership, Helm 3.17+)."""
    cluster, env = empty_cluster, empty_cluster.env()
    cluster.ensure_namespace("airoute-system")
    cluster.install_crds(REPO_ROOT / "crds")
    install = ["install", "airoute", str(CHART), "-n", "airoute-system", "--timeout", "60s"]
    refused = helm(*install, env=env, check=False)
    assert refused.returncode != 0 and "airoutes.airoute.dev" in refused.stderr
    assert "ownership" in refused.stderr or "exists" in refused.stderr, refused.stderr
    helm("uninstall", "airoute", "-n", "airoute-system", env=env, check=False)  # the failed release, if any

    helm(*install, "--take-ownership", "--set", "crds.keep=false", env=env)
    labels = json.loads(cluster.kubectl("get", CRD, "-o", "json").stdout)["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "Helm"
    helm("uninstall", "airoute", "-n", "airoute-system", env=env)
    wait_for("the CRD to be deleted (crds.keep=false)",
             lambda: cluster.kubectl("get", CRD, check=False).returncode != 0, timeout=60)  # fmt: skip
