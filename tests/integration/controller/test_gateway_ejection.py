"""The gateways' own view is a health signal (issue 18.1). With the example's unshortened policy
(examples/support-chat.yaml: health window 2m, interval 15s, ejectFor 2m, ramp 10/25/50/100) a
hard outage of one provider makes the gateway eject it within a second, which starves the error
rate of the controller's window (its traffic goes elsewhere); the controller reads the ejection
(``airoute_gateway_backend_out{state="ejected"}`` through Prometheus) and gives the backend weight
0 within 2 evaluation intervals, with 0 client errors, and brings it back along the ramp.

Counted in evaluations (the controller's signal reads, one per evaluation of this route: it is
the only route its controller watches), never in seconds: a busy machine slows every part."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from airoute.emulators import Faults
from tests.support.fakes import wait_for
from tests.support.paths import EXAMPLES
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus, pytest.mark.slow]

READS = "airoute_controller_signal_reads_total"
FIRST_UNSEEN = 1
"""The evaluation that may run after the outage began but before Prometheus scraped the gateway's
ejection: it cannot see it. Then ``unhealthyAfter`` (2) evaluations, one per interval."""


@pytest.fixture(scope="module")
def stack(apiserver: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_stack(apiserver, tmp_path_factory, "ejection", tail=3000)


def _b0(version: dict[str, Any]) -> dict[str, Any]:
    return next((b for b in (version.get("status") or {}).get("backends", []) if b["name"] == "b0"), {})


def test_an_outage_the_gateway_ejected_moves_the_weight_within_two_intervals(stack: Stack) -> None:
    example = yaml.safe_load((EXAMPLES / "support-chat.yaml").read_text())["spec"]
    route = stack.route("chat", health=example["health"], failover=example["failover"])
    interval = route["spec"]["health"].get("interval", "15s")
    assert (interval, route["spec"]["health"]["window"], route["spec"]["failover"]["ejectFor"]) == ("15s", "2m", "2m")
    stack.apply(route)
    with stack.load("chat") as load:
        wait_for("chat at its declared weights", lambda: stack.weights("chat") == {"b0": 50, "b1": 30, "b2": 20})
        wait_for("healthy b0", lambda: _b0(stack.get("chat")).get("health") == "Healthy", 60)
        with stack.watch("chat", sample=lambda: stack.controller_metric(READS)) as history:
            before = stack.controller_metric(READS)
            assert before is not None
            stack.emulators.set_faults(0, Faults(down="refuse"))
            try:
                wait_for("b0's weight to reach 0", lambda: stack.weights("chat").get("b0") == 0, 120)
            finally:
                stack.emulators.set_faults(0)
            assert load.tally.failed == 0, f"clients saw errors during the outage: {load.tally.failures}"
            # The watch delivers that version a moment after a direct read sees it: wait for it there.
            out = wait_for("the watch to deliver b0 at weight 0", lambda: next(
                (v for v in history if (v[0].get("status") or {}).get("weights", {}).get("b0") == 0), None), 30)
            evaluations = out[1] - before
            print(f"b0 at weight 0 after {evaluations:g} evaluations; its reason: {_b0(out[0]).get('reason')}")
            assert evaluations <= FIRST_UNSEEN + 2, f"{evaluations:g} evaluations from the outage to weight 0"
            assert _b0(out[0])["reason"] == "EjectedByGateways"
            # Recovery stays gradual: after ejectFor the backend comes back along the ramp, step by step.
            wait_for("b0's first ramp step", lambda: _b0(stack.get("chat")).get("rampStep") is not None, 240)
            first = _b0(stack.get("chat"))
        assert 0 < stack.weights("chat")["b0"] < 50 and first["rampStep"] in (0, 1)
        assert load.tally.failed == 0
