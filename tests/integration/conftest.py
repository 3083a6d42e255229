"""Integration tests against a real kube-apiserver + etcd (see tests/support/apiserver.py).

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
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from support.apiserver import (  # noqa: E402
    TestCluster,
    TestClusterError,
    binaries_available,
    build_binaries,
)


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
    with TestCluster(bin_dir) as cluster:
        yield cluster
