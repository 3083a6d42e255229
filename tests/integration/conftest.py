"""Integration tests: on real parts.

``gateway_env`` starts emulators and a gateway in this process over a route folder, and
``gateway_process`` ``airoute gateway`` processes (``tests/support/gateway.py``).

Against a real kube-apiserver + etcd (see tests/support/apiserver.py):

The session fixture ``apiserver`` builds the binaries on demand (hack/build-test-cluster.sh;
minutes the first time, instant afterwards), starts them on loopback ports with the CRDs of
``crds/`` installed, and stops them at the end. When the binaries cannot be built (no Go, no
module proxy) the tests that use it are skipped with the reason; set
``AIROUTE_REQUIRE_TEST_CLUSTER=1`` (CI) to make that a failure instead.
``AIROUTE_KEEP_TEST_CLUSTER=1`` keeps the logs and etcd data for a look afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.apiserver import TestCluster, TestClusterError, binaries_available, build_binaries
from tests.support.audit import AIROUTE_WRITES
from tests.support.gateway import EnvFactory, Envs, GatewayFactory, GatewayProcesses


def _unavailable(reason: str) -> None:
    if os.environ.get("AIROUTE_REQUIRE_TEST_CLUSTER"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def apiserver(request: pytest.FixtureRequest) -> Iterator[TestCluster]:
    """A running test API server: ``.kubeconfig`` (admin), ``.server``, ``.kubectl(*args)``,
    ``.service_account_kubeconfig(namespace, name)``, ``.apply(*objects)``, ``.env()``."""
    bin_dir = binaries_available()
    if bin_dir is None:
        # Show the build's progress live instead of capturing it.
        capture = request.config.pluginmanager.getplugin("capturemanager")
        show = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
        try:
            with show:
                print("\nbuilding the test API server (hack/build-test-cluster.sh) …", file=sys.stderr)
                bin_dir = build_binaries(stderr=sys.stderr)
        except TestClusterError as exc:
            _unavailable(f"test API server unavailable (kube-apiserver/etcd not built, building failed): {exc}")
    with TestCluster(bin_dir, audit_policy=AIROUTE_WRITES) as cluster:
        yield cluster


@pytest.fixture
async def gateway_env(tmp_path: Path) -> AsyncIterator[EnvFactory]:
    """Makes gateways in this process in front of emulators; each over its own route folder."""
    envs = Envs(tmp_path)
    yield envs.make
    await envs.close()


@pytest.fixture
async def gateway_process(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Starts ``airoute gateway`` processes over a route folder; stops them at the end."""
    processes = GatewayProcesses(tmp_path)
    yield processes.make
    await processes.close()
