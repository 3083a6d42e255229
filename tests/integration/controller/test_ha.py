"""Two controller replicas: Kopf peering lets only the higher-priority one act; the other takes over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.fakes import wait_for
from tests.support.stack import Process, Stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]


@pytest.fixture
def ha(apiserver: Any, tmp_path: Any) -> Iterator[tuple[Stack, Process, Process]]:
    from tests.support.prom_server import ensure_prometheus

    if ensure_prometheus() is None:
        pytest.skip("prometheus is not installed and hack/install-debian-tools.sh could not install it")
    stack = Stack(apiserver, "ha", tmp_path).start(controller=False)
    apiserver.apply(
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "airoute", "namespace": "ha"}}
    )
    low = stack.new_controller("replica-low", "--priority", "10").start()
    high = stack.new_controller("replica-high", "--priority", "20").start()
    try:
        yield stack, low, high
    finally:
        for p in (low, high):
            p.stop()
        stack.close()


def peering_state(process: Process) -> str:
    """The replica's latest peering decision as Kopf logs it: "acting", "paused" or "" (none yet).

    Kopf starts an operator paused; it resumes when it sees no higher-priority peer and pauses
    again when one appears (two replicas starting together may both resume for a moment).
    """
    out = process.output()
    resumed, paused = out.rfind("Resuming operations"), out.rfind("Pausing operations in favour of")
    if resumed < 0 and paused < 0:
        return ""
    return "acting" if resumed > paused else "paused"


def test_only_one_replica_acts_and_the_other_takes_over(ha: tuple[Stack, Process, Process]) -> None:
    stack, low, high = ha
    stack.apply(stack.route("ha-route"))
    wait_for("the high-priority replica to act", lambda: peering_state(high) == "acting", 40)
    time.sleep(2)  # long enough for the low replica to have seen the high one
    wait_for("the route's status", lambda: stack.weights("ha-route"), 40)
    assert peering_state(high) == "acting" and peering_state(low) != "acting", "exactly one replica acts"
    high.stop()  # graceful: Kopf withdraws it from the peering at once
    wait_for("the low-priority replica to take over", lambda: peering_state(low) == "acting", 40)
    route = stack.route("ha-route")
    route["spec"]["backends"][2]["weight"] = 0  # a decision only an acting controller makes
    stack.apply(route)
    wait_for("the new leader to act", lambda: stack.weights("ha-route").get("b2") == 0, 20)
    assert low.alive()
